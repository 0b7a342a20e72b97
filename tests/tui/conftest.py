"""The console on the paper exchange, seeded with the demo desk, with a frozen clock and fixed prices (the same
builder as the screenshots: tui.screenshots.frozen_desk)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tui.screenshots import (  # noqa: F401 - re-exported for the tests
    SIZE,
    Desk,
    fill,
    frozen_desk,
    preview_screen,
    ready,
    screen_of,
    select,
    sent,
    until,
)


def build_desk(tmp_path: Path, *, gated: bool = False, guard: float = 0.05,
               guard_clock: Callable[[], float] | None = None) -> Desk:
    """A desk whose UI polls the bridge every 50 ms (the pilot tests wait on live updates). The confirmation guard
    is shortened to 50 ms (tests/tui/test_guard.py runs the real 250 ms)."""
    return frozen_desk(tmp_path, gated=gated, poll=0.05, guard=guard, guard_clock=guard_clock)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = build_desk(tmp_path)
    yield d
    d.stop()
