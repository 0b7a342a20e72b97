"""Snapshots of the desk views (issue 11 items 3 and 5): the foreign orders screen (`o`), the exposure & P&L screen
(`E`) after a stop fill realised a loss, and the exposure pane asked for (`e`) on a small terminal. The scenes are
tui.screenshot_scenes.DESK_VIEWS; the main screen with the pane is tests/tui/test_snapshots.py's 01-main. Update
after an intended change: `pytest tests/tui/test_snapshots_desk_views.py --snapshot-update`, then look at the
pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui.screenshot_scenes import DESK_VIEWS, cases
from tui.screenshots import Scene, run_scene

CASES = cases(DESK_VIEWS)


@pytest.mark.parametrize(("scene", "size"), CASES, ids=[f"{s.name}-{w}x{h}" for s, (w, h) in CASES])
def test_screen(scene: Scene, size: tuple[int, int], snap_compare: Any, tmp_path: Path) -> None:
    assert run_scene(scene, tmp_path, compare=snap_compare, size=size)
