"""Snapshots of the order-action screens (issue 11 items 6 and 7): the order picker (x), the loosen confirmation (L)
and the desk state dialog (h), on the frozen desk of tui.screenshots. After an intended change:
`pytest tests/tui/test_order_snapshots.py --snapshot-update`, then look at the pictures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tui.screenshots import Scene, fill, preview_screen, run_scene, screen_of, select


async def _picker(pilot: Any, desk: Any) -> None:
    from tui.screens.order_picker import OrderPickerScreen

    await select(pilot, "TPL_3")
    await pilot.press("x")
    await screen_of(pilot, OrderPickerScreen)


async def _loosen(pilot: Any, desk: Any) -> None:
    from tui.screens.action_inputs import StopScreen
    from tui.screens.loosen_confirm import LoosenConfirmScreen

    await select(pilot, "TPL_1")
    await pilot.press("t")
    await screen_of(pilot, StopScreen)
    await fill(pilot, "#value", "97000")
    await pilot.press("enter")
    await preview_screen(pilot, readable=False)
    await pilot.press("L")
    await screen_of(pilot, LoosenConfirmScreen)


async def _desk_state(pilot: Any, desk: Any) -> None:
    from tui.screens.desk_state import DeskStateScreen

    await pilot.press("h")
    await screen_of(pilot, DeskStateScreen)


CASES = [
    (Scene("20-order-picker", "x: choose one order of a plan to cancel", _picker), (120, 35)),
    (Scene("20-order-picker", "x: choose one order of a plan to cancel", _picker), (80, 24)),
    (Scene("21-loosen-confirm", "L on a preview refused as looser: the second confirmation", _loosen), (80, 24)),
    (Scene("22-desk-state", "h: the desk state dialog", _desk_state), (80, 24)),
]


@pytest.mark.parametrize(("scene", "size"), CASES, ids=[f"{s.name}-{w}x{h}" for s, (w, h) in CASES])
def test_order_screen(scene: Scene, size: tuple[int, int], snap_compare: Any, tmp_path: Path) -> None:
    assert run_scene(scene, tmp_path, compare=snap_compare, size=size)
