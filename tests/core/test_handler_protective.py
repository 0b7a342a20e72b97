"""Protective orders never exceed the position, checked at the venue at every event it emits: on a scale-out the stop
shrinks before the reducing order fills; on a scale-in it grows only after the entry filled. And late, stale venue
events (the paper venue emits OrderUpdated(OPEN) before the fills) never regress the ledger nor spam warnings."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine
from core.connector import (
    ConnectorError,
    ConnectorErrorKind,
    ConnectorEvent,
    OrderFilled,
    OrderRequest,
    OrderUpdated,
    VenueOrder,
)
from core.models import OrderRole, OrderStatus, OrderType, Side
from core.outcomes import OutcomeStatus
from core.reconcile import apply_venue_update
from tests.core.test_handler_kit import BTC, Desk, assert_consistent, directive, make_desk, open_plan, size_to

D = Decimal


class VenueWatch:
    """Subscribed to the paper engine: at every event, the venue's open protective (reduce-only STOP / LIMIT sell)
    quantities of BTCUSDT against the venue's position, and the event sequence."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.breaches: list[str] = []
        self.events: list[tuple[str, str, str]] = []  # (kind, client order id, detail)
        self.unsubscribe = desk.engine.subscribe(self.on_event)

    def on_event(self, ev: ConnectorEvent) -> None:
        eng = self.desk.engine
        pos = abs(eng.positions()[BTC])
        for v in eng.open_orders(BTC):
            if v.reduce_only and v.quantity - v.filled_quantity > pos:
                self.breaches.append(f"{v.client_order_id} {v.order_type} {v.quantity} > position {pos}")
        if isinstance(ev, OrderFilled):
            self.events.append(("fill", ev.client_order_id, str(ev.quantity)))
        elif isinstance(ev, OrderUpdated):
            self.events.append((str(ev.order.status), ev.order.client_order_id, str(ev.order.quantity)))

    def index(self, kind: str, coid: str | None) -> int:
        return next(i for i, e in enumerate(self.events) if e[0] == kind and e[1] == coid)


async def test_on_a_scale_out_the_stop_shrinks_before_the_reducing_order_fills() -> None:
    desk = await make_desk()
    await open_plan(desk, size="1.5")
    watch = VenueWatch(desk)
    report = await desk.send(size_to("STR_OUT", "TPL_1", "0.5"))
    assert report.ok, report.summary()
    assert watch.breaches == []
    (stop,) = desk.open("TPL_1", OrderRole.STOP_LOSS)
    (exit_,) = [o for o in desk.plan("TPL_1").orders if o.role is OrderRole.EXIT]
    assert stop.quantity == D("0.5") and exit_.quantity == D(1)
    assert watch.index("OPEN", stop.client_order_id) < watch.index("fill", exit_.client_order_id)
    assert_consistent(desk)


async def test_on_a_scale_in_the_stop_grows_only_after_the_entry_filled() -> None:
    desk = await make_desk()
    await open_plan(desk)
    watch = VenueWatch(desk)
    report = await desk.send(size_to("STR_IN", "TPL_1", "2", exit_directive={"stop_loss_tolerance": "0.01"}))
    assert report.ok, report.summary()
    assert watch.breaches == []
    (stop,) = desk.open("TPL_1", OrderRole.STOP_LOSS)
    entry = [o for o in desk.plan("TPL_1").orders if o.role is OrderRole.ENTRY][-1]
    assert (stop.quantity, stop.stop_price) == (D(2), D("99000"))
    assert watch.index("fill", entry.client_order_id) < watch.index("OPEN", stop.client_order_id)
    assert_consistent(desk)


async def test_a_resting_limit_scale_in_leaves_the_stop_at_the_position_until_it_fills() -> None:
    desk = await make_desk()
    await open_plan(desk)
    watch = VenueWatch(desk)
    report = await desk.send(size_to("STR_IN", "TPL_1", "2", entry_directive={"order_type": "LIMIT",
                                                                             "limit_price": "95000"}))
    mod = next(o for o in report.outcomes if o.action == "MODIFY_ORDER")
    assert mod.status is OutcomeStatus.SKIPPED and "capped at the position 1" in mod.detail
    assert [o.quantity for o in desk.open("TPL_1", OrderRole.STOP_LOSS)] == [D(1)]
    assert [(o.role, o.remaining) for o in desk.open("TPL_1", OrderRole.ENTRY)] == [(OrderRole.ENTRY, D(1))]
    assert watch.breaches == []
    assert_consistent(desk)


async def test_a_new_stop_in_the_same_batch_as_the_entry_covers_only_what_filled() -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    desk.engine.config.max_fill_notional = D("50000")  # a thin book: the MARKET entry fills 0.5 of 1, rest expires
    watch = VenueWatch(desk)
    report = await desk.send(size_to("STR_IN", "TPL_1", "2", exit_directive={"stop_loss_tolerance": "0.02"}))
    trade = next(o for o in report.outcomes if o.action == "EXECUTE_TRADE")
    assert "EXPIRED 0.5 filled" in trade.detail
    (stop,) = desk.open("TPL_1", OrderRole.STOP_LOSS)
    assert desk.plan("TPL_1").net_position == D("1.5") and stop.quantity == D("1.5")
    assert watch.breaches == []
    assert_consistent(desk)


async def test_a_stop_limit_stop_keeps_its_type_and_offset_when_trailed() -> None:
    desk = await make_desk()
    await open_plan(desk, stop=None)
    # a STOP_LIMIT stop placed by hand through the handler's own write-ahead path
    from core.batch import ExecuteTrade

    cmd = ExecuteTrade(seq=1, plan_id="TPL_1", symbol=BTC, side=desk.plan("TPL_1").direction.opposite,
                       order_type=OrderType.STOP_LIMIT, quantity=D(1), price=D("97900"), stop_price=D("98000"),
                       reduce_only=True, role=OrderRole.STOP_LOSS, client_order_id="pd-manual-stop-limit")
    order, req = desk.handler.ops._new_order(cmd, D(1), "")
    from core.outcomes import CommandOutcome

    oc = CommandOutcome(seq=1, action="EXECUTE_TRADE", plan_id="TPL_1", symbol=BTC, order_id=order.order_id)
    await desk.handler.ops.place("TPL_1", order.model_copy(update={"group_id": None}), req, oc, lambda _o: None)
    assert oc.status is OutcomeStatus.ACKNOWLEDGED
    desk.set_mark(BTC, "102000")
    report = await desk.send(directive("STR_TRAIL", "MODIFY_EXISTING", "TPL_1",
                                       exit_directive={"stop_loss_tolerance": "0.01"}))
    assert report.ok, report.summary()
    (stop,) = desk.open("TPL_1")
    assert (stop.role, stop.type, stop.stop_price, stop.price) == (OrderRole.STOP_LOSS, OrderType.STOP_LIMIT,
                                                                  D("100980"), D("100880"))
    (venue,) = desk.venue_open()
    assert (venue.order_type, venue.stop_price, venue.price) == (OrderType.STOP_LIMIT, D("100980"), D("100880"))
    assert_consistent(desk)


# ---- late, stale events -------------------------------------------------------------------------------------

async def test_late_order_events_never_regress_the_ledger_nor_warn(caplog: pytest.LogCaptureFixture) -> None:
    desk = await make_desk()
    stream = desk.conn.events()
    caught: list[ConnectorEvent] = []

    async def pump() -> None:
        async for ev in stream:
            caught.append(ev)

    task = asyncio.create_task(pump())
    await open_plan(desk, size="1.5")
    await desk.send(size_to("STR_OUT", "TPL_1", "0.5"))
    await asyncio.sleep(0)
    await desk.conn.close()
    await task
    before = desk.ledger.export_snapshot()
    updates = [ev for ev in caught if isinstance(ev, OrderUpdated)]
    assert any(u.order.status is OrderStatus.OPEN for u in updates)  # the OPEN before the fills
    with caplog.at_level(logging.DEBUG, logger="plandesk.reconcile"):
        for ev in updates:  # every event applied after the responses that already settled the orders
            apply_venue_update(desk.ledger, ev.order)
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    after = desk.ledger.export_snapshot()
    assert after.plans == before.plans  # nothing regressed, no fill counted twice


class EventsBeforeTimeout(PaperConnector):
    """The venue executes the order and streams its events; the response is lost a moment later."""

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        await super().place_order(request)
        await asyncio.sleep(0.01)  # the event pump applies OPEN, the fill, FILLED meanwhile
        raise ConnectorError(ConnectorErrorKind.UNKNOWN_OUTCOME, "response lost after the events streamed")


async def test_events_applied_before_a_lost_response_do_not_break_the_send() -> None:
    """The console's event pump may apply an order's events before the handler learns the outcome is unknown:
    the handler must not try to move a FILLED order back to UNKNOWN."""
    desk = await make_desk(conn=EventsBeforeTimeout(PaperEngine(DEFAULT_MARKETS())))
    desk.ledger.create_plan("TPL_1", BTC, Side.BUY)
    stream = desk.conn.events()

    async def pump() -> None:
        async for ev in stream:
            if isinstance(ev, OrderUpdated):
                apply_venue_update(desk.ledger, ev.order)

    task = asyncio.create_task(pump())
    report = await desk.send(size_to("STR_IN", "TPL_1", "2"))
    await desk.conn.close()
    await task
    (trade,) = report.outcomes
    assert trade.status is OutcomeStatus.RESOLVED and report.ok, report.summary()
    assert desk.plan("TPL_1").net_position == 2
    assert desk.sent() == [trade.client_order_id]
    assert_consistent(desk)


async def test_events_applied_before_the_response_do_not_break_the_send() -> None:
    """The console's event pump may apply an order's events before the handler sees the response."""
    desk = await make_desk()
    await open_plan(desk)
    stream = desk.conn.events()

    async def pump() -> None:
        async for ev in stream:
            if isinstance(ev, OrderUpdated):
                apply_venue_update(desk.ledger, ev.order)

    task = asyncio.create_task(pump())
    desk.conn.latency = 0.005
    desk.conn.faults.inject("timeout_after", op="place")
    report = await desk.send(size_to("STR_IN", "TPL_1", "2"))
    await desk.conn.close()
    await task
    assert report.ok, report.summary()
    assert desk.plan("TPL_1").net_position == 2
    assert_consistent(desk)
