"""Issue 9, items 1-6: the console under fat fingers. Every test types keys as a person does, bursts included
(`pilot.press("enter", "enter")` sends both keys without a pause)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.models import DeskStatus
from tests.tui.conftest import SIZE, Desk, build_desk, preview_screen, ready, screen_of, select, sent, until
from tests.tui.desk_keys import desk_dialog, set_desk_state
from tui.screens.action_inputs import NewPlanScreen, ScaleScreen, StopScreen
from tui.screens.preview import PreviewScreen, PreviewState

D = Decimal


async def keys(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    """Every character as its own key press, in one burst."""
    await pilot.press(*["full_stop" if c == "." else "percent_sign" if c == "%" else "comma" if c == ","
                        else "plus" if c == "+" else "minus" if c == "-" else c for c in text])


async def test_overflow_and_comma_typed_never_crash_and_name_the_field(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = len(desk.engine.order_log)
        await select(pilot, "TPL_1")
        for key, kind, field in (("t", StopScreen, "stop price"), ("s", ScaleScreen, "scale target")):
            await pilot.press(key)
            screen = await screen_of(pilot, kind)
            await keys(pilot, "1e1000000")
            await pilot.pause()
            assert field in screen.feedback_text and "exponent" in screen.feedback_text, screen.feedback_text
            await pilot.press("enter")
            await pilot.pause()
            assert desk.app.screen is screen and "not sent" in screen.feedback_text
            screen.query_one("#value").value = ""
            await keys(pilot, "0,5")
            await pilot.pause()
            assert "comma" in screen.feedback_text and "0.5" in screen.feedback_text
            await pilot.press("enter")
            await pilot.pause()
            assert desk.app.screen is screen  # never read as 5
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("n")
        form = await screen_of(pilot, NewPlanScreen)
        await keys(pilot, "solusdt")
        await pilot.press("tab")
        await keys(pilot, "long")
        await pilot.press("tab")
        await keys(pilot, "1e1000000")
        await pilot.press("tab")
        await keys(pilot, "1,5")
        await pilot.pause()
        assert "size: exponent" in str(form.query_one("#err-size").render())
        assert "comma" in str(form.query_one("#err-stop").render())
        await pilot.press("enter", "enter")
        await pilot.pause()
        assert desk.app.screen is form
        assert desk.app.is_running
    assert len(desk.engine.order_log) == before


async def test_double_enter_in_a_dialog_never_crashes_nor_sends_unread(tmp_path: Path) -> None:
    """`s 1.5 enter enter enter`: the later enters are not a confirmation of a preview nobody has read. The guard's
    clock is held still (injected) so the burst is deterministic; test_the_real_guard_is_250_ms runs real time."""
    now = [1000.0]
    desk = build_desk(tmp_path, guard=0.25, guard_clock=lambda: now[0])
    try:
        async with desk.app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            before = len(desk.engine.order_log)
            await select(pilot, "TPL_1")
            await pilot.press("s")
            await screen_of(pilot, ScaleScreen)
            await keys(pilot, "1.5")
            await pilot.press("enter", "enter", "enter")
            screen = await preview_screen(pilot, readable=False)
            await pilot.press("enter", "y")  # typed ahead / key repeat
            await pilot.pause()
            assert screen.state is PreviewState.READY and len(desk.engine.order_log) == before
            assert screen.ignored_confirms >= 2 and "KEY IGNORED" in screen.status_text
            now[0] += 0.25
            await pilot.press("enter", "enter")  # read, then confirmed; the repeat does nothing more
            await sent(pilot, screen)
            assert screen.report is not None and screen.report.ok
            await pilot.press("escape", "escape", "escape")  # closes once; no ScreenStackError
            await pilot.pause()
            assert desk.app.is_running and len(desk.app.screen_stack) == 1
        assert desk.ledger.get_plan("TPL_1").net_position == D("1.5")  # one scale-in, not two
    finally:
        desk.stop()


async def test_the_real_guard_is_250_ms(tmp_path: Path) -> None:
    """The default guard, on a clock the test moves (a loaded machine cannot make a key late or early)."""
    from tui.app import CONFIRM_GUARD

    assert CONFIRM_GUARD == 0.25
    now = [1000.0]
    desk = build_desk(tmp_path, guard=CONFIRM_GUARD, guard_clock=lambda: now[0])
    try:
        async with desk.app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await select(pilot, "TPL_2")
            await pilot.press("c")
            screen = await preview_screen(pilot, readable=False)
            await until(pilot, lambda: screen.painted_at is not None, what="painted")
            now[0] = screen.painted_at + 0.249  # 249 ms after the paint
            await pilot.press("y")
            await pilot.pause()
            assert screen.state is PreviewState.READY and screen.ignored_confirms == 1
            assert "KEY IGNORED" in screen.status_text
            now[0] = screen.painted_at + 0.25
            await pilot.press("y")
            await sent(pilot, screen)
            assert screen.report is not None and screen.report.ok
    finally:
        desk.stop()


async def test_double_yes_on_resume_does_not_crash(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await set_desk_state(pilot, DeskStatus.HALTED)
        await desk_dialog(pilot, DeskStatus.ACTIVE)
        await pilot.press("y", "y")
        await until(pilot, lambda: desk.ledger.desk() is DeskStatus.ACTIVE, what="resume")
        assert desk.app.is_running and len(desk.app.screen_stack) == 1


async def test_scale_helpers_percent_of_now_and_signed_amounts(desk: Desk) -> None:
    """TPL_1 is long 1 BTC: +5% is 1.05 (not 5 % of now), -5% 0.95, 50% 0.5, +0.5 1.5, a plain number the target."""
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_1")
        await pilot.press("s")
        screen = await screen_of(pilot, ScaleScreen)
        help_text = str(screen.query_one("#scale-help").render())
        assert "+5% / -5% add / remove 5 %" in help_text and "50% is half" in help_text
        for text, target in (("+5%", "1.05"), ("-5%", "0.95"), ("50%", "0.5"), ("+0.5", "1.5"), ("-0.25", "0.75"),
                             ("0.4", "0.4")):
            screen.query_one("#value").value = ""
            await keys(pilot, text)
            await pilot.pause()
            assert f"target {target} BTC (now 1)" in screen.feedback_text, (text, screen.feedback_text)
        screen.query_one("#value").value = ""
        await keys(pilot, "+5%")
        await pilot.press("enter")
        preview = await preview_screen(pilot)
        assert "to 1.05 (now 1)" in preview.title_text
        [trade] = [c for c in preview.batch.commands if c.action == "EXECUTE_TRADE"]
        assert (trade.side, trade.quantity) == ("BUY", D("0.05"))


async def test_panic_key_works_from_every_screen_and_is_never_typed(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_1")

        async def flatten_from_here(where: str) -> None:
            depth = len(desk.app.screen_stack)
            await pilot.press("F")
            flat = await preview_screen(pilot)
            assert flat.halt_desk and len(flat.batch.plan_versions) == 6, where
            assert len(desk.app.screen_stack) == depth + 1
            await pilot.press("escape")
            await until(pilot, lambda: len(desk.app.screen_stack) == depth, what="back")

        await pilot.press("slash")
        await keys(pilot, "tpl")
        await flatten_from_here("filter")
        assert desk.app.query_one("#filter").value == "tpl"
        await pilot.press("escape")
        for key, kind in (("t", StopScreen), ("s", ScaleScreen), ("n", NewPlanScreen)):
            await pilot.press(key)
            dialog = await screen_of(pilot, kind)
            await keys(pilot, "1")
            await flatten_from_here(kind.__name__)
            assert desk.app.screen is dialog
            typed = [i.value for i in dialog.query("Input")]
            assert "F" not in "".join(typed) and "1" in typed, typed
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("c")
        close = await preview_screen(pilot)
        await flatten_from_here("close preview")
        assert desk.app.screen is close and close.state is PreviewState.READY
        # the footer of a dialog shows the panic key (it works there), and not the main screen's other keys
        await pilot.press("escape")
        await pilot.press("t")
        dialog = await screen_of(pilot, StopScreen)
        shown = {b.binding.key for b in dialog.active_bindings.values() if b.binding.show}
        assert "F" in shown and "t" not in shown and "q" not in shown
    assert isinstance(PreviewScreen, type)


async def test_the_preview_is_journaled_once_it_is_painted(desk: Desk) -> None:
    """The console journals a preview as soon as it is on screen (the operator is reading it), not a timer later,
    and F from a keypress gives exactly one preview entry."""
    desk.bridge.journal_delay = 60.0
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        journal = desk.bridge.runtime.journal
        before = len(journal.entries(kind="preview"))
        await pilot.press("F")
        screen = await preview_screen(pilot, readable=False)
        did = screen.batch.directive_id
        await until(pilot, lambda: len(journal.entries(kind="preview", directive_id=did)) == 1, what="the entry")
        assert len(journal.entries(kind="preview")) == before + 1
        [entry] = journal.entries(kind="preview", directive_id=did)
        assert entry.payload["digest"] == screen.batch.digest()
        await pilot.press("escape")
