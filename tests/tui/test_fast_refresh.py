"""Event-driven refresh (issue 10 item 3): a fill reaches the plan's row without waiting for the UI's poll timer,
the bridge's wake-ups are coalesced (a burst of order updates asks the UI for a few pulls, not one each), marks stay
on the timer, and a plan a send is working on is pushed when the send is over, not in between."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from core.directives import Scope, StrategyDirective
from tui.screenshots import FROZEN, SIZE, Desk, frozen_desk, ready, until
from tui.widgets.plans_table import PlansTable

SLOW = 5.0  # the fallback timer, far beyond what the test waits


@pytest.fixture
def slow_desk(tmp_path: Path) -> Iterator[Desk]:
    d = frozen_desk(tmp_path, poll=SLOW)  # the bridge refreshes every 50 ms; the UI's timer only every 5 s
    yield d
    d.stop()


def net_cell(table: PlansTable, plan_id: str) -> str:
    """The text of the plan's "net position" cell as the table holds it for painting."""
    return table.get_cell(plan_id, "net").plain.strip()


async def test_a_fill_on_the_paper_venue_shows_on_the_row_before_the_fallback_timer(slow_desk: Desk) -> None:
    desk = slow_desk
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        assert net_cell(table, "TPL_1") == "+1"
        await pilot.pause(0.2)  # well clear of the polls at mount and when the desk opened
        t0 = time.monotonic()
        desk.engine.set_mark("BTCUSDT", D("97000"), FROZEN)  # TPL_1's stop (98,000) triggers and fills
        await until(pilot, lambda: net_cell(table, "TPL_1") == "0", timeout=0.5, what="the fill on TPL_1's row")
        assert time.monotonic() - t0 < SLOW / 2
        assert desk.ledger.get_plan("TPL_1").net_position == 0


async def test_a_burst_of_order_updates_is_coalesced_into_a_few_pulls(slow_desk: Desk) -> None:
    desk = slow_desk
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.pause(0.2)
        app, bridge = desk.app, desk.bridge
        polls: list[float] = []
        real_poll = app.poll

        def counting_poll(*, rows_only: bool = False) -> None:
            polls.append(time.monotonic())
            real_poll(rows_only=rows_only)

        app.poll = counting_poll
        # marks alone never wake the UI: they wait for the timer (200 a second must not mean 200 pulls)
        for i in range(20):
            desk.engine.set_mark("SOLUSDT", D("150") + D(i) / 100, FROZEN)
        await until(pilot, lambda: bridge.markets()["SOLUSDT"].mark_price == D("150.19"), what="the marks")
        await pilot.pause(0.2)
        assert polls == []
        hook = bridge.on_change
        assert hook is not None
        loop = bridge._loop
        for _ in range(200):  # 200 "rows changed" signals from the bridge thread within a few ms
            loop.call_soon_threadsafe(hook)
        await pilot.pause(0.3)
        assert 1 <= len(polls) <= 3, polls
        gaps = [b - a for a, b in zip(polls, polls[1:], strict=False)]
        assert all(g >= app.FAST_REFRESH * 0.9 for g in gaps), gaps
        # and the next change after a quiet spell is pulled at once again
        n = len(polls)
        loop.call_soon_threadsafe(hook)
        await until(pilot, lambda: len(polls) > n, timeout=0.5, what="a pull after the quiet spell")
        await asyncio.sleep(0)


# ---------------------------------------------------------------------------------------------- the bridge alone


def wait_for(cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_the_bridge_pushes_a_fill_at_once_not_at_its_flush(tmp_path: Path) -> None:
    """The flusher runs every 5 s here: the fill's row is in the view, and the UI told, well before it."""
    d = frozen_desk(tmp_path)
    d.bridge._mark_interval = SLOW
    told: list[float] = []
    d.bridge.on_change = lambda: told.append(time.monotonic())
    try:
        d.bridge.start().result(timeout=20)
        d.bridge.drain_changes()
        t0 = time.monotonic()
        d.engine.set_mark("BTCUSDT", D("97000"), FROZEN)  # TPL_1's stop (98,000) fills
        wait_for(lambda: any(r.plan_id == "TPL_1" and r.net == 0 for r in d.bridge.drain_changes().rows),
                 timeout=1.0, what="TPL_1's row, flat")
        assert told and told[0] - t0 < 1.0
    finally:
        d.stop()


def test_a_plan_under_a_send_is_not_pushed_until_the_send_is_over(tmp_path: Path) -> None:
    """A close cancels the stop first, then sends the closing trade: in between, the plan holds a position without
    a stop. That passing state is not pushed to the UI (it would flash UNPROTECTED); the end of the send is."""
    d = frozen_desk(tmp_path, gated=True)
    d.bridge._mark_interval = SLOW  # no flusher sampling in between either
    told: list[float] = []
    d.bridge.on_change = lambda: told.append(time.monotonic())
    try:
        d.bridge.start().result(timeout=20)
        d.bridge.drain_changes()
        directive = StrategyDirective(directive_id="STR_F1", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_1"])
        preview = d.bridge.preview(directive).result(timeout=5)
        d.connector.gate.clear()  # the closing trade waits; the cancels go through
        report = d.bridge.send(preview.batch, directive)
        wait_for(lambda: not any(o.is_open and o.role.is_protective for o in d.ledger.get_plan("TPL_1").orders),
                 what="the stop and take profit cancelled")
        time.sleep(0.2)  # the venue's cancel events have been pumped
        assert told == [], [(r.plan_id, r.net, r.open_orders) for r in d.bridge.drain_changes().rows]
        assert d.bridge.row("TPL_1").net == 1  # the view: as before the send
        d.connector.gate.set()
        assert report.result(timeout=10).ok
        wait_for(lambda: bool(told), what="the UI told at the end of the send")
        assert d.bridge.row("TPL_1").net == 0
    finally:
        d.stop()
