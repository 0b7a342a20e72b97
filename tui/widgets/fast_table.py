"""FastDataTable: a DataTable of one-line Text cells (no markup, no wrapping) that paints its body cells as segments
straight from their text and style.

DataTable renders every cell through Rich (Padding, console.render_lines), and its render caches are keyed by the
table's update count, so any update_cell or re-sort re-renders every cell on screen that way: ~0.15 ms a cell, about
100 ms for a screen of 50 rows x 12 columns on a loaded machine. This keeps the same output (the snapshot tests
compare it) at a third of the cost, and caches by the cell's value, not the update count.

It also paints one row again, not the table: `set_cell` (DataTable's update_cell writes bump the table-wide update
count, so the next frame rendered every row on screen again and recomputed the line offsets of all 2,000 rows) and
`touch_row` (a row whose style changed) refresh that row's line only. Body lines are cached by the row's own
version, its place, the cursor and hover on it, the crop and the table-wide update count (which add_row,
remove_row, a sort and a resize still bump: those repaint everything, as before). Rows are one line high."""

from __future__ import annotations

from itertools import chain
from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual._segment_tools import line_crop
from textual.cache import LRUCache
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey


class FastDataTable(DataTable[Text]):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._fast_cells: LRUCache[tuple[object, ...], tuple[object, list[list[Segment]]]] = LRUCache(1500)
        self._fast_lines: LRUCache[tuple[object, ...], Strip] = LRUCache(1000)
        self._row_versions: dict[RowKey, int] = {}
        self.rows_painted = 0  # body lines rendered (not served from the cache): for tests and figures

    # ---------------------------------------------------------------------------------------------- one row

    def set_cell(self, row_key: str, column_key: str, value: Text) -> None:
        """update_cell, painting this row again only (no width update: the columns have fixed widths)."""
        rk, ck = RowKey(row_key), ColumnKey(column_key)
        data = self._data.get(rk)
        if data is None or ck not in self._column_locations:
            raise CellDoesNotExist(f"No cell exists for row_key={row_key!r}, column_key={column_key!r}.")
        data[ck] = value
        self.touch_row(rk)

    def touch_row(self, row_key: RowKey | str) -> None:
        """The row's look changed (a cell, its style): render its line again at the next frame."""
        rk = RowKey(row_key) if isinstance(row_key, str) else row_key
        self._row_versions[rk] = self._row_versions.get(rk, 0) + 1
        self._row_render_cache.clear()  # DataTable's own row cache is keyed by the update count, not the row
        index = self._row_locations.get(rk)
        if index is not None:
            y = index + (self.header_height if self.show_header else 0)
            self._refresh_region(Region(0, y, max(self.size.width, self.virtual_size.width), 1))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._fast_cells.clear()
        self._fast_lines.clear()

    def _render_line(self, y: int, x1: int, x2: int, base_style: Style) -> Strip:
        """DataTable._render_line with the body lines cached per row (see the module doc)."""
        width = self.size.width
        try:
            row_key, line_no = self._get_offsets(y)
        except LookupError:
            return Strip.blank(width, base_style)
        if row_key is self._header_row_key:
            return super()._render_line(y, x1, x2, base_style)
        index = self._row_locations.get(row_key)
        cursor, hover = self.cursor_coordinate, self.hover_coordinate
        key = (row_key, self._row_versions.get(row_key, 0), index, line_no, x1, x2, width,
               cursor if cursor.row == index else None, hover if hover.row == index else None, base_style,
               self.cursor_type, self.show_cursor, self._show_hover_cursor, self._update_count,
               self._pseudo_class_state)
        hit = self._fast_lines.get(key)
        if hit is not None:
            return hit
        self.rows_painted += 1
        fixed, scrollable = self._render_line_in_row(row_key, line_no, base_style, cursor_location=cursor,
                                                     hover_location=hover)
        fixed_width = sum(column.get_render_width(self) for column in self.ordered_columns[: self.fixed_columns])
        fixed_line: list[Segment] = list(chain.from_iterable(fixed)) if fixed else []
        scrollable_line: list[Segment] = list(chain.from_iterable(scrollable))
        segments = fixed_line + line_crop(scrollable_line, x1 + fixed_width, x2, width)
        strip = Strip(segments).adjust_cell_length(width, base_style).simplify()
        self._fast_lines[key] = strip
        return strip

    # ---------------------------------------------------------------------------------------------- one cell

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> list[list[Segment]]:
        """A body cell as segments, straight from its one-line Text (no wrapping, no markup): DataTable renders
        each through Rich's Padding and console.render_lines, and its caches are keyed by the table's update
        count, so every live update or re-sort re-rendered every cell on screen that way (~0.15 ms a cell)."""
        if row_index < 0 or column_index < 0:
            return super()._render_cell(row_index, column_index, base_style, width, cursor, hover)
        row_key = self._row_locations.get_key(row_index)
        column_key = self._column_locations.get_key(column_index)
        value = self._data[row_key][column_key]
        key = (id(value), row_index, column_index, base_style, width, cursor, hover, self._show_hover_cursor,
               self._pseudo_class_state)
        hit = self._fast_cells.get(key)
        if hit is not None and hit[0] is value:
            return hit[1]
        component, post = self._get_styles_to_render_cell(
            False, False, False, hover, cursor, self.show_cursor, self._show_hover_cursor,
            self.cursor_foreground_priority == "css", self.cursor_background_priority == "css")
        pre = base_style + Style.from_meta({"row": row_index, "column": column_index}) + component
        pad = self.cell_padding
        inner = max(width - 2 * pad, 0)
        text = value.plain if isinstance(value, Text) else str(value)
        n = cell_len(text)
        if n > inner:
            text = set_cell_size(text, inner)
        elif isinstance(value, Text) and value.justify == "right":
            text = " " * (inner - n) + text
        else:
            text = text + " " * (inner - n)
        own = value.style if isinstance(value, Text) else ""
        body = pre + (Style.parse(own) if isinstance(own, str) else own) + post if own else pre + post
        space = " " * pad
        lines = [[Segment(space, pre + post), Segment(text, body), Segment(space, pre + post)]]
        self._fast_cells[key] = (value, lines)
        return lines

