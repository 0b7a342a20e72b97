"""Acting on many plans at once (a base of tui.app_actions.DeskActions): with plans marked in the table (space,
`*`), `t`, `s` and `c` target every marked plan that is still ACTIVE: one directive, one preview, one
confirmation. `X` flattens the marked plans, or with none marked every active plan on the cursor row's symbol
(the desk is not halted: that is `F`'s)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.models import PlanStatus
from tui.screens.forms import StopInput, close_directive, scale_directive, stop_directive
from tui.screens.many_inputs import ManyInput, ManyScaleScreen, ManyStopScreen
from tui.widgets.fmt import num

if TYPE_CHECKING:
    from core.directives import StrategyDirective
    from tui.bridge import DeskBridge
    from tui.widgets.plans_table import PlansTable


def plans_word(n: int) -> str:
    return f"{n} plan{'s' * (n != 1)}"


class ManyPlanActions:
    """Needs from the app: the bridge, the table, the directive ids, the close slippage, and DeskActions' preview
    flow (start_preview) and selection (_selected)."""

    bridge: DeskBridge
    new_id: Callable[[], str]
    close_slippage: Decimal | None
    cursor_blink: bool
    _table: PlansTable

    if TYPE_CHECKING:  # DeskActions / App
        def start_preview(self, directive: StrategyDirective, *, title: str, halt_desk: bool = False) -> None: ...
        def _selected(self) -> Any: ...
        def notify(self, message: str, **kw: Any) -> None: ...
        def push_screen(self, screen: Any, callback: Any = None, **kw: Any) -> Any: ...

    def _marked_rows(self) -> list[Any] | None:
        """The marked plans that can still be acted on (ACTIVE), at the newest marks; None when none are marked."""
        table = self._table
        ids = table.marked_ids()
        if not ids:
            return None
        rows = [r for pid in ids if (r := table.row_data(pid)) is not None and r.status is not PlanStatus.CLOSED]
        if not rows:
            self.notify(f"The {plans_word(len(ids))} marked are all CLOSED (u unmarks).", severity="warning",
                        timeout=3)
        return rows

    def _many(self, kind: type[ManyStopScreen] | type[ManyScaleScreen], rows: list[Any],
              chosen: Callable[[ManyInput | None], None]) -> None:
        ids = [r.plan_id for r in rows]
        table = self._table

        def current() -> list[Any]:
            return [r for pid in ids if (r := table.row_data(pid)) is not None]

        self.push_screen(kind(current, self.bridge.markets(), cursor_blink=self.cursor_blink), chosen)

    def _stop_many(self, p: ManyInput | None) -> None:
        if p is None or not p.plan_ids:
            return
        one = StopInput(tolerance=p.tolerance, price=p.price, new_stop=Decimal(1))
        directive = stop_directive(p.plan_ids[0], one, self.new_id()).model_copy(
            update={"target_plan_ids": list(p.plan_ids)})
        what = f"{num(p.tolerance * 100)} % from each mark" if p.tolerance is not None else f"to {num(p.price)}"
        left = f" ({len(p.skipped)} marked left out: would not tighten)" if p.skipped else ""
        self.start_preview(directive, title=f"stop {plans_word(len(p.plan_ids))} {what}{left}")

    def _scale_many(self, p: ManyInput | None) -> None:
        if p is None or not p.plan_ids or p.target is None:
            return
        directive = scale_directive(p.plan_ids[0], p.target, self.new_id()).model_copy(
            update={"target_plan_ids": list(p.plan_ids)})
        self.start_preview(directive, title=f"scale {plans_word(len(p.plan_ids))} to {num(p.target)} each")

    def _close_many(self, rows: list[Any]) -> None:
        ids = [r.plan_id for r in rows]
        self.start_preview(close_directive(ids, self.new_id(), self.close_slippage),
                           title=f"close {len(ids)} marked plan{'s' * (len(ids) != 1)}")

    def action_flatten_marked(self) -> None:
        """Flatten the marked plans; with none marked, every active plan on the cursor row's symbol. The desk is
        not halted (that is F's)."""
        many = self._marked_rows()
        if many is not None:
            if not many:
                return
            ids = [r.plan_id for r in many]
            title = f"FLATTEN {len(ids)} marked plan{'s' * (len(ids) != 1)}"
        else:
            row = self._selected()
            if row is None:
                return
            ids = [r.plan_id for r in self._table.plan_rows()
                   if r.symbol == row.symbol and r.status is PlanStatus.ACTIVE]
            if not ids:
                self.notify(f"No active plans on {row.symbol}.", severity="warning", timeout=3)
                return
            title = f"FLATTEN {row.symbol}: {plans_word(len(ids))}"
        self.start_preview(close_directive(ids, self.new_id(), self.close_slippage), title=title)
