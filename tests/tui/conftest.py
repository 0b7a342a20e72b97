"""The console on the paper exchange, seeded with the demo desk, with a frozen clock and fixed prices (the same
builder as the screenshots: tui.screenshots.frozen_desk)."""

from __future__ import annotations

from collections.abc import Iterator
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


def build_desk(tmp_path: Path, *, gated: bool = False) -> Desk:
    """A desk whose UI polls the bridge every 50 ms (the pilot tests wait on live updates)."""
    return frozen_desk(tmp_path, gated=gated, poll=0.05)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = build_desk(tmp_path)
    yield d
    d.stop()
