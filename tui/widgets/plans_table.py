"""The plans table: a DataTable keyed by plan id. Rows are updated in place: only the rows on screen are recomputed,
and only their cells whose text changed are written (set_cell). Rows are never cleared and re-added on updates;
rows scrolled out of view are brought up to date when they scroll back in. Marks come separately from the plan rows
(a mark moves every row of its symbol), so the totals are kept per symbol and cost nothing per row. A changed
row paints its own line only (tui.widgets.fast_table).

Finding and choosing plans: `space` marks the cursor's plan (a ■ before its id; the plan column's header counts
them), `*` marks every plan the filter shows, `u` clears the marks; `>` cycles the sort column (uPnL, size,
symbol, age), `<` flips its direction, and a click on a header sorts by that column (tui.widgets.plans_order). The
sort, the marks and the cursor's plan survive live updates: rows are put back in order after each update, the
cursor follows its plan. The columns and what a row's cells show are tui.widgets.plans_cells."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal

from rich.style import Style
from rich.text import Text
from textual import events
from textual._two_way_dict import TwoWayDict
from textual.binding import Binding
from textual.cache import LRUCache
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist

from core.models import PlanStatus
from tui.bridge_view import PlanRow
from tui.plan_filter import parse_filter
from tui.widgets.fast_table import FastDataTable
from tui.widgets.plans_cells import (
    COLUMNS,
    MARK,
    WIDE,
    Cell,
    Layout,
    W,
    cells_of,
    layout_for,
    render_cell,
    row_matches,
)
from tui.widgets.plans_order import SortAndMarks

__all__ = ["COLUMNS", "MARK", "W", "PlansTable", "cells_of"]


def _label(label: str, right: bool) -> Text:
    return Text(label, justify="right" if right else "left")
ZERO = Decimal(0)


class PlansTable(SortAndMarks, FastDataTable):
    """`apply(rows, removed, marks)` merges changes; `set_filter(text)` shows matching rows only; `marked_ids()`
    are the plans chosen with space / `*`; `sort_by(column)` orders the rows."""

    BINDINGS = [
        Binding("home", "first_row", "First plan", id="plans.first", show=False),
        Binding("end", "last_row", "Last plan", id="plans.last", show=False),
        Binding("space", "toggle_mark", "Mark / unmark the plan", id="plans.mark", show=False),
        Binding("asterisk", "mark_shown", "Mark every plan shown", id="plans.mark_shown", key_display="*",
                show=False),
        Binding("u", "clear_marks", "Unmark all", id="plans.unmark", show=False),
        Binding("greater_than_sign", "sort_next", "Sort: next column", id="plans.sort", key_display=">",
                show=False),
        Binding("less_than_sign", "sort_reverse", "Sort: reverse", id="plans.sort_reverse", key_display="<",
                show=False),
    ]

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1)

    @dataclass
    class Selected(Message):
        """The highlighted plan changed."""

        plan_id: str | None

    @dataclass
    class MarksChanged(Message):
        """Plans were marked or unmarked: `count` are marked now."""

        count: int

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id, cursor_type="row", zebra_stripes=False, cell_padding=1)
        # DataTable's render caches are keyed by its update count, so every live update leaves the old entries
        # as garbage-in-waiting: 10,000 cells and 1,000 lines of it are long-lived objects that make the cyclic
        # GC's full passes slow (hundreds of ms at 2,000 plans). A screen's worth is all that is ever reused.
        self._cell_render_cache = LRUCache(1500)
        self._row_render_cache = LRUCache(150)
        self._line_cache = LRUCache(150)
        self._all: dict[str, PlanRow] = {}  # every plan, in ledger order (mark as of its last refresh)
        self._age: dict[str, int] = {}  # plan id -> its place in the ledger's order (sorting by age)
        self._marks: dict[str, Decimal] = {}  # newest mark per symbol
        self._shown: dict[str, tuple[Cell, ...]] = {}  # what each row in the table displays now
        self._agg: dict[str, list[Decimal]] = {}  # per symbol over ACTIVE rows: [sum of net, sum of avg * net]
        self._active = 0
        self._layout: Layout = WIDE  # the columns' order and widths: WIDE, or NARROW below WIDE.needs (on_resize)
        self._marked: dict[str, None] = {}  # plans chosen with space / `*`, in the order they were marked
        self._sort: str | None = None  # column key, or None: the ledger's order
        self._descending = False
        self._order: list[str] = []  # plan ids in the order the table shows them (when sorted)
        self._highlighted: str | None = None
        self.stale_source: Callable[[], Collection[str]] = frozenset  # symbols whose mark is stale (the app sets it)
        self._stale: Collection[str] = frozenset()
        self.filter_text = ""
        self.cell_writes = 0  # cells written after being added (tests and the benchmark read it)

    def on_mount(self) -> None:
        self._add_columns()
        self.watch(self, "scroll_y", lambda _old, _new: self.refresh_visible(), init=False)
        self.set_interval(1.0, self.check_stale, name="stale-marks")  # a mark goes stale when nothing arrives

    def check_stale(self, *, paint: bool = True) -> None:
        """Ask which symbols' marks are stale; when that changed, re-filter (`stale`) and repaint the mark cells."""
        stale = frozenset(self.stale_source())
        if stale == self._stale:
            return
        self._stale = stale
        if "stale" in parse_filter(self.filter_text).terms:
            self.set_filter(self.filter_text, force=True)
        elif paint:
            self.refresh_visible()

    # ---------------------------------------------------------------------------------------------- data

    def _count(self, row: PlanRow, sign: int) -> None:
        if row.status is not PlanStatus.ACTIVE:
            return
        self._active += sign
        agg = self._agg.setdefault(row.symbol, [ZERO, ZERO])
        agg[0] += sign * row.net
        agg[1] += sign * row.avg_entry * row.net

    def current(self, row: PlanRow) -> PlanRow:
        return row.at_mark(self._marks.get(row.symbol))

    def _cells(self, row: PlanRow) -> tuple[Cell, ...]:
        return cells_of(self.current(row), row.plan_id in self._marked, row.symbol in self._stale, self._layout)

    # ---------------------------------------------------------------------------------------------- layout

    def _add_columns(self) -> None:
        for key, label, width, right in self._layout.columns:
            self.add_column(_label(label, right), key=key, width=width)

    @property
    def column_layout(self) -> Layout:
        """The columns' arrangement now (plans_cells.WIDE or NARROW). (Not `layout`: Widget.layout is Textual's
        CSS layout.)"""
        return self._layout

    def on_resize(self, event: events.Resize) -> None:
        self.use_layout(layout_for(event.size.width))

    def use_layout(self, layout: Layout) -> None:
        """Arrange the columns as `layout` says, in place: the same columns (their keys, the rows' cells) in the
        layout's order and widths, the table's caches dropped and every row's cells due again (refresh_visible
        writes the rows on screen now, fitted to the new widths; the others as they scroll into view, as after any
        update). Only when the layout changes (a resize across WIDE.needs). Clearing and adding 2,000 rows again
        took ~0.4 s and the resize's paint after it ~1.5 s; this is one screen's worth of rows."""
        if layout is self._layout:
            return
        self._layout = layout
        if not self.columns:  # not mounted yet: on_mount adds them in this layout
            return
        old = self.columns
        self.columns = {}
        self._column_locations = TwoWayDict({})
        for index, (key, label, width, right) in enumerate(layout.columns):
            column = old[ColumnKey(key)]
            column.label = _label(label, right)
            column.width = width
            column.content_width = len(label)
            self.columns[column.key] = column
            self._column_locations[column.key] = index
        self._shown = dict.fromkeys(self._shown, ())  # (no cells shown: all of them are written again)
        self._fast_cells.clear()
        self._fast_lines.clear()
        self._cell_render_cache.clear()
        self._row_render_cache.clear()
        self._line_cache.clear()
        self._require_update_dimensions = True
        self._update_count += 1
        self._show_labels()
        self.refresh_visible()
        self.refresh()

    def _add(self, row: PlanRow) -> None:
        cells = self._cells(row)
        self.add_row(*(render_cell(c, r) for c, r in zip(cells, self._layout.right, strict=True)), key=row.plan_id)
        self._shown[row.plan_id] = cells

    def apply(self, rows: list[PlanRow], removed: list[str] | None = None,
              marks: dict[str, Decimal] | None = None, *, paint: bool = True) -> None:
        """Merge new and changed rows and new marks, then bring the rows on screen up to date. With `paint`
        False (a dialog is open over the table) the cells are left as they are until the next painting apply."""
        if marks:
            self._marks.update(marks)
        self.check_stale(paint=False)
        unmarked = False
        for pid in removed or ():
            old = self._all.pop(pid, None)
            if old is not None:
                self._count(old, -1)
            self._drop(pid)
            unmarked |= self._marked.pop(pid, 0) is None
        for row in rows:
            if row.mark is not None:
                self._marks.setdefault(row.symbol, row.mark)
            old = self._all.get(row.plan_id)
            if old is not None:
                self._count(old, -1)
            else:
                self._age[row.plan_id] = len(self._age)
            self._all[row.plan_id] = row
            self._count(row, +1)
            if not row_matches(self.current(row), self.filter_text, self._stale):
                self._drop(row.plan_id)
            elif row.plan_id not in self._shown:
                self._add(row)
        if unmarked:
            self._marks_changed()
        if self._sort is not None and (rows or removed or (marks and self._sort in ("upnl", "mark"))):
            self._reorder()
        if paint:
            self.refresh_visible()

    def refresh_visible(self) -> None:
        """Recompute the rows on screen (and a few around) and write the cells that changed."""
        if not self.row_count:
            return
        top = max(int(self.scroll_y) - 2, 0)
        bottom = min(int(self.scroll_y) + max(self.size.height, 1) + 2, self.row_count)
        for index in range(top, bottom):
            pid = self._row_locations.get_key(index)
            if pid is None:
                continue
            key = str(pid.value)
            row = self._all.get(key)
            if row is None:
                continue
            cells = self._cells(row)
            old = self._shown.get(key)
            if old == cells:
                continue
            before: tuple[Cell | None, ...] = old or (None,) * len(cells)  # () after use_layout: every cell
            keys, right = self._layout.keys, self._layout.right
            for i, (new_cell, old_cell) in enumerate(zip(cells, before, strict=True)):
                if new_cell != old_cell:
                    self.set_cell(key, keys[i], render_cell(new_cell, right[i]))
                    self.cell_writes += 1
            self._shown[key] = cells

    def _drop(self, plan_id: str) -> None:
        if self._shown.pop(plan_id, None) is not None:
            try:
                self.remove_row(plan_id)
            except RowDoesNotExist:
                pass

    def set_filter(self, text: str, *, force: bool = False) -> None:
        """Show only rows matching `text` (tui.plan_filter), in the current sort order (else the ledger's)."""
        text = text.strip()
        if text == self.filter_text and not force:
            return
        keep = self.selected_plan_id
        self.filter_text = text
        if not force:
            self._stale = frozenset(self.stale_source())
        self.clear()
        self._shown.clear()
        self._order = []
        for r in self._all.values():
            if row_matches(self.current(r), text, self._stale):
                self._add(r)
        if self._sort is not None:
            self._reorder(follow=False)
        if keep is not None and keep in self._shown:
            self.move_cursor(row=self.get_row_index(keep))

    # ---------------------------------------------------------------------------------------------- reads

    def row_data(self, plan_id: str) -> PlanRow | None:
        """The plan's row with the newest mark."""
        row = self._all.get(plan_id)
        return None if row is None else self.current(row)

    def plan_rows(self) -> list[PlanRow]:
        """Every plan's row with the newest mark (not `rows`: DataTable's own `rows` dict would shadow it)."""
        return [self.current(r) for r in self._all.values()]

    def shown_ids(self) -> list[str]:
        """The plans the table shows, top to bottom."""
        return [str(self._row_locations.get_key(i).value) for i in range(self.row_count)]

    @property
    def stale_symbols(self) -> Collection[str]:
        return self._stale

    @property
    def total_plans(self) -> int:
        return len(self._all)

    @property
    def active_plans(self) -> int:
        return self._active

    def unrealised_total(self) -> Decimal:
        """Unrealised PnL of every ACTIVE plan at the newest marks (per-symbol sums: no loop over rows)."""
        total = ZERO
        for symbol, (net, cost) in self._agg.items():
            mark = self._marks.get(symbol)
            if mark is None:
                continue
            total += mark * net - cost
        return total

    @property
    def visible_count(self) -> int:
        return len(self._shown)

    @property
    def selected_plan_id(self) -> str | None:
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key
        except Exception:
            return None
        return None if key.value is None else str(key.value)

    def select_plan(self, plan_id: str) -> None:
        if plan_id in self._shown:
            self.move_cursor(row=self.get_row_index(plan_id))

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value if event.row_key is not None else None
        pid = None if key is None else str(key)
        if pid != self._highlighted or pid is None:  # a re-sort moves the cursor with its plan: not a new plan
            self._highlighted = pid
            self.post_message(self.Selected(pid))

    # ---------------------------------------------------------------------------------------------- alert marks
    # (tui.app_alerts): a row whose plan id or symbol has an active alert gets the `plans--alerted` row style
    # (its colour is in app.tcss)

    COMPONENT_CLASSES = {"plans--alerted"}
    _alerted: frozenset[str] = frozenset()

    def set_alerted(self, subjects: set[str]) -> None:
        """Mark the rows of these plan ids and symbols (an empty set clears every mark); only the rows whose mark
        changed are painted again."""
        if subjects == self._alerted:
            return
        old, new = self._alerted, frozenset(subjects)
        self._alerted = new
        for pid in self._shown:
            symbol = self._all[pid].symbol
            if (pid in old or symbol in old) != (pid in new or symbol in new):
                self.touch_row(pid)

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        style = super()._get_row_style(row_index, base_style)
        if self._alerted and row_index >= 0:
            key = self._row_locations.get_key(row_index)
            row = None if key is None else self._all.get(str(key.value))
            if row is not None and (row.plan_id in self._alerted or row.symbol in self._alerted):
                style += self.get_component_styles("plans--alerted").rich_style
        return style
