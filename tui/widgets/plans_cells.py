"""The plans table's columns and cells (tui.widgets.plans_table): what one plan's row shows, in which style, and
whether it passes the filter. Pure: no widget state."""

from __future__ import annotations

from collections.abc import Collection

from rich.text import Text

from core.models import PlanStatus, Side
from tui.bridge_view import PlanRow
from tui.plan_filter import parse_filter
from tui.widgets.fmt import DASH, avg, fit, num, pnl, signed

# (key, label, width, right-aligned), in the order an operator needs them: what a narrow terminal cuts off (the table
# scrolls sideways) is the right-hand end, so the plan, its position, its P&L, whether it is protected and its stop
# come first (on 120 columns up to the order count: where a column is cut at the edge, it is cut in its blank left
# padding, not in its digits).
Column = tuple[str, str, int, bool]
COLUMNS: list[Column] = [
    ("plan", "plan", 14, False),
    ("symbol", "symbol", 9, False),
    ("side", "side", 5, False),
    ("net", "net position", 14, True),
    ("upnl", "unrealised PnL", 15, True),
    ("status", "status", 11, False),
    ("stop", "stop", 13, True),
    ("tp", "take profit", 13, True),
    ("orders", "orders", 6, True),
    ("mark", "mark", 13, True),
    ("avg", "avg entry", 13, True),
    ("ver", "ver", 5, True),
]
# Below the width the wide layout needs through its stop (WIDE.needs), the narrow one: tighter columns and the side
# further right (the position's sign says long or short), so that 80 columns show the plan, symbol, position, uPnL,
# status and stop, and the take profit next to them is cut in its blank padding. The same columns, keyed alike:
# sorting, marks and header clicks do not change with the layout.
NARROW_COLUMNS: list[Column] = [
    ("plan", "plan", 12, False),
    ("symbol", "symbol", 8, False),
    ("net", "net", 11, True),
    ("upnl", "uPnL", 11, True),
    ("status", "status", 11, False),
    ("stop", "stop", 11, True),
    ("tp", "TP", 11, True),  # (a short label: where 80 columns cut this column, they cut blank padding)
    ("side", "side", 5, False),
    ("orders", "orders", 6, True),
    ("mark", "mark", 11, True),
    ("avg", "avg entry", 11, True),
    ("ver", "ver", 5, True),
]


class Layout:
    """One arrangement of the plans table's columns: their order, labels and widths (cells are fitted to them)."""

    __slots__ = ("columns", "keys", "name", "needs", "right", "w")

    def __init__(self, name: str, columns: list[Column], padding: int = 1) -> None:
        self.name = name
        self.columns = tuple(columns)
        self.keys = tuple(key for key, _, _, _ in columns)
        self.right = tuple(right for _, _, _, right in columns)
        self.w = {key: width for key, _, width, _ in columns}
        upto = self.keys.index("stop") + 1
        #: the width its columns take through the stop, with their padding
        self.needs = sum(width + 2 * padding for _, _, width, _ in columns[:upto])


WIDE = Layout("wide", COLUMNS)
NARROW = Layout("narrow", NARROW_COLUMNS)


def layout_for(width: int) -> Layout:
    """The layout for a table `width` cells wide (its vertical scrollbar included): the wide one where its stop is
    on screen beside a scrollbar, else the narrow one."""
    return WIDE if width <= 0 or width >= WIDE.needs + 2 else NARROW


W = WIDE.w
KEYS = WIDE.keys
#: a column's place in a row's cells (the wide layout)
AT = {key: i for i, key in enumerate(KEYS)}
Cell = tuple[str, str]  # (text, style)


MARK = "■ "


def cells_of(row: PlanRow, marked: bool = False, stale: bool = False, layout: Layout = WIDE) -> tuple[Cell, ...]:
    """The row's cells in the layout's order, each fitted to its column."""
    w = layout.w
    long = row.side is Side.BUY
    closed = row.status is PlanStatus.CLOSED
    dim = "dim" if closed else ""
    up = row.upnl
    pnl_style = "dim" if closed or up is None or up == 0 else ("green" if up > 0 else "red")
    unprotected = row.stop is None and row.net != 0
    cells: dict[str, Cell] = {
        "plan": (fit(MARK + row.plan_id, w["plan"]), "bold reverse") if marked
        else (fit(row.plan_id, w["plan"]), "bold" if not closed else "dim"),
        "symbol": (fit(row.symbol, w["symbol"]), dim),
        "side": ("LONG" if long else "SHORT", dim or ("green" if long else "magenta")),
        "net": (fit(signed(row.net), w["net"], row.net, sign=True), dim),
        "upnl": (fit(pnl(up), w["upnl"], up, sign=True), pnl_style),
        "status": ("UNPROTECTED", "bold white on red") if row.unprotected and not closed
        else (str(row.status), "dim" if closed else "green"),
        "stop": ("none" if unprotected else fit(num(row.stop), w["stop"], row.stop), "yellow" if unprotected else dim),
        "tp": (fit(num(row.take_profit), w["tp"], row.take_profit), dim),
        "mark": (fit(num(row.mark), w["mark"], row.mark), "black on yellow") if stale and not closed
        else (fit(num(row.mark), w["mark"], row.mark), dim),
        "avg": (fit(avg(row.avg_entry), w["avg"], row.avg_entry) if row.net != 0 else DASH, dim),
        "orders": (str(row.open_orders), dim),
        "ver": (str(row.version), "dim"),
    }
    return tuple(cells[key] for key in layout.keys)


def row_matches(row: PlanRow, needle: str, stale: Collection[str] = ()) -> bool:
    """The filter (tui.plan_filter): several terms that must all match (`eth short`), exact ids (`TPL_12`), and
    `unprotected` (3+ letters), `losing`, `winning`, `long`, `short`, `flat`, `active`, `closed`."""
    f = parse_filter(needle)
    if f.empty:
        return True
    if row.status is PlanStatus.CLOSED and any(len(t) >= 3 and "unprotected".startswith(t) for t in f.terms):
        return False
    return f.matches(row, stale)


def render_cell(cell: Cell, right: bool) -> Text:
    return Text(cell[0], style=cell[1], justify="right" if right else "left", no_wrap=True)
