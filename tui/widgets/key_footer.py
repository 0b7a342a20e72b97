"""The key line at the bottom of a modal screen: its shown bindings (the keymap's keys included) as one line of
text, in the colours of Textual's Footer; with `palette`, the command palette's key at its right edge, as the Footer
shows it.

Textual's Footer mounts a widget per key and recomposes them all on every bindings change (a focus change, a
refresh_bindings): opening the preview under the live feed, that was several recomposes and ~40 ms of the key
press. The main screen's Footer recomposed too, each time a dialog opened over it (~40 ms of the
key press to a preview painted). This is one widget that re-renders its text when the screen's bindings change; a
click on a key presses it, as on the Footer."""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.color import Color
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

    def __init__(self, *, palette: bool = False, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.palette = palette
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
        palette = self._palette_hint()
        if palette is not None:  # docked right as on Textual's Footer: on a narrow terminal the keys are cut, not it
            key, shown, description = palette
            room = self.size.width or 80
            right = 1 + len(shown) + 1 + len(description) + 1  # "▏^p palette "
            if right < room:
                if len(text) > room - right:
                    text.truncate(room - right)
                    spans = [(a, min(b, room - right), k) for a, b, k in spans if a < room - right]
                border = self.styles.background.blend(Color.parse(self.app.theme_variables.get("foreground",
                                                                                            "white")), 0.2)
                text.append(" " * (room - len(text) - right), desc_style)
                start = len(text)
                text.append("▏", desc_style + Style(color=border.rich_color))
                text.append(shown, key_style)
                text.append(f" {description} ", desc_style)
                spans.append((start, len(text), key))
        self._spans = spans
        return text

    def _palette_hint(self) -> tuple[str, str, str] | None:
        """(key, key as displayed, description) of the command palette's binding, when it is shown."""
        app = self.app
        if not self.palette or not app.ENABLE_COMMAND_PALETTE:
            return None
        found = self.screen.active_bindings.get(app.COMMAND_PALETTE_BINDING)
        if found is None:
            return None
        binding = found[1]
        return binding.key, app.get_key_display(binding), binding.description

    def on_resize(self) -> None:
        self.refresh()  # the palette key stays at the right edge

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self._spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
