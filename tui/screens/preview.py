"""The preview: the exact batch an action will send, one row per command, a summary, warnings (yellow) and errors
(red, sending disabled). `y` or enter sends, escape cancels and sends nothing. While sending, every row shows its
outcome live; a flatten shows its plans going flat; what is still open at the end stays red."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Static
from textual.widgets._toast import ToastRack

from core.batch import ExecutionBatch
from core.directives import Scope, StrategyDirective
from core.outcomes import CommandOutcome, ExecutionReport
from tui.bridge_view import PlanRow, Preview
from tui.screens.preview_parts import (
    COMMAND_COLUMNS,
    PLAN_COLUMNS,
    command_cells,
    command_keys,
    command_row,
    expired_unfilled,
    outcome_cell,
    plan_cells,
    retry_cells,
    send_order,
    summarize,
)
from tui.screens.read_guard import CONFIRM_GUARD, ReadGuard
from tui.screens.settled_resize import SettledResize
from tui.widgets.desk_input import panic_binding
from tui.widgets.fmt import num
from tui.widgets.key_footer import KeyFooter
from tui.widgets.virtual_table import VirtualTable


class PreviewState(StrEnum):
    READY = "ready"  # y / enter sends
    BLOCKED = "blocked"  # errors: sending is disabled
    EMPTY = "empty"  # nothing to send
    SENDING = "sending"
    DONE = "done"
    REFUSED = "refused"  # the handler refused (stale preview, already sent): nothing was sent


def _rows(line: str, width: int) -> int:
    """The lines `line` takes in `width` columns (wrapped)."""
    return max(1, -(-len(line) // max(width, 1)))


class PreviewScreen(SettledResize, ReadGuard, ModalScreen[None]):
    BINDINGS = [
        Binding("y", "send", "Send", id="preview.send"),
        Binding("enter", "send", "Send", id="preview.send_enter", priority=True, show=False),
        Binding("escape", "cancel", "Cancel / close", id="preview.cancel"),
        Binding("r", "repreview", "Preview again", id="preview.again"),
        panic_binding("preview"),
    ]

    @dataclass
    class SendRequested(Message):
        """The operator confirmed: send this batch."""

        screen: PreviewScreen

    @dataclass
    class Painted(Message):
        """The preview is on screen (the operator is reading it): the time to journal it."""

        screen: PreviewScreen

    @dataclass
    class RepreviewRequested(Message):
        """The operator asks for a fresh preview of the same intent."""

        screen: PreviewScreen

    def __init__(self, preview: Preview, directive: StrategyDirective, *, title: str, halt_desk: bool = False,
                 plans: Mapping[str, PlanRow] | list[PlanRow] | None = None, header: Widget | None = None,
                 guard: float = CONFIRM_GUARD, guard_clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(classes="preview")
        self._start_guard(guard, guard_clock)
        self._guard_hint = False
        self._dismissed = False  # dismissed once: a second enter / esc of the same burst must not dismiss again
        self.header = header  # the desk's header line, kept live by the app above an opaque screen
        self.preview = preview
        self.batch = preview.batch
        self.directive = directive
        self.title_text = title
        self.halt_desk = halt_desk
        #: each target plan's row as previewed (a Mapping: the bridge's rows are priced when read)
        self.before: Mapping[str, PlanRow] = plans if isinstance(plans, Mapping) else {r.plan_id: r
                                                                                      for r in plans or []}
        self.closing = directive.scope is Scope.CLOSE_EXISTING
        self._notes_shown = ""  # the notes' text as shown (see _fit)
        self.report: ExecutionReport | None = None
        self.left_open: list[str] = []  # plans of a flatten not flat at its end
        self.outcomes: dict[tuple[int, int], CommandOutcome] = {}
        self._tables: list[VirtualTable] = []
        b = self.batch
        if b.errors:
            self.state = PreviewState.BLOCKED
        elif not b.commands and not halt_desk:
            self.state = PreviewState.EMPTY
        else:
            self.state = PreviewState.READY

    # ---------------------------------------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        b = self.batch
        if self.header is not None:
            yield self.header
        with Vertical(classes="dialog preview-box"):
            yield Static(self._title(), id="preview-title", classes="dialog-title")
            yield Static(summarize(b, self.preview.markets).text(), id="preview-summary")
            yield Static(self._marks(), id="preview-marks")
            notes = self._notes()
            self._notes_shown = notes.plain
            yield Static(notes, id="preview-notes")
            table = VirtualTable(COMMAND_COLUMNS, id="preview-commands")
            yield table
            if self.closing:
                yield VirtualTable(PLAN_COLUMNS, id="preview-plans")
            yield Static("", id="preview-report")
            yield Static("", id="preview-status")
        yield KeyFooter()

    def _extend_compose(self, widgets: list[Widget]) -> None:
        """Textual's own widgets, but no toast rack: on a preview the toasts wait. They covered its confirm line,
        its report and its plan rows (at 80x24, at 120x35, and on any screen a flatten of many plans fills). The
        header on top counts the alerts and the bell rings; the desk shows the toasts still within their time once
        the preview is closed (Textual shows the app's notifications on the screen that resumes)."""
        super()._extend_compose(widgets)
        widgets[:] = [w for w in widgets if not isinstance(w, ToastRack)]

    def on_mount(self) -> None:
        self._tables = list(self.query(VirtualTable))
        order = send_order(self.batch)
        self.query_one("#preview-commands", VirtualTable).set_lazy(command_keys(self.preview, order),
                                                                  lambda i: command_row(self.preview, order[i]))
        if self.closing:  # lazily: a flatten of 2,000 plans paints the dozen on screen
            before = self.before
            pids = [pid for pid in self.batch.plan_versions if pid in before]
            self.query_one("#preview-plans", VirtualTable).set_lazy(
                pids, lambda i: plan_cells(before.get(pids[i]), before.get(pids[i]), "ready"))
        self.query_one("#preview-notes", Static).display = bool(self.batch.warnings or self.batch.errors
                                                                or self.preview.changes)
        self.query_one("#preview-commands", VirtualTable).display = bool(self.batch.commands)
        self.query_one("#preview-report", Static).display = False
        self._show_state()
        self._fit()
        self.call_after_refresh(self._shown)

    def _shown(self) -> None:
        self._painted()
        self.post_message(self.Painted(self))

    def on_unmount(self) -> None:
        """Let go of the batch: a closed screen can linger until the GC's next full pass, and a flatten preview
        of 2,000 plans holds tens of thousands of commands and orders; its tables as many row keys."""
        for table in self._tables:  # (held: the children are gone from the DOM by now)
            table.release()
        self._tables = []
        empty = ExecutionBatch(directive_id=self.batch.directive_id, scope=self.batch.scope)
        self.preview = Preview(batch=empty)
        self.batch = empty
        self.before = {}
        self.outcomes = {}

    def _title(self) -> Text:
        b = self.batch
        t = Text()
        t.append(f"PREVIEW · {self.title_text}", "bold")
        t.append(f"   {b.directive_id} · {b.scope} · {len(b.commands)} command{'s' * (len(b.commands) != 1)}",
                 "dim")
        if self.halt_desk:
            t.append("   sending also HALTS the desk", "bold white on red")
        return t

    def _marks(self) -> Text:
        symbols = self.preview.symbols or sorted({c.symbol for c in self.batch.commands})
        marks = self.preview.markets
        parts = [f"{s} {num(marks[s].mark_price)}" for s in symbols if s in marks]
        t = Text("marks at preview: " + ("   ".join(parts) if parts else "—"), "dim")
        for sym, age_s in sorted(self.preview.stale_marks.items()):
            t.append(f"   ⚠ {sym} mark {age_s:.0f} s old", "bold black on yellow")
        if self.preview.retry_note:
            t.append(f"   · {self.preview.retry_note}", "yellow")
        return t

    def _fit(self) -> None:
        """Size the tables to their rows, within the screen: small batches get a small dialog, and on a small
        terminal the tables scroll while the title, totals and the confirm line stay on screen. The notes (up to 12
        lines) and the report (up to 10) get what is left once the tables have their least (a header and a row)
        and the status line its own: at 80x24 a long report or many warnings pushed the status line off the
        dialog."""
        height = (self.size.height or 50) - (1 if self.header is not None else 0) - 2  # header, top margin, footer
        box = self.query_one(".preview-box")
        width = max(20, (box.size.width or self.size.width or 160) - 4)  # border and padding
        fixed = 2  # the box's border
        flexible: list[tuple[Static, int, int]] = []  # (widget, lines wanted, margins): the notes and the report
        for w in box.children:
            if not w.display or w.id in ("preview-commands", "preview-plans") or not isinstance(w, Static):
                continue
            lines = 0
            if w.id == "preview-notes":  # all of them, not the ones shown now
                lines = sum(_rows(text, width) for text, _ in self._note_items())
            else:
                for line in str(w.render()).splitlines() or [""]:
                    lines += _rows(line, width)
            margins = w.styles.margin.top + w.styles.margin.bottom
            if w.id in ("preview-notes", "preview-report"):
                flexible.append((w, min(lines, 12 if w.id == "preview-notes" else 10), margins))
                continue
            w.styles.height = lines
            fixed += lines + margins
        commands = self.query_one("#preview-commands", VirtualTable)
        want_cmd = commands.row_count + 1 if commands.display else 0
        if want_cmd and sum(w for _, w, _ in COMMAND_COLUMNS) + 30 > width:
            want_cmd += 1  # the horizontal scrollbar of a table wider than the box
        least = (1 + min(want_cmd, 3)) if want_cmd else 0  # the commands table's margin and its three lines
        plans: VirtualTable | None = None
        want_plans = wide = margin = 0
        if self.closing:
            plans = self.query_one("#preview-plans", VirtualTable)
            margin = plans.styles.margin.top
            wide = int(sum(w + 1 for _, w, _ in PLAN_COLUMNS if w) + 40 > width)  # (VirtualTable's virtual width)
            want_plans = plans.row_count + 2 + wide  # + its border and header line (and a horizontal scrollbar)
            least += margin + min(want_plans, 3 + wide)
        spare = height - fixed - least
        for w, lines, margins in flexible:  # in the dialog's order: the notes, then the report
            lines = max(1, min(lines, spare - margins))
            if w.id == "preview-notes":
                notes = self._notes(lines, width)
                if notes.plain != self._notes_shown:  # (an update asks for a layout, and a layout for a fit)
                    self._notes_shown = notes.plain
                    w.update(notes)
            w.styles.height = lines
            fixed += lines + margins
            spare -= lines + margins
        plans_h = 0
        room = height - fixed - (1 if want_cmd else 0)  # the commands table's margin
        if plans is not None:
            plans_h = min(want_plans, max(4, room // 3))
            # on a short terminal the plans table gives way first (down to its header and one row), so that the
            # commands table keeps its three lines and the status line below both stays on screen (a flatten done
            # at 80x24 lost its DONE line under the report)
            plans_h = max(min(want_plans, 3 + wide), min(plans_h, room - margin - min(want_cmd, 3)))
            plans.styles.height = plans_h
            plans_h += margin
        commands.styles.height = max(min(want_cmd, 3), min(want_cmd, room - plans_h))

    def on_resize(self) -> None:
        self._fit()
        self.call_after_refresh(self._fit)  # again with the box's real width

    def _note_items(self) -> list[tuple[str, str]]:
        """The notes' lines (text, style): what changed since a stale preview, the errors, then the warnings."""
        items: list[tuple[str, str]] = []
        if self.preview.changes:
            items.append(("CHANGED since the preview that was refused as stale (this one is fresh):",
                          "bold black on yellow"))
            items += [(f"  Δ {line}", "bold yellow") for line in self.preview.changes]
        items += [(f"✗ error: {e}", "bold red") for e in self.batch.errors]
        items += [(f"! warning: {w}", "yellow") for w in self.batch.warnings]
        return items

    def _notes(self, rows: int | None = None, width: int = 0) -> Text:
        """The notes, within `rows` lines of `width` when given: those that do not fit are counted on the last
        line, with where to read them all (the journal keeps the whole batch)."""
        items = self._note_items()
        if rows is not None and width and sum(_rows(text, width) for text, _ in items) > rows:
            b = self.batch
            kinds = [f"{n} {what}{'s' * (n != 1)}" for n, what in ((len(self.preview.changes), "change"),
                                                                   (len(b.errors), "error"),
                                                                   (len(b.warnings), "warning")) if n]
            db = getattr(getattr(self.app, "bridge", None), "db", None)  # the journal lives in the ledger file
            where = f"plandesk journal{f' --db {db}' if db else ''} --json --directive {b.directive_id}"

            def tail(more: int) -> str:
                return f"… {more} more not shown · {', '.join(kinds)} in all: {where}"

            shown = 0
            used = 0
            for text, _ in items:  # whole notes while they fit with the count below them
                if used + _rows(text, width) + _rows(tail(len(items) - shown), width) > rows:
                    break
                shown += 1
                used += _rows(text, width)
            items = [*items[:shown], (tail(len(items) - shown), "bold")]
        return Text("\n").join(Text(text, style) for text, style in items)

    def _status(self) -> Text:
        s = self.state
        n = len(self.batch.commands)
        if s is PreviewState.READY:
            what = f"send {n} command{'s' * (n != 1)}" + (" and HALT the desk" if self.halt_desk else "")
            hint = (("  KEY IGNORED: it came before you could read this preview; read it, then press y again\n",
                     "bold black on yellow") if self._guard_hint else ("", ""))
            return Text.assemble(hint, ("  y", "bold reverse"), (" / ", ""), ("enter", "bold reverse"),
                                 (f"  {what}    ", ""), ("esc", "bold reverse"), ("  cancel: nothing is sent", ""))
        if s is PreviewState.BLOCKED:
            return Text.assemble(("  SENDING IS DISABLED: ", "bold white on red"),
                                 (f" {len(self.batch.errors)} error{'s' * (len(self.batch.errors) != 1)} above. "
                                  "Nothing can be sent from this preview.   ", "bold red"),
                                 ("esc", "bold reverse"), ("  back", ""))
        if s is PreviewState.EMPTY:
            return Text.assemble(("  nothing to send", "bold yellow"), (" (see the warnings)   ", ""),
                                 ("esc", "bold reverse"), ("  close", ""))
        if s is PreviewState.SENDING:
            done = sum(1 for o in self.outcomes.values() if o.status.is_final)
            return Text.assemble(("  SENDING… ", "bold black on yellow"),
                                 (f" {done} of {max(n, len(self.outcomes))} commands answered", "yellow"),
                                 ("   esc: hide (the send goes on; results go to the activity log)", "dim"))
        if s is PreviewState.REFUSED:
            assert self.report is not None
            return Text.assemble(("  NOT SENT ", "bold white on red"), (f" {self.report.refused}   ", "bold red"),
                                 ("r", "bold reverse"), ("  preview again   ", ""), ("esc", "bold reverse"),
                                 ("  close", ""))
        if s is PreviewState.DONE and self.can_retry:
            assert self.report is not None
            return Text.assemble(("  DONE, NOT FLAT ", "bold white on red"),
                                 (f" {self.report.summary()}   ", "bold red"),
                                 ("r", "bold reverse"), (f"  flatten the {len(self.left_open)} still open   ", "bold"),
                                 ("esc", "bold reverse"), ("  close", ""))
        assert self.report is not None
        ok = self.report.ok
        return Text.assemble(("  DONE ", "bold black on green" if ok else "bold white on red"),
                             (f" {self.report.summary()}   ", "green" if ok else "bold red"),
                             ("enter / esc", "bold reverse"), ("  close", ""))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The footer shows only the keys that do something in the preview's current state (DESIGN §3b)."""
        if action == "send":
            return self.state in (PreviewState.READY, PreviewState.DONE, PreviewState.EMPTY)
        if action == "repreview":
            return self.state in (PreviewState.REFUSED, PreviewState.BLOCKED, PreviewState.EMPTY) or self.can_retry
        return True

    @property
    def can_retry(self) -> bool:
        """A flatten that left plans open: `r` previews a flatten of exactly those."""
        return (self.closing and self.state is PreviewState.DONE and self.report is not None
                and bool(self.report.still_open))


    def _show_state(self) -> None:
        self.refresh_bindings()
        self.query_one("#preview-status", Static).update(self._status())
        self.set_class(self.state is PreviewState.BLOCKED, "-blocked")
        self.set_class(self.state is PreviewState.REFUSED, "-refused")
        self.set_class(self.state is PreviewState.DONE and self.report is not None and not self.report.ok,
                       "-failed")

    # ---------------------------------------------------------------------------------------------- keys

    def action_send(self) -> None:
        if self.state is PreviewState.READY and not self.confirm_ready:
            # typed ahead, a double enter, key repeat: not a decision about what is on screen (DESIGN §3b)
            self.ignored_confirms += 1
            self._guard_hint = True
            self._show_state()
            self._fit()
            return
        if self.state is PreviewState.READY:
            self.state = PreviewState.SENDING
            self._show_state()
            self.post_message(self.SendRequested(self))
        elif self.state in (PreviewState.DONE, PreviewState.EMPTY):
            self.close_once()
        elif self.state is PreviewState.BLOCKED:
            self.app.bell()  # (the status line says why: SENDING IS DISABLED, the errors above; no toast here)

    def action_cancel(self) -> None:
        if self.state is PreviewState.SENDING:  # (shown on the desk, where the toasts are)
            self.notify("Still sending: the outcomes go to the activity log.", timeout=4)
        self.close_once()

    def close_once(self) -> None:
        """Dismiss once (a burst of keys can ask twice before the screen is gone: ScreenStackError otherwise)."""
        if not self._dismissed and self.is_attached and self.app.screen is self:
            self._dismissed = True
            self.dismiss(None)

    def action_repreview(self) -> None:
        if self.state in (PreviewState.REFUSED, PreviewState.BLOCKED, PreviewState.EMPTY) or self.can_retry:
            self.post_message(self.RepreviewRequested(self))

    # ---------------------------------------------------------------------------------------------- live

    def show_outcome(self, oc: CommandOutcome) -> None:
        key = (oc.round, oc.seq)
        self.outcomes[key] = oc
        table = self.query_one("#preview-commands", VirtualTable)
        if oc.round == 1:
            row = table.row(key)
            if row is not None:
                table.update_row(key, [*row[:9], outcome_cell(oc)])
        elif not table.update_row(key, retry_cells(oc)):
            table.add_row(key, retry_cells(oc))
        if self.state is PreviewState.SENDING:
            self._show_state()

    def plans_changed(self, rows: list[PlanRow]) -> None:
        if not self.closing or self.state not in (PreviewState.SENDING, PreviewState.DONE):
            return
        table = self.query_one("#preview-plans", VirtualTable)
        phase = "done" if self.state is PreviewState.DONE else "sending"
        for r in rows:
            if table.has_row(r.plan_id):
                table.update_row(r.plan_id, plan_cells(self.before.get(r.plan_id), r, phase))

    def show_report(self, report: ExecutionReport, rows: dict[str, PlanRow]) -> None:
        self.report = report
        self.left_open = [pid for pid in self.batch.plan_versions
                          if (r := rows.get(pid)) is not None and (r.net != 0 or r.open_orders)]
        self.state = PreviewState.REFUSED if report.refused else PreviewState.DONE
        if self.closing:
            table = self.query_one("#preview-plans", VirtualTable)
            phase = "refused" if report.refused else "done"
            for pid in self.batch.plan_versions:
                now = rows.get(pid)
                if table.has_row(pid) and now is not None:
                    table.update_row(pid, plan_cells(self.before.get(pid), now, phase))
        lines = Text()
        if report.halted:
            lines.append("■ desk HALTED: nothing that adds exposure can be sent until it is resumed (h)\n",
                         "bold magenta")
        for note in report.notes:
            lines.append(f"note: {note}\n", "yellow")
        for pid, why in sorted(report.unprotected.items()):
            lines.append(f"⚠ UNPROTECTED {pid}: {why}\n", "bold white on red")
        for line in report.still_open:
            lines.append(f"✗ STILL OPEN: {line}\n", "bold red")
        if report.still_open and self.closing:
            lines.append("r: preview a flatten of exactly the plans still open\n", "bold")
        for line in report.differences:
            lines.append(f"Δ differed from the preview: {line}\n", "yellow")
        bad = [o for o in report.outcomes if o.status.is_bad or expired_unfilled(o)]
        for o in bad[:20]:
            lines.append(f"✗ #{o.seq} {o.action} {o.plan_id}: {o.status} {o.detail}\n", "bold red")
        lines.rstrip()
        rep = self.query_one("#preview-report", Static)
        rep.update(lines)
        rep.display = bool(lines.plain)
        self._show_state()
        self._fit()

    @property
    def status_text(self) -> str:
        return self._status().plain

    def command_text(self, seq: int, round_no: int = 1) -> str:
        return self.query_one("#preview-commands", VirtualTable).text_of((round_no, seq))


__all__ = ["PreviewScreen", "PreviewState", "command_cells"]
