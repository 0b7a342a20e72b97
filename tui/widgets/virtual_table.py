"""VirtualTable: a read-only table that paints only the lines on screen (Line API), for previews of thousands of
commands. A sticky header line; rows keyed by any hashable; `update_row` repaints one line."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from functools import lru_cache

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

Cell = tuple[str, str]  # (text, rich style)


@lru_cache(maxsize=256)
def _style(spec: str) -> Style:
    return Style.parse(spec) if spec else Style()


def _fit(text: str, width: int, right: bool) -> str:
    n = cell_len(text)
    if n > width:
        out = ""
        for ch in text:
            if cell_len(out + ch) > width - 1:
                break
            out += ch
        return out + "…" + " " * (width - cell_len(out) - 1)
    pad = " " * (width - n)
    return pad + text if right else text + pad


class VirtualTable(ScrollView, can_focus=True):
    """Columns are (label, width, right-aligned); width 0 means "the rest of the line"."""

    DEFAULT_CSS = """
    VirtualTable { height: 1fr; }
    """

    def __init__(self, columns: Sequence[tuple[str, int, bool]], *, id: str | None = None) -> None:  # noqa: A002
        super().__init__(id=id)
        self.columns = list(columns)
        self._keys: list[Hashable] = []
        self._index: dict[Hashable, int] = {}
        self._rows: list[Sequence[Cell] | None] = []  # None: not computed yet (see set_lazy)
        self._make: Callable[[int], Sequence[Cell]] | None = None

    # ---------------------------------------------------------------------------------------------- data

    def set_rows(self, rows: Sequence[tuple[Hashable, Sequence[Cell]]]) -> None:
        self._keys = [k for k, _ in rows]
        self._rows = [cells for _, cells in rows]
        self._index = {k: i for i, k in enumerate(self._keys)}
        self._resize()

    def set_lazy(self, keys: Sequence[Hashable], make: Callable[[int], Sequence[Cell]]) -> None:
        """Rows whose cells are computed when first painted or read: `make(index)`. For batches of thousands."""
        self._keys = list(keys)
        self._rows = [None] * len(self._keys)
        self._make = make
        self._index = {k: i for i, k in enumerate(self._keys)}
        self._resize()

    def release(self) -> None:
        """Drop every row (a closing screen): a closed screen lingers in its widget cycles until the collector's
        next pass over the older generations, and that pass would scan every row key it still held."""
        self._keys, self._rows, self._index, self._make = [], [], {}, None

    def _cells(self, i: int) -> Sequence[Cell]:
        cells = self._rows[i]
        if cells is None:
            assert self._make is not None
            cells = self._rows[i] = self._make(i)
        return cells

    def add_row(self, key: Hashable, cells: Sequence[Cell]) -> None:
        self._index[key] = len(self._rows)
        self._keys.append(key)
        self._rows.append(cells)
        self._resize()

    def update_row(self, key: Hashable, cells: Sequence[Cell]) -> bool:
        i = self._index.get(key)
        if i is None:
            return False
        if self._cells(i) != cells:
            self._rows[i] = cells
            y = i + 1 - round(self.scroll_offset.y)
            if 1 <= y < self.size.height:
                self.refresh_line(y)
        return True

    def has_row(self, key: Hashable) -> bool:
        return key in self._index

    def row(self, key: Hashable) -> Sequence[Cell] | None:
        i = self._index.get(key)
        return None if i is None else self._cells(i)

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def text_of(self, key: Hashable) -> str:
        cells = self.row(key)
        return "" if cells is None else " ".join(c[0] for c in cells)

    def _resize(self) -> None:
        width = sum(w + 1 for _, w, _ in self.columns if w) + 40
        self.virtual_size = Size(width, len(self._rows) + 1)
        self.refresh()

    # ---------------------------------------------------------------------------------------------- paint

    def _widths(self) -> list[int]:
        fixed = sum(w + 1 for _, w, _ in self.columns if w)
        rest = max(self.size.width - fixed - 1, 10)
        return [w if w else rest for _, w, _ in self.columns]

    def _line(self, cells: Sequence[Cell], base: Style, header: bool) -> Strip:
        segs: list[Segment] = [Segment(" ", base)]
        for (text, spec), w, (_, _, right) in zip(cells, self._widths(), self.columns, strict=False):
            style = base + _style(spec)
            segs.append(Segment(_fit(text, w, right), style))
            segs.append(Segment(" ", base))
        if header:
            segs = [Segment(s.text, (s.style or base) + Style(bold=True, underline=False)) for s in segs]
        return Strip(segs)

    def render_line(self, y: int) -> Strip:
        base = self.rich_style
        width = self.size.width
        if y == 0:
            head = [(label, "bold") for label, _, _ in self.columns]
            return self._line(head, base, True).crop_extend(0, width, base)
        i = round(self.scroll_offset.y) + y - 1
        if i < 0 or i >= len(self._rows):
            return Strip.blank(width, base)
        return self._line(self._cells(i), base, False).crop_extend(0, width, base)

    def on_resize(self) -> None:
        self.refresh()
