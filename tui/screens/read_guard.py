"""DESIGN §3b, the one rule behind every confirmation: a deciding key counts only once the screen has been painted
and `guard` seconds have passed since. Shared by the preview and the guarded dialogs."""

from __future__ import annotations

import time
from collections.abc import Callable

#: DESIGN §3b: a confirm key counts only once the screen has been on screen this long (seconds)
CONFIRM_GUARD = 0.25


class ReadGuard:
    """State and test of the guard; the screen calls `_start_guard` in __init__ and `call_after_refresh(
    self._painted)` once mounted."""

    guard: float
    guard_clock: Callable[[], float]
    painted_at: float | None
    ignored_confirms: int

    def _start_guard(self, guard: float = CONFIRM_GUARD, guard_clock: Callable[[], float] = time.monotonic) -> None:
        self.guard = guard
        self.guard_clock = guard_clock
        self.painted_at = None  # guard_clock() at the first refresh after mount
        self.ignored_confirms = 0  # deciding keys that came too early (tests read it)

    def _painted(self) -> None:
        if self.painted_at is None:
            self.painted_at = self.guard_clock()

    @property
    def confirm_ready(self) -> bool:
        """A deciding key pressed now would count: the screen is painted and the guard time has passed."""
        return self.painted_at is not None and self.guard_clock() - self.painted_at >= self.guard
