"""core.reconcile: venue snapshots applied to the ledger (idempotent, never regressing), recovery of what a crash
left behind, and sync of what happened at the venue while nobody watched."""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal

import pytest

from core.connector import OrderRequest
from core.models import Order, OrderRole, OrderStatus, OrderType, PlanStatus, Side, TimeInForce
from core.reconcile import apply_cancelled, apply_venue_order, apply_venue_update, recover, set_status, sync
from tests.core.test_handler_kit import BTC, Desk, assert_consistent, make_desk, open_plan

D = Decimal


def limit_order(coid: str, qty: str = "1", price: str = "99000", side: Side = Side.BUY) -> Order:
    return Order(order_id="ORD_" + coid, client_order_id=coid, role=OrderRole.ENTRY, side=side, type=OrderType.LIMIT,
                 quantity=D(qty), price=D(price), time_in_force=TimeInForce.GTC, status=OrderStatus.PENDING)


async def placed(desk: Desk, coid: str, qty: str = "1", price: str = "99000") -> Order:
    """A LIMIT entry written ahead and placed at the venue (resting), ledger left PENDING."""
    order = limit_order(coid, qty, price)
    desk.ledger.write_ahead("TPL_1", order)
    await desk.conn.place_order(OrderRequest(symbol=BTC, side=Side.BUY, order_type=OrderType.LIMIT,
                                             quantity=D(qty), client_order_id=coid, price=D(price),
                                             time_in_force=TimeInForce.GTC))
    return order


async def test_the_same_snapshot_applied_twice_changes_the_ledger_once() -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    order = await placed(desk, "c-1")
    desk.set_mark(BTC, "99000")  # fills at the venue
    vo = desk.engine.get(BTC, "c-1")
    assert vo is not None and vo.status is OrderStatus.FILLED
    apply_venue_order(desk.ledger, "TPL_1", order, vo)
    version = desk.plan("TPL_1").version
    apply_venue_order(desk.ledger, "TPL_1", order, vo)  # a stale copy of the order: re-read, nothing new
    assert apply_venue_update(desk.ledger, vo) is not None
    plan = desk.plan("TPL_1")
    assert plan.version == version and plan.net_position == 2 and len(plan.fills) == 2
    assert_consistent(desk)


async def test_a_snapshot_that_changes_nothing_opens_no_write_transaction() -> None:
    """The event stream echoes every answer the handler has already written (a replaced stop's CANCELLED, its
    replacement's OPEN): under a busy feed that was four write transactions per fill for nothing."""
    desk = await make_desk()
    await open_plan(desk, stop=None)
    order = await placed(desk, "c-1")
    vo = desk.engine.get(BTC, "c-1")
    assert vo is not None and vo.status is OrderStatus.OPEN
    apply_venue_order(desk.ledger, "TPL_1", order, vo)  # PENDING -> OPEN: a write
    statements: list[str] = []
    desk.ledger._conn.set_trace_callback(statements.append)
    try:
        version = desk.plan("TPL_1").version
        statements.clear()
        again = apply_venue_order(desk.ledger, "TPL_1", order, vo)  # the echo
        assert again.status is OrderStatus.OPEN and desk.plan("TPL_1").version == version
        assert not [s for s in statements if s.startswith(("BEGIN IMMEDIATE", "UPDATE", "INSERT"))], statements
        desk.ledger.close_if_flat("TPL_1")  # a plan that stays open is only read
        assert not [s for s in statements if s.startswith(("BEGIN IMMEDIATE", "UPDATE", "INSERT"))], statements
        part = replace(vo, status=OrderStatus.PARTIALLY_FILLED, filled_quantity=D("0.5"), avg_fill_price=D("99000"))
        apply_venue_order(desk.ledger, "TPL_1", order, part)  # a real change still writes, in one transaction
        assert sum(1 for s in statements if s.startswith("BEGIN IMMEDIATE")) == 1
    finally:
        desk.ledger._conn.set_trace_callback(None)
    assert desk.plan("TPL_1").orders[-1].filled_quantity == D("0.5")  # (a made-up fill: the venue has none)


async def test_partial_snapshots_record_the_price_of_each_new_part() -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    order = await placed(desk, "c-1", qty="1")
    vo = desk.engine.get(BTC, "c-1")
    assert vo is not None
    part = replace(vo, status=OrderStatus.PARTIALLY_FILLED, filled_quantity=D("0.4"), avg_fill_price=D("99000"))
    full = replace(vo, status=OrderStatus.FILLED, filled_quantity=D(1), avg_fill_price=D("99600"))
    apply_venue_order(desk.ledger, "TPL_1", order, part)
    apply_venue_order(desk.ledger, "TPL_1", order, part)
    apply_venue_order(desk.ledger, "TPL_1", order, full)
    fills = [(f.quantity, f.price) for f in desk.plan("TPL_1").fills if f.order_id == order.order_id]
    assert fills == [(D("0.4"), D("99000")), (D("0.6"), D("100000"))]
    assert desk.ledger.get_order(order.order_id)[1].status is OrderStatus.FILLED  # type: ignore[index]


async def test_a_snapshot_behind_the_ledger_is_ignored_quietly(caplog: pytest.LogCaptureFixture) -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    order = await placed(desk, "c-1")
    vo = desk.engine.get(BTC, "c-1")
    assert vo is not None
    part = replace(vo, status=OrderStatus.PARTIALLY_FILLED, filled_quantity=D("0.4"), avg_fill_price=D("99000"))
    apply_venue_order(desk.ledger, "TPL_1", order, part)
    with caplog.at_level(logging.DEBUG, logger="plandesk.reconcile"):
        after = apply_venue_order(desk.ledger, "TPL_1", order, vo)  # the OPEN snapshot, older than the partial fill
        cancelled = replace(part, status=OrderStatus.CANCELLED)
        apply_venue_order(desk.ledger, "TPL_1", order, cancelled)
        final = apply_venue_order(desk.ledger, "TPL_1", order, part)  # a late PARTIALLY_FILLED after the cancel
    assert after.status is OrderStatus.PARTIALLY_FILLED and after.filled_quantity == D("0.4")
    assert final.status is OrderStatus.CANCELLED and final.filled_quantity == D("0.4")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert desk.plan("TPL_1").net_position == D("1.4")


async def test_a_venue_order_the_ledger_calls_rejected_is_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    order = await placed(desk, "c-1")
    set_status(desk.ledger, order.order_id, OrderStatus.REJECTED, "gave up")
    vo = desk.engine.get(BTC, "c-1")
    assert vo is not None
    with caplog.at_level(logging.WARNING, logger="plandesk.reconcile"):
        apply_venue_order(desk.ledger, "TPL_1", order, vo)
    assert any("REJECTED" in r.getMessage() for r in caplog.records)


async def test_set_status_follows_the_transition_table_and_never_raises() -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    order = await placed(desk, "c-1")
    assert set_status(desk.ledger, order.order_id, OrderStatus.OPEN).status is OrderStatus.OPEN  # type: ignore
    assert set_status(desk.ledger, order.order_id, OrderStatus.CANCELLED).status is OrderStatus.CANCELLED  # type: ignore
    assert set_status(desk.ledger, order.order_id, OrderStatus.UNKNOWN).status is OrderStatus.CANCELLED  # type: ignore
    assert set_status(desk.ledger, "ORD_nope", OrderStatus.OPEN) is None


async def test_recover_resolves_pending_orders_but_leaves_those_in_flight_alone() -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    there = await placed(desk, "c-there")
    never = limit_order("c-never")
    desk.ledger.write_ahead("TPL_1", never)
    flying = limit_order("c-flying")
    desk.ledger.write_ahead("TPL_1", flying)
    notes = await recover(desk.ledger, desk.conn, skip={"c-flying"})
    status = {o.client_order_id: o.status for o in desk.plan("TPL_1").orders}
    assert status["c-there"] is OrderStatus.OPEN and status["c-never"] is OrderStatus.REJECTED
    assert status["c-flying"] is OrderStatus.PENDING
    assert len(notes) == 2 and there.order_id  # one note each for the two it judged


async def test_sync_catches_up_with_fills_and_cancels_that_happened_while_away() -> None:
    desk = await make_desk()
    await open_plan(desk)  # long 1 with a stop at 98000
    await open_plan(desk, "TPL_2", "ETHUSDT", Side.SELL, "10", stop="0.02")
    (eth_stop,) = desk.open("TPL_2")
    await desk.conn.cancel_order("ETHUSDT", eth_stop.client_order_id or "")  # someone cancelled it at the venue
    desk.engine.set_mark(BTC, D("97000"), 0)  # the BTC stop triggered
    await desk.conn.place_order(OrderRequest(symbol="SOLUSDT", side=Side.BUY, order_type=OrderType.LIMIT,
                                             quantity=D(1), client_order_id="ghost-1", price=D(100),
                                             time_in_force=TimeInForce.GTC))
    notes = await sync(desk.ledger, desk.conn)
    btc = desk.plan("TPL_1")
    assert btc.net_position == 0 and btc.status is PlanStatus.CLOSED
    assert desk.ledger.markets()[BTC].mark_price == D("97000")
    assert desk.open("TPL_2") == [] and desk.plan("TPL_2").net_position == -10
    assert any("ghost-1" in n and "unknown to the ledger" in n for n in notes)


async def test_apply_cancelled_applies_a_cancel_all_answer_in_one_go() -> None:
    desk = await make_desk()
    await open_plan(desk, tp="110000")
    await desk.conn.place_order(OrderRequest(symbol=BTC, side=Side.BUY, order_type=OrderType.LIMIT,
                                             quantity=D(1), client_order_id="stranger", price=D(90000),
                                             time_in_force=TimeInForce.GTC))
    answer = await desk.conn.cancel_all(BTC)
    done, strangers = apply_cancelled(desk.ledger, answer, ["TPL_1"])
    assert len(done) == 2 and strangers == ["stranger"]
    assert desk.open("TPL_1") == []
    assert desk.venue_open() == []


async def test_recover_waits_out_the_persisted_receive_window_then_says_never_placed() -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    desk.ledger.write_ahead("TPL_1", limit_order("c-late"), absence_window=0.4)  # never reached the venue
    notes = await recover(desk.ledger, desk.conn, max_wait=5.0)
    assert status_of(desk, "ORD_c-late") is OrderStatus.REJECTED
    assert any("never reached the venue" in n for n in notes)


async def test_recover_leaves_an_order_unknown_while_it_could_still_execute() -> None:
    """A crash left an order PENDING that the venue does not show yet, but its receive window is still open: it is
    not called REJECTED (it may execute a moment later); past the bounded wait it stays UNKNOWN, said plainly."""
    desk = await make_desk()
    await open_plan(desk, stop=None)
    desk.ledger.write_ahead("TPL_1", limit_order("c-held"), absence_window=60.0)
    notes = await recover(desk.ledger, desk.conn, max_wait=0.2)
    assert status_of(desk, "ORD_c-held") is OrderStatus.UNKNOWN
    assert any("could still execute until" in n and "left UNKNOWN" in n for n in notes), notes
    # the venue then shows it (the held request executed): the next recovery applies it
    await desk.conn.place_order(OrderRequest(symbol=BTC, side=Side.BUY, order_type=OrderType.LIMIT, quantity=D(1),
                                             client_order_id="c-held", price=D("99000"),
                                             time_in_force=TimeInForce.GTC))
    await recover(desk.ledger, desk.conn, max_wait=0.2)
    assert status_of(desk, "ORD_c-held") is OrderStatus.OPEN
    assert_consistent(desk)


async def test_recover_leaves_a_live_foreign_owners_order_alone() -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    desk.ledger.write_ahead("TPL_1", limit_order("c-theirs"))
    with desk.ledger.transaction():  # as if another process on another host wrote it ahead
        desk.ledger._conn.execute("UPDATE inflight SET owner = 'elsewhere:1:1' WHERE client_order_id = 'c-theirs'")
    notes = await recover(desk.ledger, desk.conn, max_wait=0.2)
    assert status_of(desk, "ORD_c-theirs") is OrderStatus.PENDING
    assert any("c-theirs" in n and "left to it" in n for n in notes)


def status_of(desk: Desk, order_id: str) -> OrderStatus:
    found = desk.ledger.get_order(order_id)
    assert found is not None
    return found[1].status
