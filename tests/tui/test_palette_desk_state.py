"""The command palette's "Halt / reduce / resume the desk" opens the desk state dialog (the same as `h`): nothing
changes until the proposal is confirmed, and it knows REDUCING (it does not halt at once, nor resume blindly)."""

from __future__ import annotations

from typing import Any

from textual.command import CommandPalette
from textual.widgets import OptionList

from core.models import DeskStatus
from tests.tui.conftest import SIZE, Desk, ready, screen_of, until
from tui.screens.desk_state import DeskStateScreen


async def from_the_palette(pilot: Any) -> DeskStateScreen:
    await pilot.press("ctrl+p")
    palette = await screen_of(pilot, CommandPalette)
    await pilot.press(*"halt")
    found = palette.query_one("CommandList", OptionList)

    def first_is_ours() -> bool:
        return bool(found.option_count) and "Halt / reduce / resume" in str(found.get_option_at_index(0).prompt)

    await until(pilot, first_is_ours, what="the palette's match")
    await pilot.press("enter")
    dlg: DeskStateScreen = await screen_of(pilot, DeskStateScreen)
    return dlg


async def test_the_palette_entry_opens_the_desk_state_dialog(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        dlg = await from_the_palette(pilot)
        assert dlg.current is DeskStatus.ACTIVE and dlg.proposed == "REDUCING"
        await pilot.pause(0.2)
        assert desk.ledger.desk() is DeskStatus.ACTIVE  # nothing halts before the confirmation
        await until(pilot, lambda: dlg.confirm_ready, what="the dialog's guard")
        await pilot.press("y")
        await until(pilot, lambda: desk.ledger.desk() == "REDUCING", what="reducing")
        await until(pilot, lambda: len(desk.app.screen_stack) == 1, what="the dialog to close")
        # from REDUCING the entry again proposes, in the dialog's cycle; escape keeps the desk as it is
        dlg = await from_the_palette(pilot)
        assert dlg.current == "REDUCING" and dlg.proposed is DeskStatus.HALTED
        await pilot.press("escape")
        await until(pilot, lambda: len(desk.app.screen_stack) == 1, what="the dialog to close")
        assert desk.ledger.desk() == "REDUCING"
