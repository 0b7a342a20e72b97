"""`h`: change the desk state, ACTIVE → REDUCING → HALTED → ACTIVE, always confirmed.

The dialog opens proposing the next state of the cycle; h / ↓ / ↑ move the proposal, y / enter confirm it (guarded
like a preview, DESIGN §3b: a key typed ahead, or right after the proposal moved, is ignored with a hint), escape
keeps the desk as it is. A move to a more permissive state says so in words."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from core.models import DeskStatus
from tui.screens.guarded import GuardedModal
from tui.widgets.desk_input import panic_binding
from tui.widgets.key_footer import KeyFooter

#: the desk states, from the most permissive to the strictest
STATES: list[DeskStatus] = [DeskStatus.ACTIVE, DeskStatus.REDUCING, DeskStatus.HALTED]

MEANING = {
    "ACTIVE": "everything may be sent",
    "REDUCING": "only orders that reduce exposure; cancels always pass",
    "HALTED": "nothing new but cancels and flatten",
}
#: what a move to a more permissive state lets through again, in words
ALLOWS_AGAIN = {
    "ACTIVE": "new trades and scale-ins can be sent again",
    "REDUCING": "orders that reduce exposure (stops, scale-outs) can be sent again; new trades and scale-ins not",
}
STYLE = {"ACTIVE": "bold green", "REDUCING": "bold black on dark_orange", "HALTED": "bold white on red"}


def strictness(s: DeskStatus) -> int:
    return STATES.index(s) if s in STATES else len(STATES)


def next_state(s: DeskStatus) -> DeskStatus:
    return STATES[(strictness(s) + 1) % len(STATES)]


class DeskStateScreen(GuardedModal[DeskStatus | None]):
    CSS_PATH = "desk_state.tcss"
    BINDINGS = [
        Binding("y,enter", "confirm", "Change", id="desk.confirm"),
        Binding("h,down", "move(1)", "Next state", id="desk.next", key_display="h/↓"),
        Binding("up", "move(-1)", "Previous state", id="desk.previous", key_display="↑"),
        Binding("escape,n", "back", "Keep", id="desk.keep"),
        panic_binding("desk"),
    ]

    def __init__(self, current: DeskStatus, **kw: Any) -> None:
        super().__init__(**kw)
        self.current = current
        self.proposed = next_state(current)

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog desk-state-box"):
            yield Static("Desk state", classes="dialog-title")
            yield Static("", id="desk-states")
            yield Static("", id="desk-question")
            yield Static("", id="guard-hint")
            yield Static("y / enter: change · h / ↓ ↑: another state · esc: keep the desk as it is", classes="hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        self._show()

    @property
    def question(self) -> str:
        return str(self.query_one("#desk-question", Static).render())

    def _show(self) -> None:
        t = Text()
        for s in STATES:
            mark = "● now " if s is self.current else ("→ new " if s is self.proposed else "      ")
            t.append(f" {mark}", "bold" if s in (self.current, self.proposed) else "dim")
            t.append(f" {s:<8} ", STYLE.get(s, "bold"))
            t.append(f"  {MEANING.get(s, '')}\n", "" if s is self.proposed else "dim")
        t.rstrip()
        self.query_one("#desk-states", Static).update(t)
        q = Text()
        q.append(f"Change the desk from {self.current} to {self.proposed}?", "bold")
        if strictness(self.proposed) < strictness(self.current):
            q.append(f"\nMORE PERMISSIVE: {ALLOWS_AGAIN.get(self.proposed, MEANING.get(self.proposed, ''))}.",
                     "bold yellow")
        self.query_one("#desk-question", Static).update(q)

    def action_move(self, step: int) -> None:
        if self.answered:
            return
        options = [s for s in STATES if s is not self.current]
        i = options.index(self.proposed) if self.proposed in options else 0
        self.proposed = options[(i + step) % len(options)]
        self._show()
        # what is confirmed must have been on screen: the guard starts again from this paint
        self.painted_at = None
        self.call_after_refresh(self._painted)

    def action_confirm(self) -> None:
        if self.guard_ok("y"):
            self.answer(self.proposed)

    def action_back(self) -> None:
        self.answer(None)
