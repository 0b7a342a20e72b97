"""Wiring: the only place that picks a connector and hands it, with the ledger and journal, to the handler."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.connector import IExecutionConnector
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from tui.inputs import InputError


@dataclass
class Runtime:
    ledger: Ledger
    journal: Journal
    connector: IExecutionConnector
    handler: ExecutionHandler
    extra: Any = None  # e.g. the simulator server to stop

    async def close(self) -> None:
        await self.connector.close()
        if self.extra is not None and hasattr(self.extra, "stop"):
            self.extra.stop()
        self.ledger.close()


def paper_state_path(db: Path) -> Path:
    return db.with_name(db.name + ".paper.json")


def make_connector(name: str, db: Path, *, base_url: str | None = None, key_file: Path | None = None,
                   tick_interval: float | None = None, latency: float = 0.0) -> IExecutionConnector:
    if name == "paper":
        from connectors.paper.connector import PaperConnector

        return PaperConnector.open(paper_state_path(db), tick_interval=tick_interval, latency=latency)
    if name == "binance":
        from connectors.binance.connector import BinanceConnector
        from connectors.binance.credentials import load_credentials

        if not base_url:
            raise InputError("--base-url is required with --connector binance")
        try:
            key, secret = load_credentials(key_file)
        except Exception as exc:  # noqa: BLE001 - credentials errors carry their own clear message
            raise InputError(str(exc)) from None
        conn: IExecutionConnector = BinanceConnector(base_url, key, secret)
        return conn
    raise InputError(f"--connector: unknown connector {name!r} (paper or binance)")


async def open_runtime(db: Path, connector: IExecutionConnector, *, sync: bool = True) -> Runtime:
    """Open the ledger beside the venue, load the venue's market rules into it and reconcile."""
    start = getattr(connector, "start", None)
    if start is not None:
        await start()
    ledger = Ledger(db)
    journal = Journal(db)
    for symbol, rules in (await connector.market_rules()).items():
        ledger.set_market(symbol, rules)
    handler = ExecutionHandler(ledger, connector, journal)
    rt = Runtime(ledger, journal, connector, handler)
    if sync:
        await handler.recover()
    return rt
