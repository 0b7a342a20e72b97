"""`plandesk flatten --all --yes` end to end (the installed command in a subprocess) on the default paper venue, and
the same flatten in-process through the ExecutionHandler, at several desk sizes.

Each desk is the demo desk (`core.demo.seed_demo_desk`: plans on three symbols, most with a stop and a take profit,
some with a working ladder), opened in-process through the handler and stored where the CLI looks for it. Each run
checks the result: every plan closed and flat, no open order at the venue.

Goals (issue 12): CLI flatten of 1,000 plans <= 5 s and of 10,000 plans <= 50 s, growth <= 1.5x linear (the time per
plan at the largest size over the time per plan at the smallest); in-process flatten of 1,000 plans <= 0.5 s.

Run: .venv/bin/python benchmarks/bench_flatten_cli.py [--sizes 100,1000,10000] [--inproc 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine, load_engine, save_engine  # noqa: E402
from core.demo import seed_demo_desk  # noqa: E402
from core.directives import Scope, StrategyDirective  # noqa: E402
from core.handler import ExecutionHandler  # noqa: E402
from core.journal import Journal  # noqa: E402
from core.ledger import Ledger  # noqa: E402
from core.models import PlanStatus  # noqa: E402
from core.worker import translate  # noqa: E402

PLANDESK = Path(sys.executable).parent / "plandesk"
GOALS_CLI = {1000: 5.0, 10000: 50.0}
GOAL_INPROC_1000 = 0.5
GOAL_GROWTH = 1.5


async def _seed(db: Path, plans: int) -> tuple[Ledger, PaperConnector, ExecutionHandler]:
    conn = PaperConnector(PaperEngine(DEFAULT_MARKETS()))
    ledger = Ledger(db, synchronous="NORMAL")  # seeding is not measured
    for symbol, rules in (await conn.market_rules()).items():
        ledger.set_market(symbol, rules)
    handler = ExecutionHandler(ledger, conn, Journal(ledger))
    await seed_demo_desk(handler, plans=plans)
    return ledger, conn, handler


def seed_files(db: Path, plans: int) -> None:
    async def go() -> None:
        ledger, conn, _h = await _seed(db, plans)
        save_engine(conn.engine, Path(str(db) + ".paper.json"))
        ledger.close()

    asyncio.run(go())


def cli_flatten(plans: int, net: bool = True) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-cli-flatten-") as tmp:
        db = Path(tmp) / "desk.sqlite"
        seed_files(db, plans)
        cmd = [str(PLANDESK), "flatten", "--all", "--yes", "--net" if net else "--no-net", "--db", str(db)]
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=900)
        wall = time.perf_counter() - t0
        if r.returncode != 0:
            tail = f"{r.stdout[-2000:]}\n{r.stderr[-2000:]}"
            raise SystemExit(f"flatten of {plans} plans failed ({r.returncode}):\n{tail}")
        engine = load_engine(Path(str(db) + ".paper.json"))
        assert not engine.open_orders(), "open orders left at the venue"
        assert all(q == 0 for q in engine.positions().values()), engine.positions()
        lines = len(r.stdout.splitlines())
        per = wall / plans * 1000
        mode = "netted " if net else "per plan"
        print(f"  CLI flatten {mode} {plans:>6} plans: {wall:7.2f} s   ({per:.2f} ms/plan, {lines} lines printed)")
        return wall


def inproc_flatten(plans: int, net: bool = False, *, quiet: bool = False) -> float:
    """The flatten of `plans` demo plans in-process through the ExecutionHandler on the paper venue, the ledger at
    the CLI's durability (synchronous=FULL); seeding is not timed. Prints the figure beside its goal, with the
    group commits (each one fsync) its writes went in."""
    commits: list[int] = []

    async def go() -> float:
        with tempfile.TemporaryDirectory(prefix="bench-inproc-flatten-") as tmp:
            ledger, conn, _h = await _seed(Path(tmp) / "desk.sqlite", plans)
            ledger.close()
            ledger = Ledger(Path(tmp) / "desk.sqlite")  # the CLI's durability: synchronous=FULL
            handler = ExecutionHandler(ledger, conn, Journal(ledger))
            handler.netting = net
            ids = ledger.plan_ids(PlanStatus.ACTIVE)
            d = StrategyDirective(directive_id="STR_BENCH", scope=Scope.CLOSE_EXISTING, target_plan_ids=ids)
            batch = translate(d, ledger.state())
            t0 = time.perf_counter()
            report = await handler.send(batch, d, halt_desk=True)
            wall = time.perf_counter() - t0
            commits.extend((handler.ops.commits.commits, handler.ops.commits.writes))
            assert report.ok, report.summary()
            assert not conn.engine.open_orders()
            assert all(p.status is PlanStatus.CLOSED and p.net_position == 0 for p in ledger.plans())
            ledger.close()
            return wall

    wall = asyncio.run(go())
    mode = "netted " if net else "per plan"
    goal = GOAL_INPROC_1000 * plans / 1000
    if not quiet:
        verdict = "ok" if wall <= goal else "MISSES"
        print(f"  in-process flatten {mode} {plans:>6} plans: {wall:7.3f} s   (goal <= {goal:.2f} s) {verdict}; "
              f"{commits[1]} writes in {commits[0]} group commits")
    return wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--inproc", type=int, default=1000)
    ap.add_argument("--no-net", action="store_true", help="also measure the per-plan form (--no-net)")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (shared machine)")
    if args.inproc:
        inproc_flatten(args.inproc, net=False)
        inproc_flatten(args.inproc, net=True)
    if args.no_net:
        for n in sizes:
            cli_flatten(n, net=False)
    walls = {n: cli_flatten(n) for n in sizes}
    print("figures beside their goals (the default `flatten --all`: netted):")
    for n, goal in GOALS_CLI.items():
        if n in walls:
            verdict = "ok" if walls[n] <= goal else "MISSES"
            print(f"  CLI flatten of {n} plans: {walls[n]:.2f} s  (goal <= {goal:.0f} s) {verdict}")
    if len(walls) >= 2:
        lo, hi = min(walls), max(walls)
        growth = (walls[hi] / hi) / (walls[lo] / lo)
        verdict = "ok" if growth <= GOAL_GROWTH else "MISSES"
        print(f"  growth {lo}->{hi} plans: {growth:.2f}x linear (goal <= {GOAL_GROWTH}x) {verdict}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
