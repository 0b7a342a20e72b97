"""The activity log holds its lines while a preview is being made and writes them once it is painted: a write asked
the desk screen (its 2,000 rows) for a layout right after the key press, while the preview was being built."""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any

import tui.app_actions as app_actions
from tests.tui.conftest import SIZE, Desk, preview_screen, ready, select, until
from tui.widgets.activity import ActivityLog


def shown(desk: Desk) -> str:
    """The text the activity log widget has written (not lines_written: the lines it was given)."""
    log = desk.app.query_one(ActivityLog)
    return "\n".join("".join(seg.text for seg in strip) for strip in log.lines)


def held_previews(desk: Desk) -> list[tuple[Any, Future[Any]]]:
    """Make the bridge's previews wait: each is (directive, future), resolved by the test (see `release`)."""
    pending: list[tuple[Any, Future[Any]]] = []

    def slow(directive: Any) -> Future[Any]:
        fut: Future[Any] = Future()
        pending.append((directive, fut))
        return fut

    desk.bridge.preview = slow  # type: ignore[method-assign]
    return pending


async def ask_held_preview(desk: Desk, pilot: Any, key: str = "c") -> tuple[Any, Future[Any]]:
    """Press `key` with the bridge's previews held: the (directive, future) of the preview it asked for."""
    pending = held_previews(desk)
    await pilot.press(key)
    await until(pilot, lambda: bool(pending), what="the preview asked for")
    return pending[0]


def release(desk: Desk, directive: Any, fut: Future[Any]) -> None:
    """Resolve a held preview with the real one."""
    fut.set_result(type(desk.bridge).preview(desk.bridge, directive).result(timeout=5))


async def test_the_line_of_a_preview_is_written_once_the_preview_is_painted(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_2")
        directive, fut = await ask_held_preview(desk, pilot)
        await pilot.pause(0.2)
        did = directive.directive_id
        log = desk.app.query_one(ActivityLog)
        assert any(did in line for line in log.lines_written)  # given to the log, with its time
        assert did not in shown(desk)  # not written while the preview is being made
        release(desk, directive, fut)
        screen = await preview_screen(pilot)
        await until(pilot, lambda: did in shown(desk), 2, "the line written once the preview is painted")
        assert screen.batch.directive_id == did


async def test_a_preview_that_fails_writes_what_the_log_held_at_once(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        directive, fut = await ask_held_preview(desk, pilot)
        fut.set_exception(RuntimeError("venue exploded"))
        await until(pilot, lambda: "preview failed" in shown(desk), 1.0, "the failure, well before the hold ends")
        did = directive.directive_id
        assert did in shown(desk)  # the preview's own line too, before the failure
        text = shown(desk)
        assert text.index(did) < text.index("preview failed")


async def test_a_preview_never_painted_lets_the_log_go_after_a_time(desk: Desk, monkeypatch: Any) -> None:
    monkeypatch.setattr(app_actions, "PREVIEW_LOG_HOLD", 0.3)
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        directive, fut = await ask_held_preview(desk, pilot)
        did = directive.directive_id
        await until(pilot, lambda: did in shown(desk), 2, "the held line after PREVIEW_LOG_HOLD")
        assert not fut.done()
