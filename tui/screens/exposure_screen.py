"""`E`: the whole exposure & P&L picture, read-only: every symbol's net exposure (base and quote at the mark), the
desk totals, and realised P&L per plan (since the plan opened and today, fees included), largest first. A snapshot
of what the pane knew when it was opened (esc closes; open it again for a fresh one)."""

from __future__ import annotations

import time

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from tui.exposure import DeskTotals, SymbolExposure
from tui.pnl import RealisedBook
from tui.widgets.exposure_pane import symbols_table, totals_lines
from tui.widgets.fmt import money, pnl

COLUMNS = ("plan", "symbol", "realised (since open)", "realised today", "fees today")


class ExposureScreen(ModalScreen[None]):
    CSS_PATH = "exposure_screen.tcss"
    BINDINGS = [Binding("escape", "close", "Close", id="exposure_screen.close")]

    def __init__(self, symbols: list[SymbolExposure], totals: list[DeskTotals], realised: RealisedBook) -> None:
        super().__init__(classes="exposure-screen")
        self.symbols, self.totals, self.realised = symbols, totals, realised

    def compose(self) -> ComposeResult:
        with Vertical(id="exposure-box"):
            yield Static("Exposure & P&L · every symbol, every plan's realised P&L", id="exposure-title")
            yield Static(id="exposure-symbols")
            yield DataTable(id="exposure-plans", cursor_type="row", zebra_stripes=True)
            yield Static("", id="exposure-count")

    def on_mount(self) -> None:
        body: list[object] = [symbols_table(self.symbols, narrow=self.size.width < 64, limit=None)]
        if not self.symbols:
            body = [Text("no open positions", style="dim")]
        body.extend(totals_lines(self.totals, self.realised))
        self.query_one("#exposure-symbols", Static).update(Group(*body))  # type: ignore[arg-type]
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        ranked = self.realised.ranked()
        for p, day, fees in ranked:
            table.add_row(p.plan_id, p.symbol, Text(pnl(p.realised), justify="right"),
                          Text(pnl(day), justify="right"), Text(money(fees), justify="right"), key=p.plan_id)
        since = self.realised.since
        when = time.strftime("%H:%M UTC", time.gmtime(since)) if since is not None else "—"
        n = len(self.realised.latest)
        self.query_one("#exposure-count", Static).update(
            f"{len(ranked)} of {n} plans realised P&L · today counts from {when} · esc close")
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
