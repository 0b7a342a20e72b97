"""The key line at the bottom of a modal screen: its shown bindings (the keymap's keys included) as one line of
text, in the colours of Textual's Footer.

Textual's Footer mounts a widget per key and recomposes them all on every bindings change (a focus change, a
refresh_bindings): opening the preview under the live feed, that was several recomposes and ~40 ms of the key
press. This is one widget that re-renders its text when the screen's bindings change; a click on a key presses it,
as on the Footer."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class KeyFooter(Widget):
    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"key-footer--key", "key-footer--description"}
    DEFAULT_CSS = """
    KeyFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
    }
    KeyFooter > .key-footer--key {
        color: $footer-key-foreground;
        background: $footer-key-background;
        text-style: bold;
    }
    KeyFooter > .key-footer--description {
        color: $footer-description-foreground;
        background: $footer-description-background;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self._spans: list[tuple[int, int, str]] = []  # (start, end, key) of each key's hint in the line

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, _screen: Screen[object]) -> None:
        self.refresh()

    def hints(self) -> list[tuple[str, str, str, bool]]:
        """(key, key as displayed, description, enabled) of each shown binding, one per action, in binding order."""
        seen: set[str] = set()
        out: list[tuple[str, str, str, bool]] = []
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show or binding.action in seen:
                continue
            seen.add(binding.action)
            out.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        return out

    def render(self) -> Text:
        key_style = self.get_component_rich_style("key-footer--key")
        desc_style = self.get_component_rich_style("key-footer--description")
        dim = Style(dim=True)
        text = Text(no_wrap=True, overflow="crop")
        spans: list[tuple[int, int, str]] = []
        for key, shown, description, enabled in self.hints():
            start = len(text)
            text.append(f" {shown} ", key_style + dim if not enabled else key_style)
            text.append(f"{description} ", desc_style + dim if not enabled else desc_style)
            spans.append((start, len(text), key))
        self._spans = spans
        return text

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
