"""`plandesk flatten --all` nets by default: one venue close per symbol, every plan closed, the ledger matching the
venue; `--no-net` sends one close per plan; a netted flatten killed mid-run finishes when run again."""

from __future__ import annotations

import signal
import subprocess
import time
from decimal import Decimal
from pathlib import Path

from connectors.paper import load_engine
from tests.cli.test_exec import ROOT, assert_ledger_matches_venue, command, plan_counts, run, seed
from tui.runtime import paper_state_path

D = Decimal


def test_flatten_all_nets_one_close_per_symbol(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 40)
    before = len(load_engine(paper_state_path(db)).trades())
    r = run("flatten", "--all", "--yes", "--db", db)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    assert "netted " in r.stdout
    engine = load_engine(paper_state_path(db))
    closes = engine.trades()[before:]
    assert 1 <= len(closes) <= len(engine.markets)  # at most one close per symbol
    snap = assert_ledger_matches_venue(db)
    assert all(p["status"] == "CLOSED" and D(p["net_position"]) == 0 for p in snap["plans"])


def test_no_net_sends_one_close_per_plan(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 12)
    before = len(load_engine(paper_state_path(db)).trades())
    r = run("flatten", "--all", "--yes", "--no-net", "--db", db)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr
    held = [p for p in assert_ledger_matches_venue(db)["plans"]]
    assert len(load_engine(paper_state_path(db)).trades()[before:]) > len(load_engine(paper_state_path(db)).markets)
    assert all(p["status"] == "CLOSED" for p in held)


def test_a_netted_flatten_killed_mid_run_finishes_when_run_again(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 150)
    proc = subprocess.Popen(command("flatten", "--all", "--yes", "--db", db), cwd=ROOT, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        active, closed = plan_counts(db)
        if closed >= 3 and active > 0:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)
    proc.wait(timeout=30)
    again = run("flatten", "--all", "--yes", "--db", db)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr
    snap = assert_ledger_matches_venue(db)
    left = [(p["plan_id"], p["status"], p["net_position"]) for p in snap["plans"]
            if p["status"] != "CLOSED" or D(p["net_position"]) != 0]
    assert not left, (left[:5], again.stdout[-3000:])
    engine = load_engine(paper_state_path(db))
    assert engine.open_orders() == [] and set(engine.positions().values()) == {D(0)}
