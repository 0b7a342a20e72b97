"""The protection supervisor (DESIGN §3a) on the paper venue: stops follow resting entry fills, a protective fill
that leaves the plan flat cancels the rest of the plan, and a protective order the venue drops is never silent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import pytest

from core.models import OrderRole, PlanStatus, Side
from core.supervisor import ProtectionSupervisor
from tests.core.test_handler_kit import Desk, assert_consistent, make_desk, open_plan, size_to

D = Decimal
SOL = "SOLUSDT"


async def until(cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


@pytest.fixture
async def desk() -> AsyncIterator[tuple[Desk, ProtectionSupervisor, list[tuple[str, str]]]]:
    d = await make_desk()
    alerts: list[tuple[str, str]] = []
    sup = ProtectionSupervisor(d.handler, on_alert=lambda lv, t: alerts.append((lv, t)))
    task = asyncio.create_task(sup.run())
    await asyncio.sleep(0)
    yield d, sup, alerts
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


def stop_qty(desk: Desk, pid: str) -> Decimal:
    return sum((o.remaining for o in desk.open(pid, OrderRole.STOP_LOSS)), D(0))


async def test_a_short_plans_stop_grows_with_a_ladder_fill_and_its_fill_cancels_the_rest_of_the_ladder(
        desk: tuple[Desk, ProtectionSupervisor, list[tuple[str, str]]]) -> None:
    d, sup, alerts = desk
    await open_plan(d, "TPL_20", symbol=SOL, side=Side.SELL, size="20", stop="0.10")
    assert stop_qty(d, "TPL_20") == 20
    r = await d.send(size_to("STR_L1", "TPL_20", "22", entry_directive={"order_type": "LIMIT",
                                                                         "limit_price": "155"}))
    assert r.ok, r.summary()
    assert stop_qty(d, "TPL_20") == 20  # the ladder entry rests: the stop stays at the position
    d.set_mark(SOL, "155.5")  # the ladder entry fills
    await until(lambda: d.plan("TPL_20").net_position == -22 and stop_qty(d, "TPL_20") == 22, "the stop to grow")
    assert sup.unprotected() == {}
    assert any(e.kind == "protection" and "22" in e.payload["summary"] for e in d.journal.entries())
    r = await d.send(size_to("STR_L2", "TPL_20", "25", entry_directive={"order_type": "LIMIT",
                                                                         "limit_price": "180"}))
    assert r.ok, r.summary()
    assert [o.remaining for o in d.open("TPL_20", OrderRole.ENTRY)] == [D(3)]
    d.set_mark(SOL, "170")  # through the stop at 165: it buys 22, the plan is flat
    await until(lambda: not d.plan("TPL_20").open_orders, "the rest of the ladder to be cancelled")
    p = d.plan("TPL_20")
    assert (p.net_position, p.status) == (0, PlanStatus.CLOSED)
    d.set_mark(SOL, "181")  # the cancelled ladder entry can no longer open a new position
    await asyncio.sleep(0.05)
    assert d.engine.positions()[SOL] == 0
    assert any(lv == "ok" and "TPL_20 is flat" in t for lv, t in alerts), alerts
    assert_consistent(d)


async def test_a_take_profit_fill_leaving_the_plan_flat_cancels_the_stop(
        desk: tuple[Desk, ProtectionSupervisor, list[tuple[str, str]]]) -> None:
    d, _sup, _alerts = desk
    await open_plan(d, "TPL_1", stop="0.02", tp="101000")
    d.set_mark("BTCUSDT", "101500")
    # the end of the supervisor's work is the plan CLOSED: its stop's cancel lands in a group commit and the plan is
    # closed when the supervisor resumes after it, so "no open orders" alone can be seen a loop turn before CLOSED
    await until(lambda: d.plan("TPL_1").status is PlanStatus.CLOSED, "the stop to be cancelled and the plan closed")
    assert not d.plan("TPL_1").open_orders
    assert d.venue_open() == []


async def test_a_stop_the_venue_cancels_is_journaled_alerted_and_the_plan_is_unprotected(
        desk: tuple[Desk, ProtectionSupervisor, list[tuple[str, str]]]) -> None:
    d, sup, alerts = desk
    await open_plan(d, "TPL_1", stop="0.02")
    (stop,) = d.open("TPL_1", OrderRole.STOP_LOSS)
    assert stop.client_order_id is not None
    d.engine.cancel("BTCUSDT", stop.client_order_id, 0.0)  # e.g. the venue's own housekeeping
    await until(lambda: "TPL_1" in sup.unprotected(), "the plan to show UNPROTECTED")
    assert sup.unprotected()["TPL_1"].startswith("no stop")
    await until(lambda: any(lv == "error" and "STOP_LOSS" in t for lv, t in alerts), "the alert")
    assert any(e.kind == "protection_gone" for e in d.journal.entries())


async def test_a_stop_imported_without_a_group_still_grows_with_an_entry_fill(
        desk: tuple[Desk, ProtectionSupervisor, list[tuple[str, str]]]) -> None:
    """A plan from `ledger import` whose orders belong to no ExecutionGroup (the snapshot format allows it): the
    supervisor's cancel-replace of its stop used to fail with "write_ahead: unknown group SUP_TPL_9" on every
    entry fill, leaving the plan UNPROTECTED."""
    from core.connector import OrderRequest
    from core.models import LedgerState, Order, OrderStatus, OrderType, TimeInForce, TradePlan

    d, sup, alerts = desk
    eng = d.engine
    eng.submit(OrderRequest(SOL, Side.BUY, OrderType.MARKET, D(10), "imp-open"), 0.0)
    mark = eng.markets[SOL].mark_price
    stop_px, entry_px = (mark * D("0.9")).quantize(D("0.01")), (mark * D("0.99")).quantize(D("0.01"))
    eng.submit(OrderRequest(SOL, Side.SELL, OrderType.STOP_MARKET, D(10), "imp-stop", stop_price=stop_px,
                            reduce_only=True), 0.0)
    eng.submit(OrderRequest(SOL, Side.BUY, OrderType.LIMIT, D(2), "imp-entry", price=entry_px,
                            time_in_force=TimeInForce.GTC), 0.0)
    orders = [
        Order(order_id="ORD_IMP_S", client_order_id="imp-stop", role=OrderRole.STOP_LOSS, side=Side.SELL,
              type=OrderType.STOP_MARKET, quantity=D(10), stop_price=stop_px, reduce_only=True,
              status=OrderStatus.OPEN),
        Order(order_id="ORD_IMP_E", client_order_id="imp-entry", role=OrderRole.ENTRY, side=Side.BUY,
              type=OrderType.LIMIT, quantity=D(2), price=entry_px, time_in_force=TimeInForce.GTC,
              status=OrderStatus.OPEN),
    ]
    plan = TradePlan(plan_id="TPL_9", symbol=SOL, direction=Side.BUY, net_position=D(10), avg_entry_price=mark,
                     orders=orders)
    d.ledger.import_snapshot(LedgerState(markets=d.ledger.markets(), plans=[plan]))
    assert all(o.group_id is None for o in d.plan("TPL_9").orders)
    d.set_mark(SOL, str(entry_px - D("0.01")))  # the resting entry fills: the position is 12
    await until(lambda: d.plan("TPL_9").net_position == 12 and stop_qty(d, "TPL_9") == 12, "the stop to grow")
    assert not [t for lv, t in alerts if lv == "error"], alerts
    assert sup.unprotected() == {}
    assert_consistent(d)
