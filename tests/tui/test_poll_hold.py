"""While a preview is being made (and until it is painted) the console's live pulls wait: under a busy feed each one
re-priced and repainted the desk on the UI thread, in the interpreter's turn the preview needed. What changed
meanwhile is pulled as soon as the preview is painted (or has failed), and at the latest after PREVIEW_LOG_HOLD."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import tui.app_actions as app_actions
from tests.tui.conftest import SIZE, Desk, preview_screen, ready, select, until
from tests.tui.test_activity_hold import ask_held_preview, release


def net_shown(desk: Desk, plan_id: str) -> D | None:
    row = desk.app._table.row_data(plan_id)
    return None if row is None else row.net


async def stop_fill_while_previewing(desk: Desk, pilot: Any) -> tuple[Any, Any]:
    """Ask for a preview (held), then let the market fall through TPL_1's stop: the ledger has the fill."""
    await select(pilot, "TPL_2")
    held = await ask_held_preview(desk, pilot)
    assert net_shown(desk, "TPL_1") != 0
    desk.engine.set_mark("BTCUSDT", D("97000"), 0.0)
    await until(pilot, lambda: desk.ledger.get_plan("TPL_1").net_position == 0, what="the stop fill in the ledger")
    await until(pilot, lambda: desk.bridge.rows_of(["TPL_1"])["TPL_1"].net == 0, what="the bridge's view")
    return held


async def test_the_desk_does_not_pull_while_a_preview_is_made_and_pulls_once_it_is_painted(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        directive, fut = await stop_fill_while_previewing(desk, pilot)
        await pilot.pause(0.3)  # six of the test desk's 50 ms polls
        assert net_shown(desk, "TPL_1") != 0, "pulled while the preview was being made"
        release(desk, directive, fut)
        await preview_screen(pilot)
        await until(pilot, lambda: net_shown(desk, "TPL_1") == 0, 1.0, "the fill, pulled once the preview is painted")


async def test_a_preview_that_fails_lets_the_pulls_go_at_once(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        _directive, fut = await stop_fill_while_previewing(desk, pilot)
        fut.set_exception(RuntimeError("venue exploded"))
        await until(pilot, lambda: net_shown(desk, "TPL_1") == 0, 1.0, "the fill, well before the hold ends")


async def test_a_preview_never_painted_lets_the_pulls_go_after_a_time(desk: Desk, monkeypatch: Any) -> None:
    monkeypatch.setattr(app_actions, "PREVIEW_LOG_HOLD", 0.4)
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        _directive, fut = await stop_fill_while_previewing(desk, pilot)
        await until(pilot, lambda: net_shown(desk, "TPL_1") == 0, 2.0, "the fill after PREVIEW_LOG_HOLD")
        assert not fut.done()


def desk_paints(monkeypatch: Any) -> list[float]:
    """The times the desk screen's picture goes to the terminal."""
    import time

    from textual.app import App

    from tui.screens.desk_screen import DeskScreen

    paints: list[float] = []
    real = App._display

    def display(self: App[Any], screen: Any, renderable: Any) -> None:
        if isinstance(screen, DeskScreen) and renderable is not None:
            paints.append(time.monotonic())
        real(self, screen, renderable)

    monkeypatch.setattr(App, "_display", display)
    return paints


async def test_the_desk_is_not_painted_while_a_preview_is_made_and_is_once_it_fails(desk: Desk,
                                                                                   monkeypatch: Any) -> None:
    paints = desk_paints(monkeypatch)
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        _directive, fut = await ask_held_preview(desk, pilot)
        await pilot.pause(0.1)
        n = len(paints)
        desk.app.screen.refresh()  # the desk has something new to paint
        await pilot.pause(0.3)
        assert len(paints) == n, "the desk was painted while the preview was being made"
        fut.set_exception(RuntimeError("venue exploded"))
        await until(pilot, lambda: len(paints) > n, 1.0, "the desk painted once the preview has failed")


async def test_a_preview_never_painted_lets_the_desk_paint_after_a_time(desk: Desk, monkeypatch: Any) -> None:
    monkeypatch.setattr(app_actions, "PREVIEW_LOG_HOLD", 0.4)
    paints = desk_paints(monkeypatch)
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        _directive, fut = await ask_held_preview(desk, pilot)
        n = len(paints)
        desk.app.screen.refresh()
        await until(pilot, lambda: len(paints) > n, 2.0, "the desk painted after PREVIEW_LOG_HOLD")
        assert not fut.done()
