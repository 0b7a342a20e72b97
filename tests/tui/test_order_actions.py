"""Issue 11 items 6 and 7, console side: cancel one order (x), loosen a refused stop with a second confirmation (L),
and the desk state (h). The guard clock is held still so that keys typed ahead are provably too early."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.models import DeskStatus, OrderRole
from tests.tui.conftest import SIZE, Desk, build_desk, preview_screen, ready, screen_of, select, sent, until
from tui.screens.desk_state import DeskStateScreen
from tui.screens.help import HelpScreen
from tui.screens.loosen_confirm import LoosenConfirmScreen
from tui.screens.order_picker import OrderPickerScreen
from tui.screens.preview import PreviewScreen, PreviewState

D = Decimal


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def read(self) -> None:
        """The operator has read what is on screen."""
        self.now += 1.0


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def held(tmp_path: Path, clock: Clock) -> Iterator[Desk]:
    d = build_desk(tmp_path, guard=0.25, guard_clock=clock)
    yield d
    d.stop()


def stops(desk: Desk, plan_id: str) -> list:  # type: ignore[type-arg]
    return [o for o in desk.open_orders(plan_id) if o.role is OrderRole.STOP_LOSS]


async def _refused_loosen(pilot, desk: Desk, clock: Clock) -> PreviewScreen:  # type: ignore[no-untyped-def]
    await select(pilot, "TPL_1")
    await pilot.press("t")
    stop = await screen_of(pilot, __import__("tui.screens.action_inputs", fromlist=["StopScreen"]).StopScreen)
    stop.query_one("#value").value = "97000"
    await pilot.pause()
    assert "looser than the current stop 98,000" in stop.feedback_text
    await pilot.press("enter", "enter")  # the second enter reaches the (blocked) preview: it sends nothing
    screen = await preview_screen(pilot, readable=False)
    assert screen.state is PreviewState.BLOCKED and "looser" in screen.batch.errors[0]
    return screen


async def test_loosen_needs_a_second_deliberate_key(held: Desk, clock: Clock) -> None:
    desk = held
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        screen = await _refused_loosen(pilot, desk, clock)
        assert "L" in screen.active_bindings and screen.active_bindings["L"].binding.id == "preview.loosen"
        clock.read()
        await pilot.press("enter", "enter", "y")  # a blocked preview: nothing, and no loosen either
        assert desk.app.screen is screen
        await pilot.press("L")
        confirm = await screen_of(pilot, LoosenConfirmScreen)
        assert confirm.sentence == ("Loosen TPL_1 stop from 98,000.00 to 97,000.00 (1,000.00 further from the "
                                    "mark)")
        text = str(confirm.query_one("#loosen-details").render())
        assert "3,000.00 (3.00 %) below the mark at preview 100,000.00" in text and "1,000.00 USDT larger" in text
        await pilot.press("enter", "enter", "y")  # enter / y never loosen here
        await pilot.press("L")  # typed ahead: before the guard time
        await pilot.pause()
        assert desk.app.screen is confirm and confirm.refused_keys == 3 and confirm.ignored_confirms == 1
        assert "KEY IGNORED" in str(confirm.query_one("#guard-hint").render())
        clock.read()
        await pilot.press("L", "L")  # counts once
        loosen = await preview_screen(pilot, readable=False)
        assert loosen is not screen and loosen.state is PreviewState.READY
        assert loosen.directive.exit_directive is not None and loosen.directive.exit_directive.allow_loosen
        assert loosen.directive.exit_directive.stop_loss_price == D("97000")
        [cmd] = loosen.batch.commands
        assert cmd.action == "MODIFY_ORDER" and cmd.stop_price == D("97000")
        assert "L" not in loosen.active_bindings
        await pilot.press("y")  # the new preview has its own guard
        await pilot.pause()
        assert loosen.state is PreviewState.READY and loosen.ignored_confirms == 1
        clock.read()
        await pilot.press("y")
        await sent(pilot, loosen)
        assert loosen.report is not None and loosen.report.ok
    assert [o.stop_price for o in stops(desk, "TPL_1")] == [D("97000")]


async def test_loosen_escape_keeps_the_stop(held: Desk, clock: Clock) -> None:
    desk = held
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await _refused_loosen(pilot, desk, clock)
        await pilot.press("question_mark")  # the preview's help lists the loosen key
        helps = await screen_of(pilot, HelpScreen)
        assert "Loosen stop" in helps.text and "L there opens a second confirmation" in helps.text
        await pilot.press("escape")
        await screen_of(pilot, PreviewScreen)
        await pilot.press("L")
        await screen_of(pilot, LoosenConfirmScreen)
        clock.read()
        await pilot.press("escape", "L")
        await pilot.pause(0.1)
        assert len(desk.app.screen_stack) == 1
    assert [o.stop_price for o in stops(desk, "TPL_1")] == [D("98000")]


async def test_desk_state_every_change_confirmed(held: Desk, clock: Clock) -> None:
    desk = held
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("h")
        dlg = await screen_of(pilot, DeskStateScreen)
        assert dlg.proposed == DeskStatus.REDUCING
        await pilot.press("enter", "enter", "y")  # typed ahead: ignored
        await pilot.pause()
        assert desk.app.screen is dlg and dlg.ignored_confirms == 3 and desk.ledger.desk() is DeskStatus.ACTIVE
        clock.read()
        await pilot.press("h")  # to HALTED; the proposal moved: the guard starts again
        await pilot.press("y")
        await pilot.pause()
        assert dlg.proposed is DeskStatus.HALTED and desk.ledger.desk() is DeskStatus.ACTIVE
        clock.read()
        await pilot.press("y", "y")
        await until(pilot, lambda: desk.ledger.desk() is DeskStatus.HALTED, what="halt")
        await until(pilot, lambda: desk.app.query_one("#halt-banner").display, what="the HALTED banner")
        assert "DESK HALTED" in desk.app.query_one("#header").render().plain
        await pilot.press("h")
        dlg = await screen_of(pilot, DeskStateScreen)
        assert dlg.proposed is DeskStatus.ACTIVE and "MORE PERMISSIVE" in dlg.question
        clock.read()
        await pilot.press("escape", "y")
        await pilot.pause(0.1)
        assert desk.ledger.desk() is DeskStatus.HALTED and len(desk.app.screen_stack) == 1
        await pilot.press("h")
        await screen_of(pilot, DeskStateScreen)
        clock.read()
        await pilot.press("y")
        await until(pilot, lambda: desk.ledger.desk() is DeskStatus.ACTIVE, what="resume")
        await until(pilot, lambda: not desk.app.query_one("#halt-banner").display, what="the banner to go")


async def test_reducing_is_amber_and_in_words(held: Desk, clock: Clock) -> None:
    desk = held
    async with desk.app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("h")
        dlg = await screen_of(pilot, DeskStateScreen)
        assert dlg.proposed == "REDUCING"
        clock.read()
        await pilot.press("y")
        await until(pilot, lambda: desk.ledger.desk() == "REDUCING", what="reducing")
        await until(pilot, lambda: desk.app.query_one("#halt-banner").display, what="the REDUCING banner")
        header = desk.app.query_one("#header").render()
        assert "DESK REDUCING" in header.plain
        assert any("dark_orange" in str(span.style) for span in header.spans)


async def test_cancel_picker_lists_open_orders_and_escape_sends_nothing(held: Desk, clock: Clock) -> None:
    desk = held
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = len(desk.engine.order_log)
        await select(pilot, "TPL_3")
        await pilot.press("x")
        picker = await screen_of(pilot, OrderPickerScreen)
        roles = [o.role for o in picker.orders]
        assert roles == [OrderRole.STOP_LOSS, OrderRole.ENTRY, OrderRole.ENTRY, OrderRole.ENTRY]
        first = str(picker.query_one("#picker-orders").get_option_at_index(0).prompt)
        assert first.startswith("◆ STOP_LOSS") and "UNPROTECTED" in first
        await pilot.press("enter")  # before the picker could be read: ignored
        assert desk.app.screen is picker and picker.ignored_confirms == 1
        await pilot.press("down")
        assert picker.highlighted_order == picker.orders[1].order_id
        await pilot.press("escape", "enter")
        await pilot.pause(0.1)
        assert len(desk.app.screen_stack) == 1
    assert len(desk.engine.order_log) == before


async def test_cancel_the_stop_previews_unprotected_and_sends(held: Desk, clock: Clock) -> None:
    desk = held
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_3")
        await pilot.press("x")
        picker = await screen_of(pilot, OrderPickerScreen)
        stop_id = picker.orders[0].order_id
        clock.read()
        await pilot.press("enter", "enter")  # the picker chooses; the preview ignores the second enter
        screen = await preview_screen(pilot, readable=False)
        [cmd] = screen.batch.commands
        assert cmd.action == "CANCEL_ORDER" and cmd.order_id == stop_id
        assert any("UNPROTECTED" in w for w in screen.batch.warnings)
        assert "UNPROTECTED" in str(screen.query_one("#preview-notes").render())
        assert screen.state is PreviewState.READY and screen.ignored_confirms == 1
        clock.read()
        await pilot.press("y")
        await sent(pilot, screen)
        assert screen.report is not None and screen.report.ok
    assert stops(desk, "TPL_3") == []


async def test_cancel_an_entry_without_core_support_says_so(held: Desk, clock: Clock) -> None:
    """Until core has cancel_directive the chosen order gives one clear line and nothing is sent."""
    desk = held
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = len(desk.engine.order_log)
        await select(pilot, "TPL_3")
        await pilot.press("x")
        picker = await screen_of(pilot, OrderPickerScreen)
        entry_id = picker.orders[1].order_id
        clock.read()
        await pilot.press("down", "enter")
        screen = await preview_screen(pilot, readable=False)
        assert [c.order_id for c in screen.batch.commands] == [entry_id]
        assert not any("UNPROTECTED" in w for w in screen.batch.warnings)
        await pilot.press("escape")
        assert len(desk.engine.order_log) == before


def test_new_binding_ids_can_be_remapped() -> None:
    from tui.cli_console import binding_ids

    ids = binding_ids()
    assert {"cancel_order", "halt", "preview.loosen", "loosen.confirm", "loosen.back", "desk.confirm", "desk.next",
            "desk.keep", "picker.back"} <= ids


async def test_main_help_lists_the_new_keys(held: Desk) -> None:
    async with held.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        helps = await screen_of(pilot, HelpScreen)
        assert "       x  Cancel order" in helps.text and "       h  Desk state" in helps.text
        assert "ACTIVE → REDUCING → HALTED → ACTIVE" in helps.text
