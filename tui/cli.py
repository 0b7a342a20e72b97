"""The `plandesk` command line. Heavy modules (textual, httpx, the handler) are imported only by the commands
that need them, so `plandesk preview` starts fast."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tui.inputs import EXIT_FAIL, InputError, plain_text

DEFAULT_DB = "plandesk.sqlite"
OPERATOR_HELP = "who operates (journal and header; default: $PLANDESK_OPERATOR, else the login name)"
SLIPPAGE_HELP = "cap of the console's closes (c, F) as a fraction (default 0.02; 0 = MARKET closes)"


def _add_db(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    p.add_argument("--db", type=Path, default=None if required else Path(DEFAULT_DB), required=required,
                   help=f"ledger SQLite file (default {DEFAULT_DB})" if not required else "ledger SQLite file")


def _add_connector(p: argparse.ArgumentParser) -> None:
    p.add_argument("--connector", choices=["paper", "binance"], default="paper", help="venue (default paper)")
    p.add_argument("--base-url", default=None, help="venue base URL (binance dialect)")
    p.add_argument("--key-file", type=Path, default=None,
                   help="API key file (mode 0600): the key and the HMAC secret on two lines, "
                        "or PLANDESK_BINANCE_API_KEY=... and an Ed25519 private key PEM")


CONFIG_HELP = ("the operator's TOML config (default: $PLANDESK_CONFIG, else the platform config dir, e.g. "
               "~/.config/plandesk/config.toml); PLANDESK_<KEY> variables override it")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plandesk", description="Operator console for TradePlans.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("preview", help="show the exact batch a directive would send (sends nothing)")
    p.add_argument("directive", type=Path, help="directive JSON file")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--state", type=Path, help="ledger snapshot JSON file")
    src.add_argument("--db", type=Path, help="ledger SQLite file")
    p.add_argument("--json", action="store_true", help="print the batch as JSON")

    p = sub.add_parser("send", help="preview a directive, confirm, send it and report every outcome")
    p.add_argument("directive", type=Path)
    p.add_argument("--yes", action="store_true", help="send without asking")
    _add_db(p)
    _add_connector(p)

    p = sub.add_parser("flatten", help="cancel every open order and close the position of plans")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="every active plan (also halts the desk)")
    which.add_argument("--plan", action="append", metavar="ID", help="a plan id (repeatable)")
    p.add_argument("--slippage", default=None, help="max slippage as a fraction (0.05 = 5 %%): LIMIT IOC")
    p.add_argument("--net", action=argparse.BooleanOptionalAction, default=None,
                   help="one close per symbol for the net of the plans, allocated back per plan (default: on with "
                        "--all, off with --plan)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--yes", action="store_true", help="send without asking")
    mode.add_argument("--dry-run", action="store_true", help="show the preview only")
    _add_db(p)
    _add_connector(p)

    p = sub.add_parser("ledger", help="import or export the ledger snapshot")
    lsub = p.add_subparsers(dest="ledger_command", required=True, metavar="ACTION")
    q = lsub.add_parser("import", help="replace the ledger's plans with a snapshot file")
    q.add_argument("file", type=Path)
    _add_db(q)
    q = lsub.add_parser("export", help="print the ledger as a snapshot on stdout")
    _add_db(q)

    p = sub.add_parser("journal", help="print the journal (append-only record)")
    _add_db(p)
    p.add_argument("--directive", default=None, help="only entries of this directive id")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("demo", help="the console on the paper exchange with a seeded desk")
    p.add_argument("--exchange", choices=["paper", "sim"], default="paper",
                   help="paper: in-process; sim: the Binance-compatible loopback simulator, through the Binance "
                        "connector")
    p.add_argument("--db", type=Path, default=None, help="ledger file (default: a fresh temporary one)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--slippage", default=None, help=SLIPPAGE_HELP)
    p.add_argument("--operator", default=None, help=OPERATOR_HELP)
    p.add_argument("--config", default=None, help=CONFIG_HELP)

    p = sub.add_parser("console", help="the console on a real ledger")
    _add_db(p)
    _add_connector(p)
    p.add_argument("--slippage", default=None, help=SLIPPAGE_HELP)
    p.add_argument("--operator", default=None, help=OPERATOR_HELP)
    p.add_argument("--config", default=None, help=CONFIG_HELP)

    p = sub.add_parser("exchange-sim", help="run the Binance-compatible loopback simulator",
                       description="Binance Spot compatible loopback simulator (REST and WebSocket API)")
    from connectors.binance.sim_args import add_arguments as add_sim_arguments

    add_sim_arguments(p)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except InputError as exc:
        print(f"plandesk: error: {plain_text(exc)}", file=sys.stderr)
        return EXIT_FAIL
    except KeyboardInterrupt:
        print("plandesk: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_FAIL
    except Exception as exc:  # the last guard: one clear line, never a traceback
        if os.environ.get("PLANDESK_DEBUG"):
            raise
        from core.ledger_schema import LedgerError

        if isinstance(exc, LedgerError):  # its message says what is wrong with which ledger
            print(f"plandesk: error: {plain_text(exc)}", file=sys.stderr)
            return EXIT_FAIL
        print(f"plandesk: error: {exc.__class__.__name__}: {plain_text(exc)}", file=sys.stderr)
        return EXIT_FAIL


def _dispatch(args: argparse.Namespace) -> int:
    cmd = args.command
    if cmd == "preview":
        from tui.cli_preview import run_preview

        return run_preview(args)
    if cmd == "ledger":
        from tui.cli_preview import run_ledger

        return run_ledger(args)
    if cmd == "journal":
        from tui.cli_preview import run_journal

        return run_journal(args)
    if cmd in ("send", "flatten"):
        from tui.cli_exec import run_flatten, run_send

        return run_send(args) if cmd == "send" else run_flatten(args)
    if cmd in ("demo", "console"):
        from tui.cli_console import run_console, run_demo

        return run_demo(args) if cmd == "demo" else run_console(args)
    if cmd == "exchange-sim":
        from connectors.binance.sim import run_from_args

        return run_from_args(args)
    raise InputError(f"unknown command {cmd}")


if __name__ == "__main__":
    raise SystemExit(main())
