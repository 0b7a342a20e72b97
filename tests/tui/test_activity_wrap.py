"""The activity log wraps its lines to the width it has: RichLog renders a line once, at the width of the moment it
is written. A line written while the log was wider (a larger terminal, or before the layout settled) stayed that
wide after a resize: at 80x24 the log grew a horizontal scrollbar, its lines were cut at the right edge, and the
newest line could sit under that scrollbar (the scroll to the end ran before the scrollbar appeared)."""

from __future__ import annotations

import time

from tests.tui.conftest import Desk, ready, until
from tui.widgets.activity import ActivityLog

LONG = "TPL_4 UNPROTECTED: no stop for a position of 0.25 BTCUSDT since the last fill; the supervisor is on it"


def widest(log: ActivityLog) -> int:
    return max((strip.cell_length for strip in log.lines), default=0)


async def test_lines_are_wrapped_again_when_the_log_gets_narrower(desk: Desk) -> None:
    async with desk.app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        log = desk.app.query_one(ActivityLog)
        for i in range(12):
            log.add(time.time(), "warn", f"{i} {LONG}")
        log.flush()
        await pilot.pause()
        await pilot.resize_terminal(80, 24)
        await until(pilot, lambda: widest(log) <= log.scrollable_content_region.width, 2.0,
                    "the lines wrapped to the narrower log")
        await pilot.pause()
        assert not log.show_horizontal_scrollbar
        assert log.scroll_y == log.max_scroll_y, "the newest line is not on screen"
        text = "\n".join("".join(seg.text for seg in strip) for strip in log.lines)
        assert "the supervisor is on it" in text.split("11 TPL_4")[-1].replace("\n", " ").replace("  ", " ")


async def test_wrapped_again_the_log_keeps_every_line_and_its_order(desk: Desk) -> None:
    async with desk.app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        log = desk.app.query_one(ActivityLog)
        for i in range(30):
            log.add(time.time(), "info", f"line {i:02d} {LONG}")
        log.flush()
        await pilot.pause()
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: widest(log) <= log.scrollable_content_region.width, 2.0, "wrapped")
        text = " ".join("".join(seg.text for seg in strip).strip() for strip in log.lines)
        found = [int(text[i + 5:i + 7]) for i in range(len(text)) if text.startswith("line ", i)]
        assert found[-30:] == list(range(30))
