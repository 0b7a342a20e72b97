"""Faults on the paper exchange: lost responses, lost requests, lost lookups, a cancel that loses the race to a fill,
a flatten with a fifth of all calls failing, a stale preview, crashes between write-ahead and send. No order is ever
sent twice (engine.order_log), and the ledger ends where the venue is."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine
from core.connector import OrderRequest, VenueOrder
from core.demo import seed_demo_desk
from core.handler import ExecutionHandler
from core.ledger import Ledger
from core.models import OrderRole, OrderStatus, OrderType, PlanStatus, Side, TimeInForce
from core.outcomes import OutcomeStatus
from tests.core.test_handler_kit import (
    BTC,
    Desk,
    RacingConnector,
    assert_consistent,
    directive,
    make_desk,
    open_plan,
    size_to,
)

D = Decimal


def calls_of(conn: PaperConnector) -> list[tuple[str, str]]:
    """Record (op, client order id) of every place and lookup, in the order the venue receives them."""
    log: list[tuple[str, str]] = []
    place, get = conn.place_order, conn.get_order

    async def placing(req: OrderRequest) -> VenueOrder:
        log.append(("place", req.client_order_id))
        return await place(req)

    async def getting(symbol: str, coid: str) -> VenueOrder | None:
        log.append(("get", coid))
        return await get(symbol, coid)

    conn.place_order = placing  # type: ignore[method-assign]
    conn.get_order = getting  # type: ignore[method-assign]
    return log


def entry_coid(desk: Desk, d: Any) -> str:
    (trade,) = [c for c in desk.preview(d).commands if c.action == "EXECUTE_TRADE"]
    return trade.client_order_id  # type: ignore[union-attr, no-any-return]


# ---- unknown outcomes of a new order ------------------------------------------------------------------------

async def test_timeout_after_the_order_executed_resolves_by_lookup_without_a_duplicate() -> None:
    desk = await make_desk()
    await open_plan(desk)
    d = size_to("STR_IN", "TPL_1", "1.5")
    coid = entry_coid(desk, d)
    desk.conn.faults.inject("timeout_after", op="place", match=coid)
    calls = calls_of(desk.conn)
    report = await desk.send(d)
    trade = next(o for o in report.outcomes if o.action == "EXECUTE_TRADE")
    assert trade.status is OutcomeStatus.RESOLVED and "FILLED" in trade.detail
    assert desk.sent(coid) == [coid]  # one order at the venue
    assert [c for c in calls if c[1] == coid] == [("place", coid), ("get", coid)]
    assert desk.plan("TPL_1").net_position == D("1.5")
    assert [o.status for o in desk.plan("TPL_1").orders if o.client_order_id == coid] == [OrderStatus.FILLED]
    assert report.ok
    assert_consistent(desk)


async def test_timeout_before_the_order_arrived_places_it_once_after_the_lookup_proves_it_absent() -> None:
    desk = await make_desk()
    await open_plan(desk)
    d = size_to("STR_IN", "TPL_1", "1.5")
    coid = entry_coid(desk, d)
    desk.conn.faults.inject("timeout_before", op="place", match=coid)
    calls = calls_of(desk.conn)
    report = await desk.send(d)
    trade = next(o for o in report.outcomes if o.action == "EXECUTE_TRADE")
    assert trade.status is OutcomeStatus.RESOLVED
    assert [c for c in calls if c[1] == coid] == [("place", coid), ("get", coid), ("place", coid)]
    assert desk.sent(coid) == [coid]
    assert ("timeout_before", "place", coid) in desk.conn.faults.fired
    assert desk.plan("TPL_1").net_position == D("1.5")
    assert_consistent(desk)


async def test_an_executed_order_whose_answer_and_lookups_were_lost_is_recovered_after_the_process_died(
    tmp_path: Path,
) -> None:
    db = tmp_path / "ledger.sqlite"
    engine = PaperEngine(DEFAULT_MARKETS())
    desk = await make_desk(db, conn=PaperConnector(engine))
    await open_plan(desk)
    d = size_to("STR_IN", "TPL_1", "1.5")
    coid = entry_coid(desk, d)
    desk.conn.faults.inject("timeout_after", op="place", match=coid)
    desk.conn.faults.inject("unavailable", op="get", match=coid, count=50)  # every lookup of it fails
    report = await desk.send(d)
    trade = next(o for o in report.outcomes if o.action == "EXECUTE_TRADE")
    assert trade.status is OutcomeStatus.UNKNOWN and not report.ok
    (order,) = [o for o in desk.plan("TPL_1").orders if o.client_order_id == coid]
    assert order.status is OrderStatus.UNKNOWN
    assert desk.plan("TPL_1").net_position == 1  # the ledger does not guess
    assert engine.positions()[BTC] == D("1.5")  # but the venue executed it
    desk.ledger.close()  # the process dies here

    ledger = Ledger(db)
    notes = await ExecutionHandler(ledger, PaperConnector(engine)).recover()
    assert any(coid in n and "FILLED" in n for n in notes)
    plan = ledger.get_plan("TPL_1")
    assert plan is not None and plan.net_position == D("1.5")
    assert [o.status for o in plan.orders if o.client_order_id == coid] == [OrderStatus.FILLED]
    assert [c for _s, c in engine.order_log].count(coid) == 1


async def test_a_lost_lookup_inside_a_send_is_settled_by_the_final_lookup() -> None:
    desk = await make_desk()
    await open_plan(desk)
    d = size_to("STR_IN", "TPL_1", "1.5")
    coid = entry_coid(desk, d)
    desk.conn.faults.inject("timeout_after", op="place", match=coid)
    desk.conn.faults.inject("timeout_before", op="get", match=coid, count=5)  # exactly the in-send lookups
    report = await desk.send(d)
    trade = next(o for o in report.outcomes if o.action == "EXECUTE_TRADE")
    assert trade.status is OutcomeStatus.RESOLVED and "FILLED" in trade.detail
    assert report.ok and desk.sent(coid) == [coid]
    assert desk.plan("TPL_1").net_position == D("1.5")
    assert_consistent(desk)


# ---- crashes between write-ahead and send -------------------------------------------------------------------

async def test_a_crash_between_write_ahead_and_send_is_resolved_at_the_next_start(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite"
    engine = PaperEngine(DEFAULT_MARKETS())
    desk = await make_desk(db, conn=PaperConnector(engine))
    await open_plan(desk)
    d = size_to("STR_IN", "TPL_1", "1.5")
    (trade,) = [c for c in desk.preview(d).commands if c.action == "EXECUTE_TRADE"]
    order, _req = desk.handler.ops._new_order(trade, trade.quantity, "")  # type: ignore[arg-type]
    desk.ledger.write_ahead("TPL_1", order.model_copy(update={"group_id": None}))  # ... and the process dies
    log = list(engine.order_log)
    desk.ledger.close()

    ledger = Ledger(db)
    notes = await ExecutionHandler(ledger, PaperConnector(engine)).recover()
    assert any("never reached the venue" in n for n in notes)
    found = ledger.get_order(order.order_id)
    assert found is not None and found[1].status is OrderStatus.REJECTED
    assert engine.order_log == log  # recovery never sends
    plan = ledger.get_plan("TPL_1")
    assert plan is not None and plan.net_position == 1 and [o.role for o in plan.open_orders] == [
        OrderRole.STOP_LOSS]


async def test_a_crash_after_the_venue_took_the_order_is_recovered_as_what_the_venue_did(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite"
    engine = PaperEngine(DEFAULT_MARKETS())
    desk = await make_desk(db, conn=PaperConnector(engine))
    await open_plan(desk)
    d = size_to("STR_IN", "TPL_1", "1.5")
    (trade,) = [c for c in desk.preview(d).commands if c.action == "EXECUTE_TRADE"]
    order, req = desk.handler.ops._new_order(trade, trade.quantity, "")  # type: ignore[arg-type]
    desk.ledger.write_ahead("TPL_1", order.model_copy(update={"group_id": None}))
    await desk.conn.place_order(req)  # the venue executed it; the process died before the answer was recorded
    desk.ledger.close()

    ledger = Ledger(db)
    await ExecutionHandler(ledger, PaperConnector(engine)).recover()
    plan = ledger.get_plan("TPL_1")
    assert plan is not None and plan.net_position == D("1.5")
    assert [c for _s, c in engine.order_log].count(req.client_order_id) == 1


# ---- cancels that lose the race, modifies that time out -----------------------------------------------------

async def test_a_scale_out_whose_working_exit_fills_while_the_cancel_is_in_flight_does_not_overshoot() -> None:
    conn = RacingConnector(PaperEngine(DEFAULT_MARKETS()))
    desk = await make_desk(conn=conn)
    await open_plan(desk, size="1.5")
    # a working EXIT: LIMIT sell 0.5 at 101000 (the plan asked for 1.0 at a limit price)
    work = await desk.send(size_to("STR_WORK", "TPL_1", "1", entry_directive={"order_type": "LIMIT",
                                                                               "limit_price": "101000"}))
    assert work.ok
    (exit_,) = desk.open("TPL_1", OrderRole.EXIT)
    assert (exit_.side, exit_.remaining, exit_.type) == (Side.SELL, D("0.5"), OrderType.LIMIT)
    # the operator now wants 0.75; the venue fills the working exit just before our cancel reaches it
    conn.before_cancel = lambda coid: desk.engine.set_mark(BTC, D("101000"), 0) if coid == exit_.client_order_id \
        else None
    report = await desk.send(size_to("STR_OUT", "TPL_1", "0.75"))
    cancel = next(o for o in report.outcomes if o.action == "CANCEL_ORDER")
    trade = next(o for o in report.outcomes if o.action == "EXECUTE_TRADE")
    assert "lost the race" in cancel.detail
    assert "0.75 -> 0.25" in trade.detail  # recomputed from the confirmed position, not the preview
    assert desk.plan("TPL_1").net_position == D("0.75")
    assert desk.engine.positions()[BTC] == D("0.75")  # no overshoot at the venue
    assert all(o.remaining <= D("0.75") for o in desk.open("TPL_1", OrderRole.STOP_LOSS))
    assert report.ok
    assert_consistent(desk)


async def test_a_cancel_that_finds_the_order_already_filled_skips_a_trade_that_would_overshoot() -> None:
    conn = RacingConnector(PaperEngine(DEFAULT_MARKETS()))
    desk = await make_desk(conn=conn)
    await open_plan(desk, size="1.5")
    assert (await desk.send(size_to("STR_WORK", "TPL_1", "0.5", entry_directive={"order_type": "LIMIT",
                                                                                 "limit_price": "101000"}))).ok
    (exit_,) = desk.open("TPL_1", OrderRole.EXIT)
    conn.before_cancel = lambda coid: desk.engine.set_mark(BTC, D("101000"), 0) if coid == exit_.client_order_id \
        else None
    # the operator wants 1.0 (buy back 0.5 of the working 1.0 exit); the whole exit fills first: 0.5 left
    report = await desk.send(size_to("STR_BACK", "TPL_1", "1"))
    trade = next(o for o in report.outcomes if o.action == "EXECUTE_TRADE")
    assert trade.status is OutcomeStatus.SKIPPED and "no overshoot" in trade.detail
    assert desk.plan("TPL_1").net_position == D("0.5") == desk.engine.positions()[BTC]
    assert_consistent(desk)


@pytest.mark.parametrize("fault", ["timeout_after", "timeout_before"])
async def test_a_trailing_stop_modify_that_times_out_ends_with_exactly_one_stop(fault: str) -> None:
    desk = await make_desk()
    await open_plan(desk)
    desk.set_mark(BTC, "102000")
    desk.conn.faults.inject(fault, op="modify")
    report = await desk.send(directive("STR_TRAIL", "MODIFY_EXISTING", "TPL_1",
                                       exit_directive={"stop_loss_tolerance": "0.01"}))
    (mod,) = report.outcomes
    assert mod.status in (OutcomeStatus.RESOLVED, OutcomeStatus.ACKNOWLEDGED), mod.detail
    assert [(v.quantity, v.stop_price) for v in desk.venue_open()] == [(D(1), D("100980"))]
    (stop,) = desk.open("TPL_1")
    assert stop.role is OrderRole.STOP_LOSS and stop.stop_price == D("100980")
    assert desk.sent(stop.client_order_id) == [stop.client_order_id]
    assert ((fault, "modify", desk.plan("TPL_1").orders[1].client_order_id) in desk.conn.faults.fired)
    assert report.ok
    assert_consistent(desk)


async def test_a_modify_of_a_stop_that_already_triggered_is_skipped_and_the_fill_recorded() -> None:
    desk = await make_desk()
    await open_plan(desk)
    batch = desk.preview(directive("STR_TRAIL", "MODIFY_EXISTING", "TPL_1",
                                   exit_directive={"stop_loss_price": "99000"}))
    desk.engine.set_mark(BTC, D("97000"), 0)  # the stop at 98000 triggers at the venue; the ledger does not know yet
    report = await desk.send(directive("STR_TRAIL", "MODIFY_EXISTING", "TPL_1",
                                       exit_directive={"stop_loss_price": "99000"}), batch=batch)
    (mod,) = report.outcomes
    assert mod.status is OutcomeStatus.SKIPPED and "FILLED" in mod.detail
    plan = desk.plan("TPL_1")
    assert plan.net_position == 0 and plan.status is PlanStatus.CLOSED
    assert desk.venue_open() == []
    assert_consistent(desk)


# ---- flatten under failures ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_a_flatten_with_a_fifth_of_all_calls_failing_still_ends_flat(seed: int) -> None:
    desk = await make_desk()
    await seed_demo_desk(desk.handler)
    assert len(desk.venue_open()) >= 10
    desk.conn.faults.fail_ratio(0.2, seed=seed)
    ids = desk.ledger.plan_ids(PlanStatus.ACTIVE)
    report = await desk.send(directive("STR_PANIC", "CLOSE_EXISTING", *ids), halt=True)
    desk.conn.faults.clear()
    assert report.still_open == [], report.summary()
    assert report.ok, report.summary()
    assert any(kind for kind, _op, _k in desk.conn.faults.fired)  # faults really fired
    for pid in ids:
        plan = desk.plan(pid)
        assert plan.net_position == 0 and plan.status is PlanStatus.CLOSED and plan.open_orders == []
    assert desk.venue_open() == [] and set(desk.engine.positions().values()) == {D(0)}
    coids = desk.sent()
    assert len(coids) == len(set(coids)), "a client order id was accepted twice"
    assert_consistent(desk)


async def test_a_flatten_that_cannot_finish_says_plainly_what_is_still_open() -> None:
    desk = await make_desk(flatten_rounds=3, retry_attempts=2)
    await open_plan(desk)
    desk.conn.faults.inject("reject", op="place", count=100)
    report = await desk.send(directive("STR_PANIC", "CLOSE_EXISTING", "TPL_1"), halt=True)
    assert report.rounds == 3 and not report.ok
    assert report.still_open == ["TPL_1: position 1 BTCUSDT, 0 open orders"]
    assert "STILL OPEN" in report.summary()
    assert desk.plan("TPL_1").net_position == 1 == desk.engine.positions()[BTC]


async def test_flatten_rounds_retry_until_flat_and_earlier_failures_are_superseded() -> None:
    desk = await make_desk(retry_attempts=1)
    await open_plan(desk)
    desk.conn.faults.inject("unavailable", op="place", count=1)
    report = await desk.send(directive("STR_" + "X" * 60, "CLOSE_EXISTING", "TPL_1"), halt=True)  # a 64-char id
    assert report.rounds == 2 and report.ok, report.summary()
    first = [o for o in report.outcomes if o.action == "EXECUTE_TRADE"]
    assert [(o.round, o.status, o.superseded) for o in first] == [
        (1, OutcomeStatus.FAILED, True), (2, OutcomeStatus.ACKNOWLEDGED, False)]
    assert "retried in a later round" in report.summary()
    r2 = desk.ledger.get_order(next(o.order_id for o in first if o.round == 2))  # type: ignore[arg-type]
    assert r2 is not None and r2[1].status is OrderStatus.FILLED
    assert desk.plan("TPL_1").status is PlanStatus.CLOSED and desk.engine.positions()[BTC] == 0


# ---- stale previews -----------------------------------------------------------------------------------------

async def test_a_preview_made_stale_by_a_fill_is_refused_and_nothing_is_sent() -> None:
    desk = await make_desk()
    await open_plan(desk)
    assert (await desk.send(size_to("STR_LADDER", "TPL_1", "1.5", entry_directive={"order_type": "LIMIT",
                                                                                   "limit_price": "99000"}))).ok
    d = directive("STR_TRAIL", "MODIFY_EXISTING", "TPL_1", exit_directive={"stop_loss_tolerance": "0.01"})
    batch = desk.preview(d)
    assert batch.ok and batch.commands
    desk.set_mark(BTC, "99000")  # the working entry fills at the venue ...
    await desk.handler.recover()  # ... and the fill reaches the ledger (as the console's sync / event pump does)
    assert desk.plan("TPL_1").net_position == D("1.5")
    log = list(desk.engine.order_log)
    report = await desk.send(d, batch=batch)
    assert report.refused is not None and "stale preview" in report.refused and report.outcomes == []
    assert desk.engine.order_log == log
    assert not desk.ledger.was_sent("STR_TRAIL")  # it may be previewed and sent again under the same id
    assert (await desk.send(d)).ok
    assert_consistent(desk)


async def test_an_unexpected_error_in_one_plan_fails_that_plan_only() -> None:
    desk = await make_desk(flatten_rounds=2)
    await open_plan(desk)
    await open_plan(desk, "TPL_2", "ETHUSDT", Side.SELL, "10")
    real = desk.handler.ops.trade

    async def broken(c: Any, *a: Any, **kw: Any) -> None:
        if c.plan_id == "TPL_2":
            raise RuntimeError("boom")
        await real(c, *a, **kw)

    desk.handler.ops.trade = broken  # type: ignore[method-assign]
    report = await desk.send(directive("STR_PANIC", "CLOSE_EXISTING", "TPL_1", "TPL_2"))
    assert any("TPL_2: internal error" in n for n in report.notes)
    assert desk.plan("TPL_1").status is PlanStatus.CLOSED
    assert not report.ok and any("TPL_2" in s for s in report.still_open)


async def test_a_limit_close_that_does_not_fill_is_reported_open_not_flat() -> None:
    desk = await make_desk(flatten_rounds=2)
    await open_plan(desk)
    desk.engine.config.max_fill_notional = D("20000")  # the book is thin: 0.2 BTC per pass
    report = await desk.send(directive("STR_CAP", "CLOSE_EXISTING", "TPL_1",
                                       execution_directive={"max_total_slippage_pct": "0.01"}))
    closes = [o for o in report.outcomes if o.action == "EXECUTE_TRADE" and "re-placed" not in o.detail]
    assert closes and all("EXPIRED" in o.detail for o in closes)
    assert desk.plan("TPL_1").net_position == D("0.6")  # 0.2 per IOC, two rounds
    # the stop the flatten cancelled is back, for what is left (DESIGN §3a)
    assert [o.remaining for o in desk.open("TPL_1", OrderRole.STOP_LOSS)] == [D("0.6")]
    assert report.still_open == ["TPL_1: position 0.6 BTCUSDT, 1 open order"] and report.unprotected == {}
    tif = {desk.engine.order_record(BTC, o.client_order_id or "").time_in_force for o in closes}  # type: ignore
    assert tif == {TimeInForce.IOC}
    assert_consistent(desk)


async def test_a_trade_waits_for_its_cancels_a_scale_out_is_not_sent_when_one_is_not_confirmed() -> None:
    desk = await make_desk(retry_attempts=2)
    await open_plan(desk, size="1.5")
    assert (await desk.send(size_to("STR_WORK", "TPL_1", "1", entry_directive={"order_type": "LIMIT",
                                                                               "limit_price": "101000"}))).ok
    (exit_,) = desk.open("TPL_1", OrderRole.EXIT)
    desk.conn.faults.inject("unavailable", op="cancel", match=exit_.client_order_id, count=10)
    report = await desk.send(size_to("STR_OUT", "TPL_1", "0.75"))
    cancel = next(o for o in report.outcomes if o.action == "CANCEL_ORDER")
    trade = next(o for o in report.outcomes if o.action == "EXECUTE_TRADE")
    assert cancel.status is OutcomeStatus.FAILED
    assert trade.status is OutcomeStatus.FAILED and "not confirmed" in trade.detail
    assert desk.plan("TPL_1").net_position == D("1.5") == desk.engine.positions()[BTC]
    assert not report.ok
    assert_consistent(desk)
    # a close to zero is reduce-only and cannot overshoot: a flatten still goes, the rounds retry the cancel
    desk.conn.faults.clear()
    desk.conn.faults.inject("unavailable", op="cancel_all", count=10)  # one by one, then
    desk.conn.faults.inject("unavailable", op="cancel", match=exit_.client_order_id, count=2)
    flat = await desk.send(directive("STR_FLAT", "CLOSE_EXISTING", "TPL_1"))
    assert flat.ok and flat.rounds == 2, flat.summary()
    close = next(o for o in flat.outcomes if o.action == "EXECUTE_TRADE")
    assert close.round == 1 and "FILLED" in close.detail
    assert desk.plan("TPL_1").status is PlanStatus.CLOSED and desk.venue_open() == []
    assert_consistent(desk)
