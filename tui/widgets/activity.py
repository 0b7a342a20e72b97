"""The activity log: every preview, send, outcome, fill and error, each with its (UTC) time.

A burst is written in one go: the first `BURST` lines of a half-second window go on screen at once, the rest at
the end of the window, joined. Each write of a RichLog re-renders its line and asks the whole screen for a new
layout: under a feed of 100 fills a second the protection supervisor logs ~80 lines a second, and writing them one
by one cost ~20 % of a core in layouts alone.

While a preview is being made the log holds its lines (`hold`): the console writes them once the preview is painted
(`flush`). The desk screen is beneath the preview by then, and a write asked the desk screen for a layout of its
2,000 rows right after the key press, while the preview was being built."""

from __future__ import annotations

import time

from rich.text import Text
from textual.timer import Timer
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

    BURST = 8  # lines per window written as they come
    WINDOW = 0.5  # seconds

    def __init__(self, *, id: str | None = None, max_lines: int = 2000) -> None:  # noqa: A002
        super().__init__(id=id, max_lines=max_lines, wrap=True, markup=False, highlight=False, auto_scroll=True)
        self.lines_written: list[str] = []  # plain text of the last lines (tests read it)
        self._held: list[Text] = []  # lines past the window's burst, written at its end
        self._window_start = float("-inf")
        self._in_window = 0
        self._flush_timer: Timer | None = None
        self._hold_until = float("-inf")  # (monotonic) lines added before this wait for flush()

    def add(self, ts: float, level: str, text: str) -> None:
        mark, style = LEVEL_STYLE.get(level, ("·", ""))
        line = Text(no_wrap=False)
        line.append(time.strftime("%H:%M:%S", time.gmtime(ts)), "dim")
        line.append(f" {mark} ", style or "dim")
        line.append(text, style if level in ("error", "warn") else "")
        self.lines_written.append(line.plain)
        if len(self.lines_written) > 500:
            del self.lines_written[:100]
        now = time.monotonic()
        if now < self._hold_until:
            self._held.append(line)
            return
        if now - self._window_start >= self.WINDOW:
            self._window_start, self._in_window = now, 0
        if self._in_window < self.BURST and not self._held:
            self._in_window += 1
            self.write(line)
            return
        self._held.append(line)
        if self._flush_timer is None:
            wait = max(self._window_start + self.WINDOW - now, 0.0)
            self._flush_timer = self.set_timer(wait, self.flush, name="log-flush")

    def hold(self, seconds: float) -> None:
        """Keep the lines added from now on off the screen until `flush()`, or `seconds` from now at the latest
        (each keeps its time; lines_written has them at once)."""
        self._hold_until = time.monotonic() + seconds
        if self._flush_timer is not None:
            self._flush_timer.stop()
        self._flush_timer = self.set_timer(seconds, self.flush, name="log-flush")

    def flush(self) -> None:
        """Write the held lines now, in one write."""
        self._hold_until = float("-inf")
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None
        held, self._held = self._held, []
        if held:
            self._window_start, self._in_window = time.monotonic(), self.BURST  # a new window, its burst used
            self.write(Text("\n").join(held))
