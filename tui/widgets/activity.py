"""The activity log: every preview, send, outcome, fill and error, each with its (UTC) time."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import RichLog

LEVEL_STYLE = {
    "info": ("·", ""),
    "preview": ("◇", "cyan"),
    "send": ("▶", "bold cyan"),
    "ok": ("✓", "green"),
    "fill": ("$", "blue"),
    "warn": ("!", "yellow"),
    "error": ("✗", "bold red"),
    "desk": ("■", "bold magenta"),
}


class ActivityLog(RichLog):
    """`add(ts, level, text)`; bounded to `max_lines`."""

    def __init__(self, *, id: str | None = None, max_lines: int = 2000) -> None:  # noqa: A002
        super().__init__(id=id, max_lines=max_lines, wrap=True, markup=False, highlight=False, auto_scroll=True)
        self.lines_written: list[str] = []  # plain text of the last lines (tests read it)

    def add(self, ts: float, level: str, text: str) -> None:
        mark, style = LEVEL_STYLE.get(level, ("·", ""))
        line = Text(no_wrap=False)
        line.append(time.strftime("%H:%M:%S", time.gmtime(ts)), "dim")
        line.append(f" {mark} ", style or "dim")
        line.append(text, style if level in ("error", "warn") else "")
        self.write(line)
        self.lines_written.append(line.plain)
        if len(self.lines_written) > 500:
            del self.lines_written[:100]
