"""Flatten-all speed on the paper exchange through the real ExecutionHandler.

200 plans on three symbols, each long with a stop, a take profit and three working LIMIT entries (5 open orders per
plan, 1,000 in all), on a paper venue answering every call after 20 ms. Target (issue 3): the flatten finishes in
<= 5 x 20 ms + 100 ms = 200 ms of wall time, against >= 20 s when the 1,200 calls go one at a time.

Printed figures:
- the flatten with the handler as the command line builds it (max_in_flight=16) and with a wide bound (256);
- the same without the venue's cancel-all (1,000 single cancels in parallel);
- one call at a time (max_in_flight=1, no cancel-all), measured on a subset and extrapolated to 200 plans;
- each with the ledger at synchronous=NORMAL (WAL: survives a killed process, not a power cut) and FULL (the
  Ledger default: an fsync per transaction);
- peak memory of a flatten (tracemalloc peak, in a separate run because tracing slows Python) and the process RSS.
Every run checks the result: every plan CLOSED and flat, no open order in the ledger or at the venue, desk HALTED.

Run: .venv/bin/python benchmarks/bench_flatten_paper.py [--plans 200] [--runs 3] [--latency 0.02] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine  # noqa: E402
from core.batch import client_order_id  # noqa: E402
from core.connector import Capabilities, OrderRequest  # noqa: E402
from core.decimals import round_to_tick  # noqa: E402
from core.directives import ExitDirective, Scope, SizeDirective, StrategyDirective  # noqa: E402
from core.handler import ExecutionHandler  # noqa: E402
from core.handler_orders import order_id_for  # noqa: E402
from core.journal import Journal  # noqa: E402
from core.ledger import Ledger  # noqa: E402
from core.models import DeskStatus, Order, OrderRole, OrderStatus, OrderType, PlanStatus, Side, TimeInForce  # noqa: E402
from core.outcomes import CommandOutcome  # noqa: E402
from core.worker import translate  # noqa: E402

SIZES = {"BTCUSDT": Decimal("0.01"), "ETHUSDT": Decimal("0.5"), "SOLUSDT": Decimal("10")}
LADDER = 3  # working LIMIT entries per plan (+ stop + take profit = 5 open orders)


@dataclass
class Desk:
    ledger: Ledger
    journal: Journal
    connector: PaperConnector
    handler: ExecutionHandler
    tmp: tempfile.TemporaryDirectory[str]

    def close(self) -> None:
        self.ledger.close()
        self.tmp.cleanup()


async def build(plans: int, *, synchronous: str, max_in_flight: int, cancel_all: bool) -> Desk:
    """A seeded desk: every plan opened through the handler on a zero-latency venue."""
    tmp = tempfile.TemporaryDirectory(prefix="bench-flatten-")
    ledger = Ledger(Path(tmp.name) / "ledger.sqlite", synchronous=synchronous)
    journal = Journal(ledger)
    connector = PaperConnector(PaperEngine(DEFAULT_MARKETS()))
    if not cancel_all:
        connector.capabilities = Capabilities(has_cancel_all=False, has_native_modify=False)
    for symbol, rules in (await connector.market_rules()).items():
        ledger.set_market(symbol, rules)
    handler = ExecutionHandler(ledger, connector, journal, max_in_flight=max_in_flight)
    symbols = list(SIZES)
    for i in range(plans):
        pid, symbol = f"TPL_{i + 1}", symbols[i % len(symbols)]
        rules = ledger.markets()[symbol]
        ledger.create_plan(pid, symbol, Side.BUY)
        d = StrategyDirective(
            directive_id=f"SEED_{pid}", scope=Scope.MODIFY_EXISTING, target_plan_ids=[pid],
            size_directive=SizeDirective(target_position_size=SIZES[symbol]),
            exit_directive=ExitDirective(
                stop_loss_tolerance=Decimal("0.05"),
                take_profit_price=round_to_tick(rules.mark_price * Decimal("1.1"), rules.tick_size, up=True)),
        )
        batch = translate(d, ledger.state([pid]))
        report = await handler.send(batch, d)
        assert report.ok, report.summary()
        for k in range(LADDER):
            price = round_to_tick(rules.mark_price * (1 - Decimal("0.01") * (k + 1)), rules.tick_size, up=False)
            coid = client_order_id(f"SEED_{pid}", "ladder", str(k))
            order = Order(order_id=order_id_for(coid), client_order_id=coid, role=OrderRole.ENTRY, side=Side.BUY,
                          type=OrderType.LIMIT, quantity=SIZES[symbol], price=price, time_in_force=TimeInForce.GTC,
                          status=OrderStatus.PENDING)
            req = OrderRequest(symbol=symbol, side=Side.BUY, order_type=OrderType.LIMIT, quantity=SIZES[symbol],
                               client_order_id=coid, price=price, time_in_force=TimeInForce.GTC)
            oc = CommandOutcome(seq=0, action="EXECUTE_TRADE", plan_id=pid, symbol=symbol, order_id=order.order_id)
            await handler.ops.place(pid, order, req, oc, lambda _o: None)
    assert len(connector.engine.open_orders()) == plans * (LADDER + 2)
    return Desk(ledger, journal, connector, handler, tmp)


async def flatten(desk: Desk, latency: float, *, profile: bool = False) -> tuple[float, float, int]:
    """Flatten-all with halt; returns (wall seconds, CPU seconds, venue calls). Checks that everything ended flat
    and closed."""
    desk.connector.latency = latency
    ids = desk.ledger.plan_ids(PlanStatus.ACTIVE)
    d = StrategyDirective(directive_id="STR_BENCH_FLATTEN", scope=Scope.CLOSE_EXISTING, target_plan_ids=ids)
    calls = _count_calls(desk.connector)
    batch = translate(d, desk.ledger.state())  # the preview, made before the operator confirms: not timed
    prof = cProfile.Profile() if profile else None
    t0, c0 = time.perf_counter(), time.process_time()
    if prof is not None:
        prof.enable()
    report = await desk.handler.send(batch, d, halt_desk=True)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if prof is not None:
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(30)
    assert report.ok, report.summary()
    assert not desk.connector.engine.open_orders(), "venue still has open orders"
    assert all(q == 0 for q in desk.connector.engine.positions().values()), desk.connector.engine.positions()
    assert not desk.ledger.open_orders(), "ledger still has open orders"
    assert all(p.status is PlanStatus.CLOSED and p.net_position == 0 for p in desk.ledger.plans())
    assert desk.ledger.desk() is DeskStatus.HALTED
    return wall, cpu, calls[0]


def _count_calls(conn: PaperConnector) -> list[int]:
    """Count the connector's venue calls (every public call goes through _call)."""
    counter = [0]
    original = conn._call

    async def counted(*a: object, **kw: object) -> object:
        counter[0] += 1
        return await original(*a, **kw)  # type: ignore[arg-type]

    conn._call = counted  # type: ignore[method-assign, assignment]
    return counter


async def timed(plans: int, latency: float, runs: int, *, synchronous: str, max_in_flight: int,
                cancel_all: bool, profile: bool = False) -> tuple[list[float], list[float], int]:
    walls: list[float] = []
    cpus: list[float] = []
    calls = 0
    for r in range(runs):
        desk = await build(plans, synchronous=synchronous, max_in_flight=max_in_flight, cancel_all=cancel_all)
        try:
            wall, cpu, calls = await flatten(desk, latency, profile=profile and r == 0)
        finally:
            desk.close()
        walls.append(wall)
        cpus.append(cpu)
    return walls, cpus, calls


def rss_mb() -> tuple[float, float]:
    """(current RSS, peak RSS) of this process in MB (Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        with open("/proc/self/statm") as fh:
            current = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        current = float("nan")
    return current, peak


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plans", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--subset", type=int, default=20, help="plans for the one-call-at-a-time run (extrapolated)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--demo", type=int, default=1000, help="demo plans for the in-process flatten (issue 12; 0: skip)")
    ap.add_argument("--demo-runs", type=int, default=3)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    n, lat = args.plans, args.latency
    target = 5 * lat + 0.1
    print(f"flatten-all of {n} plans x {LADDER + 2} open orders ({n * (LADDER + 2)} orders), paper venue with "
          f"{lat * 1000:.0f} ms per call, through ExecutionHandler; target <= {target * 1000:.0f} ms")
    print(f"{'configuration':<66} {'median':>7} {'best':>7} {'CPU':>7} {'calls':>6}")
    rows: list[tuple[str, str, int, bool]] = [
        ("NORMAL", "parallel, max_in_flight=256, cancel-all", 256, True),
        ("NORMAL", "parallel, max_in_flight=16 (CLI default), cancel-all", 16, True),
        ("NORMAL", "parallel, max_in_flight=256, no cancel-all", 256, False),
        ("FULL", "parallel, max_in_flight=256, cancel-all", 256, True),
        ("FULL", "parallel, max_in_flight=16 (CLI default), cancel-all", 16, True),
    ]
    best_median = float("inf")
    for sync, label, bound, use_all in rows:
        walls, cpus, calls = await timed(n, lat, args.runs, synchronous=sync, max_in_flight=bound,
                                         cancel_all=use_all,
                                         profile=args.profile and sync == "NORMAL" and bound == 256 and use_all)
        med = statistics.median(walls)
        if sync == "NORMAL" and bound == 256 and use_all:
            best_median = med
        print(f"  {'ledger ' + sync + ', ' + label:<64} {med * 1000:>5.0f}ms {min(walls) * 1000:>5.0f}ms "
              f"{statistics.median(cpus) * 1000:>5.0f}ms {calls:>6}")
    sub = max(1, min(args.subset, n))
    walls, cpus, calls = await timed(sub, lat, 1, synchronous="NORMAL", max_in_flight=1, cancel_all=False)
    per_plan = walls[0] / sub
    print(f"  {'one call at a time (max_in_flight=1, no cancel-all), ' + str(sub) + ' plans':<64} "
          f"{walls[0] * 1000:>5.0f}ms {'':>7} {cpus[0] * 1000:>5.0f}ms {calls:>6}")
    print(f"  {'  extrapolated to ' + str(n) + ' plans (x' + str(n // sub) + ')':<64} {per_plan * n:>6.1f}s")
    # memory: a separate run with tracing on
    desk = await build(n, synchronous="NORMAL", max_in_flight=256, cancel_all=True)
    tracemalloc.start()
    try:
        await flatten(desk, lat)
        _cur, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        desk.close()
    current, peak_rss = rss_mb()
    print(f"memory: flatten peak (tracemalloc) {peak / 2**20:.1f} MB; process RSS now {current:.0f} MB, "
          f"peak {peak_rss:.0f} MB (seeding included)")
    verdict = "meets" if best_median <= target else "MISSES"
    print(f"verdict: {best_median * 1000:.0f} ms median {verdict} the {target * 1000:.0f} ms target "
          f"(ledger NORMAL, max_in_flight=256, cancel-all); one at a time ~{per_plan * n:.1f} s")
    if args.demo:
        await asyncio.to_thread(demo_flatten, args.demo, args.demo_runs)  # its own event loop
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


def demo_flatten(plans: int, runs: int) -> None:
    """Issue 12's in-process figure: the flatten of `plans` demo plans (core.demo: three symbols, stops, take
    profits, ladders) through the handler on the paper venue with no latency, ledger synchronous=FULL."""
    from benchmarks.bench_flatten_cli import GOAL_INPROC_1000, inproc_flatten

    goal = GOAL_INPROC_1000 * plans / 1000
    print(f"in-process flatten of {plans} demo plans, paper venue, ledger FULL ({runs} runs each, seeding not timed)")
    for net in (False, True):
        walls = [inproc_flatten(plans, net=net, quiet=True) for _ in range(runs)]
        med = statistics.median(walls)
        print(f"  {'netted (one close per symbol)' if net else 'per plan (one close per plan)':<34} median "
              f"{med:6.3f} s  min {min(walls):6.3f}  max {max(walls):6.3f}   goal <= {goal:.2f} s "
              f"{'ok' if med <= goal else 'MISSES'}")


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
