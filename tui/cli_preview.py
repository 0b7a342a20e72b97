"""`plandesk preview`, `plandesk ledger import|export`, `plandesk journal`."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch, ModifyOrder
from core.decimals import dec_str
from core.directives import StrategyDirective
from core.models import LedgerState, id_problem
from core.worker import translate
from tui.cli_report import BIG_BATCH, batch_summary_lines, pacing_line
from tui.inputs import EXIT_ERRORS, EXIT_OK, InputError, load_model, plain_text


def load_snapshot(path: Path) -> LedgerState:
    """The one validation of a snapshot file, for `ledger import` and `preview --state` alike."""
    state = load_model(LedgerState, path, "snapshot")
    problems = state.import_errors()
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputError(f"snapshot {path}: {problems[0]}{more}")
    return state


def load_directive(path: Path) -> StrategyDirective:
    """A directive file: its fields, then its ids in the safe form (plan ids as TPL_..., its id as STR_...)."""
    directive = load_model(StrategyDirective, path, "directive")
    problems = [f"target_plan_ids[{i}]: {why}" for i, pid in enumerate(directive.target_plan_ids)
                if (why := id_problem(pid, "plan_id")) is not None]
    if directive.cancel_directive is not None:
        problems += [f"cancel_directive.order_ids[{i}]: {why}"
                     for i, oid in enumerate(directive.cancel_directive.order_ids)
                     if (why := id_problem(oid, "order_id")) is not None]
    if directive.directive_id is not None and (why := id_problem(directive.directive_id, "directive_id")):
        problems.insert(0, f"directive_id: {why}")
    if problems:
        raise InputError(f"directive {path}: {problems[0]}")
    return directive


def clean(value: object) -> str:
    """Text that came from data, fit for a Rich console: control characters shown escaped, markup escaped."""
    from rich.markup import escape

    return escape(plain_text(value))


def open_ledger(db: Path, *, must_exist: bool = True):  # type: ignore[no-untyped-def]
    from core.ledger import Ledger

    if must_exist and not db.exists():
        raise InputError(f"ledger {db}: file not found (create it with `plandesk ledger import FILE --db {db}`)")
    return Ledger(db)


def run_preview(args: argparse.Namespace) -> int:
    directive = load_directive(args.directive)
    if args.state is not None:
        state = load_snapshot(args.state)
        gc.freeze()  # a short-lived process: keep the collector off the loaded snapshot while translating
        batch = translate(directive, state)
    else:
        from core.journal import Journal, record_preview

        ledger = open_ledger(args.db)
        try:
            batch = translate(directive, ledger.state())
            record_preview(Journal(args.db), directive, batch)
        finally:
            ledger.close()
    if args.json:
        sys.stdout.write(batch.to_json() + "\n")
    else:
        print_batch(batch)
    return EXIT_OK if batch.ok else EXIT_ERRORS


def batch_table(batch: ExecutionBatch):  # type: ignore[no-untyped-def]
    from rich.table import Table

    table = Table(title=f"{clean(batch.directive_id)} · {batch.scope}", title_justify="left", header_style="bold")
    for col in ("#", "action", "plan", "symbol", "side", "qty", "type", "price / stop", "tif", "reduce", "order"):
        table.add_column(col, justify="right" if col in ("#", "qty", "price / stop") else "left")
    for c in batch.commands:
        if isinstance(c, ExecuteTrade):
            px = c.price if c.price is not None else c.stop_price
            table.add_row(str(c.seq), "[green]PLACE[/]", clean(c.plan_id), clean(c.symbol), c.side,
                          dec_str(c.quantity), c.order_type, dec_str(px) if px is not None else "mkt",
                          c.time_in_force or "", "yes" if c.reduce_only else "", clean(c.client_order_id))
        elif isinstance(c, ModifyOrder):
            px = c.price if c.price is not None else c.stop_price
            table.add_row(str(c.seq), "[yellow]MODIFY[/]", clean(c.plan_id), clean(c.symbol), "",
                          dec_str(c.quantity) if c.quantity is not None else "", "",
                          dec_str(px) if px is not None else "", "", "", clean(c.order_id))
        elif isinstance(c, CancelOrder):
            table.add_row(str(c.seq), "[red]CANCEL[/]", clean(c.plan_id), clean(c.symbol), "", "", "", "", "", "",
                          clean(c.order_id))
    return table


def make_console():  # type: ignore[no-untyped-def]
    """A rich console; 160 columns when the output is not a terminal (files, pipes, tests)."""
    from rich.console import Console

    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=160)


def print_batch(batch: ExecutionBatch) -> None:
    console = make_console()
    if len(batch.commands) > BIG_BATCH:  # a desk-scale batch: a summary, not a 20,000-row table before the prompt
        for line in batch_summary_lines(batch):
            console.print(line)
    elif batch.commands:
        console.print(batch_table(batch))
    elif batch.ok:
        console.print(f"{clean(batch.directive_id)} · {batch.scope}: nothing to send")
    if (pacing := pacing_line(batch)) is not None:
        console.print(pacing)
    for w in batch.warnings:
        console.print(f"[yellow]warning:[/] {clean(w)}", highlight=False)
    for e in batch.errors:
        console.print(f"[bold red]error:[/] {clean(e)}", highlight=False)
    if batch.errors:
        console.print("[bold red]nothing can be sent[/]")


def run_ledger(args: argparse.Namespace) -> int:
    if args.ledger_command == "import":
        state = load_snapshot(args.file)
        ledger = open_ledger(args.db, must_exist=False)
        try:
            ledger.import_snapshot(state)
        finally:
            ledger.close()
        print(f"imported {len(state.plans)} plans into {args.db}", file=sys.stderr)
        return EXIT_OK
    ledger = open_ledger(args.db)
    try:
        snap = ledger.export_snapshot()
    finally:
        ledger.close()
    sys.stdout.write(json.dumps(snap.model_dump(mode="json"), indent=2) + "\n")
    return EXIT_OK


def run_journal(args: argparse.Namespace) -> int:
    from core.journal import Journal

    if not args.db.exists():
        raise InputError(f"ledger {args.db}: file not found")
    entries = Journal(args.db).entries(directive_id=args.directive, limit=args.limit)
    for e in entries:
        if args.json:
            sys.stdout.write(e.model_dump_json() + "\n")
        else:
            summary = plain_text(e.payload.get("summary") or "")
            print(f"{e.seq:>6}  {e.time}  {plain_text(e.operator):<10} {e.kind:<15} "
                  f"{plain_text(e.directive_id or '-'):<22} {summary}")
    return EXIT_OK
