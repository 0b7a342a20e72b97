"""The console: live plans, previewed stop / scale / close actions and a two-key emergency flatten.

The app never touches the venue or the ledger itself: it talks to a DeskBridge (tui.bridge) whose methods return
futures, awaited in named workers (exit_on_error=False) with one handler for their failures. Live changes are
pulled from the bridge a few times a second and applied inside batch_update()."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from decimal import Decimal
from typing import Any, TypeVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from core.models import DeskStatus
from core.outcomes import CommandOutcome, ExecutionReport
from tui import textual_fixes  # noqa: F401  (applied on import)
from tui.alerts import AlertBook
from tui.app_actions import DeskActions
from tui.app_alerts import AlertsMixin
from tui.app_order_actions import OrderActions
from tui.app_terminal import TerminalWatch
from tui.app_views import DeskViewsMixin
from tui.bridge import DeskBridge
from tui.bridge_view import Changes
from tui.screens.action_inputs import ScaleScreen, StopScreen
from tui.screens.desk_screen import DeskScreen
from tui.screens.preview import CONFIRM_GUARD, PreviewScreen
from tui.widgets.activity import ActivityLog
from tui.widgets.desk_input import DeskInput
from tui.widgets.detail import PlanDetail
from tui.widgets.exposure_pane import ExposurePane
from tui.widgets.fmt import pnl
from tui.widgets.header import DeskCounts, DeskHeader
from tui.widgets.key_footer import KeyFooter
from tui.widgets.plans_table import PlansTable

T = TypeVar("T")


def tune_gc() -> None:
    """The cyclic GC's full passes stop every thread; over a large desk (2,000 plans) they took 150-300 ms and ran
    every couple of seconds. What is loaded when the desk opens lives as long as the app: freeze it out of the
    collector; and collect the older generations far less often (young garbage is still collected as usual)."""
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


def new_directive_id() -> str:
    import secrets

    return f"STR_{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}_{secrets.token_hex(3)}"


class PlanDeskApp(TerminalWatch, AlertsMixin, DeskViewsMixin, OrderActions, DeskActions, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "plandesk"
    BINDINGS = [
        Binding("t", "stop", "Stop", id="stop"),
        Binding("s", "scale", "Scale", id="scale"),
        Binding("c", "close_plan", "Close", id="close"),
        Binding("n", "new_plan", "New plan", id="new_plan"),
        Binding("h", "desk_state", "Desk state", id="halt"),  # id kept: keymaps name it
        Binding("F", "flatten_all", "FLATTEN ALL", id="flatten_all", key_display="F", priority=True),
        # after F: a narrow footer cuts from the end, and the panic key must stay on it
        Binding("x", "cancel_order", "Cancel order", id="cancel_order"),
        Binding("X", "flatten_marked", "Flatten marked / symbol", id="flatten_marked", key_display="X", show=False),
        Binding("slash", "filter", "Filter", id="filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", id="clear_filter", show=False),
        Binding("j", "journal", "Journal", id="journal"),
        Binding("a", "acknowledge_alerts", "Ack alerts", id="alerts.ack", show=False),
        Binding("e", "toggle_exposure", "Exposure", id="exposure"),
        Binding("E", "exposure_screen", "Exposure & P&L by plan", id="exposure_screen", show=False),
        Binding("o", "foreign_orders", "Foreign orders", id="foreign_orders", show=False),
        Binding("q", "quit_desk", "Quit", id="quit"),
        Binding("question_mark,f1", "help", "Help", id="help", key_display="?", priority=True),
    ]

    def __init__(
        self,
        bridge: DeskBridge,
        *,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = new_directive_id,
        close_slippage: Decimal | None = Decimal("0.02"),
        poll_interval: float = 0.25,
        stale_after: float = 5.0,
        cursor_blink: bool = True,
        confirm_guard: float = CONFIRM_GUARD,
        guard_clock: Callable[[], float] = time.monotonic,
        venue: str | None = None,
        operator: str | None = None,
        bell: bool = True,
    ) -> None:
        super().__init__()
        self.alerts = AlertBook(bell=bell)
        self.bridge = bridge
        self.clock = clock
        self.new_id = new_id
        self.close_slippage = close_slippage
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.cursor_blink = cursor_blink
        self.confirm_guard = confirm_guard  # DESIGN §3b: seconds a preview must be on screen before y / enter count
        self.guard_clock = guard_clock
        self.venue = venue or bridge.name  # kind and host ("sim 127.0.0.1:8765", "paper"), shown in the header
        self.operator = operator
        self.desk_ready = False
        self._desk = DeskStatus.ACTIVE
        self._outcomes: deque[tuple[str, CommandOutcome]] = deque()
        self._sending: dict[str, PreviewScreen] = {}
        self._detail_for: str | None = None
        self._painted_last = True
        #: monotonic time until which the live pulls wait for a preview being made (hold_for_preview)
        self._polls_held_until = 0.0
        self.first_paint: float | None = None  # perf_counter at the first refresh after mount (benchmark)

    # ---------------------------------------------------------------------------------------------- layout

    def get_default_screen(self) -> DeskScreen:
        return DeskScreen(id="_default")

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.venue, clock=self.clock, stale_after=self.stale_after, id="header",
                         operator=self.operator)
        yield Static("", id="halt-banner")
        yield DeskInput(placeholder="filter: plan id, symbol, long/short, status  (enter keeps it, esc clears)",
                    id="filter")
        yield PlansTable(id="plans")
        with Horizontal(id="lower"):
            with Vertical(id="detail-box"):
                yield Static("plan detail: groups → orders → fills", classes="pane-title")
                yield PlanDetail(id="detail")
            with Vertical(id="log-box"):
                yield ExposurePane(id="exposure")
                yield Static("activity", classes="pane-title")
                yield ActivityLog(id="log")
        yield KeyFooter(palette=True)

    def on_mount(self) -> None:
        self._table = self.query_one(PlansTable)
        self._header = self.query_one(DeskHeader)
        self._logw = self.query_one(ActivityLog)
        self._detail = self.query_one(PlanDetail)
        self._banner = self.query_one("#halt-banner", Static)
        self._filter = self.query_one("#filter", Input)
        self._filter.display = False
        self._filter.cursor_blink = self.cursor_blink
        self._banner.display = False
        self._table.focus()
        self.views_mount()
        self.on_resize()
        self.log_line("info", f"connecting to {self.venue}…")
        self._await(self.bridge.start(), "bridge-start", self._desk_opened)
        self.set_interval(self.poll_interval, self._poll_tick, name="poll")  # the fallback: marks, health, the clock
        self._listen_to_bridge()  # order updates and fills: pulled as soon as the bridge has them
        self.call_after_refresh(self._painted)
        self.poll()
        self.watch_terminal()  # a hang-up ends the console in order (tui.app_terminal)

    def on_resize(self) -> None:
        self.set_class(self.size.height < 35, "-short")
        self.set_class(self.size.width < 112, "-narrow")
        self.views_resize()

    def _painted(self) -> None:
        if self.first_paint is None:
            self.first_paint = time.perf_counter()

    # ---------------------------------------------------------------------------------------------- workers

    def _await(self, fut: Future[T], name: str, done: Callable[[T], Any], *, exclusive: bool = False) -> None:
        """Await a bridge future in a named worker; `done(result)` runs on the UI loop. Failures go to
        on_worker_state_changed."""

        box: list[Any] = [fut, done]  # taken out when used: a finished Worker object must not keep the result

        async def wait() -> None:
            future, callback = box.pop(0), box.pop(0)
            callback(await asyncio.wrap_future(future))

        self.run_worker(wait, name=name, group=name if exclusive else "desk", exit_on_error=False,
                        exclusive=exclusive)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """The one place worker failures end up: the activity log and a notification."""
        if event.state is not WorkerState.ERROR:
            return
        self.end_preview_hold()  # a preview that failed is not painted: what the log held is written before the failure
        err = event.worker.error
        name = event.worker.name or "worker"
        text = f"{name} failed: {err.__class__.__name__}: {err}" if err else f"{name} failed"
        self.log_line("error", text)
        self.notify(text, title="error", severity="error", timeout=8)
        if name == "send":
            for screen in list(self._sending.values()):
                if screen.is_attached:
                    screen.show_report(ExecutionReport(screen.batch.directive_id, refused=text), {})
            self._sending.clear()

    def _desk_opened(self, _: None) -> None:
        self.desk_ready = True
        self.poll()
        tune_gc()
        table = self._table
        if table.row_count:
            table.move_cursor(row=0)
            self._request_detail(table.selected_plan_id)
        self.log_line("ok", f"desk open on {self.venue}: {len(self.bridge.rows())} plans")
        self.refresh_bindings()

    # ---------------------------------------------------------------------------------------------- live data

    #: least spacing of the pulls the bridge asks for: a burst of fills (a 200/s feed) costs at most 25 pulls a second
    FAST_REFRESH = 0.04

    def _listen_to_bridge(self) -> None:
        """Event-driven refresh: the bridge calls `changed` on its own thread when a fill or order update changed
        a row (never for marks); it schedules one rows-only poll on this loop, at most one pending, FAST_REFRESH
        after the last such poll (the timer's polls are few and do not hold a fill back)."""
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()  # the app's (active_app), as a timer callback has it
        self._wake_pending = False
        self._woken_at = float("-inf")

        def changed() -> None:  # ON THE BRIDGE THREAD: never blocks
            if self._wake_pending:
                return
            self._wake_pending = True
            try:
                loop.call_soon_threadsafe(self._wake, context=context.copy())
            except RuntimeError:  # the app's loop is closed
                pass

        self.bridge.on_change = changed

    def _wake(self) -> None:
        delay = self._woken_at + self.FAST_REFRESH - time.monotonic()
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._woken, context=contextvars.copy_context())
        else:
            self._woken()

    def _woken(self) -> None:
        self._wake_pending = False  # before the drain: a change stored after it asks again
        if self._exit or self.polls_held():
            return
        self._woken_at = time.monotonic()
        try:
            self.poll(rows_only=True)
        except Exception as error:  # as a timer's callback would
            self._handle_exception(error)

    def _poll_tick(self) -> None:
        if not self.polls_held():
            self.poll()

    def hold_for_preview(self, seconds: float) -> None:
        """While a preview is being made and painted, the live pulls (the timer's and the bridge's wake-ups) wait,
        the desk is not painted (DeskScreen) and the activity log holds its lines (ActivityLog.hold): under a busy
        feed each pull re-prices and repaints the desk's rows on this thread, in the interpreter's turn the preview's
        translation (on the preview thread) and its first paint need. Nothing is lost: the bridge keeps what changed
        until the next pull, which `end_preview_hold` asks for at once. At most `seconds`."""
        self._logw.hold(seconds)
        self._polls_held_until = max(self._polls_held_until, time.monotonic() + seconds)
        self.set_timer(seconds, self._preview_hold_ran_out)

    def _preview_hold_ran_out(self) -> None:
        if not self.polls_held():  # (a later hold may have extended it)
            self.end_preview_hold()

    def polls_held(self) -> bool:
        return time.monotonic() < self._polls_held_until

    def end_preview_hold(self) -> None:
        """The preview is painted (or failed, or the hold ran out): the log writes what it held, the pulls go on,
        the first one now (after what is queued), and the desk, if it is still on top, is painted."""
        self._logw.flush()
        if self._polls_held_until:
            self._polls_held_until = 0.0
            self.call_later(self.poll)
            if isinstance(self.screen, DeskScreen):
                self.screen.refresh()

    def poll(self, *, rows_only: bool = False) -> None:
        """Pull what changed from the bridge and apply it in one batch. `rows_only` (the bridge's wake-up): the
        changed rows, the alerts and dialogs that follow them; marks, the header, the activity log and outcomes
        wait for the timer's poll, so that a burst of fills off screen does not repaint them 25 times a second."""
        if not self._table.is_attached:
            return
        ch = self.bridge.drain_changes(rows_only=rows_only)
        if rows_only and not ch.rows and not ch.removed:
            return
        outcomes: list[tuple[str, CommandOutcome]] = []
        while self._outcomes and not rows_only:
            outcomes.append(self._outcomes.popleft())
        table = self._table
        # Under a dialog the table keeps its data current but does not repaint: the dialog's translucent
        # backdrop would otherwise re-render the whole table beneath it on every update.
        paint = len(self.screen_stack) == 1
        with self.batch_update():
            if ch.rows or ch.removed or ch.marks or (paint and not self._painted_last):
                table.apply(ch.rows, ch.removed, ch.marks, paint=paint)
            self._painted_last = paint
            if ch.desk is not self._desk:
                self._desk = ch.desk
                self._show_desk()
            self.views_poll(ch)  # every drain: the exposure sums fold the rows it hands over (renders are spaced)
            self.watch_alerts(ch, outcomes, self.clock(), self.exposure_symbols())
            table.set_alerted(self.alerted_subjects())
            if not rows_only:
                self._show_counts(ch)
                log = self._logw
                for ev in ch.events:
                    log.add(ev.ts, ev.level, ev.text)
            self._apply_outcomes(outcomes)
            screen = self.screen
            if ch.rows and isinstance(screen, PreviewScreen):
                screen.plans_changed(ch.rows)
            elif (ch.rows or ch.marks) and isinstance(screen, StopScreen | ScaleScreen):
                now = table.row_data(screen.row.plan_id)
                if now is not None and now != screen.row:
                    screen.row_changed([now])
        if self._detail_for is not None and any(r.plan_id == self._detail_for for r in ch.rows):
            self._request_detail(self._detail_for)

    def _show_counts(self, ch: Changes) -> None:
        table = self._table
        upnl = pnl(table.unrealised_total())  # signed, two places: as the rows and the exposure pane show it
        counts = DeskCounts(plans=table.total_plans, active=table.active_plans, upnl=upnl,
                            filter_text=table.filter_text, shown=table.visible_count, alerts=len(self.alerts.active()))
        for header in (self._header, getattr(self.screen, "header", None)):
            if isinstance(header, DeskHeader):
                header.show(desk=ch.desk, health=ch.health, last_data_ts=ch.last_data_ts, counts=counts,
                            ready=ch.ready, failed=ch.failed)

    def _apply_outcomes(self, outcomes: list[tuple[str, CommandOutcome]]) -> None:
        # plans run concurrently: within one drain, list by command (stable: one command's updates keep their order)
        outcomes.sort(key=lambda item: (item[0], item[1].round, item[1].seq))
        for directive_id, oc in outcomes:
            screen = self._sending.get(directive_id)
            if screen is not None and screen.is_attached:
                screen.show_outcome(oc)
                many = len(screen.batch.commands) > 200
            else:
                many = False
            if oc.status.is_final or oc.status == "UNKNOWN":
                if oc.status.is_bad:
                    self.log_line("error", f"#{oc.seq} {oc.action} {oc.plan_id}: {oc.status} {oc.detail}")
                elif not many:
                    self.log_line("ok", f"#{oc.seq} {oc.action} {oc.plan_id}: {oc.status} {oc.detail}".rstrip())

    def _show_desk(self) -> None:
        banner = self._banner
        halted = self._desk is DeskStatus.HALTED
        reducing = self._desk == "REDUCING"
        if halted:
            banner.update("■ DESK HALTED ■  nothing new but cancels and flatten · h: desk state")
        elif reducing:
            banner.update("▲ DESK REDUCING ▲  only what reduces exposure goes; cancels always · h: state")
        else:
            banner.update("")
        banner.display = halted or reducing
        banner.styles.background = "#d78700" if reducing else None  # amber; HALTED keeps app.tcss's red
        banner.styles.color = "black" if reducing else None
        self.set_class(halted, "-halted")
        self.set_class(reducing, "-reducing")
        self.log_line("desk", f"desk {self._desk}")

    def log_line(self, level: str, text: str) -> None:
        self._logw.add(self.clock(), level, text)

    def on_plans_table_selected(self, event: PlansTable.Selected) -> None:
        self._request_detail(event.plan_id)

    def _request_detail(self, plan_id: str | None) -> None:
        self._detail_for = plan_id
        detail = self._detail
        if plan_id is None or not self.desk_ready:
            detail.show(None)
            return
        row = self._table.row_data(plan_id)
        reason = row.unprotected if row is not None else None
        self._await(self.bridge.plan_detail(plan_id), "detail", lambda plan: detail.show(plan, reason),
                    exclusive=True)
