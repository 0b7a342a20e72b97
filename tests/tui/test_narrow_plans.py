"""The plans table on a narrow terminal: at 80 columns the wide layout showed the plan, symbol, side, position, uPnL
and status, and the stop only after a sideways scroll (the README said the stop stayed on screen). Below the width
the wide layout needs through its stop column, the table takes a narrow layout: tighter columns, the side further
right (the position's sign says long or short), so that the plan, its position, uPnL, status and stop are on screen.
Widening again brings the wide layout back; the sort, the marks, the filter and the cursor's plan survive both."""

from __future__ import annotations

from decimal import Decimal as D

from textual.app import App, ComposeResult

from core.models import PlanStatus, Side
from tests.tui.conftest import Desk, ready, select, until
from tui.bridge_view import PlanRow
from tui.widgets.plans_cells import NARROW, WIDE
from tui.widgets.plans_table import PlansTable

FIRST = ["plan", "symbol", "net", "upnl", "status", "stop"]


def on_screen(table: PlansTable) -> list[str]:
    """The column keys wholly inside the table's width (not scrolled sideways)."""
    room = table.scrollable_content_region.width
    out, x = [], 0
    for column in table.ordered_columns:
        x += column.get_render_width(table)
        if x > room:
            break
        out.append(str(column.key.value))
    return out


def row_text(table: PlansTable, plan_id: str) -> str:
    y = table.get_row_index(plan_id) + 1 - int(table.scroll_y)  # (below the header line, as scrolled)
    return "".join(seg.text for seg in table.render_line(y))


async def test_at_80_columns_the_stop_is_on_screen(desk: Desk) -> None:
    async with desk.app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        await until(pilot, lambda: set(FIRST) <= set(on_screen(table)), 2.0, "the stop column on screen")
        line = row_text(table, "TPL_1")
        assert "98,000" in line and "ACTIVE" in line and "+1" in line, line
        assert "none" in row_text(table, "TPL_4") and "UNPROTECTED" in row_text(table, "TPL_4")


async def test_the_layout_follows_the_width_and_keeps_sort_marks_filter_and_cursor(desk: Desk) -> None:
    async with desk.app.run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        table = desk.app.query_one(PlansTable)
        wide = [str(c.key.value) for c in table.ordered_columns]
        assert wide[:4] == ["plan", "symbol", "side", "net"]
        table.sort_by("net", descending=True)
        await select(pilot, "TPL_3")
        await pilot.press("space")
        await select(pilot, "TPL_5")
        await pilot.press("space")
        await pilot.pause()
        order = table.shown_ids()
        for size in ((80, 24), (160, 50), (90, 30)):
            await pilot.resize_terminal(*size)
            narrow = size[0] < 100
            await until(pilot, lambda n=narrow: (on_screen(table)[:6] == FIRST) == n, 2.0, f"the layout at {size}")
            await pilot.pause()
            assert table.shown_ids() == order, size
            assert table.marked_ids() == ["TPL_3", "TPL_5"], size
            assert table.selected_plan_id == "TPL_5", size
            assert table.sort_state == ("net", True), size
            assert sorted(str(c.key.value) for c in table.ordered_columns) == sorted(wide)
            assert "■ TPL_3" in row_text(table, "TPL_3")
        desk.app.query_one(PlansTable).set_filter("short")
        await pilot.resize_terminal(160, 50)
        await until(pilot, lambda: on_screen(table)[:4] == ["plan", "symbol", "side", "net"], 2.0, "wide again")
        assert sorted(table.shown_ids()) == ["TPL_2", "TPL_5"]


def _row(i: int) -> PlanRow:
    net = D("123456.789") if i % 2 else D("-0.5")  # the odd ones too wide for the narrow net column as they are
    return PlanRow(plan_id=f"TPL_{i:04d}", symbol="BTCUSDT", side=Side.BUY if net > 0 else Side.SELL, net=net,
                   avg_entry=D("100000"), mark=D("100000"), upnl=D(0), stop=D("98000.25"), take_profit=None,
                   open_orders=2, status=PlanStatus.ACTIVE, version=1)


class _TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield PlansTable(id="plans")


async def test_rows_off_screen_are_fitted_to_the_new_widths_when_they_scroll_into_view() -> None:
    """The layout is changed in place (the same columns in a new order and widths): the rows on screen are
    written again at once, the others as they come into view, never shown cut to the old widths."""
    app = _TableApp()
    async with app.run_test(size=(160, 20)) as pilot:
        table = app.query_one(PlansTable)
        table.apply([_row(i) for i in range(80)])
        await pilot.pause()
        assert table.get_cell("TPL_0079", "net").plain == "+123,456.789"  # fits the wide column (14)
        await pilot.resize_terminal(80, 20)
        await until(pilot, lambda: table.column_layout is NARROW, 2.0, "the narrow layout")
        await pilot.pause()
        assert table.get_cell("TPL_0001", "net").plain == "+123.5K"  # on screen: fitted to 11 at once
        table.move_cursor(row=79)
        await pilot.pause()
        await pilot.pause()
        assert table.get_cell("TPL_0079", "net").plain == "+123.5K"
        line = row_text(table, "TPL_0079")
        assert "+123.5K" in line and "98,000.25" in line and "ACTIVE" in line, line
        assert [str(c.key.value) for c in table.ordered_columns][:6] == FIRST
        assert table.row_count == 80 and table.selected_plan_id == "TPL_0079"


async def test_a_layout_chosen_before_the_columns_exist_is_the_one_they_get() -> None:
    table = PlansTable(id="plans")
    table.use_layout(NARROW)

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield table

    async with One().run_test(size=(160, 20)) as pilot:
        await pilot.pause()
        assert table.column_layout is WIDE  # (the resize at mount: 160 columns are wide)
        assert [str(c.key.value) for c in table.ordered_columns] == list(WIDE.keys)
