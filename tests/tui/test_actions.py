"""Pilot tests of every operator path, asserting on the ledger and on the paper exchange, not only on text."""

from __future__ import annotations

from decimal import Decimal

from core.models import DeskStatus, OrderRole, OrderType, PlanStatus
from tests.tui.conftest import SIZE, Desk, preview_screen, ready, select, sent, until
from tests.tui.desk_keys import desk_dialog, set_desk_state
from tui.screens.action_inputs import NewPlanScreen, ScaleScreen, StopScreen
from tui.screens.preview import PreviewState
from tui.widgets.activity import ActivityLog
from tui.widgets.plans_table import PlansTable

D = Decimal


async def type_in(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    """Type into the focused input: the first character as a key press, the rest inserted at once (each Pilot key
    press costs ~0.1 s); Input.Changed fires either way, so the live checks run as they do when typing."""
    await pilot.press(text[0])
    if len(text) > 1:
        pilot.app.focused.insert_text_at_cursor(text[1:])
    await pilot.pause()


def stops(desk: Desk, plan_id: str) -> list:  # type: ignore[type-arg]
    return [o for o in desk.open_orders(plan_id) if o.role is OrderRole.STOP_LOSS]


async def test_stop_tighten(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_1")
        await pilot.press("t")
        await until(pilot, lambda: isinstance(desk.app.screen, StopScreen))
        await type_in(pilot, "1%")
        assert "99,000" in desk.app.screen.feedback_text
        await pilot.press("enter")
        screen = await preview_screen(pilot)
        [cmd] = screen.batch.commands
        assert cmd.action == "MODIFY_ORDER" and cmd.stop_price == D("99000")
        assert "98,000 → 99,000" in screen.command_text(1)
        await pilot.press("y")
        await sent(pilot, screen)
        assert screen.state is PreviewState.DONE and screen.report is not None and screen.report.ok
        assert "acknowledged" in screen.command_text(1)
    [stop] = stops(desk, "TPL_1")
    assert stop.stop_price == D("99000")
    venue_stops = [o for o in desk.venue_open("BTCUSDT") if o.order_type is OrderType.STOP_MARKET]
    assert [o.stop_price for o in venue_stops] == [D("99000")]


async def test_scale_in(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_1")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(desk.app.screen, ScaleScreen))
        await type_in(pilot, "1.5")
        assert "scale in" in desk.app.screen.feedback_text
        await pilot.press("enter")
        screen = await preview_screen(pilot)
        trades = [c for c in screen.batch.commands if c.action == "EXECUTE_TRADE"]
        assert [(t.side, t.quantity) for t in trades] == [("BUY", D("0.5"))]
        await pilot.press("enter")
        await sent(pilot, screen)
        assert screen.report is not None and screen.report.ok
    plan = desk.ledger.get_plan("TPL_1")
    assert plan.net_position == D("1.5")
    assert desk.engine.positions()["BTCUSDT"] == D("1.75")  # TPL_1 1.5 + TPL_4 0.25
    assert [o.quantity for o in stops(desk, "TPL_1")] == [D("1.5")]


async def test_scale_out_with_percent(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_1")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(desk.app.screen, ScaleScreen))
        await type_in(pilot, "50%")
        fb = desk.app.screen.feedback_text
        assert "target 0.5" in fb and "scale out" in fb and "50 % of 1" in fb  # shown as the absolute target
        await pilot.press("enter")
        screen = await preview_screen(pilot)
        assert screen.directive.size_directive is not None
        assert screen.directive.size_directive.target_position_size == D("0.5")
        [trade] = [c for c in screen.batch.commands if c.action == "EXECUTE_TRADE"]
        assert (trade.side, trade.quantity, trade.reduce_only) == ("SELL", D("0.5"), True)
        await pilot.press("y")
        await sent(pilot, screen)
    assert desk.ledger.get_plan("TPL_1").net_position == D("0.5")
    assert desk.engine.positions()["BTCUSDT"] == D("0.75")
    assert {o.role: o.quantity for o in desk.open_orders("TPL_1")} == {
        OrderRole.STOP_LOSS: D("0.5"), OrderRole.TAKE_PROFIT: D("0.5")}


async def test_close_one(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_2")
        await pilot.press("c")
        screen = await preview_screen(pilot)
        assert screen.batch.plan_versions.keys() == {"TPL_2"}
        await pilot.press("y")
        await sent(pilot, screen)
        assert screen.report is not None and screen.report.ok
        table = desk.app.query_one(PlansTable)
        await until(pilot, lambda: table.row_data("TPL_2").status is PlanStatus.CLOSED, what="row update")
    plan = desk.ledger.get_plan("TPL_2")
    assert (plan.status, plan.net_position, plan.open_orders) == (PlanStatus.CLOSED, 0, [])
    assert desk.engine.positions()["ETHUSDT"] == D("-8")  # TPL_5 is untouched
    assert len(desk.venue_open("ETHUSDT")) == 1  # TPL_5's stop


async def test_flatten_all_two_keys(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("F")
        screen = await preview_screen(pilot)
        assert screen.halt_desk and len(screen.batch.plan_versions) == 6
        await pilot.press("y")
        await sent(pilot, screen)
        assert screen.report is not None and screen.report.ok and screen.report.halted
        plans_table = screen.query_one("#preview-plans")
        assert all("flat" in plans_table.text_of(pid) for pid in screen.batch.plan_versions)
        await until(pilot, lambda: desk.app.query_one("#halt-banner").display, what="the HALTED banner")
    for plan in desk.ledger.plans():
        assert (plan.status, plan.net_position, plan.open_orders) == (PlanStatus.CLOSED, 0, [])
    assert desk.ledger.desk() is DeskStatus.HALTED
    assert set(desk.engine.positions().values()) == {D(0)}
    assert desk.engine.open_orders() == []


async def test_halt_blocks_scale_in_with_a_reason(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await set_desk_state(pilot, DeskStatus.HALTED)
        await until(pilot, lambda: desk.ledger.desk() is DeskStatus.HALTED, what="halt")
        await until(pilot, lambda: desk.app.query_one("#halt-banner").display, what="the HALTED banner")
        sent_before = len(desk.engine.order_log)
        await select(pilot, "TPL_1")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(desk.app.screen, ScaleScreen))
        await type_in(pilot, "2")
        await pilot.press("enter")
        screen = await preview_screen(pilot)
        assert screen.state is PreviewState.BLOCKED
        assert any("desk is HALTED" in e for e in screen.batch.errors)
        assert "desk is HALTED" in str(screen.query_one("#preview-notes").render())
        assert "SENDING IS DISABLED" in screen.status_text
        await pilot.press("y")
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert screen.state is PreviewState.BLOCKED
    assert len(desk.engine.order_log) == sent_before
    assert desk.ledger.get_plan("TPL_1").net_position == D(1)


async def test_bad_input_shows_an_error_and_sends_nothing(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = len(desk.engine.order_log)
        await select(pilot, "TPL_1")
        await pilot.press("t")
        await until(pilot, lambda: isinstance(desk.app.screen, StopScreen))
        stop = desk.app.screen
        await type_in(pilot, "abc")
        assert "not a number" in stop.feedback_text
        await pilot.press("enter")
        await pilot.pause()
        assert desk.app.screen is stop and stop.attempts == 1 and "not sent" in stop.feedback_text
        for text, words in (("99000.001", "finer than the tick size"), ("101000", "would trigger at once"),
                            ("97000", "looser than the current stop"), ("0%", "above 0 %")):
            stop.query_one("#value").value = ""
            await type_in(pilot, text)
            assert words in stop.feedback_text, (text, stop.feedback_text)
        await pilot.press("escape")
        await pilot.press("s")
        await until(pilot, lambda: isinstance(desk.app.screen, ScaleScreen))
        scale = desk.app.screen
        for text, words in (("0.000001", "finer than the step size"), ("-2", "below zero"), ("x%", "not a number")):
            scale.query_one("#value").value = ""
            await type_in(pilot, text)
            assert words in scale.feedback_text, (text, scale.feedback_text)
            await pilot.press("enter")
            assert desk.app.screen is scale
        await pilot.press("escape")
        await pilot.pause()
        assert desk.app.screen is desk.app.screen_stack[0]
    assert len(desk.engine.order_log) == before
    assert [o.stop_price for o in stops(desk, "TPL_1")] == [D("98000")]


async def test_escape_sends_nothing(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        before = len(desk.engine.order_log)
        versions = desk.ledger.plan_versions(["TPL_1"])
        await select(pilot, "TPL_1")
        await pilot.press("c")
        screen = await preview_screen(pilot)
        assert screen.state is PreviewState.READY
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert not screen.is_attached
    assert len(desk.engine.order_log) == before
    assert desk.ledger.plan_versions(["TPL_1"]) == versions
    assert not desk.ledger.was_sent(screen.batch.directive_id)


async def test_a_stale_close_is_not_refused_but_sent_from_the_confirmed_state(desk: Desk) -> None:
    """DESIGN §3: a flatten is never refused for staleness (issue 8); a plan its stop closed sends nothing more."""
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_1")
        await pilot.press("c")
        screen = await preview_screen(pilot)
        # the market falls through TPL_1's stop (98,000) while the operator looks at the preview
        desk.engine.set_mark("BTCUSDT", D("97000"), 0.0)
        await until(pilot, lambda: desk.ledger.get_plan("TPL_1").net_position == 0, what="the stop fill")
        before = len(desk.engine.order_log)
        await pilot.press("y")
        await sent(pilot, screen)
        assert screen.state is PreviewState.DONE
        assert screen.report is not None and not screen.report.outcomes  # nothing left to send for TPL_1
    assert not [c for _s, c in desk.engine.order_log[before:] if desk.ledger.find_order(c)
                and desk.ledger.find_order(c)[0] == "TPL_1"]  # (other plans' stops may follow their entry fills)
    assert desk.ledger.was_sent(screen.batch.directive_id)


async def test_new_plan(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("n")
        await until(pilot, lambda: isinstance(desk.app.screen, NewPlanScreen))
        form = desk.app.screen
        await type_in(pilot, "SOLUSDT")
        await pilot.press("tab")
        await type_in(pilot, "long")
        await pilot.press("tab")
        await type_in(pilot, "0.0001")
        assert "finer than the step size" in str(form.query_one("#err-size").render())
        await pilot.press("enter")
        assert desk.app.screen is form
        form.query_one("#f-size").value = ""
        form.query_one("#f-size").focus()
        await type_in(pilot, "10")
        await pilot.press("tab")
        await type_in(pilot, "2")
        await pilot.press("enter")
        screen = await preview_screen(pilot)
        assert [c.action for c in screen.batch.commands] == ["EXECUTE_TRADE", "EXECUTE_TRADE"]
        await pilot.press("y")
        await sent(pilot, screen)
        assert screen.report is not None and screen.report.ok
        await until(pilot, lambda: desk.app.query_one(PlansTable).row_count == 7, what="the new row")
    [new] = [p for p in desk.ledger.plans() if p.plan_id not in {f"TPL_{i}" for i in range(1, 7)}]
    assert (new.symbol, new.net_position) == ("SOLUSDT", D(10))
    assert [o.stop_price for o in new.open_orders if o.role is OrderRole.STOP_LOSS] == [D("147")]
    assert desk.engine.positions()["SOLUSDT"] == D(530)


async def test_filter_rows(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        await pilot.press("slash")
        await type_in(pilot, "eth")
        assert table.visible_count == 2 and table.row_count == 2
        await pilot.press("enter")
        assert table.has_focus
        await pilot.press("slash")
        await pilot.press("escape")
        await pilot.pause()
        assert table.row_count == 6


async def test_worker_failure_is_reported(desk: Desk) -> None:
    from concurrent.futures import Future

    def broken(_directive):  # type: ignore[no-untyped-def]
        fut: Future[object] = Future()
        fut.set_exception(RuntimeError("venue exploded"))
        return fut

    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        desk.bridge.preview = broken  # type: ignore[method-assign]
        await pilot.press("c")
        log = desk.app.query_one(ActivityLog).lines_written
        await until(pilot, lambda: any("preview failed" in line and "venue exploded" in line for line in log))
        assert desk.app.screen is desk.app.screen_stack[0]


async def test_rows_update_in_place_on_marks(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        writes = table.cell_writes
        desk.engine.set_mark("SOLUSDT", D("151"), 0.0)
        await until(pilot, lambda: table.row_data("TPL_3").mark == D("151"), what="the mark")
        await pilot.pause(0.1)
        # two SOL plans x (mark, unrealised PnL) cells; no row re-added
        assert table.cell_writes - writes == 4
        assert table.row_count == 6


async def test_resume_asks_first(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await set_desk_state(pilot, DeskStatus.HALTED)
        await desk_dialog(pilot, DeskStatus.ACTIVE)
        await pilot.press("n")
        await pilot.pause(0.1)
        assert desk.ledger.desk() is DeskStatus.HALTED
        await desk_dialog(pilot, DeskStatus.ACTIVE)
        await pilot.press("y")
        await until(pilot, lambda: desk.ledger.desk() is DeskStatus.ACTIVE, what="resume")
        await until(pilot, lambda: not desk.app.query_one("#halt-banner").display, what="the banner to go")
    kinds = [e.kind for e in desk.bridge.runtime.journal.entries() if e.kind in ("halt", "resume")]
    assert kinds == ["halt", "resume"]


async def test_a_close_whose_entry_filled_after_the_preview_closes_the_whole_position(desk: Desk) -> None:
    """DESIGN §3 (issue 8): the stale close is re-translated at send time and closes what is there now."""
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_4")
        await pilot.press("c")
        stale = await preview_screen(pilot)
        desk.engine.set_mark("BTCUSDT", D("98400"), 0.0)  # TPL_4's working entry at 98,500 fills
        await until(pilot, lambda: desk.ledger.get_plan("TPL_4").net_position == D("0.3"), what="the entry fill")
        await pilot.press("y")
        await sent(pilot, stale)
        assert stale.state is PreviewState.DONE
        assert stale.report is not None and stale.report.ok, stale.report.summary()
        assert [line.split(":")[0] for line in stale.report.differences] == ["TPL_4"]
    assert desk.ledger.get_plan("TPL_4").status is PlanStatus.CLOSED
