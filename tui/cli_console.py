"""`plandesk demo` and `plandesk console`: pick the venue and the ledger, hand them to the bridge and the app."""

from __future__ import annotations

import argparse
import secrets
import tempfile
from pathlib import Path
from typing import Any

from tui.inputs import EXIT_OK, InputError

TICK = 0.25


def _sim_starter() -> Any:
    try:
        from connectors.binance.sim import start_sim_in_thread  # type: ignore[attr-defined]
    except ImportError:
        try:
            from connectors.binance.sim_server import start_sim_in_thread
        except ImportError:
            raise InputError("--exchange sim: the Binance-compatible simulator (connectors/binance/sim.py) is not "
                             "available in this build; use --exchange paper") from None
    return start_sim_in_thread


def _slippage(args: argparse.Namespace) -> Any:
    """--slippage: the cap of the console's closes (`c`, `F`) as a fraction; 0 means MARKET closes."""
    from decimal import Decimal

    from pydantic import ValidationError

    from core.decimals import parse_decimal
    from core.directives import ExecutionDirective

    raw = getattr(args, "slippage", None)
    if raw is None:
        return Decimal("0.02")
    try:
        value = parse_decimal(raw)
        if value == 0:
            return None
        ExecutionDirective(max_total_slippage_pct=value)
    except (ValueError, ValidationError):
        raise InputError(f"--slippage: {raw!r} must be a fraction between 0 and 1 (0.02 = 2 %; 0 = MARKET)") from None
    return value


def venue_label(connector: Any, kind: str) -> str:
    """The venue as the header shows it: its kind and host ("sim 127.0.0.1:8765", "binance api.binance.com",
    "paper"), never a real venue's name for the loopback simulator."""
    from urllib.parse import urlsplit

    base = getattr(getattr(connector, "rest", None), "base_url", None) or getattr(connector, "base_url", None)
    host = urlsplit(str(base)).netloc if base else ""
    if kind == "binance" and host.split(":")[0] in ("127.0.0.1", "localhost", "::1"):
        kind = "sim"
    return f"{kind} {host}" if host else kind


def resolve_operator(args: argparse.Namespace) -> str:
    """--operator, else $PLANDESK_OPERATOR / $USER / $LOGNAME, else the login name. There is no config file yet;
    when there is one it goes between the two. The journal reads it from $PLANDESK_OPERATOR."""
    import os

    from core.journal import current_operator

    raw = getattr(args, "operator", None)
    if raw is not None:
        name = raw.strip()
        if not name or len(name) > 64 or not name.isprintable():
            raise InputError(f"--operator: {raw!r} must be a printable name of 1 to 64 characters")
    else:
        name = current_operator()
        if name == "unknown":  # no $USER / $LOGNAME (tmux, cron, containers): the login name of the process
            import getpass

            try:
                name = getpass.getuser() or name
            except (KeyError, OSError):
                pass
    os.environ["PLANDESK_OPERATOR"] = name
    return name


def _run(bridge: Any, *, cleanup: list[Any], slippage: Any, venue: str, operator: str) -> int:
    from tui.app import PlanDeskApp

    app = PlanDeskApp(bridge, close_slippage=slippage, venue=venue, operator=operator)
    try:
        app.run()
    finally:
        bridge.stop()
        for fn in cleanup:
            fn()
    return EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    """The console on a fresh paper (or simulated Binance) exchange with the demo desk and a live price walk."""
    from connectors.paper.connector import PaperConnector
    from connectors.paper.engine import PaperEngine
    from connectors.paper.markets import DEFAULT_MARKETS
    from connectors.paper.orders import PaperConfig
    from core.demo import seed_demo_desk
    from tui.bridge import DeskBridge
    from tui.runtime import paper_state_path

    slippage = _slippage(args)
    operator = resolve_operator(args)
    cleanup: list[Any] = []
    if args.db is None:
        tmp = Path(tempfile.mkdtemp(prefix="plandesk-demo-"))
        db = tmp / "demo.sqlite"
    else:
        db = Path(args.db)
        if db.parent and not db.parent.exists():
            raise InputError(f"--db {db}: directory {db.parent} does not exist")
    config = PaperConfig(seed=args.seed)
    connector: Any
    if args.exchange == "sim":
        start = _sim_starter()
        from connectors.binance.connector import BinanceConnector

        key, secret = secrets.token_hex(16), secrets.token_hex(32)
        engine = PaperEngine(DEFAULT_MARKETS(), config)
        sim = start(engine, key, secret, tick_interval=TICK)
        cleanup.insert(0, sim.stop)
        connector = BinanceConnector(sim.base_url, key, secret, poll_interval=0.25)
    elif args.db is None:
        connector = PaperConnector(PaperEngine(DEFAULT_MARKETS(), config), tick_interval=TICK)
    else:
        connector = PaperConnector.open(paper_state_path(db), config=config, tick_interval=TICK)
    where = (f"plandesk demo: ledger and journal in {db} (kept after quitting; read it with "
             f"`plandesk journal --db {db}`)")
    print(where, flush=True)
    cleanup.append(lambda: print(where, flush=True))
    bridge = DeskBridge(connector, db, seed=seed_demo_desk)
    return _run(bridge, cleanup=cleanup, slippage=slippage, venue=venue_label(connector, args.exchange),
                operator=operator)


def run_console(args: argparse.Namespace) -> int:
    """The console on an existing ledger and the chosen connector."""
    from tui.bridge import DeskBridge
    from tui.runtime import is_new_paper_account, make_connector

    slippage = _slippage(args)
    operator = resolve_operator(args)
    db = Path(args.db)
    if not db.exists():
        raise InputError(f"ledger {db}: file not found (create it with `plandesk ledger import FILE --db {db}`, "
                         "or try `plandesk demo`)")
    adopt = args.connector == "paper" and is_new_paper_account(db)
    connector = make_connector(args.connector, db, base_url=args.base_url, key_file=args.key_file,
                               tick_interval=TICK if args.connector == "paper" else None)
    return _run(DeskBridge(connector, db, adopt=adopt), cleanup=[], slippage=slippage,
                venue=venue_label(connector, args.connector), operator=operator)
