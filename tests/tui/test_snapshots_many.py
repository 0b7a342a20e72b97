"""Snapshots of many plans at once (issue 11 items 1, 2, 4, 5): marks with a filter and a sort, one stop directive
over the marked plans (its form and its preview), alerts in the header, the rows and a toast, and the journal opened
from a plan's row. The scenes are tui.screenshot_scenes.MANY. After an intended change:
`pytest tests/tui/test_snapshots_many.py --snapshot-update`, then look at the pictures (`make screenshots`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui.screenshot_scenes import MANY, cases
from tui.screenshots import Scene, run_scene

CASES = cases(MANY)


@pytest.mark.parametrize(("scene", "size"), CASES, ids=[f"{s.name}-{w}x{h}" for s, (w, h) in CASES])
def test_screen(scene: Scene, size: tuple[int, int], snap_compare: Any, tmp_path: Path) -> None:
    assert run_scene(scene, tmp_path, compare=snap_compare, size=size)
