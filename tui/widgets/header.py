"""The header bar: desk state in words and colour (ACTIVE green, REDUCING amber, HALTED red), connector and
health, age of the newest market data, the plan counts, uPnL, the alert count and a UTC clock. The clock is
injectable so pictures and snapshots are stable.

The line is laid out by priority, not cut at the edge: what must survive at 80 columns is the desk state badge, the
venue health, the data age (STALE), the alert count and uPnL. When the line does not fit, the rest gives way in
a fixed order (SHRINK): the clock's date first, then the operator, the word "active", the alert hint, the clock,
the product name, the filter's words, the plan count; only then are the venue name and its health detail cut."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

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


@dataclass(frozen=True)
class DeskCounts:
    """The figures the header shows after the data age (tui.app builds them on every timer poll)."""

    plans: int = 0
    active: int = 0
    upnl: str | None = None  # formatted; None: not known yet
    filter_text: str = ""
    shown: int = 0
    alerts: int = 0  # active (unacknowledged) alerts


#: one part of the line: (spaces before it, its text) or None (left out)
Form = tuple[int, Text] | None

#: what gives way, in order, while the line is too wide: (part, form). Each part's forms go from the fullest (0)
#: to the shortest; a form that is None leaves the part out. Parts not named here never give way.
SHRINK: tuple[tuple[str, int], ...] = (
    ("clock", 1),  # 2026-01-01 00:00:00 UTC -> 00:00:00 UTC
    ("operator", 1),  # out
    ("plans", 1),  # "6 plans · 6 active" -> "6 plans"
    ("alerts", 1),  # "⚠ 2 alerts (a to acknowledge)" -> "⚠ 2 alerts (a)"
    ("clock", 2),  # out
    ("brand", 1),  # out
    ("filter", 1),  # "filter 'eth': 3 shown" -> "'eth' 3 shown"
    ("plans", 2),  # out
    ("gaps", 1),  # three spaces between groups -> two
    ("venue", 1),  # cut to 12 cells
    ("filter", 2),  # "3 shown"
    ("alerts", 2),  # "⚠ 2"
    ("health", 1),  # "● " and the detail, cut to 12 cells
    ("badge", 1),  # " ■ HALTED "
    ("filter", 3),  # out
    ("venue", 2),  # cut to 8 cells
    ("health", 2),  # cut to 8 cells
)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _t(text: str, style: str = "") -> Text:
    return Text(text, style=style, no_wrap=True)


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
        self.counts: DeskCounts | None = None
        self.ready = False
        self.failed: str | None = None
        self._text = Text()

    def show(self, *, desk: DeskStatus, health: ConnectorHealth | None, last_data_ts: float | None,
             counts: DeskCounts | None, ready: bool, failed: str | None = None) -> None:
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

    # ---------------------------------------------------------------------------------------------- the parts

    def _parts(self) -> dict[str, list[Form]]:
        """Every part of the line, in the order shown, each with its forms (fullest first)."""
        parts: dict[str, list[Form]] = {"brand": [(0, _t(" plandesk ", "bold")), None]}
        if self.operator:
            parts["operator"] = [(0, _t(f"op {self.operator} ", "dim")), None]
        words, style = DESK_BADGE.get(str(self.desk), (f" ● DESK {self.desk} ", "bold black on yellow"))
        parts["badge"] = [(1, _t(words, style)), (1, _t(words.replace("DESK ", ""), style))]
        parts["venue"] = [(2, _t(self.connector_name, "bold")), (2, _t(_cut(self.connector_name, 12), "bold")),
                          (2, _t(_cut(self.connector_name, 8), "bold"))]
        health, style = self._health()
        parts["health"] = [(1, _t(health, style)), (1, _t(_cut(health, 12), style)), (1, _t(_cut(health, 8), style))]
        parts["data"] = [(3, self._data())]
        c = self.counts
        if c is not None:
            parts["plans"] = [(3, _t(f"{c.plans} plans · {c.active} active")), (3, _t(f"{c.plans} plans")), None]
            if c.upnl is not None:
                parts["upnl"] = [(3, _t(f"uPnL {c.upnl}"))]
            if c.filter_text:
                parts["filter"] = [(3, _t(f"filter '{c.filter_text}': {c.shown} shown")),
                                   (3, _t(f"'{_cut(c.filter_text, 10)}' {c.shown} shown")),
                                   (3, _t(f"{c.shown} shown")), None]
            if c.alerts:
                many = f"{c.alerts} alert{'s' * (c.alerts != 1)}"
                style = "bold yellow"
                parts["alerts"] = [(3, _t(f"⚠ {many} (a to acknowledge)", style)), (3, _t(f"⚠ {many} (a)", style)),
                                   (3, _t(f"⚠ {c.alerts}", style))]
        now = time.gmtime(self.clock())
        parts["clock"] = [(2, _t(time.strftime("%Y-%m-%d %H:%M:%S UTC", now), "bold")),
                          (2, _t(time.strftime("%H:%M:%S UTC", now), "bold")), None]
        return parts

    def _health(self) -> tuple[str, str]:
        h = self.health
        if self.failed:
            return "● failed", "bold red"
        if not self.ready:
            return "○ connecting…", "yellow"
        if h is None:
            return "○ unknown", "yellow"
        return f"● {h.detail}", "green" if h.ok else "bold red"

    def _data(self) -> Text:
        t = _t("data ")
        a = self.data_age
        if a is None:
            t.append("none yet", "yellow")
        elif a > self.stale_after:
            t.append(f" STALE {age(a)} ", "bold white on dark_red")
        elif a > self.stale_after / 2:
            t.append(age(a), "yellow")
        else:
            t.append(age(a), "green")
        return t

    # ---------------------------------------------------------------------------------------------- the layout

    def line(self, width: int) -> Text:
        """The header's line for `width` columns: every part at its fullest that fits, SHRINK's order otherwise."""
        parts = self._parts()
        form = dict.fromkeys(parts, 0)
        gap = 3
        t = self._assemble(parts, form, gap, width)
        done: list[tuple[str, int]] = []  # the steps taken: (part, its form before)
        for name, to in SHRINK:
            if t.cell_len <= width:
                break
            if name == "gaps":
                done.append((name, gap))
                gap = 2
            elif name in parts and form[name] < to < len(parts[name]):
                done.append((name, form[name]))
                form[name] = to
            else:
                continue
            t = self._assemble(parts, form, gap, width)
        # a later step may have made room an earlier one did not need: give back what still fits, the most
        # important first (the steps taken last)
        for name, before in reversed(done[:-1] if t.cell_len <= width else []):
            if name == "gaps":
                trial = self._assemble(parts, form, 3, width)
            else:
                now, form[name] = form[name], before
                trial = self._assemble(parts, form, gap, width)
                form[name] = now
            if trial.cell_len <= width:
                t = trial
                if name == "gaps":
                    gap = 3
                else:
                    form[name] = before
        t.truncate(width, overflow="ellipsis")
        return t

    @staticmethod
    def _assemble(parts: dict[str, list[Form]], form: dict[str, int], gap: int, width: int) -> Text:
        """The parts at their chosen forms; the clock is pushed to the right edge (it needs its gap and one space
        after it: without room for it the line comes out wider than `width`, so that the caller shrinks more)."""
        t = Text(no_wrap=True, overflow="ellipsis", end="")
        joined = False  # the figures after the data age are joined by " · "
        clock: Text | None = None
        for name, forms in parts.items():
            f = forms[form[name]]
            if f is None:
                continue
            spaces, text = f
            if name == "clock":
                clock = text
                continue
            figure = name in ("plans", "upnl", "filter", "alerts")
            t.append(" · " if figure and joined else " " * min(spaces, gap))
            joined |= figure
            t.append_text(text)
        if clock is not None:
            t.append(" " * max(width - t.cell_len - clock.cell_len - 1, 2))
            t.append_text(clock)
            t.append(" ")
        return t

    def _compose_text(self) -> Text:
        return self.line(self.size.width or 160)

    def render(self) -> Text:
        return self._compose_text() if self.size.width else self._text

    def on_resize(self) -> None:
        self._text = self._compose_text()
