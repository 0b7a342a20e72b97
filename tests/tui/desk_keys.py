"""Pilot helper: change the desk state the way an operator does (h, move the proposal, wait to read it, y)."""

from __future__ import annotations

from typing import Any

from core.models import DeskStatus
from tests.tui.conftest import screen_of, until


async def desk_dialog(pilot: Any, target: DeskStatus) -> Any:
    """Open the desk state dialog (h) with `target` proposed and readable; returns the dialog."""
    from tui.screens.desk_state import DeskStateScreen

    await pilot.press("h")
    dlg = await screen_of(pilot, DeskStateScreen)
    while dlg.proposed is not target:
        await pilot.press("h")
    await until(pilot, lambda: dlg.confirm_ready, what="the desk dialog's guard")
    return dlg


async def set_desk_state(pilot: Any, target: DeskStatus) -> None:
    await desk_dialog(pilot, target)
    await pilot.press("y")
    await until(pilot, lambda: pilot.app.bridge.desk() is target, what=f"desk {target}")
