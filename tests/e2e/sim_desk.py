"""Shared pieces of the end-to-end tests: the installed `plandesk` script, the simulator's credentials in the
environment, a desk opened on the simulator through the real handler, and reading a command's pseudo-terminal."""

from __future__ import annotations

import asyncio
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from connectors.binance.connector import BinanceConnector
from connectors.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from connectors.binance.sim_server import SimServer
from core.directives import StrategyDirective
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import Side
from core.worker import translate

ROOT = Path(__file__).resolve().parents[2]
PLANDESK = Path(sys.executable).parent / "plandesk"


def env() -> dict[str, str]:
    return {**os.environ, "PLANDESK_BINANCE_API_KEY": DEFAULT_API_KEY,
            "PLANDESK_BINANCE_API_SECRET": DEFAULT_API_SECRET, "NO_COLOR": "1", "COLUMNS": "200"}


def venue_args(db: Path, sim: SimServer) -> list[str]:
    return ["--db", str(db), "--connector", "binance", "--base-url", sim.base_url]


def open_desk(db: Path, sim: SimServer, plans: list[tuple[str, str, Side]],
              directives: list[tuple[str, str, dict[str, Any]]]) -> None:
    """Create `plans` (id, symbol, direction) in the ledger at `db` and send each (directive id, plan id, parts) of
    `directives` as a MODIFY_EXISTING through the real handler on the simulator; every one must succeed."""

    async def go() -> None:
        conn = BinanceConnector(sim.base_url, DEFAULT_API_KEY, DEFAULT_API_SECRET, poll_interval=0.1)
        await conn.start()
        ledger = Ledger(db)
        try:
            for symbol, rules in (await conn.market_rules()).items():
                ledger.set_market(symbol, rules)
            handler = ExecutionHandler(ledger, conn, Journal(ledger))
            for pid, symbol, side in plans:
                ledger.create_plan(pid, symbol, side)
            for did, pid, parts in directives:
                d = StrategyDirective.model_validate({"directive_id": did, "scope": "MODIFY_EXISTING",
                                                      "target_plan_ids": [pid], **parts})
                report = await handler.send(translate(d, ledger.state()), d)
                assert report.ok, report.summary()
        finally:
            ledger.close()
            await conn.close()

    asyncio.run(go())


def read_until(fd: int, needle: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    out = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in out:
        left = deadline - time.monotonic()
        assert left > 0 and proc.poll() is None, f"no {needle!r} in time; output so far:\n{out.decode()}"
        ready, _, _ = select.select([fd], [], [], min(left, 0.2))
        if ready:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out.decode(errors="replace")


def drain(fd: int, proc: subprocess.Popen[bytes], timeout: float) -> str:
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    return out.decode(errors="replace")
