"""Fill latency: a fill at the Binance simulator until it is on the connector's event stream (OrderFilled), over
the WebSocket user data stream versus polling (the console's 0.25 s interval, and the 1 s default).

Each sample: a resting LIMIT BUY one tick under the mark; the clock starts just before the control request that
moves the mark through it (the fill happens at the venue during that request) and stops when OrderFilled reaches a
subscriber of connector.events(). Target (issue 10): <= 100 ms median over the stream. Prints figures; asserts
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
    show("polling every 1 s (default), no stream", await measure("p1", max(5, a.samples // 2), user_stream=False))


if __name__ == "__main__":
    asyncio.run(main())
