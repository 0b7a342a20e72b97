"""The console's order and desk-state actions (issue 11 items 6 and 7): cancel one order of a plan (`x`), loosen a
stop the worker refused as looser (`L` on that preview, then a second confirmation), and the desk state (`h`).
Each ends in the normal preview -> guarded confirm -> send flow of tui.app_actions. A mixin of PlanDeskApp; it comes
before DeskActions in the bases so its check_action sees its own actions first."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from textual.app import SystemCommand
from textual.screen import Screen

from core.models import DeskStatus, TradePlan
from tui.screens.desk_state import DeskStateScreen
from tui.screens.forms import LoosenRequest, cancel_order_directive, loosen_directive, loosen_request
from tui.screens.loosen_confirm import LOOSEN_OFFER, LoosenConfirmScreen
from tui.screens.order_picker import OrderPickerScreen, open_orders
from tui.screens.preview import PreviewScreen, PreviewState

if TYPE_CHECKING:
    from concurrent.futures import Future

    from core.directives import StrategyDirective
    from tui.bridge import DeskBridge

ORDER_ACTIONS = ("cancel_order", "desk_state")


class OrderActions:
    """Needs from the app: the bridge, the workers, the guard settings and DeskActions' preview flow."""

    bridge: DeskBridge
    desk_ready: bool
    confirm_guard: float
    guard_clock: Callable[[], float]
    new_id: Callable[[], str]

    if TYPE_CHECKING:  # provided by PlanDeskApp / DeskActions / App
        screen: Screen[Any]

        def _await(self, fut: Future[Any], name: str, done: Callable[[Any], Any], *,
                   exclusive: bool = False) -> None: ...
        def log_line(self, level: str, text: str) -> None: ...
        def _active_row(self) -> Any: ...
        def _set_desk(self, status: DeskStatus) -> None: ...
        def start_preview(self, directive: StrategyDirective, *, title: str, halt_desk: bool = False) -> None: ...
        def notify(self, message: str, **kw: Any) -> None: ...
        def push_screen(self, screen: Any, callback: Any = None, **kw: Any) -> Any: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ORDER_ACTIONS and not self.desk_ready:
            return None
        if action == "loosen_stop":
            return isinstance(self.screen, PreviewScreen) and self._loosen_for(self.screen) is not None
        return super().check_action(action, parameters)  # type: ignore[misc, no-any-return]

    def push_screen(self, screen: Any, *args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]
        """A preview refused only because its stop is looser offers `L` (its footer shows it; the stop form said so):
        bound on that preview alone, so no other screen has a loosen key. No toast: it would cover the second
        confirmation's words on a small terminal."""
        req = self._loosen_for(screen) if isinstance(screen, PreviewScreen) else None
        if req is not None:
            screen._bindings.key_to_bindings.setdefault(LOOSEN_OFFER.key, []).append(LOOSEN_OFFER)
        return super().push_screen(screen, *args, **kwargs)  # type: ignore[misc]

    # ---------------------------------------------------------------------------------------------- x: cancel one

    def action_cancel_order(self) -> None:
        row = self._active_row()
        if row is None:
            return
        pid = row.plan_id

        def show(plan: TradePlan | None) -> None:
            if plan is None or not open_orders(plan):
                self.notify(f"{pid} has no open orders to cancel.", severity="warning", timeout=3)
                return
            by_id = {o.order_id: o for o in plan.orders}

            def chosen(order_id: str | None) -> None:
                if order_id is None:
                    return
                o = by_id[order_id]
                try:
                    directive = cancel_order_directive(pid, order_id, self.new_id())
                except ValueError as exc:
                    self.log_line("error", f"cancel {order_id} of {pid}: {exc}")
                    self.notify(str(exc), title="not previewed", severity="error", timeout=8)
                    return
                self.start_preview(directive, title=f"cancel {o.role} {order_id} of {pid}")

            self.push_screen(OrderPickerScreen(plan, guard=self.confirm_guard, guard_clock=self.guard_clock),
                             chosen)

        self._await(self.bridge.plan_detail(pid), "cancel-order", show)

    # ---------------------------------------------------------------------------------------------- L: loosen

    def _loosen_for(self, screen: PreviewScreen) -> LoosenRequest | None:
        if screen.state is not PreviewState.BLOCKED:
            return None
        d = screen.directive
        pid = d.target_plan_ids[0] if len(d.target_plan_ids) == 1 else None
        row = screen.before.get(pid) if pid else None
        rules = screen.preview.markets.get(row.symbol) if row is not None else None
        return loosen_request(d, list(screen.batch.errors), row, rules)

    def action_loosen_stop(self) -> None:
        screen = self.screen
        req = self._loosen_for(screen) if isinstance(screen, PreviewScreen) else None
        if req is None or not isinstance(screen, PreviewScreen):
            return
        screen.close_once()

        def answered(yes: bool | None) -> None:
            if not yes:
                self.log_line("info", f"loosen {req.plan_id}: not confirmed; the stop stays at {req.px(req.current)}")
                return
            self.log_line("warn", f"{req.sentence()}: confirmed, previewing with allow_loosen")
            self.start_preview(loosen_directive(req, self.new_id()),
                               title=f"LOOSEN {req.plan_id} stop {req.px(req.current)} → {req.px(req.new)}")

        self.push_screen(LoosenConfirmScreen(req, guard=self.confirm_guard, guard_clock=self.guard_clock), answered)

    # ---------------------------------------------------------------------------------------------- h: desk state

    def action_desk_state(self) -> None:
        current = self.bridge.desk()

        def chosen(state: DeskStatus | None) -> None:
            if state is not None and state is not current:
                self.log_line("desk", f"desk {current} → {state} (confirmed)")
                self._set_desk(state)

        self.push_screen(DeskStateScreen(current, guard=self.confirm_guard, guard_clock=self.guard_clock), chosen)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)  # type: ignore[misc]
        yield SystemCommand("Cancel one order of the selected plan", "x · pick it, preview, confirm",
                            self.action_cancel_order)
        yield SystemCommand("Desk state", "h · ACTIVE / REDUCING / HALTED, confirmed", self.action_desk_state)
