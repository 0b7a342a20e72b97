"""A dialog whose deciding key counts only once it could be read (DESIGN §3b): painted, and the guard time passed.

A key that came earlier (typed ahead, a double enter, key repeat) is ignored with a visible hint. The dialog answers
once: a second key of the same burst cannot dismiss it again."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from rich.text import Text
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.screens.read_guard import CONFIRM_GUARD, ReadGuard

T = TypeVar("T")


class GuardedModal(ReadGuard, ModalScreen[T], Generic[T]):
    """Subclasses compose a `Static(id="guard-hint")` and call `guard_ok(key)` before acting on a deciding key."""

    def __init__(self, *, guard: float = CONFIRM_GUARD, guard_clock: Callable[[], float] = time.monotonic,
                 classes: str = "action-input") -> None:
        super().__init__(classes=classes)
        self._start_guard(guard, guard_clock)
        self.answered = False

    def on_mount(self) -> None:
        self.query_one("#guard-hint", Static).display = False
        self.call_after_refresh(self._painted)

    def guard_ok(self, key: str) -> bool:
        """True when a deciding key pressed now counts; otherwise count it, say so, and ring."""
        if self.answered:
            return False
        if self.confirm_ready:
            return True
        self.ignored_confirms += 1
        self.hint(f"KEY IGNORED: it came before you could read this; read it, then press {key} again")
        return False

    def hint(self, text: str) -> None:
        w = self.query_one("#guard-hint", Static)
        w.update(Text(f" {text} ", "bold black on yellow"))
        w.display = True

    def answer(self, value: T) -> None:
        if not self.answered:
            self.answered = True
            self.dismiss(value)
