"""Crash and concurrency safety with real `plandesk` processes on one ledger against the Binance-compatible simulator
(started in this process on a free loopback port), while the simulator holds new orders before executing them:

- a second process must not take over the first one's in-flight orders (it would mark them REJECTED, the venue then
  executes them and they are orphaned);
- after a SIGKILL mid-flatten, the next command must not call an order "never placed" before its receive window has
  passed: the held close executes a moment later, and selling again would leave the venue short.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.binance.connector import BinanceConnector
from connectors.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from connectors.binance.sim_server import SimServer, start_sim_in_thread
from connectors.paper import DEFAULT_MARKETS, PaperEngine
from core.demo import seed_demo_desk
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]
PLANDESK = Path(sys.executable).parent / "plandesk"
D = Decimal
HOLD = 2.5  # seconds the simulator holds a new order before executing it (inside the 5 s receive window)
NEW_ORDER = {"kind": "delay", "seconds": HOLD, "method": "POST", "path": "/api/v3/order"}


class Desk:
    def __init__(self, server: SimServer, db: Path, key_file: Path) -> None:
        self.server, self.db, self.key_file = server, db, key_file

    def args(self, *args: str) -> list[str]:
        return [str(PLANDESK), *args, "--db", str(self.db), "--connector", "binance", "--base-url",
                self.server.base_url, "--key-file", str(self.key_file)]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.args(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                              stdin=subprocess.DEVNULL)

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(self.args(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=ROOT, stdin=subprocess.DEVNULL)

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db, timeout=10) as c:
            return c.execute(sql).fetchall()

    def pending(self) -> list[tuple[Any, ...]]:
        return self.rows("SELECT order_id, client_order_id, plan_id FROM orders WHERE status = 'PENDING'")

    def assert_matches_venue(self) -> dict[str, Decimal]:
        """The ledger's net position per symbol equals the venue's, and its open orders are the venue's."""
        net: dict[str, Decimal] = {}
        for symbol, pos in self.rows("SELECT symbol, net_position FROM plans"):
            net[symbol] = net.get(symbol, D(0)) + D(pos)
        venue = self.server.engine.positions()
        for symbol, pos in net.items():
            assert venue.get(symbol, D(0)) == pos, (symbol, venue, net)
        live = {r[0] for r in self.rows("SELECT client_order_id FROM orders WHERE status IN "
                                        "('PENDING', 'OPEN', 'PARTIALLY_FILLED', 'UNKNOWN')")}
        assert live == {o.client_order_id for o in self.server.engine.open_orders()}
        return venue


def wait_for(what: Callable[[], Any], timeout: float = 20.0) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = what()
        if got:
            return got
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    server = start_sim_in_thread(PaperEngine(DEFAULT_MARKETS()), DEFAULT_API_KEY, DEFAULT_API_SECRET)
    db = tmp_path / "desk.sqlite"

    async def seed() -> None:  # TPL_1 long BTC, TPL_2 short ETH, with stops and take profits, through the handler
        conn = BinanceConnector(server.base_url, DEFAULT_API_KEY, DEFAULT_API_SECRET, poll_interval=0.1)
        await conn.start()
        ledger = Ledger(db)
        try:
            for symbol, rules in (await conn.market_rules()).items():
                ledger.set_market(symbol, rules)
            await seed_demo_desk(ExecutionHandler(ledger, conn, Journal(ledger)), plans=2)
        finally:
            await conn.close()
            ledger.close()

    asyncio.run(seed())
    key_file = tmp_path / "key"
    key_file.write_text(f"{DEFAULT_API_KEY}\n{DEFAULT_API_SECRET}\n")
    key_file.chmod(0o600)
    try:
        yield Desk(server, db, key_file)
    finally:
        server.stop(wait=False)


def test_a_second_process_leaves_the_first_ones_in_flight_order_alone(desk: Desk) -> None:
    desk.server.control(faults=[NEW_ORDER | {"count": 1, "seconds": 4.0}])  # room for the second one to start
    first = desk.start("flatten", "--plan", "TPL_1", "--yes")
    try:
        ((order_id, coid, _plan),) = wait_for(desk.pending)  # the close is written ahead and held at the venue
        second = desk.run("flatten", "--plan", "TPL_2", "--yes")  # its recovery runs while the close is held
        assert second.returncode == 0, second.stdout + second.stderr
        # the first process's order was not judged by the second one
        assert desk.rows(f"SELECT status FROM orders WHERE order_id = '{order_id}'") == [("PENDING",)]
        notes = [json.loads(p) for (p,) in desk.rows("SELECT payload FROM journal WHERE kind = 'recover'")]
        assert any(coid in n and "in flight in live process" in n for p in notes for n in p["notes"]), notes
        out, err = first.communicate(timeout=30)
        assert first.returncode == 0, out + err
    finally:
        if first.poll() is None:
            first.kill()
    assert desk.rows(f"SELECT status FROM orders WHERE order_id = '{order_id}'") == [("FILLED",)]
    venue = desk.assert_matches_venue()
    assert venue.get("BTCUSDT", D(0)) == 0 and venue.get("ETHUSDT", D(0)) == 0
    assert desk.rows("SELECT status FROM plans ORDER BY plan_id") == [("CLOSED",), ("CLOSED",)]


def test_sigkill_mid_flatten_then_the_next_flatten_waits_out_the_receive_window(desk: Desk) -> None:
    desk.server.control(faults=[NEW_ORDER | {"count": 2}])
    first = desk.start("flatten", "--all", "--yes")
    try:
        wait_for(desk.pending)  # the closes written ahead and held at the venue
        time.sleep(0.2)
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.communicate(timeout=10)
    held = [coid for _o, coid, _p in desk.pending()]
    again = desk.run("flatten", "--all", "--yes")
    assert again.returncode == 0, again.stdout + again.stderr
    # the held closes executed after the kill: the second run found them instead of selling again
    notes = [n for (p,) in desk.rows("SELECT payload FROM journal WHERE kind = 'recover'")
             for n in json.loads(p)["notes"]]
    assert held and all(any(c in n and "recovered as FILLED" in n for n in notes) for c in held), notes
    time.sleep(0.3)
    venue = desk.assert_matches_venue()
    assert venue.get("BTCUSDT", D(0)) == 0 and venue.get("ETHUSDT", D(0)) == 0, venue
    assert desk.rows("SELECT status FROM plans ORDER BY plan_id") == [("CLOSED",), ("CLOSED",)]
    assert desk.rows("SELECT count(*) FROM orders WHERE status IN ('PENDING', 'UNKNOWN', 'REJECTED')") == [(0,)]


def test_dry_run_checks_the_credentials_and_writes_nothing(desk: Desk, tmp_path: Path) -> None:
    before = desk.rows("SELECT count(*) FROM journal"), desk.rows("SELECT * FROM orders ORDER BY order_id")
    ok = desk.run("flatten", "--all", "--dry-run")
    assert ok.returncode == 0, ok.stderr
    assert "CANCEL" in ok.stdout
    wrong = tmp_path / "wrong"
    wrong.write_text(f"{DEFAULT_API_KEY}\nnot-the-secret\n")
    wrong.chmod(0o600)
    desk.key_file = wrong
    bad = desk.run("flatten", "--all", "--dry-run")
    assert bad.returncode != 0
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1 and "Signature" in lines[0], bad.stderr
    after = desk.rows("SELECT count(*) FROM journal"), desk.rows("SELECT * FROM orders ORDER BY order_id")
    assert after == before
    assert desk.rows("SELECT value FROM meta WHERE key = 'desk'") in ([], [("ACTIVE",)])


def test_flatten_all_halts_even_when_the_venue_is_down(desk: Desk) -> None:
    desk.server.stop()
    r = desk.run("flatten", "--all", "--yes")
    assert r.returncode != 0 and "Traceback" not in r.stderr
    export = subprocess.run([str(PLANDESK), "ledger", "export", "--db", str(desk.db)], capture_output=True,
                            text=True, timeout=30)
    assert json.loads(export.stdout)["desk"]["state"] == "HALTED"
