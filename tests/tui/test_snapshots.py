"""Snapshot tests of every screen at 160x50, and of each kind of screen at 120x35 and 80x24 (issue 9 item 7: what is
confirmed stays on screen on small terminals), with a frozen clock and fixed prices (pytest-textual-snapshot). The
scenes are the screenshots' (tui.screenshots.SCENES). After an intended change: `pytest tests/tui/test_snapshots.py
--snapshot-update`, then look at the pictures (`python -m tui.screenshots`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui.screenshots import SCENES, SMALL_SCENES, Scene, run_scene

CASES = [(s, (160, 50)) for s in SCENES] + [(s, size) for size in ((120, 35), (80, 24)) for s in SCENES
                                             if s.name in SMALL_SCENES]


@pytest.mark.parametrize(("scene", "size"), CASES, ids=[f"{s.name}-{w}x{h}" for s, (w, h) in CASES])
def test_screen(scene: Scene, size: tuple[int, int], snap_compare: Any, tmp_path: Path) -> None:
    assert run_scene(scene, tmp_path, compare=snap_compare, size=size)
