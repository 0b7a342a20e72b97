"""Issue 11 items 1-2: marking many plans (space, *, u), one directive over the marked plans (t, s, c, X), sorting
(>, <, a header click) and the `stale` / `losing` / `unprotected` filters. Keys are pressed as a person types them."""

from __future__ import annotations

from decimal import Decimal

from core.models import OrderRole
from tests.tui.conftest import SIZE, Desk, preview_screen, ready, screen_of, select, sent, until
from tui.screens.many_inputs import ManyScaleScreen, ManyStopScreen
from tui.screens.preview import PreviewScreen, PreviewState
from tui.screenshots import FROZEN
from tui.widgets.plans_cells import AT
from tui.widgets.plans_table import PlansTable

D = Decimal


def header(table: PlansTable, key: str) -> str:
    return next(c.label.plain for c in table.ordered_columns if c.key.value == key)


async def test_space_marks_and_one_stop_directive_tightens_every_marked_plan(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        before = table.row_data("TPL_2").stop  # type: ignore[union-attr]
        await select(pilot, "TPL_1")
        await pilot.press("space", "down", "space", "down", "space", "space")  # the last plan marked twice: unmarked
        await pilot.pause()
        assert table.marked_ids() == ["TPL_1", "TPL_2"]
        assert header(table, "plan") == "■ 2 marked"
        assert "■ TPL_1" in str(table.get_row("TPL_1")[0])
        await pilot.press("t")
        form = await screen_of(pilot, ManyStopScreen)
        assert "2 plans" in str(form.query_one(".dialog-title").render())
        await pilot.press("1", "percent_sign")
        await pilot.pause()
        assert "stop 2 plans 1 % from each mark" in form.feedback_text
        await pilot.press("enter")
        screen = await preview_screen(pilot)
        assert screen.directive.target_plan_ids == ["TPL_1", "TPL_2"]
        assert "stop 2 plans" in str(screen.query_one("#preview-title").render())
        assert sorted(c.plan_id for c in screen.batch.commands) == ["TPL_1", "TPL_2"]
        await pilot.press("y")
        await sent(pilot, screen)
        assert screen.state is PreviewState.DONE and screen.report is not None and screen.report.ok
        did = screen.batch.directive_id
    [s1] = [o for o in desk.open_orders("TPL_1") if o.role is OrderRole.STOP_LOSS]
    [s2] = [o for o in desk.open_orders("TPL_2") if o.role is OrderRole.STOP_LOSS]
    assert s1.stop_price == D("99000") and s2.stop_price is not None and s2.stop_price < before
    kinds = [e.kind for e in desk.bridge._rt().journal.entries(directive_id=did)]
    assert kinds.count("preview") == 1 and kinds.count("send") <= 1


async def test_mark_shown_by_the_filter_then_close_them_and_unmark(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        await pilot.press("slash", "e", "t", "h", "enter", "asterisk")
        await pilot.pause()
        assert table.marked_ids() == ["TPL_2", "TPL_5"]
        await pilot.press("slash", "escape")  # the marks outlive the filter
        await until(pilot, lambda: table.row_count == 6)
        assert table.marked_count == 2
        await pilot.press("c")
        screen = await preview_screen(pilot, readable=False)
        assert screen.title_text == "close 2 marked plans"
        assert screen.directive.target_plan_ids == ["TPL_2", "TPL_5"] and not screen.halt_desk
        await pilot.press("escape", "u")
        await pilot.pause()
        assert table.marked_count == 0 and header(table, "plan") == "plan"


async def test_x_flattens_the_symbol_or_the_marked_plans(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_3")
        await pilot.press("X")
        screen = await preview_screen(pilot, readable=False)
        assert screen.title_text == "FLATTEN SOLUSDT: 2 plans" and not screen.halt_desk
        assert screen.directive.target_plan_ids == ["TPL_3", "TPL_6"]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(desk.app.screen, PreviewScreen))
        await pilot.press("space", "X")
        screen = await preview_screen(pilot)
        assert screen.title_text == "FLATTEN 1 marked plan" and screen.directive.target_plan_ids == ["TPL_3"]
        await pilot.press("y")
        await sent(pilot, screen)
        assert screen.report is not None and screen.report.ok
    assert desk.open_orders("TPL_3") == [] and desk.open_orders("TPL_6") != []


async def test_scale_many_takes_one_target_and_refuses_a_percent_that_differs(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        table.set_marked(["TPL_3", "TPL_6"])  # SOLUSDT 400 and 120
        await pilot.press("s")
        form = await screen_of(pilot, ManyScaleScreen)
        await pilot.press("5", "0", "percent_sign")
        await pilot.pause()
        assert "2 different targets" in form.feedback_text and "one directive carries one target" in \
            form.feedback_text
        await pilot.press("enter")
        await pilot.pause()
        assert desk.app.screen is form
        form.query_one("#value").value = ""
        await pilot.press("1", "0", "0", "enter")
        screen = await preview_screen(pilot, readable=False)
        assert screen.title_text == "scale 2 plans to 100 each"
        assert screen.directive.size_directive is not None
        assert screen.directive.size_directive.target_position_size == 100
        assert {c.plan_id for c in screen.batch.commands} == {"TPL_3", "TPL_6"}


async def test_sort_cycles_and_survives_live_updates_with_marks_and_cursor(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        await select(pilot, "TPL_4")
        await pilot.press("space", "greater_than_sign")
        await pilot.pause()
        assert table.sort_state == ("upnl", False) and header(table, "upnl").endswith("▲")

        def upnls() -> list[Decimal]:
            return [table.row_data(pid).upnl for pid in table.shown_ids()]  # type: ignore[union-attr]

        assert upnls() == sorted(upnls())
        assert table.selected_plan_id == "TPL_4"
        # a live update that turns the order around: BTC falls far, SOL rises
        table.apply([], marks={"BTCUSDT": D("50000"), "SOLUSDT": D("400")})
        await pilot.pause()
        assert upnls() == sorted(upnls()) and table.shown_ids()[0] == "TPL_1"
        assert table.selected_plan_id == "TPL_4" and table.marked_ids() == ["TPL_4"]
        await pilot.press("less_than_sign")
        await pilot.pause()
        assert upnls() == sorted(upnls(), reverse=True)
        await pilot.press("greater_than_sign", "greater_than_sign")  # size, then symbol
        await pilot.pause()
        assert table.sort_state == ("symbol", False)
        symbols = [table.row_data(p).symbol for p in table.shown_ids()]  # type: ignore[union-attr]
        assert symbols == sorted(symbols)
        await pilot.click(PlansTable, offset=(36, 0))  # the "net position" header: size, largest first
        await pilot.pause()
        assert table.sort_state == ("net", True)
        sizes = [abs(table.row_data(p).net) for p in table.shown_ids()]  # type: ignore[union-attr]
        assert sizes == sorted(sizes, reverse=True)
        assert table.selected_plan_id == "TPL_4"


async def test_stale_and_losing_filters(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        desk.bridge.mark_times = lambda: {"BTCUSDT": FROZEN - 10, "ETHUSDT": FROZEN, "SOLUSDT": FROZEN}
        table.set_filter("stale")
        await pilot.pause()
        assert table.shown_ids() == ["TPL_1", "TPL_4"]
        assert table.get_row("TPL_1")[AT["mark"]].style == "black on yellow"
        table.apply([], marks={"ETHUSDT": D("9000")})  # the shorts on ETH lose
        table.set_filter("losing")
        await pilot.pause()
        assert set(table.shown_ids()) == {"TPL_2", "TPL_5"}
