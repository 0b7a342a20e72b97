"""`plandesk send` and `plandesk flatten`: preview, confirm, send, report every outcome."""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from core.batch import ExecutionBatch
from core.decimals import parse_number_text
from core.directives import ExecutionDirective, Scope, StrategyDirective
from core.journal import record_preview
from core.ledger import Ledger
from core.models import DeskStatus, PlanStatus
from core.pacing import limits_of
from core.worker import directive_id_of, translate
from tui import cli_report
from tui.cli_preview import load_directive, open_ledger, print_batch
from tui.cli_report import print_outcome as _print_outcome
from tui.cli_report import print_report as _print_report
from tui.inputs import EXIT_ERRORS, EXIT_FAIL, EXIT_OK, InputError, describe_validation
from tui.runtime import Runtime, is_new_paper_account, make_connector, open_runtime, paper_state_path


def new_directive_id() -> str:
    return f"STR_{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}_{secrets.token_hex(3)}"


def _confirm(prompt: str) -> bool:
    if not sys.stdin.isatty():
        raise InputError("no terminal to confirm on: pass --yes to send (or --dry-run to only preview)")
    try:
        return input(f"{prompt} [y/N] ").strip().lower() in ("y", "yes")
    except EOFError:
        return False


Build = Callable[[Ledger], StrategyDirective]


def _need_db(db: Path) -> None:
    if not db.exists():
        raise InputError(f"ledger {db}: file not found (create it with `plandesk ledger import FILE --db {db}`)")


def _halt_first(db: Path) -> None:
    """Flatten-all halts the desk as its very first write, before the venue is even contacted."""
    from core.journal import Journal

    ledger = open_ledger(db)
    try:
        ledger.set_desk(DeskStatus.HALTED)
        Journal(db).append("halt", directive_id=None,
                           payload={"summary": "desk HALTED by flatten-all (before contacting the venue)"})
    finally:
        ledger.close()


async def _dry_run(args: argparse.Namespace, build: Build) -> int:
    """The preview only, and nothing written (no recovery, no journal, no paper account). Against a real venue
    its credentials and market rules are checked with read-only calls, and its marks are used."""
    from core.connector import ConnectorError

    ledger = open_ledger(args.db)
    try:
        state = ledger.state()
        if args.connector == "paper":  # the paper account is read, never saved: its marks, like a venue's
            path = paper_state_path(args.db)
            if path.exists():
                from connectors.paper.state import load_engine

                venue = load_engine(path).markets
                markets = {sym: venue.get(sym, m) for sym, m in state.markets.items()}
                state = state.model_copy(update={"markets": markets})
        else:
            connector = make_connector(args.connector, args.db, base_url=args.base_url, key_file=args.key_file)
            try:
                start = getattr(connector, "start", None)
                if start is not None:
                    await start()
                rules = await connector.market_rules()
                await connector.open_orders()  # a signed call: wrong credentials fail here, not at send
            except ConnectorError as exc:
                raise InputError(f"venue {args.base_url}: {exc.reason}") from None
            finally:
                await connector.close()
            markets = {sym: rules.get(sym, m) for sym, m in state.markets.items()}
            state = state.model_copy(update={"markets": markets})
        directive = _with_id(build(ledger), fresh=args.command == "flatten")
        batch = translate(directive, state)
    finally:
        ledger.close()
    print_batch(batch)
    return EXIT_OK if batch.ok else EXIT_ERRORS


def _with_id(directive: StrategyDirective, *, fresh: bool) -> StrategyDirective:
    """A flatten built here gets a new id (a second flatten must run again); a file's directive without one gets
    the id derived from its content, the same one `preview` shows, so the same file sent twice is not sent again."""
    if directive.directive_id is not None:
        return directive
    return directive.model_copy(update={"directive_id": new_directive_id() if fresh else directive_id_of(directive)})


async def _execute(args: argparse.Namespace, build: Build, *, halt: bool, dry_run: bool = False) -> int:
    db: Path = args.db
    _need_db(db)
    if dry_run:
        return await _dry_run(args, build)
    if halt:
        _halt_first(db)
    adopt = args.connector == "paper" and is_new_paper_account(db)
    connector = make_connector(args.connector, db, base_url=args.base_url, key_file=args.key_file)
    cli_report.venue_limits = limits_of(connector)  # the preview's duration at the venue's rate limit
    rt: Runtime = await open_runtime(db, connector, adopt=adopt)
    rt.handler.netting = bool(getattr(args, "netting", False))
    try:
        directive = _with_id(build(rt.ledger), fresh=args.command == "flatten")
        if not directive.target_plan_ids and directive.scope is Scope.CLOSE_EXISTING:
            print("no active plans to flatten" + ("; desk HALTED" if halt else ""), file=sys.stderr)
            return EXIT_OK
        batch: ExecutionBatch = translate(directive, rt.ledger.state())
        record_preview(rt.journal, directive, batch)
        print_batch(batch)
        if not batch.ok:
            return EXIT_ERRORS
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
    directive = load_directive(args.directive)
    return asyncio.run(_execute(args, lambda _ledger: directive, halt=False))


def run_flatten(args: argparse.Namespace) -> int:
    execution = None
    if args.slippage is not None:
        try:
            execution = ExecutionDirective(max_total_slippage_pct=parse_number_text(args.slippage, "--slippage"))
        except ValidationError as exc:
            raise InputError(f"--slippage: {describe_validation(exc)}") from None
        except ValueError as exc:  # NumberError: the message starts with the flag
            raise InputError(str(exc)) from None
    if not args.yes and not args.dry_run and not sys.stdin.isatty():
        raise InputError("no terminal to confirm on: pass --yes to send (or --dry-run to only preview)")

    args.netting = bool(args.all) if args.net is None else bool(args.net)  # one close per symbol (--net/--no-net)

    def build(ledger: Ledger) -> StrategyDirective:
        ids = ledger.plan_ids(PlanStatus.ACTIVE) if args.all else list(args.plan)
        if not ids and not args.all:
            raise InputError("no plans to flatten")
        return StrategyDirective(scope=Scope.CLOSE_EXISTING, target_plan_ids=ids, execution_directive=execution)

    return asyncio.run(_execute(args, build, halt=bool(args.all), dry_run=args.dry_run))
