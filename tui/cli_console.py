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


def binding_ids() -> set[str]:
    """Every binding id of the console's app and screens: what a config keymap may name."""
    import importlib
    import pkgutil

    import tui.screens
    import tui.widgets
    from tui.app import PlanDeskApp

    ids: set[str] = set()
    owners: list[Any] = [PlanDeskApp]
    for pkg in (tui.screens, tui.widgets):
        for info in pkgutil.iter_modules(pkg.__path__):
            mod = importlib.import_module(f"{pkg.__name__}.{info.name}")
            owners += [v for v in vars(mod).values() if isinstance(v, type) and hasattr(v, "BINDINGS")]
    from tui.screens.loosen_confirm import LOOSEN_OFFER  # bound on a preview refused as looser, not in a class

    for owner in owners:
        for b in [*getattr(owner, "BINDINGS", []), *([LOOSEN_OFFER] if owner is PlanDeskApp else [])]:
            bid = getattr(b, "id", None)
            if bid:
                ids.add(bid)
    return ids


def load_desk_config(args: argparse.Namespace) -> Any:
    """The operator's config (tui.config): a bad file or value is one clear line, and the console does not start."""
    from tui.config import ConfigError, load_config

    try:
        return load_config(getattr(args, "config", None), known_bindings=binding_ids())
    except ConfigError as exc:
        raise InputError(str(exc)) from None


def _slippage(args: argparse.Namespace, config: Any = None) -> Any:
    """--slippage, else the config's: the cap of the console's closes (`c`, `F`) as a fraction; 0 means MARKET."""
    from decimal import Decimal

    from pydantic import ValidationError

    from core.decimals import parse_number_text
    from core.directives import ExecutionDirective

    raw = getattr(args, "slippage", None)
    if raw is None:
        value = config.slippage if config is not None else Decimal("0.02")
        return None if value == 0 else value
    try:
        value = parse_number_text(raw, "--slippage")
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


def resolve_operator(args: argparse.Namespace, config: Any = None) -> str:
    """--operator, else the config's `operator` (or $PLANDESK_OPERATOR, its environment override), else $USER /
    $LOGNAME, else the login name. The journal reads it from $PLANDESK_OPERATOR."""
    import os

    from core.journal import current_operator

    raw = getattr(args, "operator", None)
    if raw is None and config is not None and config.operator:
        raw = config.operator
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


def _run(bridge: Any, *, cleanup: list[Any], slippage: Any, venue: str, operator: str, config: Any) -> int:
    from tui.app import PlanDeskApp

    app = PlanDeskApp(bridge, close_slippage=slippage, venue=venue, operator=operator,
                      stale_after=config.stale_after_s, bell=config.bell)
    app.theme = config.theme
    if config.keymap:
        app.set_keymap(dict(config.keymap))
    try:
        app.run()
    finally:
        bridge.stop()
        for fn in cleanup:
            try:
                fn()
            except OSError:  # (a message to a terminal that is gone: the console lost it, tui.app_terminal)
                pass
    return app.return_code or EXIT_OK


def run_demo(args: argparse.Namespace) -> int:
    """The console on a fresh paper (or simulated Binance) exchange with the demo desk and a live price walk."""
    from connectors.paper.connector import PaperConnector
    from connectors.paper.engine import PaperEngine
    from connectors.paper.markets import DEFAULT_MARKETS
    from connectors.paper.orders import PaperConfig
    from core.demo import seed_demo_desk
    from tui.bridge import DeskBridge
    from tui.runtime import paper_state_path

    desk_cfg = load_desk_config(args)
    slippage = _slippage(args, desk_cfg)
    operator = resolve_operator(args, desk_cfg)
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
    bridge = DeskBridge(connector, db, seed=seed_demo_desk, stale_after=desk_cfg.stale_after_s)
    return _run(bridge, cleanup=cleanup, slippage=slippage, venue=venue_label(connector, args.exchange),
                operator=operator, config=desk_cfg)


def run_console(args: argparse.Namespace) -> int:
    """The console on an existing ledger and the chosen connector."""
    from tui.bridge import DeskBridge
    from tui.runtime import is_new_paper_account, make_connector

    desk_cfg = load_desk_config(args)
    slippage = _slippage(args, desk_cfg)
    operator = resolve_operator(args, desk_cfg)
    db = Path(args.db)
    if not db.exists():
        raise InputError(f"ledger {db}: file not found (create it with `plandesk ledger import FILE --db {db}`, "
                         "or try `plandesk demo`)")
    adopt = args.connector == "paper" and is_new_paper_account(db)
    connector = make_connector(args.connector, db, base_url=args.base_url, key_file=args.key_file,
                               tick_interval=TICK if args.connector == "paper" else None)
    return _run(DeskBridge(connector, db, adopt=adopt, stale_after=desk_cfg.stale_after_s), cleanup=[],
                slippage=slippage, venue=venue_label(connector, args.connector), operator=operator, config=desk_cfg)
