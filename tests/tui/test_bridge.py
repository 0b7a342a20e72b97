"""DeskBridge without the UI: the event pump, mark coalescing, previews on the reader thread, sends."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.directives import Scope, StrategyDirective
from core.ledger import Ledger
from core.models import OrderStatus, PlanStatus
from tui.bridge import DeskBridge
from tui.screenshots import FROZEN, Desk, frozen_desk

D = Decimal


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = frozen_desk(tmp_path)
    d.bridge.start().result(timeout=20)
    yield d
    d.stop()


def wait_for(cond: Callable[[], bool], timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


def test_loads_the_desk_in_ledger_order(desk: Desk) -> None:
    ch = desk.bridge.drain_changes()
    assert ch.ready and [r.plan_id for r in ch.rows] == [f"TPL_{i}" for i in range(1, 7)]
    assert desk.bridge.drain_changes().rows == []  # drained


def test_marks_are_coalesced_and_written_about_once_a_second(desk: Desk, monkeypatch: Any) -> None:
    writes: list[str] = []
    real = Ledger.set_mark

    def counting(self: Ledger, symbol: str, price: Decimal) -> None:
        writes.append(symbol)
        real(self, symbol, price)

    monkeypatch.setattr(Ledger, "set_mark", counting)
    desk.bridge.drain_changes()
    for i in range(300):
        desk.engine.set_mark("SOLUSDT", D("150") + D(i) / 100, FROZEN)
    wait_for(lambda: desk.bridge.markets()["SOLUSDT"].mark_price == D("152.99"))
    ch = desk.bridge.drain_changes()
    assert ch.marks == {"SOLUSDT": D("152.99")} and ch.rows == []  # marks do not resend rows
    assert desk.bridge.row("TPL_3").mark == D("152.99")  # type: ignore[union-attr]
    wait_for(lambda: len(writes) >= 1, timeout=3)
    time.sleep(0.3)
    assert writes.count("SOLUSDT") <= 2  # not 300
    wait_for(lambda: desk.ledger.markets()["SOLUSDT"].mark_price == D("152.99"), timeout=3)


def test_venue_events_reach_the_ledger_and_the_view(desk: Desk) -> None:
    desk.bridge.drain_changes()
    desk.engine.set_mark("BTCUSDT", D("97000"), FROZEN)  # TPL_1's stop (98,000) triggers and fills
    wait_for(lambda: desk.ledger.get_plan("TPL_1").net_position == 0)
    wait_for(lambda: (r := desk.bridge.row("TPL_1")) is not None and r.net == 0)
    events: list[str] = []
    wait_for(lambda: bool(events.extend(e.text for e in desk.bridge.drain_changes().events)) or
             any("fill TPL_1 STOP_LOSS SELL 1 BTCUSDT" in e for e in events))


def test_preview_reads_beside_the_writer_and_is_journaled(desk: Desk) -> None:
    directive = StrategyDirective(directive_id="STR_B1", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_2"])
    preview = desk.bridge.preview(directive).result(timeout=5)
    assert preview.batch.ok and preview.batch.plan_versions.keys() == {"TPL_2"}
    assert preview.symbols == ("ETHUSDT",) and all(o in preview.orders for o in
                                                   [c.order_id for c in preview.batch.commands
                                                    if c.action == "CANCEL_ORDER"])  # type: ignore[union-attr]
    wait_for(lambda: bool(desk.bridge.runtime.journal.entries(directive_id="STR_B1", kind="preview")))
    rt = desk.bridge.runtime
    assert rt.journal.shares(rt.ledger)  # one connection: the supervisor's notes join the ledger's group commits


def test_a_previews_orders_are_found_in_their_plan_without_the_whole_index(desk: Desk) -> None:
    """Preview.orders (PlanOrders): `of(plan, order)` looks in the plan; the index over every touched order is built
    only for a lookup by id alone, len or iteration, and holds the same orders."""
    ids = desk.bridge.active_plan_ids()
    directive = StrategyDirective(directive_id="STR_B2", scope=Scope.CLOSE_EXISTING, target_plan_ids=ids)
    preview = desk.bridge.preview(directive).result(timeout=5)
    desk.bridge.preview_painted()
    orders = preview.orders
    cancels = [c for c in preview.batch.commands if c.action == "CANCEL_ORDER"]
    assert cancels
    for c in cancels:
        o = orders.of(c.plan_id, c.order_id)  # type: ignore[union-attr]
        assert o is not None and o.order_id == c.order_id  # type: ignore[union-attr]
    assert orders._index is None  # (not built by those)
    plans = {p.plan_id: p for p in desk.bridge.ledger.state(ids).plans}
    assert dict(orders) == {o.order_id: o for pid in ids for o in plans[pid].orders if o.is_open}
    assert orders.of("TPL_1", "no such order") is None


def test_a_preview_keeps_the_collector_paused_until_it_is_painted_or_a_time_limit(desk: Desk) -> None:
    """The young-generation pass over what a preview made, and any pass over the older generations, fall after the
    preview is on screen (core.gc_hold), not between the key and the picture."""
    import gc

    assert gc.isenabled()
    directive = StrategyDirective(directive_id="STR_G1", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_2"])
    desk.bridge.preview(directive).result(timeout=5)
    assert not gc.isenabled()  # the batch is in hand; the console has not painted it yet
    desk.bridge.preview_painted()
    wait_for(gc.isenabled)
    desk.bridge.gc_hold_limit = 0.2  # a preview that is never painted (a failed push, a test) lets go by itself
    desk.bridge.preview(directive.model_copy(update={"directive_id": "STR_G2"})).result(timeout=5)
    assert not gc.isenabled()
    wait_for(gc.isenabled, timeout=2)
    wait_for(lambda: bool(desk.bridge.runtime.journal.entries(directive_id="STR_G2", kind="preview")))


def _slow_previews(desk: Desk, monkeypatch: Any) -> tuple[threading.Event, threading.Event]:
    """Previews that wait for `go` before they are built; `started` is set when one is being built."""
    go, started = threading.Event(), threading.Event()
    real = desk.bridge._build_preview

    def slow(directive: StrategyDirective) -> Any:
        started.set()
        assert go.wait(10)
        return real(directive)

    monkeypatch.setattr(desk.bridge, "_build_preview", slow)
    return go, started


def test_the_venue_events_wait_in_order_while_a_preview_is_built(desk: Desk, monkeypatch: Any) -> None:
    """Under a busy feed a preview got only the CPU the event pump left it: the pump holds back while one is
    built, and applies what waited, in order, once it is."""
    desk.bridge.preview_precedence = 5.0
    go, started = _slow_previews(desk, monkeypatch)
    directive = StrategyDirective(directive_id="STR_P1", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_2"])
    future = desk.bridge.preview(directive)
    assert started.wait(5)
    desk.engine.set_mark("BTCUSDT", D("97000"), FROZEN)  # TPL_1's stop (98,000) fills at the venue
    time.sleep(0.6)
    assert desk.ledger.get_plan("TPL_1").net_position != 0  # the fill waits for the preview
    go.set()
    assert future.result(timeout=5).batch.ok
    wait_for(lambda: desk.ledger.get_plan("TPL_1").net_position == 0)
    wait_for(lambda: (r := desk.bridge.row("TPL_1")) is not None and r.net == 0)


def test_a_preview_holds_the_venue_events_back_for_a_bounded_time_only(desk: Desk, monkeypatch: Any) -> None:
    desk.bridge.preview_precedence = 0.3
    go, started = _slow_previews(desk, monkeypatch)
    directive = StrategyDirective(directive_id="STR_P2", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_2"])
    future = desk.bridge.preview(directive)
    try:
        assert started.wait(5)
        desk.engine.set_mark("BTCUSDT", D("97000"), FROZEN)
        wait_for(lambda: desk.ledger.get_plan("TPL_1").net_position == 0, timeout=3)  # the preview is still stuck
        assert not future.done()
    finally:
        go.set()
    assert future.result(timeout=5).batch.ok


def test_a_preview_that_fails_lets_the_venue_events_go_at_once(desk: Desk, monkeypatch: Any) -> None:
    desk.bridge.preview_precedence = 30.0

    def broken(directive: StrategyDirective) -> Any:
        time.sleep(0.2)
        raise RuntimeError("boom")

    monkeypatch.setattr(desk.bridge, "_build_preview", broken)
    directive = StrategyDirective(directive_id="STR_P3", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_2"])
    future = desk.bridge.preview(directive)
    desk.engine.set_mark("BTCUSDT", D("97000"), FROZEN)
    with pytest.raises(RuntimeError, match="boom"):
        future.result(timeout=5)
    wait_for(lambda: desk.ledger.get_plan("TPL_1").net_position == 0, timeout=3)


def test_the_view_holds_the_live_orders_and_a_cancel_of_an_order_that_is_history_names_its_status(desk: Desk) -> None:
    """After a busy day most of a plan's orders are history (each stop resize leaves a cancelled one): the view and
    the previews built from it read the live orders only; a cancel_directive reads the whole plans."""
    from core.directives import CancelDirective

    full = desk.ledger.get_plan("TPL_2")
    assert full is not None
    done = [o for o in full.orders if not o.is_open]
    assert done and len(full.open_orders) < len(full.orders)
    held = desk.bridge._plans["TPL_2"]
    assert [o.order_id for o in held.orders] == [o.order_id for o in full.open_orders]
    close = StrategyDirective(directive_id="STR_L1", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_2"])
    preview = desk.bridge.preview(close).result(timeout=5)
    assert preview.batch.ok and {c.order_id for c in preview.batch.commands if c.action == "CANCEL_ORDER"} == {
        o.order_id for o in full.open_orders}  # type: ignore[union-attr]
    cancel = StrategyDirective(directive_id="STR_L2", scope=Scope.MODIFY_EXISTING, target_plan_ids=["TPL_2"],
                               cancel_directive=CancelDirective(order_ids=[done[0].order_id]))
    refused = desk.bridge.preview(cancel).result(timeout=5).batch
    assert refused.errors == [f"cancel_directive.order_ids: {done[0].order_id}: is {done[0].status}, not open: "
                              "nothing to cancel (TPL_2)"]
    desk.bridge.preview_painted()


def test_send_reports_outcomes_on_the_bridge_thread(desk: Desk) -> None:
    directive = StrategyDirective(directive_id="STR_B2", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_5"])
    preview = desk.bridge.preview(directive).result(timeout=5)
    threads: set[str] = set()
    report = desk.bridge.send(preview.batch, directive,
                              on_outcome=lambda oc: threads.add(threading.current_thread().name)).result(timeout=10)
    assert report.ok and threads == {"desk-bridge"}
    assert desk.bridge.row("TPL_5").status is PlanStatus.CLOSED  # type: ignore[union-attr]
    again = desk.bridge.send(preview.batch, directive).result(timeout=5)
    assert again.refused is not None and "already sent" in again.refused


def test_stop_is_idempotent_and_a_failed_start_is_reported(tmp_path: Path) -> None:
    class Broken:
        name = "broken"

        async def market_rules(self) -> dict[str, Any]:
            raise RuntimeError("venue unreachable")

    bridge = DeskBridge(Broken(), tmp_path / "x.sqlite")  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="venue unreachable"):
        bridge.start().result(timeout=5)
    assert bridge.drain_changes().failed == "RuntimeError: venue unreachable"
    bridge.stop()
    bridge.stop()


def test_a_filled_stop_cancels_the_orphaned_take_profit(desk: Desk) -> None:
    """TPL_1 (long 1 BTC, stop 98,000, take profit 105,000): the mark falls through the stop; the venue fills it, the
    plan is flat, and the bridge cancels the take profit that has nothing left to protect.

    The same fall fills TPL_4's ladder entry (0.05 at 98,500), so the supervisor also grows TPL_4's take profit 0.25 ->
    0.30 by a cancel-replace, in the same settle pass; when that pass takes TPL_1 first (event order), TPL_1 is CLOSED
    before TPL_4's replace is sent. While that replace is in flight the ledger holds the original (OPEN) and its
    write-ahead replacement (PENDING): reading TPL_4 the moment TPL_1 is closed caught that passing state about 1 run in
    4 (two take profits at 108,000; see test_a_growing_take_profit_is_one_order_at_the_venue_while_it_is_replaced). So
    TPL_4 is judged once the supervisor is done with it: exactly one take profit, covering the new position, in the
    ledger and at the venue."""
    desk.engine.set_mark("BTCUSDT", D("97000"), FROZEN)
    wait_for(lambda: (p := desk.bridge.ledger.get_plan("TPL_1")) is not None and p.status is PlanStatus.CLOSED)
    plan = desk.bridge.ledger.get_plan("TPL_1")
    assert plan is not None and plan.net_position == 0 and not plan.open_orders
    venue_tp = [o for o in desk.engine.open_orders("BTCUSDT") if o.price == D("105000")]
    assert venue_tp == []
    wait_for(lambda: _at_rest(desk, "TPL_4"))
    other = desk.bridge.ledger.get_plan("TPL_4")  # the other BTC plan (not flat) keeps its take profit
    assert other is not None and other.net_position == D("0.30")
    tps = [o for o in other.open_orders if o.role.is_protective]
    assert [(o.price, o.remaining, o.status) for o in tps] == [(D("108000"), D("0.30"), OrderStatus.OPEN)]
    assert [(o.client_order_id, o.quantity) for o in desk.engine.open_orders("BTCUSDT") if o.price == D("108000")] \
        == [(tps[0].client_order_id, D("0.30"))]


def _at_rest(desk: Desk, plan_id: str) -> bool:
    """The supervisor has nothing pending on the plan and is not adjusting it."""
    sup = desk.bridge.runtime.supervisor
    return sup is not None and plan_id not in sup.pending and plan_id not in sup._acting


def test_a_growing_take_profit_is_one_order_at_the_venue_while_it_is_replaced(desk: Desk,
                                                                              monkeypatch: Any) -> None:
    """The deterministic form of the orphaned-take-profit flake: hold the supervisor's cancel-replace of TPL_4's take
    profit at the venue's door (TPL_1 is closed in the same settle pass, before or after it). The ledger then shows
    TPL_4's original take profit (OPEN, 0.25) and its write-ahead replacement (PENDING, 0.30) - the record that lets a
    lost answer be looked up by client order id - while the venue holds ONE take profit. Released, the ledger holds one,
    covering 0.30."""
    gate = threading.Event()
    held = threading.Event()
    real = desk.connector.modify_order

    async def gated(symbol: str, coid: str, new_coid: str, **kw: Any) -> Any:
        held.set()
        while not gate.is_set():
            await asyncio.sleep(0.005)
        return await real(symbol, coid, new_coid, **kw)

    monkeypatch.setattr(desk.connector, "modify_order", gated)
    desk.engine.set_mark("BTCUSDT", D("97000"), FROZEN)
    try:
        wait_for(lambda: held.is_set())
        other = desk.bridge.ledger.get_plan("TPL_4")
        assert other is not None and other.net_position == D("0.30")
        passing = [(o.remaining, o.status) for o in other.open_orders if o.role.is_protective]
        assert passing == [(D("0.25"), OrderStatus.OPEN), (D("0.30"), OrderStatus.PENDING)]  # what the flake read
        venue = [o.quantity for o in desk.engine.open_orders("BTCUSDT") if o.price == D("108000")]
        assert venue == [D("0.25")]  # never two at the venue
        assert not _at_rest(desk, "TPL_4")  # and the supervisor is visibly still on it
    finally:
        gate.set()
    wait_for(lambda: _at_rest(desk, "TPL_4") and desk.bridge.ledger.get_plan("TPL_1").status is PlanStatus.CLOSED)
    other = desk.bridge.ledger.get_plan("TPL_4")
    assert other is not None
    assert [(o.remaining, o.status) for o in other.open_orders if o.role.is_protective] == \
        [(D("0.30"), OrderStatus.OPEN)]
    assert [o.quantity for o in desk.engine.open_orders("BTCUSDT") if o.price == D("108000")] == [D("0.30")]
