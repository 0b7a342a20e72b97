"""The second confirmation of a looser stop (the CLI's allow_loosen): it names the plan, the current and the looser
price and how much further from the mark, and needs its own deliberate key `L`, guarded like a preview (DESIGN §3b).
Enter and y do not loosen here. Confirmed, the loosen is previewed (with allow_loosen) and sent the normal way."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from tui.screens.forms import LoosenRequest
from tui.screens.guarded import GuardedModal
from tui.widgets.desk_input import panic_binding
from tui.widgets.key_footer import KeyFooter

#: what a preview refused as looser offers (bound on that preview by tui.app_order_actions)
LOOSEN_OFFER = Binding("L", "app.loosen_stop", "Loosen stop…", id="preview.loosen", key_display="L")


class LoosenConfirmScreen(GuardedModal[bool]):
    CSS_PATH = "loosen_confirm.tcss"
    BINDINGS = [
        Binding("L", "loosen", "LOOSEN", id="loosen.confirm", key_display="L"),
        Binding("enter,y", "not_here", "", id="loosen.not_enter", show=False),
        Binding("escape,n", "back", "Back: keep the stop", id="loosen.back"),
        panic_binding("loosen"),
    ]

    def __init__(self, request: LoosenRequest, **kw: Any) -> None:
        super().__init__(**kw)
        self.request = request
        self.refused_keys = 0  # enter / y pressed here (tests read it)

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(classes="dialog loosen-box"):
            yield Static("Loosen a stop: second confirmation", classes="dialog-title")
            yield Static(Text(r.sentence(), "bold"), id="loosen-sentence")
            yield Static(r.details(), classes="context", id="loosen-details")
            yield Static("", id="guard-hint")
            yield Static(Text.assemble(("  L", "bold reverse"), ("  loosen: preview it with allow_loosen (y there "
                                                                  "sends)    ", ""),
                                       ("esc", "bold reverse"), ("  back: the stop stays where it is", "")),
                         classes="hint", id="loosen-keys")
        yield KeyFooter()

    @property
    def sentence(self) -> str:
        return self.request.sentence()

    def action_loosen(self) -> None:
        if self.guard_ok("L"):
            self.answer(True)

    def action_not_here(self) -> None:
        self.refused_keys += 1
        if not self.answered:
            self.hint("enter / y do not loosen a stop: press L (shift+l) to loosen, esc to keep it")

    def action_back(self) -> None:
        self.answer(False)
