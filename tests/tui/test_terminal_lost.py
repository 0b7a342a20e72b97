"""A console that loses its terminal while a send is in flight waits for the send, then journals why it stopped
and exits with 129 (tui.app_terminal; the subprocess path is tests/cli/test_console_hangup.py)."""

from __future__ import annotations

from pathlib import Path

from core.journal import Journal
from tests.tui.conftest import SIZE, build_desk, close_held_at_venue, ready, until
from tui.app_terminal import HANGUP_EXIT


async def test_a_ending_waits_for_the_send_in_flight_then_ends_the_console(tmp_path: Path) -> None:
    desk = build_desk(tmp_path, gated=True)
    try:
        async with desk.app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            screen = await close_held_at_venue(pilot, desk, "TPL_2")
            did = screen.batch.directive_id
            desk.app.terminal_lost("SIGHUP")
            desk.app.terminal_lost("the terminal is gone")  # (a second report changes nothing)
            await pilot.pause(0.6)
            assert desk.app.is_running, "the console ended with a send in flight"
            desk.connector.gate.set()
            await until(pilot, lambda: not desk.app.is_running, 10.0, "the console to end")
        assert desk.app.return_code == HANGUP_EXIT
    finally:
        desk.stop()
    with Journal(desk.bridge.db) as journal:
        entries = journal.entries()
    stopped = [e for e in entries if e.kind == "console_stopped"]
    assert len(stopped) == 1
    payload = stopped[0].payload
    assert payload["why"] == "terminal lost (SIGHUP)"
    assert payload["waited_for"] == [did] and payload["still_sending"] == []
    assert f"waited for the send of {did}" in payload["summary"]
    kinds = [e.kind for e in entries]
    assert kinds.index("console_stopped") > max(i for i, e in enumerate(entries) if e.directive_id == did)


async def test_headless_consoles_watch_no_terminal(tmp_path: Path) -> None:
    desk = build_desk(tmp_path)
    try:
        async with desk.app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            assert desk.app._terminal is None and desk.app.ending is None
    finally:
        desk.stop()
