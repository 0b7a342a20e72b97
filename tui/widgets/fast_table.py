"""FastDataTable: a DataTable of one-line Text cells (no markup, no wrapping) that paints its body cells as segments
straight from their text and style.

DataTable renders every cell through Rich (Padding, console.render_lines), and its render caches are keyed by the
table's update count, so any update_cell or re-sort re-renders every cell on screen that way: ~0.15 ms a cell, about
100 ms for a screen of 50 rows x 12 columns on a loaded machine. This keeps the same output (the snapshot tests
compare it) at a third of the cost, and caches by the cell's value, not the update count."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.widgets import DataTable


class FastDataTable(DataTable[Text]):
    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self._fast_cells: LRUCache[tuple[object, ...], tuple[object, list[list[Segment]]]] = LRUCache(1500)

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

