"""Issue 8's console parts and issue 9 items 9 and 14: what the operator is shown about protection, stale data,
fills and what is left open; and quitting. Data the core does not fill yet is constructed; the stale refusal and
the open positions are caused for real."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from core.models import PlanStatus
from core.outcomes import CommandOutcome, OutcomeStatus
from core.worker_exits import covered
from tests.tui.conftest import (
    SIZE,
    Desk,
    build_desk,
    close_held_at_venue,
    preview_screen,
    ready,
    screen_of,
    select,
    sent,
    until,
)
from tui.screens.action_inputs import ConfirmScreen, StopScreen
from tui.screens.preview import PreviewScreen, PreviewState
from tui.widgets.plans_cells import AT
from tui.widgets.plans_table import PlansTable, cells_of

D = Decimal


async def test_unprotected_row_is_marked_and_the_reason_shown(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        row = replace(table.row_data("TPL_3"), unprotected="stop rejected: ReduceOnly Order is rejected")
        assert cells_of(row)[AT["status"]] == ("UNPROTECTED", "bold white on red")
        table.apply([row], [], {})
        await select(pilot, "TPL_1")
        await select(pilot, "TPL_3")
        await until(pilot, lambda: "UNPROTECTED: stop rejected" in str(
            [str(n.label) for n in desk.app.query_one("#detail").root.children]), what="the detail's reason")
        # the demo's plans seeded without a stop are UNPROTECTED for real (the supervisor says so): the filter shows
        # exactly the marked rows, TPL_3 among them
        marked = {r.plan_id for r in table.plan_rows()
                  if r.unprotected is not None and r.status is not PlanStatus.CLOSED}
        assert "TPL_3" in marked
        await pilot.press("slash", "u", "n", "p", "r", "o", "t")
        await until(pilot, lambda: table.visible_count == len(marked), what="the UNPROTECTED filter")
        assert table.selected_plan_id in marked


async def test_preview_header_says_stale_marks_and_retry_note_and_outcomes_show_fills(desk: Desk) -> None:
    real = desk.bridge.preview

    def preview(directive):  # type: ignore[no-untyped-def]
        fut = real(directive)
        from concurrent.futures import Future

        out: Future = Future()  # type: ignore[type-arg]
        fut.add_done_callback(lambda f: out.set_result(replace(
            f.result(), stale_marks={"BTCUSDT": 22.4}, retry_note="retries follow the mark inside the 2 % cap")))
        return out

    desk.bridge.preview = preview  # type: ignore[method-assign]
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_1")
        await pilot.press("c")
        screen = await preview_screen(pilot)
        marks = str(screen.query_one("#preview-marks").render())
        assert "BTCUSDT mark 22 s old" in marks and "inside the 2 % cap" in marks
        trade = next(c for c in screen.batch.commands if c.action == "EXECUTE_TRADE")
        base = CommandOutcome(seq=trade.seq, action="EXECUTE_TRADE", plan_id="TPL_1", symbol="BTCUSDT",
                              order_id=None, status=OutcomeStatus.ACKNOWLEDGED)
        screen.show_outcome(replace(base, filled_quantity=D(1), fill_price=D("97990"), slippage=D("0.0201")))
        assert "@ 97,990 slip +2.01 %" in screen.command_text(trade.seq)
        screen.show_outcome(replace(base, filled_quantity=D(0), detail="EXPIRED"))
        text = screen.command_text(trade.seq)
        assert "EXPIRED UNFILLED" in text and "✓" not in text


async def test_stale_modify_is_replaced_by_a_fresh_preview_with_changes(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_3")
        await pilot.press("t")
        await screen_of(pilot, StopScreen)
        await pilot.press("2", "percent_sign", "enter")
        old = await preview_screen(pilot)
        desk.engine.set_mark("SOLUSDT", D("148.4"), 1767225600.0)  # a ladder entry of TPL_3 fills: stale
        await until(pilot, lambda: desk.ledger.get_plan("TPL_3").net_position == D(450), what="the ladder fill")
        # and the protection supervisor's stop resize after it (another version): else it can land between the
        # fresh preview and its send, and the fresh one is stale too
        await until(pilot, lambda: covered(desk.ledger.get_plan("TPL_3")) == D(450), what="the stop to follow")
        await pilot.press("y")
        fresh = await until_fresh(pilot, old)
        assert any("TPL_3: position +400 → +450" in line for line in fresh.preview.changes), fresh.preview.changes
        assert "CHANGED" in str(fresh.query_one("#preview-notes").render())
        assert fresh.state is PreviewState.READY
        await pilot.press("y")
        await sent(pilot, fresh)
        assert fresh.report is not None and fresh.report.refused is None


async def until_fresh(pilot, old: PreviewScreen) -> PreviewScreen:  # type: ignore[no-untyped-def]
    await until(pilot, lambda: isinstance(pilot.app.screen, PreviewScreen) and pilot.app.screen is not old, 8,
                "the fresh preview")
    screen = pilot.app.screen
    await until(pilot, lambda: screen.confirm_ready, what="guard")
    return screen  # type: ignore[no-any-return]


async def test_every_way_out_is_guarded_while_sending_and_says_what_is_left_open(tmp_path: Path) -> None:
    desk = build_desk(tmp_path, gated=True)
    try:
        async with desk.app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await close_held_at_venue(pilot, desk, "TPL_2")
            await pilot.press("ctrl+q")
            await pilot.pause()
            await pilot.press("escape", "q")
            await pilot.pause()
            desk.app.action_quit()  # the command palette's Quit
            await pilot.pause()
            assert desk.app.is_running and not isinstance(desk.app.screen, ConfirmScreen)
            desk.connector.gate.set()
            await until(pilot, lambda: not desk.app._sending, what="the send")
            await pilot.press("q")
            confirm = await screen_of(pilot, ConfirmScreen)
            assert "5 open positions" in confirm.title_text and "TPL_1 BTCUSDT +1" in confirm.detail
            await pilot.press("n")
            await pilot.pause()
            assert desk.app.is_running
            await pilot.press("ctrl+q")
            await screen_of(pilot, ConfirmScreen)
            await pilot.press("y")
            await until(pilot, lambda: not desk.app.is_running, what="exit")
    finally:
        desk.stop()


async def test_preview_lists_commands_in_send_order_and_notional_excludes_protection(desk: Desk) -> None:
    """TPL_1 long 1: scale out to 0.5 shrinks its stop and take profit before the reducing sell; scale in to 1.5
    buys first and grows them after."""
    from tui.screens.action_inputs import ScaleScreen

    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_1")
        for target, first, last, notional in (("0.5", "MODIFY_ORDER", "EXECUTE_TRADE", "50,000.00"),
                                              ("1.5", "EXECUTE_TRADE", "MODIFY_ORDER", "50,000.00")):
            await pilot.press("s")
            await screen_of(pilot, ScaleScreen)
            await pilot.press(*target.replace(".", " full_stop ").split(), "enter")
            screen = await preview_screen(pilot)
            table = screen.query_one("#preview-commands")
            rows = [table.text_of(k) for k in table._keys]
            assert first in rows[0] and last in rows[-1], rows
            assert f"notional {notional} USDT" in str(screen.query_one("#preview-summary").render())
            await pilot.press("escape")
            await pilot.pause()


async def test_stop_dialog_follows_the_mark_and_keeps_not_sent(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_1")
        await pilot.press("t")
        stop = await screen_of(pilot, StopScreen)
        assert "from the mark 100,000" in str(stop.query_one("#stop-distance").render())
        await pilot.press("1", "0", "1", "0", "0", "0", "enter")  # above the mark of a long: refused
        await pilot.pause()
        assert "not sent" in stop.feedback_text
        desk.engine.set_mark("BTCUSDT", D("100500"), 1767225600.0)
        await until(pilot, lambda: "from the mark 100,500" in str(stop.query_one("#stop-distance").render()),
                    what="the distance line to follow the mark")
        assert "2,500" in str(stop.query_one("#stop-distance").render())
        await pilot.pause(0.3)
        assert "not sent" in stop.feedback_text  # still there after live updates


async def test_huge_numbers_are_compacted_never_cut(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        row = replace(table.row_data("TPL_3"), net=D("99999999999999"))
        cells = cells_of(row)
        assert cells[3][0] == "+100.0T"
        assert all(len(text) <= width for (text, _), (_, _, width, _) in zip(cells, __import__(
            "tui.widgets.plans_table", fromlist=["COLUMNS"]).COLUMNS, strict=True) if width)
