"""The journal in the console: who did what, when, with which batch (its hash) and what came of it.

A modal list of journal entries, newest last, filtered as the operator types: by plan id, directive id, kind or
operator (several terms must all match). Opened from a plan's row it starts filtered to that plan. Read-only."""

from __future__ import annotations

import json
from collections.abc import Iterable

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from core.journal import JournalEntry

COLUMNS = ("#", "time (UTC)", "who", "kind", "directive", "batch", "what happened")

_KIND_STYLE = {"report": "bold", "halt": "bold red", "oco": "yellow", "refused": "red", "preview": "dim"}


def _clean(text: str, limit: int = 120) -> str:
    """Data from the ledger is shown, never interpreted: control characters become visible escapes."""
    out = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _summary(e: JournalEntry) -> str:
    summary = e.payload.get("summary")
    if isinstance(summary, str):
        return summary
    return ", ".join(sorted(k for k in e.payload if k not in ("directive", "batch")))


def _digest(e: JournalEntry) -> str | None:
    digest = e.payload.get("digest")
    return digest if isinstance(digest, str) else None


def entry_cells(e: JournalEntry, *, with_date: bool = True) -> tuple[str | Text, ...]:
    """One row: with_date=False shows the time of day only (the screen's title then names the one day shown)."""
    digest = _digest(e)
    when = e.time.replace("T", " ")[:19]
    return (
        str(e.seq),
        when if with_date else when[11:],
        _clean(e.operator, 24),
        Text(_clean(e.kind, 16), style=_KIND_STYLE.get(e.kind, "")),
        _clean(e.directive_id or "—", 40),
        digest[:12] if digest else "—",
        _clean(_summary(e)),
    )


def entry_text(e: JournalEntry) -> Text:
    """The highlighted entry in full under the table: what a row cuts off (a long outcome, the whole batch hash)."""
    digest = _digest(e)
    when = _clean(e.time.replace("T", " ")[:23], 23)
    head = Text.assemble((f"#{e.seq} ", "bold"), f"{when} UTC  {_clean(e.operator, 24)}  ",
                         (_clean(e.kind, 16), _KIND_STYLE.get(e.kind, "")), f"  {_clean(e.directive_id or '—', 40)}")
    if digest:
        head.append(f"  batch {digest}", style="dim")
    head.append("\n")
    head.append(_clean(_summary(e), 600))
    return head


def entry_matches(e: JournalEntry, terms: Iterable[str]) -> bool:
    hay: str | None = None
    for t in terms:
        if hay is None:
            hay = " ".join((e.kind, e.operator, e.directive_id or "", json.dumps(e.payload, default=str))).lower()
        if t not in hay:
            return False
    return True


class JournalScreen(ModalScreen[None]):
    CSS_PATH = "journal_screen.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close", id="journal.close"),
        Binding("slash", "focus_filter", "Filter", id="journal.filter"),
    ]

    def __init__(self, entries: list[JournalEntry], *, initial_filter: str = "", title: str = "Journal") -> None:
        super().__init__(classes="journal")
        self.entries = entries
        self.initial_filter = initial_filter
        self.title_text = title
        self._with_date = True
        self._shown: dict[str, JournalEntry] = {}

    def compose(self) -> ComposeResult:
        with Vertical(id="journal-box"):
            yield Static(escape(self.title_text), id="journal-title")
            yield Input(value=self.initial_filter, placeholder="filter: plan id, directive id, kind, operator",
                        id="journal-filter")
            yield DataTable(id="journal-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="journal-entry")
            yield Static("", id="journal-count")

    def on_mount(self) -> None:
        days = sorted({e.time[:10] for e in self.entries})
        self._with_date = len(days) > 1
        if len(days) == 1:  # one day: the date once in the title, the time of day in the rows
            self.query_one("#journal-title", Static).update(escape(f"{self.title_text} · {days[0]} (UTC)"))
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self._fill(self.initial_filter)
        table.focus()

    def _fill(self, text: str) -> None:
        terms = [t for t in text.lower().split() if t]
        table = self.query_one(DataTable)
        table.clear()
        shown = [e for e in self.entries if entry_matches(e, terms)]
        self._shown = {str(e.seq): e for e in shown}
        for e in shown:
            table.add_row(*entry_cells(e, with_date=self._with_date), key=str(e.seq))
        if shown:
            table.move_cursor(row=len(shown) - 1)
        else:
            self.query_one("#journal-entry", Static).update("")
        what = f"{len(shown)} of {len(self.entries)} entries" if terms else f"{len(self.entries)} entries"
        self.query_one("#journal-count", Static).update(f"{what} · / filter · esc close")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        e = self._shown.get(event.row_key.value or "")
        self.query_one("#journal-entry", Static).update(entry_text(e) if e is not None else "")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one(Input).focus()

    def action_close(self) -> None:
        self.dismiss(None)
