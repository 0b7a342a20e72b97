"""Snapshots of the order-action screens (issue 11 items 6 and 7): the order picker (x), the loosen confirmation (L)
and the desk state dialog (h), on the frozen desk of tui.screenshots (scenes: tui.screenshot_scenes.ORDER_ACTIONS).
After an intended change: `pytest tests/tui/test_order_snapshots.py --snapshot-update`, then look at the pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui.screenshot_scenes import ORDER_ACTIONS, cases
from tui.screenshots import Scene, run_scene

CASES = cases(ORDER_ACTIONS)


@pytest.mark.parametrize(("scene", "size"), CASES, ids=[f"{s.name}-{w}x{h}" for s, (w, h) in CASES])
def test_order_screen(scene: Scene, size: tuple[int, int], snap_compare: Any, tmp_path: Path) -> None:
    assert run_scene(scene, tmp_path, compare=snap_compare, size=size)
