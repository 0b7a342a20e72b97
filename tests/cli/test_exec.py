"""The real `plandesk send` / `plandesk flatten` in a subprocess, on a ledger and a paper account seeded beforehand:
refusals without a terminal, --dry-run, exit codes, and the kill test (SIGKILL mid-flatten, run again, the ledger
matches the venue)."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine, load_engine, save_engine
from core.connector import OrderRequest
from core.demo import seed_demo_desk
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import OrderType, Side
from tui.runtime import paper_state_path

ROOT = Path(__file__).resolve().parents[2]
PLANDESK = Path(sys.executable).parent / "plandesk"
D = Decimal
OPEN = {"PENDING", "OPEN", "PARTIALLY_FILLED", "UNKNOWN"}


def command(*args: str | Path) -> list[str]:
    base = [str(PLANDESK)] if PLANDESK.exists() else [sys.executable, "-m", "tui.cli"]
    return [*base, *map(str, args)]


def run(*args: str | Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command(*args), capture_output=True, text=True, timeout=timeout, cwd=ROOT,
                          stdin=subprocess.DEVNULL)


def seed(db: Path, plans: int) -> None:
    """The demo desk opened in-process through the handler; the paper account stored where the CLI looks for it
    (`<db>.paper.json`). Seeded in memory and saved once: saving after every call costs O(plans^2)."""

    async def go() -> None:
        conn = PaperConnector(PaperEngine(DEFAULT_MARKETS()))
        ledger = Ledger(db)
        for symbol, rules in (await conn.market_rules()).items():
            ledger.set_market(symbol, rules)
        await seed_demo_desk(ExecutionHandler(ledger, conn, Journal(ledger)), plans=plans)
        save_engine(conn.engine, paper_state_path(db))
        ledger.close()

    asyncio.run(go())


def export(db: Path) -> dict[str, Any]:
    r = run("ledger", "export", "--db", db)
    assert r.returncode == 0, r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def venue_log(db: Path) -> list[tuple[str, str]]:
    return load_engine(paper_state_path(db)).order_log


def assert_ledger_matches_venue(db: Path) -> dict[str, Any]:
    snap = export(db)
    engine = load_engine(paper_state_path(db))
    by_symbol = {s: D(0) for s in engine.markets}
    for p in snap["plans"]:
        by_symbol[p["symbol"]] += D(p["net_position"])
    assert engine.positions() == by_symbol
    ledger_open = {o["client_order_id"] for p in snap["plans"] for o in p["orders"] if o["status"] in OPEN}
    assert ledger_open == {v.client_order_id for v in engine.open_orders()}
    coids = [c for _s, c in engine.order_log]
    assert len(coids) == len(set(coids)), "a client order id was accepted twice"
    return snap


def one_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# ---- refusals and modes ---------------------------------------------------------------------------------------

def test_flatten_without_a_terminal_and_without_yes_refuses_and_sends_nothing(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 3)
    log = venue_log(db)
    r = run("flatten", "--all", "--db", db)
    assert r.returncode != 0
    assert "--yes" in one_line(r.stderr)
    assert venue_log(db) == log
    assert export(db)["desk"]["state"] == "ACTIVE"


def test_send_without_a_terminal_and_without_yes_refuses_after_the_preview(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 3)
    directive = tmp_path / "trail.json"
    directive.write_text(json.dumps({"directive_id": "STR_TRAIL", "scope": "MODIFY_EXISTING",
                                     "target_plan_ids": ["TPL_1"], "exit_directive": {"stop_loss_tolerance": "0.01"}}))
    log = venue_log(db)
    r = run("send", directive, "--db", db)
    assert r.returncode != 0
    assert "no terminal" in one_line(r.stderr)
    assert "MODIFY" in r.stdout  # the preview was shown
    assert venue_log(db) == log
    # not sent, so the same directive may still be sent, and now it is
    ok = run("send", directive, "--db", db, "--yes")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    snap = assert_ledger_matches_venue(db)
    (stop,) = [o for p in snap["plans"] if p["plan_id"] == "TPL_1" for o in p["orders"]
               if o["role"] == "STOP_LOSS" and o["status"] == "OPEN"]
    assert D(stop["stop_price"]) == D("99000")  # 1 % under the mark of 100000
    log = venue_log(db)
    again = run("send", directive, "--db", db, "--yes")  # the stop is there already: an empty batch
    assert again.returncode == 0 and "nothing to send" in again.stdout
    assert venue_log(db) == log


def test_flatten_dry_run_previews_and_sends_nothing(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 6)
    log = venue_log(db)
    r = run("flatten", "--all", "--dry-run", "--slippage", "0.05", "--db", db)
    assert r.returncode == 0, r.stderr
    assert "CANCEL" in r.stdout and "IOC" in r.stdout
    assert venue_log(db) == log
    snap = assert_ledger_matches_venue(db)
    assert snap["desk"]["state"] == "ACTIVE"
    assert all(p["status"] == "ACTIVE" for p in snap["plans"])


def test_exit_is_non_zero_when_the_venue_refuses_and_the_plan_stays_open(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 6)
    # behind the desk's back the BTC position is sold at the venue: the ledger's close of TPL_1 (reduce-only) will be
    # refused there
    engine = load_engine(paper_state_path(db))
    engine.submit(OrderRequest(symbol="BTCUSDT", side=Side.SELL, order_type=OrderType.MARKET,
                               quantity=engine.positions()["BTCUSDT"], client_order_id="elsewhere-1"), 0.0)
    save_engine(engine, paper_state_path(db))
    r = run("flatten", "--plan", "TPL_1", "--yes", "--db", db)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "REJECTED" in r.stdout and "ReduceOnly" in r.stdout
    assert "STILL OPEN: TPL_1" in r.stdout
    assert export(db)["desk"]["state"] == "ACTIVE"  # --plan does not halt the desk


def test_flatten_all_on_a_clean_run_exits_zero_and_halts(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 6)
    r = run("flatten", "--all", "--yes", "--slippage", "0.05", "--db", db)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "HALTED" in r.stdout
    snap = assert_ledger_matches_venue(db)
    assert snap["desk"]["state"] == "HALTED"
    assert all(p["status"] == "CLOSED" and D(p["net_position"]) == 0 for p in snap["plans"])
    assert load_engine(paper_state_path(db)).open_orders() == []


# ---- the kill test --------------------------------------------------------------------------------------------

def plan_counts(db: Path) -> tuple[int, int]:
    """(ACTIVE, CLOSED) plans, read straight from the ledger file while the CLI writes it."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        rows = dict(con.execute("SELECT status, count(*) FROM plans GROUP BY status").fetchall())
    finally:
        con.close()
    return rows.get("ACTIVE", 0), rows.get("CLOSED", 0)


@pytest.mark.parametrize("kill_after", [3, 75])
def test_flatten_killed_mid_run_finishes_when_run_again_and_the_ledger_matches_the_venue(
    tmp_path: Path, kill_after: int
) -> None:
    """150 demo plans; the CLI writes every close ahead before sending it, so a kill leaves closes PENDING in the
    ledger (some executed at the venue, most not) and the rest of the plans untouched."""
    db = tmp_path / "desk.sqlite"
    plans = 150
    seed(db, plans)
    proc = subprocess.Popen(command("flatten", "--all", "--yes", "--no-net", "--db", db), cwd=ROOT,
                            stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    killed_at: tuple[int, int] | None = None
    while time.monotonic() < deadline and proc.poll() is None:
        active, closed = plan_counts(db)
        if closed >= kill_after and active > 0:  # closes are landing: mid-run
            proc.send_signal(signal.SIGKILL)
            killed_at = (active, closed)
            break
        time.sleep(0.002)
    proc.wait(timeout=30)
    assert killed_at is not None and proc.returncode == -signal.SIGKILL, (
        f"the flatten was not caught mid-run (exit {proc.returncode}): {proc.stderr.read() if proc.stderr else ''}")
    proc.stderr.close()  # type: ignore[union-attr]
    active, _closed = plan_counts(db)
    assert active > 0, "killed too late: nothing left to finish"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    pending = con.execute("SELECT count(*) FROM orders WHERE status IN ('PENDING', 'UNKNOWN')").fetchone()[0]
    con.close()
    assert pending > 0  # written ahead, outcome not recorded: recovery has work to do
    engine = load_engine(paper_state_path(db))
    assert any(q != 0 for q in engine.positions().values())  # the venue is mid-flatten too

    again = run("flatten", "--all", "--yes", "--db", db)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr
    snap = assert_ledger_matches_venue(db)
    assert snap["desk"]["state"] == "HALTED"
    assert len(snap["plans"]) == plans
    assert all(p["status"] == "CLOSED" and D(p["net_position"]) == 0 for p in snap["plans"])
    assert not [o for p in snap["plans"] for o in p["orders"] if o["status"] in OPEN]
    engine = load_engine(paper_state_path(db))
    assert engine.open_orders() == [] and set(engine.positions().values()) == {D(0)}
