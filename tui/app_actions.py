"""The console's actions: stop, scale, close, new plan, halt / resume, flatten all, filter, and the preview -> send
flow they share. A mixin of PlanDeskApp (tui.app), which provides the bridge, the widgets and the workers.

With plans marked in the table (space, `*`), `t`, `s` and `c` target every marked plan: one directive, one preview,
one confirmation. `X` flattens the marked plans, or with none marked every plan on the cursor row's symbol (those
many-plan helpers are tui.app_many)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import SystemCommand
from textual.screen import Screen
from textual.widgets import Input

from core.directives import StrategyDirective
from core.models import DeskStatus, PlanStatus
from core.outcomes import CommandOutcome, ExecutionReport
from tui.app_many import ManyPlanActions
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
from tui.screens.help import HelpScreen
from tui.screens.many_inputs import ManyScaleScreen, ManyStopScreen
from tui.screens.preview import PreviewScreen
from tui.screens.preview_diff import with_changes
from tui.widgets.fmt import num
from tui.widgets.header import DeskHeader
from tui.widgets.plans_table import PlansTable

if TYPE_CHECKING:
    from tui.bridge import DeskBridge

T = TypeVar("T")
DESK_ACTIONS = ("stop", "scale", "close_plan", "new_plan", "flatten_all", "flatten_marked")
#: the longest a preview that is never painted holds the log, the live pulls and the desk's paint
PREVIEW_LOG_HOLD = 3.0


class DeskActions(ManyPlanActions):
    """Needs from the app: the names declared below, plus Textual's App API (push_screen, notify, exit, ...)."""

    bridge: DeskBridge
    clock: Callable[[], float]
    new_id: Callable[[], str]
    close_slippage: Decimal | None
    stale_after: float
    cursor_blink: bool
    confirm_guard: float
    venue: str
    operator: str | None
    guard_clock: Callable[[], float]
    desk_ready: bool
    _table: PlansTable
    _header: DeskHeader
    _filter: Input
    _outcomes: deque[tuple[str, CommandOutcome]]
    _sending: dict[str, PreviewScreen]

    def _await(self, fut: Future[T], name: str, done: Callable[[T], Any], *, exclusive: bool = False) -> None:
        raise NotImplementedError  # pragma: no cover - PlanDeskApp

    def log_line(self, level: str, text: str) -> None:
        raise NotImplementedError  # pragma: no cover - PlanDeskApp

    def poll(self) -> None:
        raise NotImplementedError  # pragma: no cover - PlanDeskApp

    def hold_for_preview(self, seconds: float) -> None:
        raise NotImplementedError  # pragma: no cover - PlanDeskApp

    def end_preview_hold(self) -> None:
        raise NotImplementedError  # pragma: no cover - PlanDeskApp

    if TYPE_CHECKING:
        def action_desk_state(self) -> None: ...  # tui.app_order_actions.OrderActions
        def alarm_unprotected(self, unprotected: dict[str, str], now: float) -> None: ...  # tui.app_alerts

    def on_mount(self) -> None:
        """(Textual calls every class's on_mount in the MRO: this runs after PlanDeskApp's.)"""
        self._table.stale_source = self.stale_symbols

    def stale_symbols(self) -> set[str]:
        """Symbols whose newest mark is older than stale_after (the `stale` filter, the rows' mark cells)."""
        if not self.desk_ready:
            return set()
        now = self.clock()
        return {s for s, ts in self.bridge.mark_times().items() if now - ts > self.stale_after}

    # ---------------------------------------------------------------------------------------------- actions

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in DESK_ACTIONS and not self.desk_ready:
            return None
        if action == "help" and isinstance(self.screen, HelpScreen):
            return False
        return True

    def action_journal(self) -> None:
        """The journal, filtered to the selected plan (clear the filter to see every entry)."""
        from tui.screens.journal_screen import JournalScreen

        pid = self._table.selected_plan_id

        def show(entries: list[Any]) -> None:
            title = f"Journal · {pid}" if pid else "Journal"
            self.push_screen(JournalScreen(entries, initial_filter=pid or "", title=title))

        self._await(self.bridge.journal_entries(), "journal", show)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

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
        many = self._marked_rows()
        if many is not None:
            if many:
                self._many(ManyStopScreen, many, self._stop_many)
            return
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
        many = self._marked_rows()
        if many is not None:
            if many:
                self._many(ManyScaleScreen, many, self._scale_many)
            return
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
        many = self._marked_rows()
        if many is not None:
            if many:
                self._close_many(many)
            return
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
        open_rows = [r for r in self.bridge.rows() if r.status is not PlanStatus.CLOSED and r.net != 0]
        if not open_rows:
            self.exit()
            return
        shown = ", ".join(f"{r.plan_id} {r.symbol} {'+' if r.net > 0 else ''}{num(r.net)}" for r in open_rows[:6])
        more = f" and {len(open_rows) - 6} more" if len(open_rows) > 6 else ""

        def answer(yes: bool | None) -> None:
            if yes:
                self.exit()

        n = len(open_rows)
        self.push_screen(ConfirmScreen(f"Quit with {n} open position{'s' * (n != 1)}?",
                                       f"Left open: {shown}{more}. Their open orders stay as they are."), answer)

    def action_quit(self) -> None:  # type: ignore[override]
        """ctrl+q and the palette's Quit go through the same guard as q."""
        self.action_quit_desk()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Stop: move the selected plan's stop", "t · tolerance % or a price", self.action_stop)
        yield SystemCommand("Scale the selected plan", "s · to an absolute target size", self.action_scale)
        yield SystemCommand("Close the selected plan", "c · cancel its orders, close its position",
                            self.action_close_plan)
        yield SystemCommand("New plan", "n · symbol, direction, size, stop", self.action_new_plan)
        # the desk state dialog (tui.app_order_actions): ACTIVE / REDUCING / HALTED, proposed and confirmed like `h`
        yield SystemCommand("Halt / reduce / resume the desk", "h · the desk state dialog, confirmed",
                            self.action_desk_state)
        yield SystemCommand("FLATTEN ALL", "F · every active plan, and halt the desk", self.action_flatten_all)
        yield SystemCommand("Flatten the marked plans (or the cursor's symbol)", "X · space marks, * marks all shown",
                            self.action_flatten_marked)
        yield SystemCommand("Filter plans", "/", self.action_filter)

    # ---------------------------------------------------------------------------------------------- preview/send

    def start_preview(self, directive: StrategyDirective, *, title: str, halt_desk: bool = False) -> None:
        self.hold_for_preview(PREVIEW_LOG_HOLD)  # the log, the live pulls, the desk's paint (PlanDeskApp)
        self.log_line("preview", f"preview {directive.directive_id}: {title}")
        future = self.bridge.preview(directive)  # first: the translation starts while the rows are copied
        targets = directive.target_plan_ids
        plans = self.bridge.rows_of(targets) if targets else None  # priced as painted

        def show(preview: Preview) -> None:
            b = preview.batch
            if b.errors:
                self.log_line("warn", f"preview {b.directive_id}: {len(b.errors)} error(s): {b.errors[0]}")
            self.push_screen(PreviewScreen(preview, directive, title=title, halt_desk=halt_desk, plans=plans,
                                           header=self._preview_header(), guard=self.confirm_guard,
                                           guard_clock=self.guard_clock))

        self._await(future, "preview", show)

    def on_preview_screen_painted(self, event: PreviewScreen.Painted) -> None:
        self.bridge.preview_painted()
        self.end_preview_hold()

    def on_preview_screen_send_requested(self, event: PreviewScreen.SendRequested) -> None:
        screen = event.screen
        batch, directive = screen.batch, screen.directive
        did = batch.directive_id
        self._sending[did] = screen
        n = len(batch.commands)
        self.log_line("send", f"send {did}: {n} command{'s' * (n != 1)}" + (" + HALT" if screen.halt_desk else ""))
        outcomes = self._outcomes

        def sink(oc: CommandOutcome) -> None:  # runs on the bridge thread
            outcomes.append((did, oc))

        def done(report: ExecutionReport) -> None:
            self.poll()
            self._sending.pop(did, None)
            if report.unprotected:  # a failed flatten whose stop could not come back: the alarm does not wait
                self.alarm_unprotected(report.unprotected, self.clock())
            if screen.is_attached:
                screen.show_report(report, {r.plan_id: r for r in self.bridge.rows()})
            if report.refused:
                self.log_line("error", f"{did} NOT SENT: {report.refused}")
                if not screen.is_attached:
                    self.notify(report.refused, title="not sent", severity="error", timeout=15)
                if report.refused.startswith("stale preview") and not screen.closing:
                    self._fresh_preview(screen)
                return
            for line in report.still_open:
                self.log_line("error", f"STILL OPEN: {line}")
            self.log_line("ok" if report.ok else "error", report.summary())
            if not screen.is_attached:  # the preview shows it itself; a toast there would cover its confirm line
                self.notify(report.summary(), title="done" if report.ok else "done, with problems",
                            severity="information" if report.ok else "error", timeout=6)

        self._await(self.bridge.send(batch, directive, halt_desk=screen.halt_desk, on_outcome=sink), "send", done)

    def _preview_header(self) -> DeskHeader:
        header = DeskHeader(self.venue, clock=self.clock, stale_after=self.stale_after, operator=self.operator)
        h = self._header
        header.show(desk=h.desk, health=h.health, last_data_ts=h.last_data_ts, counts=h.counts, ready=h.ready,
                    failed=h.failed)
        return header

    def _fresh_preview(self, stale: PreviewScreen) -> None:
        """DESIGN §3: a NEW_TRADE / MODIFY refused as stale is replaced at once by a fresh preview of the same intent,
        with what changed marked; y sends it (after its own confirmation guard)."""
        old_preview, rows_then = stale.preview, dict(stale.before)
        directive = stale.directive.model_copy(update={"directive_id": self.new_id()})
        self.log_line("preview", f"preview {directive.directive_id}: fresh preview of {stale.batch.directive_id}")

        def show(preview: Preview) -> None:
            rows_now = {r.plan_id: r for r in self.bridge.rows()}
            fresh = with_changes(old_preview, preview, rows_then, rows_now)
            stale.close_once()
            self.push_screen(PreviewScreen(fresh, directive, title=f"{stale.title_text} (fresh)",
                                           halt_desk=stale.halt_desk, plans=list(rows_now.values()),
                                           header=self._preview_header(), guard=self.confirm_guard,
                                           guard_clock=self.guard_clock))

        self._await(self.bridge.preview(directive), "preview", show)

    def on_preview_screen_repreview_requested(self, event: PreviewScreen.RepreviewRequested) -> None:
        old = event.screen
        old.close_once()
        directive = old.directive.model_copy(update={"directive_id": self.new_id()})
        if old.can_retry:  # a flatten that left plans open: exactly those, again
            n = len(old.left_open)
            directive = directive.model_copy(update={"target_plan_ids": list(old.left_open)})
            self.start_preview(directive, title=f"retry flatten: {n} plan{'s' * (n != 1)} still open",
                               halt_desk=False)
            return
        if old.closing and old.halt_desk:
            directive = directive.model_copy(update={"target_plan_ids": self.bridge.active_plan_ids()
                                                     or directive.target_plan_ids})
        self.start_preview(directive, title=old.title_text, halt_desk=old.halt_desk)
