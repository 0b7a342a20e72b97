"""The console: live plans, previewed stop / scale / close actions and a two-key emergency flatten.

The app never touches the venue or the ledger itself: it talks to a DeskBridge (tui.bridge) whose methods return
futures, awaited in named workers (exit_on_error=False) with one handler for their failures. Live changes are
pulled from the bridge a few times a second and applied inside batch_update()."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from decimal import Decimal
from typing import Any, TypeVar

from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from core.directives import Scope, StrategyDirective
from core.models import DeskStatus, PlanStatus
from core.outcomes import CommandOutcome, ExecutionReport
from tui.bridge import DeskBridge
from tui.bridge_view import Preview
from tui.screens.action_inputs import ConfirmScreen, NewPlanScreen, ScaleScreen, StopScreen
from tui.screens.forms import (
    NewPlanInput,
    ScaleInput,
    StopInput,
    close_directive,
    new_plan_directive,
    scale_directive,
    stop_directive,
)
from tui.screens.preview import PreviewScreen
from tui.widgets.activity import ActivityLog
from tui.widgets.detail import PlanDetail
from tui.widgets.fmt import num
from tui.widgets.header import DeskHeader
from tui.widgets.plans_table import PlansTable

T = TypeVar("T")
DESK_ACTIONS = ("stop", "scale", "close_plan", "new_plan", "halt", "flatten_all")


def tune_gc() -> None:
    """The cyclic GC's full passes stop every thread; over a large desk (2,000 plans) they took 150-300 ms and ran
    every couple of seconds. What is loaded when the desk opens lives as long as the app: freeze it out of the
    collector; and collect the older generations far less often (young garbage is still collected as usual)."""
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


def new_directive_id() -> str:
    import secrets

    return f"STR_{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}_{secrets.token_hex(3)}"


class PlanDeskApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "plandesk"
    BINDINGS = [
        Binding("t", "stop", "Stop", id="stop"),
        Binding("s", "scale", "Scale", id="scale"),
        Binding("c", "close_plan", "Close", id="close"),
        Binding("n", "new_plan", "New plan", id="new_plan"),
        Binding("h", "halt", "Halt/Resume", id="halt"),
        Binding("F", "flatten_all", "FLATTEN ALL", id="flatten_all", key_display="F"),
        Binding("slash", "filter", "Filter", id="filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear filter", id="clear_filter", show=False),
        Binding("q", "quit_desk", "Quit", id="quit"),
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
    ) -> None:
        super().__init__()
        self.bridge = bridge
        self.clock = clock
        self.new_id = new_id
        self.close_slippage = close_slippage
        self.poll_interval = poll_interval
        self.stale_after = stale_after
        self.cursor_blink = cursor_blink
        self.desk_ready = False
        self._desk = DeskStatus.ACTIVE
        self._outcomes: deque[tuple[str, CommandOutcome]] = deque()
        self._sending: dict[str, PreviewScreen] = {}
        self._detail_for: str | None = None
        self._painted_last = True
        self.first_paint: float | None = None  # perf_counter at the first refresh after mount (benchmark)

    # ---------------------------------------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield DeskHeader(self.bridge.name, clock=self.clock, stale_after=self.stale_after, id="header")
        yield Static("", id="halt-banner")
        yield Input(placeholder="filter: plan id, symbol, long/short, status  (enter keeps it, esc clears)",
                    id="filter")
        yield PlansTable(id="plans")
        with Horizontal(id="lower"):
            with Vertical(id="detail-box"):
                yield Static("plan detail: groups → orders → fills", classes="pane-title")
                yield PlanDetail(id="detail")
            with Vertical(id="log-box"):
                yield Static("activity", classes="pane-title")
                yield ActivityLog(id="log")
        yield Footer()

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
        self.log_line("info", f"connecting to {self.bridge.name}…")
        self._await(self.bridge.start(), "bridge-start", self._desk_opened)
        self.set_interval(self.poll_interval, self.poll, name="poll")
        self.call_after_refresh(self._painted)
        self.poll()

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
        self.log_line("ok", f"desk open on {self.bridge.name}: {len(self.bridge.rows())} plans")
        self.refresh_bindings()

    # ---------------------------------------------------------------------------------------------- live data

    def poll(self) -> None:
        """Pull what changed from the bridge and apply it in one batch."""
        if not self._table.is_attached:
            return
        ch = self.bridge.drain_changes()
        outcomes: list[tuple[str, CommandOutcome]] = []
        while self._outcomes:
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
            upnl = table.unrealised_total().quantize(Decimal("0.01"))
            counts = f"{table.total_plans} plans · {table.active_plans} active · uPnL {num(upnl)}"
            if table.filter_text:
                counts += f" · filter '{table.filter_text}': {table.visible_count} shown"
            for header in (self._header, getattr(self.screen, "header", None)):
                if isinstance(header, DeskHeader):
                    header.show(desk=ch.desk, health=ch.health, last_data_ts=ch.last_data_ts, counts=counts,
                                ready=ch.ready, failed=ch.failed)
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
        banner.update("■ DESK HALTED ■  nothing that adds exposure can be sent · stops, scale-outs and closes "
                      "still go · h: resume" if halted else "")
        banner.display = halted
        self.set_class(halted, "-halted")
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
        self._await(self.bridge.plan_detail(plan_id), "detail", detail.show, exclusive=True)

    # ---------------------------------------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in DESK_ACTIONS and not self.desk_ready:
            return None
        return True

    def _selected(self) -> Any:
        table = self._table
        pid = table.selected_plan_id
        row = table.row_data(pid) if pid else None
        if row is None:
            self.notify("Select a plan first.", severity="warning", timeout=3)
        return row

    def _active_row(self) -> Any:
        row = self._selected()
        if row is not None and row.status is PlanStatus.CLOSED:
            self.notify(f"{row.plan_id} is CLOSED.", severity="warning", timeout=3)
            return None
        return row

    def action_stop(self) -> None:
        row = self._active_row()
        if row is None:
            return

        def chosen(p: StopInput | None) -> None:
            if p is not None:
                what = (f"stop {row.plan_id} {num(p.tolerance * 100)} % from the mark" if p.tolerance is not None
                        else f"stop {row.plan_id} to {num(p.new_stop)}")
                self.start_preview(stop_directive(row.plan_id, p, self.new_id()), title=what)

        self.push_screen(StopScreen(row, self.bridge.markets().get(row.symbol), cursor_blink=self.cursor_blink),
                         chosen)

    def action_scale(self) -> None:
        row = self._active_row()
        if row is None:
            return

        def chosen(p: ScaleInput | None) -> None:
            if p is not None and p.target is not None:
                self.start_preview(scale_directive(row.plan_id, p.target, self.new_id()),
                                   title=f"scale {row.plan_id} to {num(p.target)} (now {num(abs(row.net))})")

        self.push_screen(ScaleScreen(row, self.bridge.markets().get(row.symbol), cursor_blink=self.cursor_blink),
                         chosen)

    def action_close_plan(self) -> None:
        row = self._active_row()
        if row is not None:
            self.start_preview(close_directive([row.plan_id], self.new_id(), self.close_slippage),
                               title=f"close {row.plan_id}")

    def action_new_plan(self) -> None:
        def chosen(p: NewPlanInput | None) -> None:
            if p is not None:
                side = "long" if p.direction == "BUY" else "short"
                self.start_preview(new_plan_directive(p, self.new_id()),
                                   title=f"new plan: {side} {num(p.size)} {p.symbol}")

        self.push_screen(NewPlanScreen(self.bridge.markets(), cursor_blink=self.cursor_blink), chosen)

    def action_halt(self) -> None:
        if self.bridge.desk() is DeskStatus.ACTIVE:
            self._set_desk(DeskStatus.HALTED)
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._set_desk(DeskStatus.ACTIVE)

        self.push_screen(ConfirmScreen("Resume the desk?", "New trades and scale-ins will be allowed again."),
                         answer)

    def _set_desk(self, status: DeskStatus) -> None:
        def done(s: DeskStatus) -> None:
            self.poll()
            self.notify(f"Desk {s}.", severity="warning" if s is DeskStatus.HALTED else "information", timeout=4)

        self._await(self.bridge.set_desk(status), "set-desk", done)

    def action_flatten_all(self) -> None:
        ids = self.bridge.active_plan_ids()
        if not ids:
            self.log_line("warn", "flatten all: no active plans; halting the desk")
            self._set_desk(DeskStatus.HALTED)
            return
        self.start_preview(close_directive(ids, self.new_id(), self.close_slippage),
                           title=f"FLATTEN ALL: {len(ids)} active plan{'s' * (len(ids) != 1)}", halt_desk=True)

    def action_filter(self) -> None:
        inp = self._filter
        inp.display = True
        inp.focus()

    def action_clear_filter(self) -> None:
        inp = self._filter
        if inp.display:
            inp.value = ""
            inp.display = False
            self._table.set_filter("")
            self._table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self._table.set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value.strip():
                event.input.display = False
            self._table.focus()

    def action_quit_desk(self) -> None:
        if self._sending:
            self.notify("A send is in progress; quit when it is done.", severity="warning", timeout=4)
            return
        self.exit()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Stop: move the selected plan's stop", "t · tolerance % or a price", self.action_stop)
        yield SystemCommand("Scale the selected plan", "s · to an absolute target size", self.action_scale)
        yield SystemCommand("Close the selected plan", "c · cancel its orders, close its position",
                            self.action_close_plan)
        yield SystemCommand("New plan", "n · symbol, direction, size, stop", self.action_new_plan)
        yield SystemCommand("Halt / resume the desk", "h", self.action_halt)
        yield SystemCommand("FLATTEN ALL", "F · every active plan, and halt the desk", self.action_flatten_all)
        yield SystemCommand("Filter plans", "/", self.action_filter)

    # ---------------------------------------------------------------------------------------------- preview/send

    def start_preview(self, directive: StrategyDirective, *, title: str, halt_desk: bool = False) -> None:
        self.log_line("preview", f"preview {directive.directive_id}: {title}")
        plans = self.bridge.rows() if directive.scope is Scope.CLOSE_EXISTING else None

        def show(preview: Preview) -> None:
            b = preview.batch
            if b.errors:
                self.log_line("warn", f"preview {b.directive_id}: {len(b.errors)} error(s): {b.errors[0]}")
            header = DeskHeader(self.bridge.name, clock=self.clock, stale_after=self.stale_after)
            h = self._header
            header.show(desk=h.desk, health=h.health, last_data_ts=h.last_data_ts, counts=h.counts, ready=h.ready,
                        failed=h.failed)
            self.push_screen(PreviewScreen(preview, directive, title=title, halt_desk=halt_desk, plans=plans,
                                           header=header))

        self._await(self.bridge.preview(directive), "preview", show)

    def on_preview_screen_send_requested(self, event: PreviewScreen.SendRequested) -> None:
        screen = event.screen
        batch, directive = screen.batch, screen.directive
        did = batch.directive_id
        self._sending[did] = screen
        self.log_line("send", f"send {did}: {len(batch.commands)} commands" + (" + HALT" if screen.halt_desk else ""))
        outcomes = self._outcomes

        def sink(oc: CommandOutcome) -> None:  # runs on the bridge thread
            outcomes.append((did, oc))

        def done(report: ExecutionReport) -> None:
            self.poll()
            self._sending.pop(did, None)
            if screen.is_attached:
                screen.show_report(report, {r.plan_id: r for r in self.bridge.rows()})
            if report.refused:
                self.log_line("error", f"{did} NOT SENT: {report.refused}")
                self.notify(report.refused, title="not sent", severity="error", timeout=8)
                return
            for line in report.still_open:
                self.log_line("error", f"STILL OPEN: {line}")
            self.log_line("ok" if report.ok else "error", report.summary())
            self.notify(report.summary(), title="done" if report.ok else "done, with problems",
                        severity="information" if report.ok else "error", timeout=6)

        self._await(self.bridge.send(batch, directive, halt_desk=screen.halt_desk, on_outcome=sink), "send", done)

    def on_preview_screen_repreview_requested(self, event: PreviewScreen.RepreviewRequested) -> None:
        old = event.screen
        old.dismiss(None)
        directive = old.directive.model_copy(update={"directive_id": self.new_id()})
        if old.closing and old.halt_desk:
            directive = directive.model_copy(update={"target_plan_ids": self.bridge.active_plan_ids()
                                                     or directive.target_plan_ids})
        self.start_preview(directive, title=old.title_text, halt_desk=old.halt_desk)
