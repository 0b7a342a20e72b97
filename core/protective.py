"""Protective orders: what counts as UNPROTECTED (pure; defined in core.worker_exits, which the worker may import),
and one-cancels-other for a plan left flat.

DESIGN §3a: while a plan holds a position, its open STOP_LOSS quantity covers the position exactly (to the step).
`unprotected_reason` says why a plan does not; the ProtectionSupervisor (core.supervisor) keeps the invariant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.batch import CancelOrder
from core.outcomes import CommandOutcome
from core.worker_exits import covered, unprotected_reason

__all__ = ["cancel_orphaned_protection", "covered", "unprotected_reason"]

if TYPE_CHECKING:  # the handler uses this module (no import cycle at run time)
    from core.handler import ExecutionHandler


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
