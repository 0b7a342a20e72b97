"""The exposure & P&L pane: net exposure per symbol (base and quote at the mark), desk totals per quote currency,
realised P&L today (fees included) and the plans that realised most. Shown above the activity log; `e` toggles it,
`E` opens every symbol and every plan's realised P&L (tui.screens.exposure_screen).

Methods down: the app calls `show(symbols, totals, realised)` at most a few times a second, only when something
moved; rendering is O(symbols + a few plans), never O(plans)."""

from __future__ import annotations

import io
import time
from decimal import Decimal

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from tui.exposure import DeskTotals, SymbolExposure
from tui.pnl import RealisedBook
from tui.widgets.fmt import fit, money, pnl, signed

MAX_SYMBOLS = 6
TOP_PLANS = 3


def _style(d: Decimal) -> str:
    return "green" if d > 0 else "red" if d < 0 else "dim"


def symbols_table(symbols: list[SymbolExposure], *, narrow: bool, limit: int | None = MAX_SYMBOLS) -> Table:
    t = Table(box=None, padding=(0, 1), pad_edge=False, expand=False, show_edge=False, header_style="bold dim")
    t.add_column("symbol", no_wrap=True)
    if not narrow:
        t.add_column("L/S", justify="right", no_wrap=True)
    t.add_column("net", justify="right", no_wrap=True)
    t.add_column("net quote", justify="right", no_wrap=True)
    if not narrow:
        t.add_column("gross quote", justify="right", no_wrap=True)
    t.add_column("uPnL", justify="right", no_wrap=True)
    for e in symbols[:limit]:
        net_q = e.net_notional
        cells: list[Text | str] = [e.symbol]
        if not narrow:
            cells.append(f"{e.longs}/{e.shorts}")
        cells.append(fit(signed(e.net), 12, e.net, sign=True))
        cells.append(Text("no mark" if net_q is None else fit(money(net_q), 14, net_q), style="yellow"
                          if net_q is None else ""))
        if not narrow:
            gq = e.gross_notional
            cells.append("—" if gq is None else fit(money(gq), 14, gq))
        cells.append(Text("—" if e.mark is None else pnl(e.upnl), style=_style(e.upnl)))
        t.add_row(*cells)
    return t


def totals_lines(totals: list[DeskTotals], realised: RealisedBook) -> list[Text]:
    lines: list[Text] = []
    for tot in totals:
        line = Text(f"desk {tot.quote}", style="bold")
        line.append(f"  net {money(tot.net_notional)}  gross {money(tot.gross_notional)}  uPnL ")
        line.append(pnl(tot.upnl), _style(tot.upnl))
        lines.append(line)
    if not realised.loaded:
        lines.append(Text("realised: loading…", style="dim"))
        return lines
    since = time.strftime("%H:%M", time.gmtime(realised.since)) if realised.since is not None else "?"
    days = realised.day_totals()
    line = Text("realised today ", style="bold")
    if not days:
        line.append("0.00", "dim")
    for i, d in enumerate(days):
        line.append(", " if i else "")
        line.append(f"{pnl(d.realised)} {d.quote}", _style(d.realised))
        line.append(f" (fees {money(d.fees)})", "dim")
    line.append(f"  since {since} UTC", "dim")
    lines.append(line)
    top = realised.ranked(TOP_PLANS)
    if top:
        line = Text("since open, by plan ", style="dim")
        for i, (p, _day, _fees) in enumerate(top):
            line.append(" · " if i else "")
            line.append(f"{p.plan_id} ")
            line.append(pnl(p.realised), _style(p.realised))
        lines.append(line)
    return lines


class ExposurePane(Vertical):
    """Title and body; `show(...)` re-renders the body. Posts `Resized` when its height changes (the activity
    log below it keeps its newest lines in view)."""

    class Resized(Message):
        pass

    _shape: tuple[object, ...] | None = None

    def on_resize(self, event: events.Resize) -> None:
        self._shape = None
        self.post_message(self.Resized())

    def compose(self) -> ComposeResult:
        yield Static("exposure & P&L  (e hide · E every plan)", classes="pane-title")
        yield Static("waiting for the desk…", id="exposure-body")

    def show(self, symbols: list[SymbolExposure], totals: list[DeskTotals], realised: RealisedBook) -> None:
        narrow = self.size.width < 64
        parts: list[Table | Text] = []
        if symbols:
            parts.append(symbols_table(symbols, narrow=narrow))
            if len(symbols) > MAX_SYMBOLS:
                parts.append(Text(f"… {len(symbols) - MAX_SYMBOLS} more symbols (E)", style="dim"))
        else:
            parts.append(Text("no open positions", style="dim"))
        lines = totals_lines(totals, realised)
        parts.extend(lines)
        self._shown = Group(*parts)
        # a new layout (the whole screen's) only when the body's height may have changed: the same rows and
        # lines of the same lengths at the same width wrap the same (a mark tick changes the digits, not the shape)
        shape = (self.size.width, min(len(symbols), MAX_SYMBOLS), len(symbols) > MAX_SYMBOLS,
                 tuple(len(t.plain) for t in lines))
        self.query_one("#exposure-body", Static).update(self._shown, layout=shape != self._shape)
        self._shape = shape

    def plain_text(self, width: int = 100) -> str:
        """What the body shows, as plain text (tests read it)."""
        from rich.console import Console

        console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
        console.print(getattr(self, "_shown", ""))
        return console.export_text()
