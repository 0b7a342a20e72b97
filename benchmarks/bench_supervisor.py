"""The protection supervisor under a burst of entry fills: 500 plans, one resting entry of every plan fills at once.

Each plan holds a position, a stop, a take profit and resting entries, on a ledger file (synchronous=FULL, WAL, in a
temp dir) and on the in-process paper venue, which agree (built as in bench_tui.py). Moving the marks fills the first
entry of every plan; the supervisor then resizes every plan's stop and take profit (two cancel-replaces per plan).

Events are applied the way the console does it (tui/bridge_live.py: a pump applies each event and starts a settle
task when none runs), so the supervisor works on several plans at once.

Prints (no assertions): wall time until every plan's stop and take profit cover the new position, resizes per
second, the handler's CommitGroup counters (group transactions and the writes they held), and every SQLite commit
that wrote something (group or not), per resize. `--latency S`: the paper venue's delay per call (default: 0 and
0.005 s, one run each)."""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.paper.connector import PaperConnector  # noqa: E402
from connectors.paper.engine import PaperEngine  # noqa: E402
from connectors.paper.markets import DEFAULT_MARKETS  # noqa: E402
from connectors.paper.orders import PaperConfig  # noqa: E402
from core import ledger_base  # noqa: E402
from core.connector import OrderRequest  # noqa: E402
from core.decimals import round_to_tick  # noqa: E402
from core.handler import ExecutionHandler  # noqa: E402
from core.journal import Journal  # noqa: E402
from core.ledger import Ledger  # noqa: E402
from core.models import (  # noqa: E402
    ExecutionGroup,
    GroupStatus,
    LedgerState,
    Order,
    OrderRole,
    OrderType,
    Side,
    TimeInForce,
    TradePlan,
)
from core.supervisor import ProtectionSupervisor  # noqa: E402

PLANS, ENTRIES = 500, 3
SIZES = {"BTCUSDT": Decimal("0.1"), "ETHUSDT": Decimal("2"), "SOLUSDT": Decimal("50")}
ENTRY_QTY = {"BTCUSDT": Decimal("0.01"), "ETHUSDT": Decimal("0.1"), "SOLUSDT": Decimal("1")}


class CommitCounter:
    """Counts the ledger's outermost commits, and those that changed rows (each of those is an fsync)."""

    def __init__(self) -> None:
        self.commits = 0
        self.writing = 0
        self._start: dict[int, int] = {}
        tx = ledger_base._Tx
        enter, exit_ = tx.__enter__, tx.__exit__
        counter = self

        def __enter__(self: Any) -> Any:
            conn = enter(self)
            if self._outer:
                counter._start[id(self._db)] = conn.total_changes
            return conn

        def __exit__(self: Any, et: type[BaseException] | None, exc: BaseException | None,
                     tb: TracebackType | None) -> None:
            if self._outer and et is None:
                counter.commits += 1
                counter.writing += self._db._conn.total_changes != counter._start.get(id(self._db))
            exit_(self, et, exc, tb)

        tx.__enter__, tx.__exit__ = __enter__, __exit__  # type: ignore[method-assign]

    def reset(self) -> None:
        self.commits = self.writing = 0


def build(db: Path) -> tuple[PaperEngine, dict[str, Decimal]]:
    """A ledger and a paper venue that agree: per plan a position, a stop, a take profit and ENTRIES resting buys,
    every order in the plan's execution group. Returns the engine and, per symbol, the mark that fills the first
    entry of every plan (and nothing else)."""
    markets = DEFAULT_MARKETS()
    engine = PaperEngine(markets, PaperConfig(seed=1))
    symbols = sorted(markets)
    plans: list[TradePlan] = []
    fill_at: dict[str, Decimal] = {}
    for i in range(PLANS):
        sym = symbols[i % 3]
        mark, tick = markets[sym].mark_price, markets[sym].tick_size
        net, pid, gid = SIZES[sym], f"TPL_{i + 1:04d}", f"GRP_{i + 1:04d}"
        engine.submit(OrderRequest(sym, Side.BUY, OrderType.MARKET, net, f"b{i}-open"), 0.0)
        orders: list[Order] = []

        def add(j: int, role: OrderRole, side: Side, otype: OrderType, qty: Decimal, price: Decimal | None,
                stop: Decimal | None, reduce: bool, sym: str = sym, i: int = i, gid: str = gid,
                orders: list[Order] = orders) -> None:
            coid = f"b{i}-{j}"
            tif = TimeInForce.GTC if otype is OrderType.LIMIT else None
            engine.submit(OrderRequest(sym, side, otype, qty, coid, price=price, stop_price=stop, time_in_force=tif,
                                       reduce_only=reduce), 0.0)
            orders.append(Order(order_id=f"ORD_{i}_{j}", client_order_id=coid, role=role, side=side, type=otype,
                                quantity=qty, price=price, stop_price=stop, time_in_force=tif, reduce_only=reduce,
                                group_id=gid))

        add(0, OrderRole.STOP_LOSS, Side.SELL, OrderType.STOP_MARKET, net, None,
            round_to_tick(mark * Decimal("0.8"), tick, up=False), True)
        add(1, OrderRole.TAKE_PROFIT, Side.SELL, OrderType.LIMIT, net,
            round_to_tick(mark * Decimal("1.2"), tick, up=True), None, True)
        for j in range(ENTRIES):
            price = round_to_tick(mark * (Decimal("0.95") - Decimal(j) / 100), tick, up=False)
            add(2 + j, OrderRole.ENTRY, Side.BUY, OrderType.LIMIT, ENTRY_QTY[sym], price, None, False)
            if j == 0:
                fill_at[sym] = price
        group = ExecutionGroup(group_id=gid, directive_id="BENCH", status=GroupStatus.ACTIVE,
                               order_ids=[o.order_id for o in orders])
        plans.append(TradePlan(plan_id=pid, symbol=sym, direction=Side.BUY, net_position=net, avg_entry_price=mark,
                               orders=orders, groups=[group]))
    ledger = Ledger(db)
    ledger.import_snapshot(LedgerState(markets=markets, plans=plans))
    ledger.close()
    return engine, fill_at


def covered(ledger: Ledger) -> int:
    """Plans whose open stops and take profits each cover the whole position."""
    ok = 0
    for p in ledger.state().plans:
        want = abs(p.net_position)
        stop = sum((o.remaining for o in p.open_orders if o.role is OrderRole.STOP_LOSS), Decimal(0))
        tp = sum((o.remaining for o in p.open_orders if o.role is OrderRole.TAKE_PROFIT), Decimal(0))
        ok += stop == want and tp == want and want > SIZES[p.symbol]
    return ok


async def run(latency: float, counter: CommitCounter) -> dict[str, str]:
    tmp = Path(tempfile.mkdtemp(prefix="bench_sup_"))
    engine, fill_at = build(tmp / "ledger.db")
    ledger = Ledger(tmp / "ledger.db")  # synchronous=FULL (the default)
    journal = Journal(ledger)
    conn = PaperConnector(engine, latency=latency)
    handler = ExecutionHandler(ledger, conn, journal, retry_delay=0.001)
    sup = ProtectionSupervisor(handler)
    settling: list[asyncio.Task[None]] = []
    applied = 0

    async def pump() -> None:  # as tui/bridge_live.py: apply each event, start a settle task when none runs
        nonlocal applied
        async for ev in conn.events():
            sup.apply(ev)
            applied += 1
            if sup.pending and (not settling or settling[-1].done()):
                settling.append(asyncio.get_running_loop().create_task(sup.settle()))
            await asyncio.sleep(0)

    pump_task = asyncio.create_task(pump())
    await asyncio.sleep(0.05)
    journal_before = len(journal.entries(kind="protection"))
    counter.reset()
    c0, w0, cpu0 = handler.ops.commits.commits, handler.ops.commits.writes, time.process_time()
    t0 = time.perf_counter()
    for sym, price in fill_at.items():
        engine.set_mark(sym, price, time.time())
    while True:
        await asyncio.sleep(0.005)
        if not sup.working_on() and all(t.done() for t in settling) and covered(ledger) == PLANS:
            break
        if time.perf_counter() - t0 > 300:
            break
    wall = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    commits, writes = handler.ops.commits.commits - c0, handler.ops.commits.writes - w0
    resizes = sup.actions
    out = {
        "venue latency": f"{latency * 1000:.0f} ms per call",
        "plans covered": f"{covered(ledger)}/{PLANS}",
        "resizes (cancel-replaces)": f"{resizes}",
        "wall time": f"{wall:.2f} s",
        "resizes per second": f"{resizes / wall:.0f}",
        "CPU": f"{cpu:.2f} s ({100 * cpu / wall:.0f} % of one core)",
        "CommitGroup commits / writes": f"{commits} / {writes}",
        "ledger commits that wrote (all)": f"{counter.writing} ({counter.writing / max(resizes, 1):.2f} per resize)",
        "ledger transactions (incl. empty)": f"{counter.commits}",
        "protection journal entries": f"{len(journal.entries(kind='protection')) - journal_before}",
        "events applied": f"{applied}",
    }
    pump_task.cancel()
    await asyncio.gather(pump_task, return_exceptions=True)
    await conn.close()
    ledger.close()
    shutil.rmtree(tmp)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, action="append", help="paper venue delay per call, seconds")
    args = ap.parse_args()
    counter = CommitCounter()
    print(f"bench_supervisor: {PLANS} plans, one entry fill each at once; load {os.getloadavg()[0]:.2f}")
    for latency in args.latency or [0.0, 0.005]:
        out = asyncio.run(run(latency, counter))
        print()
        for k, v in out.items():
            print(f"  {k:36s} {v}")


if __name__ == "__main__":
    main()
