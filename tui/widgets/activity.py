"""The activity log: every preview, send, outcome, fill and error, each with its (UTC) time.

A burst is written in one go: the first `BURST` lines of a half-second window go on screen at once, the rest at
the end of the window, joined. Each write of a RichLog re-renders its line and asks the whole screen for a new
layout: under a feed of 100 fills a second the protection supervisor logs ~80 lines a second, and writing them one
by one cost ~20 % of a core in layouts alone.

While a preview is being made the log holds its lines (`hold`): the console writes them once the preview is painted
(`flush`). The desk screen is beneath the preview by then, and a write asked the desk screen for a layout of its
2,000 rows right after the key press, while the preview was being built.

RichLog renders a line once, at the width it has when the line is written: after the log gets narrower (a smaller
terminal, the layout settling) its lines were cut at the right edge behind a horizontal scrollbar. The log keeps
the lines it wrote and wraps them again to its new width (`REWRAP_AFTER` after the last resize of a burst), on a
worker thread: 2,000 lines take ~0.3-0.5 s to wrap, too long to hold the console's loop. Until they are in, the
lines are clipped at the log's edge (no horizontal scrollbar: it hid the newest line)."""

from __future__ import annotations

import time
from collections import deque

from rich.segment import Segment
from rich.text import Text
from textual.events import Resize
from textual.geometry import Size
from textual.strip import Strip
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
    REWRAP_AFTER = 0.1  # seconds after a change of width, its burst (a terminal dragged wider) over

    def __init__(self, *, id: str | None = None, max_lines: int = 2000) -> None:  # noqa: A002
        super().__init__(id=id, max_lines=max_lines, wrap=True, markup=False, highlight=False, auto_scroll=True,
                         min_width=1)  # (RichLog's default of 78 columns cut every line of a narrower log)
        self.lines_written: list[str] = []  # plain text of the last lines (tests read it)
        self._held: list[Text] = []  # lines past the window's burst, written at its end
        self._window_start = float("-inf")
        self._in_window = 0
        self._flush_timer: Timer | None = None
        self._hold_until = float("-inf")  # (monotonic) lines added before this wait for flush()
        self._texts: deque[Text] = deque(maxlen=max_lines)  # the lines written, to wrap them again on a resize
        self._written = 0  # lines written so far (the entries a rewrap started before it must add after it)
        self._wrapped_width = 0  # the log's width when its lines were wrapped
        self._rewrap_timer: Timer | None = None
        self._rewraps = 0  # the newest rewrap asked for: an older one's result is dropped

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
            self._texts.append(line)
            self._written += 1
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
            self._texts.extend(held)
            self._written += len(held)
            self.write(Text("\n").join(held))

    def on_resize(self, event: Resize) -> None:
        if not self._size_known:  # RichLog writes what waited for a size at this one
            self._wrapped_width = event.size.width
            return
        if event.size.width == self._wrapped_width or not self._texts:
            return
        if self._rewrap_timer is not None:
            self._rewrap_timer.stop()
        self._rewrap_timer = self.set_timer(self.REWRAP_AFTER, self.rewrap, name="log-rewrap")

    def rewrap(self) -> None:
        """Wrap the lines written so far again, to the log's width now (on a worker thread, see `_rewrapped`)."""
        if self._rewrap_timer is not None:
            self._rewrap_timer.stop()
            self._rewrap_timer = None
        width = self.outer_size.width
        if not width or width == self._wrapped_width:
            return
        self._wrapped_width = width
        self._rewraps += 1
        texts, written, ask = list(self._texts), self._written, self._rewraps
        content = max(self.scrollable_content_region.width, 1)

        def wrap() -> None:
            strips = self._wrap(texts, content)
            self.app.call_from_thread(self._rewrapped, ask, written, strips)

        self.run_worker(wrap, thread=True, group="log-rewrap", name="log-rewrap", exit_on_error=False)

    def _wrap(self, texts: list[Text], width: int) -> list[Strip]:
        """(On a worker thread.) The lines as RichLog.write renders them at `width` (shrunk to it, never wider)."""
        console = self.app.console
        options = console.options.update_width(width)
        strips: list[Strip] = []
        for text in texts:
            for strip in Strip.from_lines(list(Segment.split_lines(console.render(text, options)))):
                strip.adjust_cell_length(width)
                strips.append(strip)
        return strips

    def _rewrapped(self, ask: int, written: int, strips: list[Strip]) -> None:
        """The wrapped lines in place of the old ones; the lines written since follow; the newest in view."""
        if ask != self._rewraps or not self.is_attached:
            return
        since = self._written - written
        newer = list(self._texts)[-since:] if since else []
        self.clear()
        if self.max_lines is not None:
            strips = strips[-self.max_lines:]
        self.lines.extend(strips)
        self._widest_line_width = max((s.cell_length for s in strips), default=0)
        self.virtual_size = Size(self._widest_line_width, len(self.lines))
        if newer:
            self.write(Text("\n").join(newer))
        else:
            self.scroll_end(animate=False, immediate=False, x_axis=False)
