"""Two `plandesk` processes on one venue (the Binance-compatible simulator): `flatten --all` waits at its prompt
while another `plandesk send` changes a plan; the flatten, confirmed afterwards, still closes every plan (it is
re-translated at send time, DESIGN §3) and says what differed from its preview."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import select
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from connectors.binance.connector import BinanceConnector
from connectors.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from connectors.binance.sim_server import SimServer, start_sim_in_thread
from connectors.paper import DEFAULT_MARKETS, PaperEngine
from core.directives import StrategyDirective
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import Side
from core.worker import translate

ROOT = Path(__file__).resolve().parents[2]
PLANDESK = Path(sys.executable).parent / "plandesk"
D = Decimal


def env() -> dict[str, str]:
    return {**os.environ, "PLANDESK_BINANCE_API_KEY": DEFAULT_API_KEY,
            "PLANDESK_BINANCE_API_SECRET": DEFAULT_API_SECRET, "NO_COLOR": "1", "COLUMNS": "200"}


def venue_args(db: Path, sim: SimServer) -> list[str]:
    return ["--db", str(db), "--connector", "binance", "--base-url", sim.base_url]


def seed(db: Path, sim: SimServer) -> None:
    """Two BTC plans and one ETH short, each with a stop, opened through the handler on the simulator."""

    async def go() -> None:
        conn = BinanceConnector(sim.base_url, DEFAULT_API_KEY, DEFAULT_API_SECRET, poll_interval=0.1)
        await conn.start()
        ledger = Ledger(db)
        try:
            for symbol, rules in (await conn.market_rules()).items():
                ledger.set_market(symbol, rules)
            handler = ExecutionHandler(ledger, conn, Journal(ledger))
            for pid, symbol, side in (("TPL_1", "BTCUSDT", Side.BUY), ("TPL_2", "BTCUSDT", Side.BUY),
                                      ("TPL_3", "ETHUSDT", Side.SELL)):
                ledger.create_plan(pid, symbol, side)
                d = StrategyDirective.model_validate({
                    "directive_id": f"STR_OPEN_{pid}", "scope": "MODIFY_EXISTING", "target_plan_ids": [pid],
                    "size_directive": {"target_position_size": "1"},
                    "exit_directive": {"stop_loss_tolerance": "0.10"}})
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


def test_flatten_all_waiting_at_its_prompt_closes_everything_after_another_send_changed_a_plan(
        tmp_path: Path) -> None:
    sim = start_sim_in_thread(PaperEngine(DEFAULT_MARKETS()), DEFAULT_API_KEY, DEFAULT_API_SECRET)
    try:
        db = tmp_path / "desk.db"
        seed(db, sim)
        master, slave = pty.openpty()
        flatten = subprocess.Popen([str(PLANDESK), "flatten", "--all", *venue_args(db, sim)], stdin=slave,
                                   stdout=slave, stderr=slave, cwd=ROOT, env=env(), close_fds=True)
        os.close(slave)
        try:
            shown = read_until(master, "[y/N]", flatten, timeout=30)
            # flatten-all has already halted the desk (its first write), so the other process can only reduce:
            # it scales TPL_1 out to half while the flatten waits
            scale = tmp_path / "scale.json"
            scale.write_text(json.dumps({
                "directive_id": "STR_SCALE", "scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
                "size_directive": {"target_position_size": "0.5"}}))
            other = subprocess.run([str(PLANDESK), "send", str(scale), "--yes", *venue_args(db, sim)],
                                   capture_output=True, text=True, cwd=ROOT, env=env(), timeout=60,
                                   stdin=subprocess.DEVNULL)
            assert other.returncode == 0, other.stdout + other.stderr
            os.write(master, b"y\n")
            rest = drain(master, flatten, timeout=60)
            rc = flatten.wait(timeout=30)
        finally:
            if flatten.poll() is None:
                flatten.kill()
                flatten.wait()
            os.close(master)
        assert rc == 0, shown + rest
        assert "stale preview" not in rest, rest
        assert sim.engine.positions() == {s: D(0) for s in sim.engine.markets}
        assert sim.engine.open_orders() == []
        ledger = Ledger(db)
        try:
            assert all(p.net_position == 0 and not p.open_orders for p in ledger.plans())
            entries = [e for e in Journal(ledger).entries() if e.kind == "retranslated"]
            assert len(entries) == 1 and any("TPL_1: position 1 -> 0.5" in line
                                             for line in entries[0].payload["differences"]), entries
        finally:
            ledger.close()
    finally:
        sim.stop(wait=False)
