"""ExecutionHandler on the in-process paper exchange: the four seed scenarios end to end, directives never sent twice,
stale previews refused, the journal. Every scenario checks the ledger AND the venue."""

from __future__ import annotations

from decimal import Decimal

from core.models import DeskStatus, GroupStatus, OrderRole, OrderStatus, OrderType, PlanStatus, Side, TimeInForce
from core.outcomes import OutcomeStatus
from tests.core.test_handler_kit import BTC, Desk, assert_consistent, directive, make_desk, open_plan, size_to

D = Decimal


def venue_stops(desk: Desk, symbol: str = BTC) -> list[tuple[Decimal, Decimal | None]]:
    return [(v.quantity, v.stop_price) for v in desk.venue_open(symbol) if v.order_type is OrderType.STOP_MARKET]


def ledger_stops(desk: Desk, plan_id: str = "TPL_1") -> list[tuple[Decimal, Decimal | None]]:
    return [(o.remaining, o.stop_price) for o in desk.open(plan_id, OrderRole.STOP_LOSS)]


async def long_btc_with_trailed_stop(desk: Desk, *, opened: bool = False) -> None:
    """Seed scenario 1 setup + trailing stop: TPL_1 long 1 BTC, stop moved to 1 % under a mark of 102000."""
    if not opened:
        await open_plan(desk)
    desk.set_mark(BTC, "102000")
    report = await desk.send(directive("STR_TRAIL", "MODIFY_EXISTING", "TPL_1",
                                       exit_directive={"stop_loss_tolerance": "0.01"}))
    assert report.ok, report.summary()


# ---- the four seed scenarios ---------------------------------------------------------------------------------

async def test_open_then_trailing_stop_moves_the_stop_at_the_venue() -> None:
    desk = await make_desk()
    await open_plan(desk)
    (old,) = desk.open("TPL_1", OrderRole.STOP_LOSS)
    assert venue_stops(desk) == [(D(1), D("98000"))]
    await long_btc_with_trailed_stop(desk, opened=True)
    plan = desk.plan("TPL_1")
    assert plan.net_position == 1 and plan.status is PlanStatus.ACTIVE
    (new,) = desk.open("TPL_1")
    assert new.role is OrderRole.STOP_LOSS and new.type is OrderType.STOP_MARKET and new.reduce_only  # role kept
    assert (new.quantity, new.stop_price) == (D(1), D("100980"))
    assert desk.ledger.get_order(old.order_id)[1].status is OrderStatus.CANCELLED  # type: ignore[index]
    assert venue_stops(desk) == [(D(1), D("100980"))]
    assert [v.client_order_id for v in desk.venue_open()] == [new.client_order_id]
    assert desk.engine.get(BTC, old.client_order_id or "").status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    assert_consistent(desk)


async def test_scale_in_to_one_and_a_half_grows_the_stop_to_match() -> None:
    desk = await make_desk()
    await long_btc_with_trailed_stop(desk)
    report = await desk.send(size_to("STR_IN", "TPL_1", "1.5"))
    assert report.ok, report.summary()
    plan = desk.plan("TPL_1")
    assert plan.net_position == D("1.5")
    assert abs(plan.avg_entry_price - (D("100000") + D("0.5") * D("102000")) / D("1.5")) < D("1e-12")
    assert ledger_stops(desk) == [(D("1.5"), D("100980"))]
    assert venue_stops(desk) == [(D("1.5"), D("100980"))]
    assert desk.engine.positions()[BTC] == D("1.5")
    assert_consistent(desk)


async def test_partial_take_profit_to_three_quarters_shrinks_the_stop() -> None:
    desk = await make_desk()
    await long_btc_with_trailed_stop(desk)
    assert (await desk.send(size_to("STR_IN", "TPL_1", "1.5"))).ok
    report = await desk.send(size_to("STR_TP", "TPL_1", "0.75"))
    assert report.ok, report.summary()
    plan = desk.plan("TPL_1")
    assert plan.net_position == D("0.75")
    assert ledger_stops(desk) == [(D("0.75"), D("100980"))]
    assert venue_stops(desk) == [(D("0.75"), D("100980"))]
    assert desk.engine.positions()[BTC] == D("0.75")
    avg = (D("100000") + D("0.5") * D("102000")) / D("1.5")
    fees = sum((f.fee for f in plan.fills), D(0))  # the venue's 0.1 % on every fill, entries included
    assert fees == sum((f.price * f.quantity * D("0.001") for f in plan.fills), D(0)) and fees > 0
    assert abs(plan.realized_pnl - ((D("102000") - avg) * D("0.75") - fees)) < D("1e-9")
    exit_order = [o for o in plan.orders if o.role is OrderRole.EXIT]
    assert [(o.side, o.quantity, o.reduce_only, o.status) for o in exit_order] == [
        (Side.SELL, D("0.75"), True, OrderStatus.FILLED)]
    assert_consistent(desk)


async def three_plans(desk: Desk) -> None:
    await long_btc_with_trailed_stop(desk)
    await open_plan(desk, "TPL_2", "ETHUSDT", Side.SELL, "10", stop="0.03")
    await open_plan(desk, "TPL_3", "SOLUSDT", Side.BUY, "100", stop=None, tp="170")
    # and a working ladder entry on TPL_3: LIMIT buy under the mark
    report = await desk.send(directive("STR_LADDER", "MODIFY_EXISTING", "TPL_3",
                                       size_directive={"target_position_size": "150"},
                                       entry_directive={"order_type": "LIMIT", "limit_price": "140"}))
    assert report.ok, report.summary()
    assert len(desk.venue_open()) == 4


async def test_emergency_flatten_of_three_plans_with_a_slippage_cap_halts_the_desk() -> None:
    desk = await make_desk()
    await three_plans(desk)
    ids = ["TPL_1", "TPL_2", "TPL_3"]
    flat = directive("STR_PANIC", "CLOSE_EXISTING", *ids, execution_directive={"max_total_slippage_pct": "0.05"})
    batch = desk.preview(flat)
    closes = [c for c in batch.commands if c.action == "EXECUTE_TRADE"]
    assert {(c.order_type, c.time_in_force) for c in closes} == {(OrderType.LIMIT, TimeInForce.IOC)}  # type: ignore
    report = await desk.send(flat, halt=True, batch=batch)
    assert report.ok and report.halted and report.still_open == [], report.summary()
    for pid in ids:
        plan = desk.plan(pid)
        assert plan.net_position == 0 and plan.status is PlanStatus.CLOSED and plan.open_orders == [], pid
    assert desk.ledger.open_orders() == []
    assert desk.venue_open() == []
    assert set(desk.engine.positions().values()) == {D(0)}
    assert desk.ledger.desk() is DeskStatus.HALTED
    # the closes went out as LIMIT IOC inside the 5 % cap: a sell at >= 95 % of the mark, a buy at <= 105 %
    for c in closes:
        rec = desk.engine.order_record(c.symbol, c.client_order_id)  # type: ignore[union-attr]
        assert rec is not None and rec.order_type is OrderType.LIMIT and rec.time_in_force is TimeInForce.IOC
        mark = desk.engine.markets[c.symbol].mark_price
        assert (rec.price >= mark * D("0.95")) if rec.side is Side.SELL else (rec.price <= mark * D("1.05"))
    assert_consistent(desk)
    # flatten-all halted the desk: a scale-in is now an error, a flatten of nothing is a warning
    assert desk.preview(size_to("STR_MORE", "TPL_1", "1")).errors


# ---- never twice ------------------------------------------------------------------------------------------

async def test_the_same_directive_sent_twice_makes_one_set_of_orders() -> None:
    desk = await make_desk()
    await open_plan(desk)
    d = size_to("STR_TWICE", "TPL_1", "1.5")
    batch = desk.preview(d)
    first = await desk.send(d, batch=batch)
    assert first.ok
    log = list(desk.engine.order_log)
    again = await desk.send(d, batch=batch)
    assert again.refused is not None and "already sent" in again.refused
    assert again.outcomes == []
    # a fresh preview of the same directive id is refused too, and so is a handler started later on the ledger
    fresh = desk.preview(d)
    assert (await desk.send(d, batch=fresh)).refused is not None
    assert desk.engine.order_log == log
    assert desk.plan("TPL_1").net_position == D("1.5")
    assert_consistent(desk)


async def test_the_same_absolute_target_with_a_new_directive_id_sends_nothing() -> None:
    desk = await make_desk()
    await open_plan(desk)
    a, b, c = (size_to(f"STR_{x}", "TPL_1", "1.5") for x in "ABC")
    early_c = desk.preview(c)  # previewed before A went out: it would buy 0.5 again
    assert [x.quantity for x in early_c.commands if x.action == "EXECUTE_TRADE"] == [D("0.5")]  # type: ignore
    assert (await desk.send(a)).ok
    log = list(desk.engine.order_log)
    late_b = desk.preview(b)
    assert late_b.commands == [] and any("already at target" in w for w in late_b.warnings)
    assert (await desk.send(b, batch=late_b)).outcomes == []
    stale = await desk.send(c, batch=early_c)
    assert stale.refused is not None and "stale preview" in stale.refused
    assert desk.engine.order_log == log
    assert desk.plan("TPL_1").net_position == D("1.5")
    assert_consistent(desk)


async def test_a_scale_in_previewed_before_the_desk_was_halted_is_refused() -> None:
    desk = await make_desk()
    await open_plan(desk)
    batch = desk.preview(size_to("STR_LATE", "TPL_1", "2"))
    desk.ledger.set_desk(DeskStatus.HALTED)  # e.g. a flatten-all from another terminal (plan versions unchanged)
    report = await desk.send(size_to("STR_LATE", "TPL_1", "2"), batch=batch)
    assert report.refused is not None and "HALTED" in report.refused
    assert desk.plan("TPL_1").net_position == 1
    # a scale-out passes once the desk is REDUCING (HALTED allows only cancels, closes and stop changes: issue 11)
    desk.ledger.set_desk(DeskStatus.REDUCING)
    assert (await desk.send(size_to("STR_LESS", "TPL_1", "0.5"))).ok
    assert desk.engine.positions()[BTC] == D("0.5")


async def test_new_trade_opens_a_plan_with_its_stop() -> None:
    desk = await make_desk()
    d = directive("STR_NEW", "NEW_TRADE", size_directive={"target_position_size": "2"},
                  entry_directive={"symbol": "ETHUSDT", "direction": "SELL"},
                  exit_directive={"stop_loss_tolerance": "0.02"})
    batch = desk.preview(d)
    report = await desk.send(d, batch=batch)
    assert report.ok, report.summary()
    (pid,) = desk.ledger.plan_ids()
    plan = desk.plan(pid)
    assert plan.direction is Side.SELL and plan.net_position == -2
    assert [(o.role, o.side, o.quantity, o.stop_price) for o in plan.open_orders] == [
        (OrderRole.STOP_LOSS, Side.BUY, D(2), D("3570"))]
    assert [g.status for g in plan.groups] == [GroupStatus.COMPLETED]
    assert (await desk.send(d, batch=batch)).refused is not None  # the same NEW_TRADE never opens a second plan
    assert len(desk.ledger.plan_ids()) == 1
    assert_consistent(desk)


# ---- the record -------------------------------------------------------------------------------------------

async def test_every_outcome_is_in_the_report_the_callback_and_the_journal() -> None:
    desk = await make_desk()
    await three_plans(desk)
    desk.seen.clear()
    report = await desk.send(directive("STR_FLAT", "CLOSE_EXISTING", "TPL_1", "TPL_2", "TPL_3"), halt=True)
    assert report.ok
    assert {o.seq for o in report.outcomes} == {o.seq for o in desk.seen if o.status.is_final}
    assert all(o.status in (OutcomeStatus.ACKNOWLEDGED, OutcomeStatus.SKIPPED) for o in report.outcomes)
    kinds = [e.kind for e in desk.journal.entries(directive_id="STR_FLAT")]
    assert kinds[:2] == ["send", "halt"] and kinds[-1] == "report" and "outcome" in kinds
    journaled = [o for e in desk.journal.entries(directive_id="STR_FLAT", kind="outcome")
                 for o in e.payload["outcomes"]]
    assert sorted(o["seq"] for o in journaled) == sorted(o.seq for o in report.outcomes)
    assert all(o["status"] in ("ACKNOWLEDGED", "SKIPPED") for o in journaled)
    refused = await desk.send(directive("STR_FLAT", "CLOSE_EXISTING", "TPL_1"))
    assert refused.refused is not None
    assert desk.journal.entries(directive_id="STR_FLAT")[-1].kind == "refused"


async def test_a_stale_flatten_all_is_not_refused_and_halts_the_desk_in_the_same_step() -> None:
    """DESIGN §3: a flatten is re-translated at send time; a plan its stop already closed sends nothing."""
    desk = await make_desk()
    await open_plan(desk)
    d = directive("STR_PANIC", "CLOSE_EXISTING", "TPL_1")
    batch = desk.preview(d)
    desk.set_mark(BTC, "97000")  # the stop triggers at the venue ...
    await desk.handler.recover()  # ... and the ledger learns it: the preview is stale
    log = list(desk.engine.order_log)
    report = await desk.send(d, halt=True, batch=batch)
    assert report.refused is None and report.ok, report.summary()
    assert report.halted and desk.ledger.desk() is DeskStatus.HALTED
    assert desk.engine.order_log == log  # nothing left to send
    assert len(report.differences) == 1 and report.differences[0].startswith("TPL_1: position 1 -> 0")
    assert desk.plan("TPL_1").status is PlanStatus.CLOSED
