"""The console on the paper exchange, seeded with the demo desk, with a frozen clock and fixed prices (the same
builder as the screenshots: tui.screenshots.frozen_desk)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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


async def close_held_at_venue(pilot: Any, desk: Desk, plan_id: str) -> Any:
    """On a gated desk: `c` on the plan, `y`, and the close held at the venue (the connector's gate closed) until
    the test opens it. Returns the PreviewScreen, SENDING."""
    from tui.screens.preview import PreviewState

    desk.connector.gate.clear()
    await select(pilot, plan_id)
    await pilot.press("c")
    screen = await preview_screen(pilot)
    await pilot.press("y")
    await until(pilot, lambda: screen.state is PreviewState.SENDING, what="sending")
    return screen
