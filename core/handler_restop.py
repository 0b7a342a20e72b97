"""A flatten that cannot close a plan re-places the stop it cancelled (DESIGN §3a): same stop (type, stop price,
limit price), the current position's quantity. A plan left with a position and no full stop cover is named in
`ExecutionReport.unprotected` with the reason, and journaled."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from core.batch import ExecuteTrade, client_order_id
from core.decimals import dec_str, round_down_to
from core.handler_orders import OrderOps
from core.journal import Journal
from core.ledger import Ledger
from core.models import Order, OrderRole, OrderStatus, Side
from core.outcomes import CommandOutcome, ExecutionReport
from core.protective import unprotected_reason


def _cancelled_stop(ledger: Ledger, report: ExecutionReport, plan_id: str) -> Order | None:
    """The last STOP_LOSS of the plan that this send cancelled."""
    for oc in reversed(report.outcomes):
        if oc.plan_id != plan_id or oc.action != "CANCEL_ORDER" or oc.order_id is None:
            continue
        found = ledger.get_order(oc.order_id)
        if found is not None and found[1].role is OrderRole.STOP_LOSS and found[1].status is OrderStatus.CANCELLED:
            return found[1]
    return None


async def restore_stops(ledger: Ledger, ops: OrderOps, journal: Journal | None, report: ExecutionReport,
                        plan_ids: list[str], emit: Callable[[CommandOutcome], None], group_id: Callable[[str], str],
                        round_no: int) -> None:
    markets = ledger.markets()
    seq = max((o.seq for o in report.outcomes), default=0)
    for pid in plan_ids:
        plan = ledger.get_plan(pid)
        if plan is None or plan.net_position == 0:
            continue
        rules = markets.get(plan.symbol)
        step = rules.step_size if rules is not None else None
        if unprotected_reason(plan, step) is None:
            continue
        old = _cancelled_stop(ledger, report, pid)
        have = sum((o.remaining for o in plan.open_orders if o.role is OrderRole.STOP_LOSS), Decimal(0))
        qty = round_down_to(abs(plan.net_position), step) - have if step else abs(plan.net_position) - have
        if old is None or qty <= 0:
            report.unprotected[pid] = (unprotected_reason(plan, step) or "no stop") + \
                ("; no stop was cancelled by this flatten to re-place" if old is None else "")
            continue
        seq += 1
        side = Side.SELL if plan.net_position > 0 else Side.BUY
        cmd = ExecuteTrade(seq=seq, plan_id=pid, symbol=plan.symbol, side=side, order_type=old.type, quantity=qty,
                           price=old.price, stop_price=old.stop_price, time_in_force=old.time_in_force,
                           reduce_only=True, role=OrderRole.STOP_LOSS,
                           client_order_id=client_order_id(report.directive_id, "restop", pid, str(round_no)))
        oc = CommandOutcome(seq=seq, action="EXECUTE_TRADE", plan_id=pid, symbol=plan.symbol, order_id=None,
                            client_order_id=cmd.client_order_id, round=round_no)
        report.outcomes.append(oc)
        await ops.protect(cmd, oc, emit, group_id(pid))
        oc.detail = f"stop re-placed after the close failed: {oc.detail}".rstrip(": ")
        after = ledger.get_plan(pid)
        reason = None if after is None else unprotected_reason(after, step)
        at = dec_str(old.stop_price) if old.stop_price is not None else "?"
        text = (f"{pid}: the close failed; stop {at} re-placed for {dec_str(qty)}"
                if reason is None else f"{pid}: the close failed and the stop could not be re-placed: {oc.detail}")
        if reason is not None:
            report.unprotected[pid] = f"{reason}; stop not re-placed: {oc.status} {oc.detail}"
        report.notes.append(text)
        if journal is not None:
            journal.append("protection" if reason is None else "unprotected", directive_id=report.directive_id,
                           payload={"plan_id": pid, "outcome": oc.to_dict(), "summary": text})
