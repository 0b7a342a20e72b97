"""The header bar: desk state in words and colour (ACTIVE green, REDUCING amber, HALTED red), connector and
health, age of the newest market data, the plan counts and a UTC clock. The clock is injectable so pictures and
snapshots are stable."""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.text import Text
from textual.widget import Widget

from core.connector import ConnectorHealth
from core.models import DeskStatus
from tui.widgets.fmt import age

#: the desk state as the header shows it: words and a colour, readable at 80 columns
DESK_BADGE = {
    "ACTIVE": (" ● DESK ACTIVE ", "bold black on green"),
    "REDUCING": (" ▲ DESK REDUCING ", "bold black on dark_orange"),
    "HALTED": (" ■ DESK HALTED ", "bold white on red"),
}


class DeskHeader(Widget):
    """One line. Call `show(...)` with the newest state; it repaints only when the text changes."""

    DEFAULT_CSS = "DeskHeader { height: 1; }"

    def __init__(self, connector_name: str, *, clock: Callable[[], float] = time.time, stale_after: float = 5.0,
                 id: str | None = None, operator: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.connector_name = connector_name
        self.operator = operator
        self.clock = clock
        self.stale_after = stale_after
        self.desk = DeskStatus.ACTIVE
        self.health: ConnectorHealth | None = None
        self.last_data_ts: float | None = None
        self.counts = ""
        self.ready = False
        self.failed: str | None = None
        self._text = Text()

    def show(self, *, desk: DeskStatus, health: ConnectorHealth | None, last_data_ts: float | None, counts: str,
             ready: bool, failed: str | None = None) -> None:
        self.desk, self.health, self.last_data_ts = desk, health, last_data_ts
        self.counts, self.ready, self.failed = counts, ready, failed
        self.set_class(desk is DeskStatus.HALTED, "-halted")
        self.set_class(desk == "REDUCING", "-reducing")
        text = self._compose_text()
        if text.plain != self._text.plain or text.spans != self._text.spans:
            self._text = text
            self.refresh()

    @property
    def data_age(self) -> float | None:
        return None if self.last_data_ts is None else self.clock() - self.last_data_ts

    @property
    def stale(self) -> bool:
        a = self.data_age
        return a is None or a > self.stale_after

    def _compose_text(self) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(" plandesk ", "bold")
        if self.operator:
            t.append(f"op {self.operator} ", "dim")
        t.append(" ")
        t.append(*DESK_BADGE.get(str(self.desk), (f" ● DESK {self.desk} ", "bold black on yellow")))
        t.append("  ")
        t.append(self.connector_name, "bold")
        t.append(" ")
        h = self.health
        if self.failed:
            t.append("● failed", "bold red")
        elif not self.ready:
            t.append("○ connecting…", "yellow")
        elif h is None:
            t.append("○ unknown", "yellow")
        elif h.ok:
            t.append(f"● {h.detail}", "green")
        else:
            t.append(f"● {h.detail}", "bold red")
        t.append("   data ")
        a = self.data_age
        if a is None:
            t.append("none yet", "yellow")
        elif a > self.stale_after:
            t.append(f" STALE {age(a)} ", "bold white on dark_red")
        elif a > self.stale_after / 2:
            t.append(age(a), "yellow")
        else:
            t.append(age(a), "green")
        if self.counts:
            t.append("   " + self.counts)
        clock = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.clock()))
        width = self.size.width or 160
        pad = width - t.cell_len - len(clock) - 1
        t.append(" " * max(pad, 2))
        t.append(clock, "bold")
        return t

    def render(self) -> Text:
        return self._compose_text() if self.size.width else self._text

    def on_resize(self) -> None:
        self._text = self._compose_text()
