"""The console's text field: an Input that leaves the panic key to the app.

Textual drops every binding whose key a focused Input could type (printable characters), priority bindings included;
so without this `F` would be typed into the field instead of flattening (issue 9, DESIGN §3b). Symbols are typed in
any case (the new-plan form upper-cases them), so no field needs a capital F."""

from __future__ import annotations

from textual.binding import Binding
from textual.widgets import Input

#: keys that always go to the app, even while typing
APP_KEYS = frozenset({"F"})


class DeskInput(Input):
    def check_consume_key(self, key: str, character: str | None) -> bool:
        if key in APP_KEYS or character in APP_KEYS:
            return False
        return super().check_consume_key(key, character)


def panic_binding(screen_id: str) -> Binding:
    """The panic key as a dialog shows it in its footer. The app's priority binding is the one that runs (it is
    checked first, from any screen); this one makes the footer of a modal screen say that F works there."""
    return Binding("F", "app.flatten_all", "FLATTEN ALL", id=f"{screen_id}.flatten_all", key_display="F")
