"""Issue 13.9: a 429 during a flatten on the Binance simulator, with and without the handler pacing to the limit.

The simulator answers the first new order after the fault is armed with 429 (Retry-After 1 s) and bans the IP
(418, `--ban` seconds; Binance's own ban is 120 s) for any request that reaches it before the Retry-After has passed,
including requests the client had already sent when the 429 was issued. Printed: wall time of the flatten, how many
429 / 418 answers the simulator gave, and whether every plan ended flat.

Run: .venv/bin/python benchmarks/bench_429_stall.py [--plans 30] [--ban 10] [--latency-ms 30]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.paper.markets import DEFAULT_MARKETS  # noqa: E402
from core.directives import Scope, SizeDirective, StrategyDirective  # noqa: E402
from core.handler import ExecutionHandler  # noqa: E402
from core.journal import Journal  # noqa: E402
from core.ledger import Ledger  # noqa: E402
from core.models import PlanStatus, Side  # noqa: E402
from core.pacing import PacedGate, VenueLimits  # noqa: E402
from core.worker import translate  # noqa: E402
from tests.connectors.binance_factory import binance_sim  # noqa: E402


async def run(plans: int, ban: int, latency_ms: int, limits: VenueLimits | None) -> None:
    from connectors.binance.sim_state import SimLimits

    async with binance_sim(DEFAULT_MARKETS(), limits=SimLimits(ban_seconds=ban)) as (conn, sim):
        with tempfile.TemporaryDirectory() as tmp:
            ledger = Ledger(Path(tmp) / "l.sqlite", synchronous="NORMAL")
            for symbol, rules in (await conn.market_rules()).items():
                ledger.set_market(symbol, rules)
            handler = ExecutionHandler(ledger, conn, Journal(ledger), flatten_deadline=600)
            for i in range(plans):
                pid = f"TPL_{i}"
                ledger.create_plan(pid, "SOLUSDT", Side.BUY)
                d = StrategyDirective(directive_id=f"S_{pid}", scope=Scope.MODIFY_EXISTING, target_plan_ids=[pid],
                                      size_directive=SizeDirective(target_position_size=Decimal("1")))
                assert (await handler.send(translate(d, ledger.state([pid])), d)).ok
            if limits is not None:
                handler.ops.sem = PacedGate(16, limits)
            sim.control(latency_ms=latency_ms,
                        faults=[{"kind": "429", "seconds": 1, "method": "POST", "path": "/api/v3/order"}])
            before = dict(sim.state.statuses)
            ids = ledger.plan_ids(PlanStatus.ACTIVE)
            d = StrategyDirective(directive_id="STR_FLAT", scope=Scope.CLOSE_EXISTING, target_plan_ids=ids)
            t0 = time.perf_counter()
            report = await handler.send(translate(d, ledger.state()), d, halt_desk=True)
            wall = time.perf_counter() - t0
            after = dict(sim.state.statuses)
            got = {k: after.get(k, 0) - before.get(k, 0) for k in (429, 418)}
            flat = all(p.net_position == 0 for p in ledger.plans())
            label = f"paced to {limits.orders}/{limits.orders_window:g}s" if limits else "unpaced"
            print(f"  {label:<22} {plans} plans: {wall:6.2f} s  429s={got[429]} 418s={got[418]}  "
                  f"ok={report.ok} flat={flat}")
            ledger.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plans", type=int, default=30)
    ap.add_argument("--ban", type=int, default=10)
    ap.add_argument("--latency-ms", type=int, default=30)
    a = ap.parse_args()
    logging.getLogger("connectors.binance").setLevel(logging.ERROR)
    print(f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; simulator ban {a.ban} s")
    asyncio.run(run(a.plans, a.ban, a.latency_ms, None))
    asyncio.run(run(a.plans, a.ban, a.latency_ms, VenueLimits(orders=100, orders_window=10.0)))


if __name__ == "__main__":
    main()
