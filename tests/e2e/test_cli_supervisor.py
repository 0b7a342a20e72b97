"""The protection supervisor runs in every process that holds the connector: a real `plandesk flatten` waiting at
its prompt on the Binance-compatible simulator grows a plan's stop when the simulator's mark crosses its resting
ladder entry, and the stop then covers the whole position when the mark reaches it."""

from __future__ import annotations

import os
import pty
import subprocess
import time
from decimal import Decimal
from pathlib import Path

from connectors.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from connectors.binance.sim_server import SimServer, start_sim_in_thread
from connectors.paper import DEFAULT_MARKETS, PaperEngine
from core.journal import Journal
from core.ledger import Ledger
from core.models import OrderType, Side
from tests.e2e.sim_desk import PLANDESK, ROOT, drain, env, open_desk, read_until, venue_args

D = Decimal
BTC = "BTCUSDT"


def seed(db: Path, sim: SimServer) -> None:
    """TPL_1: long 1 BTC with a stop at 90,000 and a resting ladder entry for 1 more at 99,000."""
    open_desk(db, sim, [("TPL_1", BTC, Side.BUY)], [
        ("STR_OPEN", "TPL_1", {"size_directive": {"target_position_size": "1"},
                               "exit_directive": {"stop_loss_tolerance": "0.10"}}),
        ("STR_LADDER", "TPL_1", {"size_directive": {"target_position_size": "2"},
                                 "entry_directive": {"order_type": "LIMIT", "limit_price": "99000"}})])


def venue_stop(sim: SimServer) -> Decimal:
    return sum((v.quantity - v.filled_quantity for v in sim.engine.open_orders(BTC)
                if v.order_type is OrderType.STOP_MARKET), D(0))


def wait_until(cond: object, what: str, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_flatten_waiting_at_its_prompt_keeps_the_stop_in_step_with_a_resting_fill(tmp_path: Path) -> None:
    sim = start_sim_in_thread(PaperEngine(DEFAULT_MARKETS()), DEFAULT_API_KEY, DEFAULT_API_SECRET)
    try:
        db = tmp_path / "desk.db"
        seed(db, sim)
        assert venue_stop(sim) == 1 and sim.engine.positions()[BTC] == 1
        master, slave = pty.openpty()
        proc = subprocess.Popen([str(PLANDESK), "flatten", "--plan", "TPL_1", *venue_args(db, sim)], stdin=slave,
                                stdout=slave, stderr=slave, cwd=ROOT, env=env(), close_fds=True)
        os.close(slave)
        try:
            read_until(master, "[y/N]", proc, timeout=30)
            sim.engine.set_mark(BTC, D("98900"), time.time())  # through the ladder entry at 99,000
            assert sim.engine.positions()[BTC] == 2
            wait_until(lambda: venue_stop(sim) == 2, "the waiting process to grow the stop to 2")
            sim.engine.set_mark(BTC, D("89000"), time.time())  # through the stop: it sells the whole position
            assert sim.engine.positions()[BTC] == 0
            os.write(master, b"n\n")
            rest = drain(master, proc, timeout=30)
            rc = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
        assert rc == 1 and "not sent" in rest, rest
        ledger = Ledger(db)
        try:
            kinds = [e.kind for e in Journal(ledger).entries()]
            assert "protection" in kinds
        finally:
            ledger.close()
    finally:
        sim.stop(wait=False)
