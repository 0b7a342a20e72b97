"""Sorting and marking the plans table (a mixin of tui.widgets.plans_table.PlansTable, before DataTable in its
bases): `>` cycles the sort column (uPnL, size, symbol, age), `<` flips its direction, a click on a header sorts by
that column; `space` marks the cursor's plan, `*` every plan shown, `u` clears the marks. Rows are put back in the
sort order by moving DataTable's row locations (never by re-adding rows); the cursor follows its plan."""

from __future__ import annotations

from collections.abc import Collection
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual._two_way_dict import TwoWayDict
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from tui.plan_filter import PRICED_SORTS, SORT_CYCLE, SORT_NAMES, SORTS, sorted_ids, sorted_keys
from tui.widgets.plans_cells import MARK

if TYPE_CHECKING:
    from tui.bridge_view import PlanRow
    from tui.widgets.plans_cells import Cell, Layout


class SortAndMarks:
    """Needs from PlansTable: its plan state (`_all`, `_age`, `_shown`, `_marked`, `_sort`, `_descending`,
    `_order`), `current`, `refresh_visible`, `shown_ids`, `selected_plan_id`, and DataTable's API."""

    if TYPE_CHECKING:
        _all: dict[str, PlanRow]
        _marks: dict[str, Decimal]
        _age: dict[str, int]
        _shown: dict[str, tuple[Cell, ...]]
        _marked: dict[str, None]
        _sort: str | None
        _descending: bool
        _order: list[str]
        _layout: Layout
        _row_locations: TwoWayDict[Any, int]
        _update_count: int
        rows: dict[Any, Any]
        columns: dict[Any, Any]
        row_count: int
        cursor_row: int
        MarksChanged: Any

        @property
        def selected_plan_id(self) -> str | None: ...
        def current(self, row: PlanRow) -> PlanRow: ...
        def refresh_visible(self) -> None: ...
        def shown_ids(self) -> list[str]: ...
        def refresh(self, *a: Any, **kw: Any) -> Any: ...
        def move_cursor(self, **kw: Any) -> None: ...
        def notify(self, message: str, **kw: Any) -> None: ...
        def post_message(self, message: Any) -> bool: ...

    # ---------------------------------------------------------------------------------------------- sorting

    def sort_by(self, column: str | None, descending: bool | None = None) -> None:
        """Order the rows by `column` (a COLUMNS key; None: the ledger's order); the cursor stays on its plan."""
        self._sort = column
        self._descending = SORTS[column][1] if descending is None and column else bool(descending)
        self._reorder()
        self._show_labels()
        self.refresh_visible()

    @property
    def sort_state(self) -> tuple[str | None, bool]:
        return self._sort, self._descending

    def action_sort_next(self) -> None:
        cycle = SORT_CYCLE
        nxt = cycle[(cycle.index(self._sort) + 1) % len(cycle)] if self._sort in cycle else cycle[1]
        self.sort_by(nxt)
        self.notify(f"sorted by {self._sort_name()}" if nxt else "in the ledger's order", timeout=2)

    def action_sort_reverse(self) -> None:
        if self._sort is None:
            self.sort_by("plan", descending=True)  # the ledger's order reversed: newest first
        else:
            self.sort_by(self._sort, not self._descending)

    def _sort_name(self) -> str:
        if self._sort is None:
            return "ledger order"
        return f"{SORT_NAMES.get(self._sort, self._sort)} {'▼' if self._descending else '▲'}"

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        column = str(event.column_key.value)
        if column == self._sort:
            self.sort_by(column, not self._descending)
        else:
            self.sort_by(column)

    def _reorder(self, *, follow: bool = True) -> None:
        """Put the shown rows in the sort order (DataTable.sort would compare rendered cells: this compares the
        plans' values at the newest marks). Only the row order changes; the cursor follows its plan."""
        keep = self.selected_plan_id if follow else None
        shown = self._shown
        if self._sort is None:
            order = sorted(shown, key=self._age.__getitem__)
        elif self._sort in PRICED_SORTS:
            key, rows, marks, age = PRICED_SORTS[self._sort], self._all, self._marks, self._age
            order = sorted_keys([(key(r, marks.get(r.symbol)), age[pid], pid) for pid in shown
                                 for r in (rows[pid],)], self._descending)
        else:
            order = sorted_ids(((pid, self.current(self._all[pid]), self._age[pid]) for pid in shown),
                               self._sort, self._descending)
        if order == self._order and len(order) == self.row_count:
            return
        self._order = order
        rows = self.rows
        self._row_locations = TwoWayDict({rows[pid].key: i for i, pid in enumerate(order) if pid in rows})
        self._update_count += 1
        self.refresh()
        if keep is not None and keep in shown:
            index = self._row_locations.get(rows[keep].key)
            if index is not None and index != self.cursor_row:
                self.move_cursor(row=index, animate=False)

    def _show_labels(self) -> None:
        """The plan column's header counts the marks; the sorted column's header shows the direction."""
        for key, label, width, right in self._layout.columns:
            text = label
            if key == "plan" and self._marked:
                text = f"{MARK}{len(self._marked)} marked"
            if key == self._sort:
                text = f"{text[:width - 2]} {'▼' if self._descending else '▲'}"
            column = self.columns.get(ColumnKey(key))
            if column is not None and column.label.plain != text:
                column.label = Text(text, justify="right" if right else "left",
                                    style="bold reverse" if key == "plan" and self._marked else "")
                self._update_count += 1
        self.refresh()

    # ---------------------------------------------------------------------------------------------- marks

    def action_toggle_mark(self) -> None:
        pid = self.selected_plan_id
        if pid is None:
            return
        if self._marked.pop(pid, 0) == 0:
            self._marked[pid] = None
        self._marks_changed()

    def action_mark_shown(self) -> None:
        """Mark every plan the filter shows (all of them without a filter)."""
        for pid in self.shown_ids():
            self._marked[pid] = None
        self._marks_changed()

    def action_clear_marks(self) -> None:
        if self._marked:
            self._marked.clear()
            self._marks_changed()

    def set_marked(self, plan_ids: Collection[str]) -> None:
        self._marked = {pid: None for pid in plan_ids if pid in self._all}
        self._marks_changed()

    def marked_ids(self) -> list[str]:
        """The marked plans that still exist, in the order they were marked."""
        return [pid for pid in self._marked if pid in self._all]

    @property
    def marked_count(self) -> int:
        return len(self._marked)

    def _marks_changed(self) -> None:
        self._show_labels()
        self.refresh_visible()
        self.post_message(self.MarksChanged(len(self._marked)))
