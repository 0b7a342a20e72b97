"""`?` / F1: every key of the screen it was opened from (from the screen's live bindings, so a remapped key shows
as remapped), and a few words on how a preview is confirmed."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from tui.app_alerts import UNPROTECTED_GRACE
from tui.screens.action_inputs import DialogBox, ModalScreen
from tui.widgets.key_footer import KeyFooter

EXTRA = {
    "PlanDeskApp": [("home / end", "first / last plan"), ("up / down", "move the selection"),
                    ("ctrl+p", "command palette")],
}
NOTE = ("A preview counts y / enter only once it has been on screen for 0.25 s (keys typed ahead are ignored, with a "
        "hint). F (FLATTEN ALL) works from every screen and dialog, also while typing.\n"
        "x cancels one order of the selected plan: pick it (protective ones are marked ◆), then preview and confirm. "
        "A stop looser than the current one is refused in its preview; L there opens a second confirmation naming "
        "the looser price, which needs its own L (enter does not loosen). h changes the desk state (ACTIVE → "
        "REDUCING → HALTED → ACTIVE), always confirmed with y.\n"
        "Alerts (a stop fill, a rejection, UNPROTECTED, stale data, a lost venue) ring once, mark their rows and "
        "count in the header until a acknowledges them. A row says UNPROTECTED at once; its alarm waits while a "
        f"send or the stop supervisor is working on the plan (rings if it lasts {UNPROTECTED_GRACE:g} s beyond), "
        "and rings at once if nothing is.")


def keys_of(screen: Screen[object]) -> list[tuple[str, str]]:
    """(key, what it does) for the bindings that work on `screen` now, the app's priority ones included."""
    out: dict[str, str] = {}
    app = screen.app
    for key, active in screen.active_bindings.items():
        b = active.binding
        if not active.enabled or not b.description:
            continue
        out[b.key_display or key] = b.description
    for key, bindings in screen._bindings.key_to_bindings.items():  # the screen's own keys, also those idle now
        for b in bindings:
            if b.description and (b.key_display or key) not in out:
                out[b.key_display or key] = f"{b.description} (not in this state)"
    for b in app.BINDINGS:
        if isinstance(b, Binding) and b.priority and b.description:
            for key in b.key.split(","):
                out.setdefault(b.key_display or key, b.description)
    return sorted(out.items(), key=lambda kv: (len(kv[0]) > 1, kv[0].lower()))


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark,f1", "close", "Close help", id="help.close")]

    def __init__(self, of: Screen[object]) -> None:
        super().__init__(classes="action-input")
        rows = keys_of(of)
        if of is of.app.screen_stack[0]:
            rows += EXTRA["PlanDeskApp"]
        name = "main screen" if of is of.app.screen_stack[0] else type(of).__name__.removesuffix("Screen").lower()
        self.text = f"keys of the {name}\n" + "".join(f"\n{k:>8}  {d}" for k, d in rows) + f"\n\n{NOTE}"

    def compose(self) -> ComposeResult:
        with DialogBox(classes="dialog"):
            yield Static("Help", classes="dialog-title")
            yield Static(self.text, id="help-text")
        yield KeyFooter()

    def action_close(self) -> None:
        self.dismiss(None)
