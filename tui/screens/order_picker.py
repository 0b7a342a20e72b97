"""`x`: choose one open order of the selected plan to cancel. Arrow keys move, enter previews the cancel (nothing is
sent from here), escape backs out. Protective orders (stops, take profits) are marked; the plan's last stop says
that cancelling it leaves the plan UNPROTECTED."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from core.models import Order, OrderRole, OrderType, TradePlan
from tui.screens.guarded import GuardedModal
from tui.widgets.desk_input import panic_binding
from tui.widgets.fmt import num, signed
from tui.widgets.key_footer import KeyFooter


def open_orders(plan: TradePlan) -> list[Order]:
    """The plan's open orders, protective ones first (what an operator is most careful with), then by id."""
    orders = [o for o in plan.orders if o.is_open]
    return sorted(orders, key=lambda o: (not o.role.is_protective, o.order_id))


def price_cell(o: Order) -> str:
    if o.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
        return f"stop {num(o.stop_price)}" + (f" @ {num(o.price)}" if o.price is not None else "")
    return num(o.price) if o.price is not None else "market"


STATUS_SHORT = {"PARTIALLY_FILLED": "PARTIAL"}


def _widths(narrow: bool) -> tuple[int, int, int]:
    """(remaining, price / stop, status) column widths; narrow: the picker fits 80 columns, ids shortened."""
    return (10, 16, 7) if narrow else (12, 20, 16)


def order_prompt(o: Order, *, last_stop: bool, narrow: bool = False) -> Text:
    qty_w, px_w, st_w = _widths(narrow)
    t = Text(no_wrap=True, overflow="ellipsis")
    prot = o.role.is_protective
    t.append("◆ " if prot else "  ", "bold yellow")
    t.append(f"{o.role:<11} ", "bold yellow" if prot else "bold")
    t.append(f"{o.side:<4} {o.type:<11} ")
    t.append(f"{num(o.remaining):>{qty_w}} ", "bold")
    t.append(f"{price_cell(o):>{px_w}} ")
    status = STATUS_SHORT.get(str(o.status), str(o.status)) if narrow else str(o.status)
    t.append(f"{status:<{st_w}} ", "green" if o.status == "OPEN" else "yellow")
    t.append("…" + o.order_id[-6:] if narrow else o.order_id, "dim")
    if last_stop:
        t.append("\n  ", "")
        t.append(" ⚠ the plan's only stop: cancelling it leaves the plan UNPROTECTED ", "bold white on dark_red")
    return t


def head_line(narrow: bool) -> str:
    qty_w, px_w, st_w = _widths(narrow)
    return (f"  {'role':<11} {'side':<4} {'type':<11} {'remaining':>{qty_w}} {'price / stop':>{px_w}} "
            f"{'status':<{st_w}} order")


class OrderPickerScreen(GuardedModal[str | None]):
    CSS_PATH = "order_picker.tcss"
    BINDINGS = [Binding("escape", "back", "Back", id="picker.back"), panic_binding("picker")]

    def __init__(self, plan: TradePlan, **kw: Any) -> None:
        super().__init__(**kw)
        self.plan = plan
        self.orders = open_orders(plan)
        stops = [o for o in self.orders if o.role is OrderRole.STOP_LOSS]
        self.last_stop = stops[0].order_id if len(stops) == 1 and plan.net_position != 0 else None

    def compose(self) -> ComposeResult:
        p = self.plan
        with Vertical(classes="dialog order-picker"):
            yield Static(f"Cancel one order of {p.plan_id}", classes="dialog-title")
            yield Static(f"{p.plan_id} {p.symbol} {'LONG' if p.direction == 'BUY' else 'SHORT'}   position "
                         f"{signed(p.net_position)}   {len(self.orders)} open order{'s' * (len(self.orders) != 1)}"
                         "   ◆ protective", classes="context")
            narrow = self.app.size.width < 112
            yield Static(head_line(narrow), id="picker-head")
            yield OptionList(*[Option(order_prompt(o, last_stop=o.order_id == self.last_stop, narrow=narrow),
                                      id=o.order_id) for o in self.orders], id="picker-orders")
            yield Static("", id="guard-hint")
            yield Static("↑ / ↓ choose · enter: preview the cancel (nothing is sent yet) · esc: back", classes="hint")
        yield KeyFooter()

    def on_mount(self) -> None:
        ol = self.query_one(OptionList)
        ol.highlighted = 0 if self.orders else None
        ol.focus()

    @property
    def highlighted_order(self) -> str | None:
        ol = self.query_one(OptionList)
        return self.orders[ol.highlighted].order_id if ol.highlighted is not None else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.guard_ok("enter"):
            self.answer(event.option.id)

    def action_back(self) -> None:
        self.answer(None)
