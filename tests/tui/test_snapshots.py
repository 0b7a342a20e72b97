"""Snapshot tests of every screen at 160x50 with a frozen clock and fixed prices (pytest-textual-snapshot). The
scenes are the screenshots' (tui.screenshots.SCENES). After an intended change: `pytest tests/tui/test_snapshots.py
--snapshot-update`, then look at the pictures (`python -m tui.screenshots`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui.screenshots import SCENES, Scene, run_scene


@pytest.mark.parametrize("scene", SCENES, ids=[s.name for s in SCENES])
def test_screen(scene: Scene, snap_compare: Any, tmp_path: Path) -> None:
    assert run_scene(scene, tmp_path, compare=snap_compare)
