"""Two `plandesk` processes on one venue (the Binance-compatible simulator): `flatten --all` waits at its prompt
while another `plandesk send` changes a plan; the flatten, confirmed afterwards, still closes every plan (it is
re-translated at send time, DESIGN §3) and says what differed from its preview."""

from __future__ import annotations

import json
import os
import pty
import subprocess
from decimal import Decimal
from pathlib import Path

from connectors.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from connectors.binance.sim_server import SimServer, start_sim_in_thread
from connectors.paper import DEFAULT_MARKETS, PaperEngine
from core.journal import Journal
from core.ledger import Ledger
from core.models import DeskStatus, Side
from tests.e2e.sim_desk import PLANDESK, ROOT, drain, env, open_desk, read_until, venue_args

D = Decimal


def seed(db: Path, sim: SimServer) -> None:
    """Two BTC plans and one ETH short, each with a stop, opened through the handler on the simulator."""
    plans = [("TPL_1", "BTCUSDT", Side.BUY), ("TPL_2", "BTCUSDT", Side.BUY), ("TPL_3", "ETHUSDT", Side.SELL)]
    open_desk(db, sim, plans, [(f"STR_OPEN_{pid}", pid, {"size_directive": {"target_position_size": "1"},
                                                          "exit_directive": {"stop_loss_tolerance": "0.10"}})
                               for pid, _s, _d in plans])


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
            # flatten-all has already halted the desk (its first write); HALTED refuses scale-outs (issue 11), so
            # another terminal sets the desk to REDUCING and the other process scales TPL_1 out to half while the
            # flatten waits (flatten-all halts the desk again when it sends)
            reducing = Ledger(db)
            try:
                assert reducing.desk() is DeskStatus.HALTED
                reducing.set_desk(DeskStatus.REDUCING)
            finally:
                reducing.close()
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
            assert ledger.desk() is DeskStatus.HALTED
            entries = [e for e in Journal(ledger).entries() if e.kind == "retranslated"]
            assert len(entries) == 1 and any("TPL_1: position 1 -> 0.5" in line
                                             for line in entries[0].payload["differences"]), entries
        finally:
            ledger.close()
    finally:
        sim.stop(wait=False)
