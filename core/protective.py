"""One-cancels-other for a plan's protective orders.

Venues here have no OCO link between a plan's stop and its take profit: when one of them fills and the plan is
flat, the other is left with nothing to protect (and, on a venue without reduce-only, would open a new position if
it ever triggered). The shell calls `cancel_orphaned_protection` when a protective fill lands."""

from __future__ import annotations

from core.batch import CancelOrder
from core.handler import ExecutionHandler
from core.outcomes import CommandOutcome


async def cancel_orphaned_protection(handler: ExecutionHandler, plan_id: str) -> list[CommandOutcome]:
    """Cancel the open STOP_LOSS / TAKE_PROFIT orders of a plan that is flat. Returns each cancel's outcome."""
    plan = handler.ledger.get_plan(plan_id)
    if plan is None or plan.net_position != 0:
        return []
    orphans = [o for o in plan.open_orders if o.role.is_protective]
    outcomes: list[CommandOutcome] = []
    for i, o in enumerate(orphans, start=1):
        cmd = CancelOrder(seq=i, plan_id=plan_id, symbol=plan.symbol, order_id=o.order_id)
        oc = CommandOutcome(seq=i, action="CANCEL_ORDER", plan_id=plan_id, symbol=plan.symbol, order_id=o.order_id,
                            client_order_id=o.client_order_id)
        await handler.ops.cancel(cmd, oc, lambda _oc: None)
        outcomes.append(oc)
    if outcomes:
        handler.ledger.close_if_flat(plan_id)
        if handler.journal is not None:
            handler.journal.append("oco", directive_id=None, payload={
                "plan_id": plan_id,
                "outcomes": [oc.to_dict() for oc in outcomes],
                "summary": f"{plan_id} flat: cancelled {len(outcomes)} orphaned protective order(s)",
            })
    return outcomes
