"""What `plandesk send` / `plandesk flatten` print about a batch: the preview of a big batch in summary, each outcome as
it ends, and the report. Big batches are summarised (counts per status, every bad outcome listed, the rest omitted
with a line saying how to see them) so that the output stays readable and its cost small at desk scale. Everything
that came from data (plan ids, symbols, venue reasons) is printed with control characters removed and Rich markup
escaped."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from rich.markup import escape

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch, ModifyOrder
from core.directives import Scope
from core.outcomes import CommandOutcome, ExecutionReport, OutcomeStatus
from core.pacing import VenueLimits, close_forms_line, plan_pacing

#: good outcomes printed one line each before the rest are only counted
SHOW_GOOD = 40
#: preview commands shown as a table before a batch is summarised instead
BIG_BATCH = 60
#: lines of a list (differences) shown before the rest are counted
SHOW_LINES = 40

STATUS_STYLE = {
    OutcomeStatus.ACKNOWLEDGED: "green", OutcomeStatus.RESOLVED: "cyan", OutcomeStatus.SKIPPED: "dim",
    OutcomeStatus.REJECTED: "bold red", OutcomeStatus.FAILED: "bold red", OutcomeStatus.UNKNOWN: "yellow",
}
#: the venue's rate limits for the preview's duration line (set by the command once it holds a connector)
venue_limits: VenueLimits | None = None
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def clean(value: object) -> str:
    """`value` as text safe to print through Rich: control characters (ANSI escapes included) become '?', markup is
    escaped."""
    return escape(_CONTROL.sub("?", str(value)))


def _console() -> Any:
    from tui.cli_preview import make_console

    return make_console()


class _Tally:
    def __init__(self) -> None:
        self.shown = 0
        self.omitted = 0


_tally = _Tally()


def outcome_line(oc: CommandOutcome) -> str:
    style = STATUS_STYLE.get(oc.status, "")
    line = (
        f"  #{oc.seq:<4} r{oc.round} {oc.action:<13} {clean(f'{oc.plan_id:<10}')} {clean(f'{oc.symbol:<9}')} "
        f"[{style}]{oc.status:<12}[/] {clean(oc.detail)}"
    )
    if oc.fill_price is not None:
        qty = f"{oc.filled_quantity:f} " if oc.filled_quantity is not None else ""
        line += f"  filled {qty}@ {oc.fill_price:f}"
        if oc.slippage is not None:
            line += f" (slippage {oc.slippage * 100:.3f}% vs the mark at preview)"
    return line


def print_outcome(oc: CommandOutcome) -> None:
    """One final outcome as it ends: every bad one, and the first SHOW_GOOD good ones; the rest are counted."""
    if not oc.status.is_final:
        return
    if oc.status.is_bad or _tally.shown < SHOW_GOOD:
        _tally.shown += 0 if oc.status.is_bad else 1
        _console().print(outcome_line(oc))
    else:
        _tally.omitted += 1


def status_counts(report: ExecutionReport) -> str:
    counts = Counter(str(oc.status) for oc in report.outcomes)
    superseded = sum(1 for oc in report.outcomes if oc.superseded)
    text = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
    return text + (f" ({superseded} bad ones superseded by a later round)" if superseded else "")


def print_report(report: ExecutionReport) -> None:
    console = _console()
    omitted, _tally.shown, _tally.omitted = _tally.omitted, 0, 0
    if report.refused:
        console.print(f"[bold red]not sent:[/] {clean(report.refused)}")
        return
    if report.halted:
        console.print("[bold red]desk HALTED[/] (flatten-all): nothing that adds exposure can be sent")
    if omitted:
        console.print(
            f"[dim]{omitted} more good outcomes not shown; `plandesk journal --directive "
            f"{clean(report.directive_id)}` lists every one[/]"
        )
    if len(report.outcomes) > SHOW_GOOD:
        console.print(f"outcomes: {status_counts(report)}")
    for note in report.notes:
        console.print(f"[yellow]note:[/] {clean(note)}")
    for i, line in enumerate(report.differences):
        if i == SHOW_LINES:
            console.print(f"[yellow]  ... {len(report.differences) - SHOW_LINES} more differences (see the journal)[/]")
            break
        console.print(f"[yellow]differs from the preview:[/] {clean(line)}")
    for line in report.still_open:
        console.print(f"[bold red]STILL OPEN:[/] {clean(line)}")
    for plan_id, why in sorted(report.unprotected.items()):
        console.print(f"[bold red]UNPROTECTED:[/] {clean(plan_id)} holds a position with no stop: {clean(why)}")
    colour = "green" if report.ok else "bold red"
    console.print(f"[{colour}]{clean(report.summary())}[/]")


def batch_summary_lines(batch: ExecutionBatch) -> list[str]:
    """A big batch in a few lines: commands per action and symbol, and how to see every one."""
    per: Counter[tuple[str, str]] = Counter()
    for c in batch.commands:
        action = "PLACE" if isinstance(c, ExecuteTrade) else "MODIFY" if isinstance(c, ModifyOrder) else (
            "CANCEL" if isinstance(c, CancelOrder) else type(c).__name__)
        per[(action, c.symbol)] += 1
    plans = len({c.plan_id for c in batch.commands})
    lines = [f"{clean(batch.directive_id)} · {batch.scope}: {len(batch.commands)} commands for {plans} plans"]
    for (action, symbol), n in sorted(per.items()):
        lines.append(f"  {action:<7} {clean(f'{symbol:<10}')} {n:>7}")
    lines.append(
        f"[dim]  (every command: `plandesk journal --directive {clean(batch.directive_id)} --json`, "
        "or the preview with --json)[/]"
    )
    return lines


def pacing_line(batch: ExecutionBatch, limits: VenueLimits | None = None) -> str | None:
    """The preview's expected duration at the venue's rate limit; for a flatten both forms of the closes (one per
    plan as sent, or one netted close per symbol as core.netting would allocate it)."""
    limits = limits if limits is not None else venue_limits
    trades = [c for c in batch.commands if isinstance(c, ExecuteTrade)]
    if not batch.commands:
        return None
    cancels = sum(1 for c in batch.commands if isinstance(c, CancelOrder))
    if batch.scope is Scope.CLOSE_EXISTING and trades:
        symbols = len({c.symbol for c in trades})
        forms = close_forms_line(limits, per_plan_closes=len(trades), cancels=cancels, symbols=symbols)
        return f"closes: {forms}"
    plan = plan_pacing(limits, orders=len(trades), requests=len(batch.commands))
    where = "at the rate limit" if limits is not None and limits.orders is not None else "(no venue rate limit)"
    return f"expected: {len(batch.commands)} requests, {plan.text()} {where}"
