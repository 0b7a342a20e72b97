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


def entry_cells(e: JournalEntry) -> tuple[str | Text, ...]:
    p = e.payload
    digest = p.get("digest")
    summary = p.get("summary")
    if not isinstance(summary, str):
        summary = ", ".join(sorted(k for k in p if k not in ("directive", "batch")))
    return (
        str(e.seq),
        e.time.replace("T", " ")[:19],
        _clean(e.operator, 24),
        Text(_clean(e.kind, 16), style=_KIND_STYLE.get(e.kind, "")),
        _clean(e.directive_id or "—", 40),
        digest[:12] if isinstance(digest, str) else "—",
        _clean(summary),
    )


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

    def compose(self) -> ComposeResult:
        with Vertical(id="journal-box"):
            yield Static(escape(self.title_text), id="journal-title")
            yield Input(value=self.initial_filter, placeholder="filter: plan id, directive id, kind, operator",
                        id="journal-filter")
            yield DataTable(id="journal-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="journal-count")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        self._fill(self.initial_filter)
        table.focus()

    def _fill(self, text: str) -> None:
        terms = [t for t in text.lower().split() if t]
        table = self.query_one(DataTable)
        table.clear()
        shown = [e for e in self.entries if entry_matches(e, terms)]
        for e in shown:
            table.add_row(*entry_cells(e), key=str(e.seq))
        if shown:
            table.move_cursor(row=len(shown) - 1)
        what = f"{len(shown)} of {len(self.entries)} entries" if terms else f"{len(self.entries)} entries"
        self.query_one("#journal-count", Static).update(f"{what} · / filter · esc close")

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one(Input).focus()

    def action_close(self) -> None:
        self.dismiss(None)
