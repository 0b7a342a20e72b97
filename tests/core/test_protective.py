"""When a plan's stop fills and the plan is flat, its take profit is cancelled (and the other way round)."""

from __future__ import annotations

from core.models import OrderRole, PlanStatus
from core.protective import cancel_orphaned_protection
from core.reconcile import sync
from tests.core.test_handler_kit import BTC, make_desk, open_plan


async def test_stop_fill_cancels_the_take_profit_and_closes_the_plan() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_1", stop="0.02", tp="110000")
    assert {o.role for o in desk.open("TPL_1")} == {OrderRole.STOP_LOSS, OrderRole.TAKE_PROFIT}
    desk.set_mark(BTC, "97000")  # through the stop at 98,000: the venue fills it
    await sync(desk.ledger, desk.conn)
    plan = desk.plan("TPL_1")
    assert plan.net_position == 0
    assert [o.role for o in plan.open_orders] == [OrderRole.TAKE_PROFIT]  # orphaned
    outcomes = await cancel_orphaned_protection(desk.handler, "TPL_1")
    assert [str(o.status) for o in outcomes] == ["ACKNOWLEDGED"]
    plan = desk.plan("TPL_1")
    assert not plan.open_orders and plan.status is PlanStatus.CLOSED
    assert desk.venue_open(BTC) == []
    assert any(e.kind == "oco" for e in desk.journal.entries())


async def test_nothing_is_cancelled_while_the_plan_holds_a_position() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_1", stop="0.02", tp="110000")
    assert await cancel_orphaned_protection(desk.handler, "TPL_1") == []
    assert len(desk.venue_open(BTC)) == 2
