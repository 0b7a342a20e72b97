"""`plandesk send` and `plandesk flatten`: preview, confirm, send, report every outcome."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from pathlib import Path

from pydantic import ValidationError

from core.batch import ExecutionBatch
from core.decimals import parse_decimal
from core.directives import ExecutionDirective, Scope, StrategyDirective
from core.journal import journal_preview
from core.models import PlanStatus
from core.pacing import limits_of
from core.worker import translate
from tui import cli_report
from tui.cli_preview import print_batch
from tui.cli_report import print_outcome as _print_outcome
from tui.cli_report import print_report as _print_report
from tui.inputs import EXIT_ERRORS, EXIT_FAIL, EXIT_OK, InputError, describe_validation, load_model
from tui.runtime import Runtime, is_new_paper_account, make_connector, open_runtime


def new_directive_id() -> str:
    return f"STR_{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}_{secrets.token_hex(3)}"


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise InputError("no terminal to confirm on: pass --yes to send (or --dry-run to only preview)")
    try:
        return input(f"{prompt} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


async def _execute(args: argparse.Namespace, build: object, *, halt: bool, dry_run: bool = False) -> int:
    db: Path = args.db
    if not db.exists():
        raise InputError(f"ledger {db}: file not found (create it with `plandesk ledger import FILE --db {db}`)")
    adopt = args.connector == "paper" and is_new_paper_account(db)
    connector = make_connector(args.connector, db, base_url=args.base_url, key_file=args.key_file)
    rt: Runtime = await open_runtime(db, connector, adopt=adopt)
    try:
        directive: StrategyDirective = build(rt)  # type: ignore[operator]
        if directive.directive_id is None:
            directive = directive.model_copy(update={"directive_id": new_directive_id()})
        batch: ExecutionBatch = translate(directive, rt.ledger.state())
        journal_preview(rt.journal, directive, batch)
        print_batch(batch)
        if not batch.ok:
            return EXIT_ERRORS
        if dry_run:
            return EXIT_OK
        if not batch.commands and not halt:
            return EXIT_OK
        if not args.yes:
            loop = asyncio.get_running_loop()
            ok = await loop.run_in_executor(None, _confirm, f"send {len(batch.commands)} commands?")
            if not ok:
                print("not sent", file=sys.stderr)
                return EXIT_FAIL
        report = await rt.handler.send(batch, directive, halt_desk=halt, on_outcome=_print_outcome)
        _print_report(report)
        return EXIT_OK if report.ok else EXIT_FAIL
    finally:
        await rt.close()


def run_send(args: argparse.Namespace) -> int:
    directive = load_model(StrategyDirective, args.directive, "directive")
    return asyncio.run(_execute(args, lambda rt: directive, halt=False))


def run_flatten(args: argparse.Namespace) -> int:
    execution = None
    if args.slippage is not None:
        try:
            execution = ExecutionDirective(max_total_slippage_pct=parse_decimal(args.slippage))
        except (ValueError, ValidationError) as exc:
            msg = describe_validation(exc) if isinstance(exc, ValidationError) else str(exc)
            raise InputError(f"--slippage: {msg}") from None
    if not args.yes and not args.dry_run and not sys.stdin.isatty():
        raise InputError("no terminal to confirm on: pass --yes to send (or --dry-run to only preview)")

    def build(rt: Runtime) -> StrategyDirective:
        cli_report.venue_limits = limits_of(rt.connector)  # the preview's duration at the venue's rate limit
        rt.handler.netting = bool(args.all) if args.net is None else bool(args.net)
        ids = rt.ledger.plan_ids(PlanStatus.ACTIVE) if args.all else list(args.plan)
        if not ids:
            raise InputError("no active plans to flatten")
        return StrategyDirective(scope=Scope.CLOSE_EXISTING, target_plan_ids=ids, execution_directive=execution)

    return asyncio.run(_execute(args, build, halt=bool(args.all), dry_run=args.dry_run))
