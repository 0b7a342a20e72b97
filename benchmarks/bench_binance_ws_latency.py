"""Fill latency: a fill at the Binance simulator until it is on the connector's event stream (OrderFilled), over
the WebSocket user data stream versus polling (the console's 0.25 s interval, and the 1 s default).

Each sample: a resting LIMIT BUY one tick under the mark; the clock starts just before the control request that
moves the mark through it (the fill happens at the venue during that request) and stops when OrderFilled reaches a
subscriber of connector.events(); the console rows: until tui.bridge.DeskBridge.drain_changes() gives the plan with
its position (the console model, run as is with its refresh interval). Target (issue 10): <= 100 ms median. Asserts
nothing. Run: .venv/bin/python benchmarks/bench_binance_ws_latency.py [--samples 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from connectors.binance.connector import BinanceConnector  # noqa: E402
from connectors.binance.sim_args import DEFAULT_API_KEY as KEY  # noqa: E402
from connectors.binance.sim_args import DEFAULT_API_SECRET as SECRET  # noqa: E402
from connectors.binance.sim_server import start_sim_in_thread  # noqa: E402
from connectors.paper.engine import PaperEngine  # noqa: E402
from connectors.paper.markets import DEFAULT_MARKETS  # noqa: E402
from core.connector import OrderFilled, OrderRequest  # noqa: E402
from core.models import OrderType, Side, TimeInForce  # noqa: E402

SYM = "ETHUSDT"


async def measure(label: str, samples: int, **kw: object) -> list[float]:
    markets = DEFAULT_MARKETS()
    sim = start_sim_in_thread(PaperEngine(markets), KEY, SECRET)
    conn = BinanceConnector(sim.base_url, KEY, SECRET, symbols=[SYM], **kw)  # type: ignore[arg-type]
    out: list[float] = []
    try:
        await conn.start()
        events = conn.events()
        got: asyncio.Queue[tuple[str, float]] = asyncio.Queue()

        async def pump() -> None:
            async for ev in events:
                if isinstance(ev, OrderFilled):
                    got.put_nowait((ev.client_order_id, time.perf_counter()))

        task = asyncio.create_task(pump())
        deadline = time.monotonic() + 5
        while conn.user_stream is not None and not conn.user_stream.live and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        mark = Decimal("3500")
        for i in range(samples):
            price = mark - Decimal("0.01")
            coid = f"lat-{label}-{i}"
            await conn.place_order(OrderRequest(symbol=SYM, side=Side.BUY, order_type=OrderType.LIMIT,
                                                quantity=Decimal("0.01"), price=price, client_order_id=coid,
                                                time_in_force=TimeInForce.GTC))
            await asyncio.sleep(0.05)
            t0 = time.perf_counter()
            await asyncio.to_thread(sim.control, marks={SYM: str(price - Decimal("0.01"))})
            while True:
                c, t1 = await asyncio.wait_for(got.get(), 10)
                if c == coid:
                    break
            out.append((t1 - t0) * 1000)
            mark = price - Decimal("0.01")
            await asyncio.to_thread(sim.control, marks={SYM: str(mark)})
        task.cancel()
    finally:
        await conn.close()
        sim.stop()
    return out


def console_rows(samples: int, mark_interval: float, **kw: object) -> list[float]:
    """A fill at the simulator until the console's row shows it: tui.bridge.DeskBridge (the console's model, no
    Textual) pumping the connector's events; the row counts when drain_changes() gives the plan with its position."""
    import tempfile

    from core.directives import StrategyDirective
    from core.worker import translate
    from tui.bridge import DeskBridge

    sim = start_sim_in_thread(PaperEngine(DEFAULT_MARKETS()), KEY, SECRET)
    conn = BinanceConnector(sim.base_url, KEY, SECRET, symbols=[SYM], **kw)  # type: ignore[arg-type]
    prices = [Decimal("3500") - Decimal("0.01") * (i + 1) for i in range(samples)]

    async def seed(handler: object) -> None:
        for i, price in enumerate(prices):
            d = StrategyDirective.model_validate({
                "directive_id": f"LAT_{i}", "scope": "NEW_TRADE",
                "entry_directive": {"symbol": SYM, "direction": "BUY", "order_type": "LIMIT",
                                    "limit_price": str(price)},
                "size_directive": {"target_position_size": "0.01"}})
            await handler.send(translate(d, handler.ledger.state()), d)  # type: ignore[attr-defined]

    out: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        bridge = DeskBridge(conn, Path(tmp) / "lat.sqlite", seed=seed, mark_interval=mark_interval)
        try:
            bridge.start().result(30)
            deadline = time.monotonic() + 10
            while (not bridge.drain_changes().ready or (conn.user_stream is not None and not conn.user_stream.live)) \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
            by_price = {}
            for row in bridge.rows():
                by_price[len(by_price)] = row.plan_id
            plan_of = {}
            for pid in by_price.values():
                plan = bridge.ledger.get_plan(pid)
                assert plan is not None
                plan_of[plan.orders[0].price] = pid
            for price in prices:
                time.sleep(0.05)
                t0 = time.perf_counter()
                sim.control(marks={SYM: str(price - Decimal("0.005"))})
                pid = plan_of[price]
                seen = False
                while not seen and time.perf_counter() - t0 < 10:
                    seen = any(r.plan_id == pid and r.net > 0 for r in bridge.drain_changes().rows)
                    if not seen:
                        time.sleep(0.001)
                out.append((time.perf_counter() - t0) * 1000)
        finally:
            bridge.stop()
            sim.stop()
    return out


def show(label: str, xs: list[float]) -> None:
    xs = sorted(xs)
    print(f"{label:44s} median {statistics.median(xs):7.1f} ms   p90 {xs[int(len(xs) * 0.9) - 1]:7.1f} ms   "
          f"max {xs[-1]:7.1f} ms   (n={len(xs)})")


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=20)
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    show("WebSocket user data stream", await measure("ws", a.samples))
    show("polling every 0.25 s (console), no stream", await measure("p25", a.samples, user_stream=False,
                                                                     poll_interval=0.25))
    for interval in (0.25, 0.05):
        show(f"console row (bridge, refresh {interval} s), stream", await asyncio.to_thread(
            console_rows, a.samples, interval))
    show("console row (bridge, refresh 0.25 s), polling 0.25 s", await asyncio.to_thread(
        console_rows, a.samples, 0.25, user_stream=False, poll_interval=0.25))
    show("polling every 1 s (default), no stream", await measure("p1", max(5, a.samples // 2), user_stream=False))


if __name__ == "__main__":
    asyncio.run(main())
