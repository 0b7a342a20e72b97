"""Fill latency: a fill at the Binance simulator until it is on the connector's event stream (OrderFilled), over
the WebSocket user data stream versus polling (the console's 0.25 s interval, and the 1 s default), and until the
console's row shows it.

Each sample: a resting LIMIT BUY one tick under the mark; the clock starts just before the control request that
moves the mark through it (the fill happens at the venue during that request) and stops
- "stream": when OrderFilled reaches a subscriber of connector.events();
- "bridge view": when tui.bridge.DeskBridge.drain_changes() gives the plan with its position (the console's model,
  no Textual);
- "fill -> console row": the real console (tui.app.PlanDeskApp, headless, 160x50, its default 0.25 s poll timer,
  on a DeskBridge with its defaults) until the plans table's line for the plan is rendered with the filled position
  in its "net position" cell: the time the compositor paints it (PlansTable.render_line), not when the bridge or the
  table's data got it (only the write to a real terminal is left out). Once with the event-driven refresh (what the
  console runs) and once with the UI on its timer only (the bridge's wake-up disconnected), in the same run.
Target (issue 10): fill -> console row <= 100 ms median. Asserts nothing. Prints the machine's load average: on a
busy machine every figure grows. Run: .venv/bin/python benchmarks/bench_binance_ws_latency.py [--samples 20]
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


def _prices(samples: int) -> list[Decimal]:
    return [Decimal("3500") - Decimal("0.01") * (i + 1) for i in range(samples)]


def _seeder(prices: list[Decimal]) -> object:
    """One plan per price: a resting LIMIT BUY 0.01 at each (sent through the handler, as the console would)."""
    from core.directives import StrategyDirective
    from core.worker import translate

    async def seed(handler: object) -> None:
        for i, price in enumerate(prices):
            d = StrategyDirective.model_validate({
                "directive_id": f"LAT_{i}", "scope": "NEW_TRADE",
                "entry_directive": {"symbol": SYM, "direction": "BUY", "order_type": "LIMIT",
                                    "limit_price": str(price)},
                "size_directive": {"target_position_size": "0.01"}})
            await handler.send(translate(d, handler.ledger.state()), d)  # type: ignore[attr-defined]

    return seed


def console_rows(samples: int, mark_interval: float, **kw: object) -> list[float]:
    """A fill at the simulator until the console's model has it: tui.bridge.DeskBridge (no Textual) pumping the
    connector's events; the row counts when drain_changes() gives the plan with its position."""
    import tempfile

    from tui.bridge import DeskBridge

    sim = start_sim_in_thread(PaperEngine(DEFAULT_MARKETS()), KEY, SECRET)
    conn = BinanceConnector(sim.base_url, KEY, SECRET, symbols=[SYM], **kw)  # type: ignore[arg-type]
    prices = _prices(samples)
    seed = _seeder(prices)

    out: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        bridge = DeskBridge(conn, Path(tmp) / "lat.sqlite", seed=seed, mark_interval=mark_interval)  # type: ignore[arg-type]
        try:
            bridge.start().result(30)
            deadline = time.monotonic() + 10
            while (not bridge.drain_changes().ready or (conn.user_stream is not None and not conn.user_stream.live)) \
                    and time.monotonic() < deadline:
                time.sleep(0.01)
            by_price: dict[int, str] = {}
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


async def app_rows(samples: int, *, event_driven: bool = True, **kw: object) -> list[float]:
    """A fill at the simulator until the real console paints it: PlanDeskApp (headless) on a DeskBridge on the
    Binance connector. The clock stops when PlansTable.render_line returns the plan's line with the filled position
    (+0.01) in it, i.e. when the compositor paints the changed cell. `event_driven` False disconnects the bridge's
    wake-up (the UI then sees the fill at its next 0.25 s timer tick: the console before issue 10's item 3)."""
    import tempfile

    from textual.strip import Strip

    from tui.app import PlanDeskApp
    from tui.bridge import DeskBridge
    from tui.widgets.fmt import fit
    from tui.widgets.plans_table import PlansTable, W

    sim = start_sim_in_thread(PaperEngine(DEFAULT_MARKETS()), KEY, SECRET)
    conn = BinanceConnector(sim.base_url, KEY, SECRET, symbols=[SYM], **kw)  # type: ignore[arg-type]
    prices = _prices(samples)
    home = Decimal("3000")  # one more plan, never filled: the table's cursor stays on it (the detail pane shows the
    out: list[float] = []   # selected plan; a fill on *that* plan also rebuilds the pane, which is not measured here)
    with tempfile.TemporaryDirectory() as tmp:
        bridge = DeskBridge(conn, Path(tmp) / "lat.sqlite", seed=_seeder([home, *prices]))  # type: ignore[arg-type]
        app = PlanDeskApp(bridge, cursor_blink=False)  # the console's defaults: 0.25 s poll timer
        try:
            async with app.run_test(size=(160, 50)):
                table = app.query_one(PlansTable)
                deadline = time.monotonic() + 30
                while not (app.desk_ready and table.row_count == samples + 1) or (
                        conn.user_stream is not None and not conn.user_stream.live):
                    if time.monotonic() > deadline:
                        raise RuntimeError("the console did not open the desk")
                    await asyncio.sleep(0.02)
                if not event_driven:
                    bridge.on_change = None
                plan_of = {}
                for row in bridge.rows():
                    plan = await asyncio.to_thread(bridge.ledger.get_plan, row.plan_id)
                    assert plan is not None
                    plan_of[plan.orders[0].price] = row.plan_id
                label = {pid: fit(pid, W["plan"]) for pid in plan_of.values()}  # as the plan cell shows it
                assert len(set(label.values())) == len(label), "plan ids not told apart on screen"
                want: dict[str, asyncio.Event] = {}
                painted: dict[str, float] = {}
                render_line = table.render_line

                def watching(y: int) -> Strip:  # the compositor asks the table for its lines as it paints
                    strip = render_line(y)
                    if want:
                        cells = strip.text.split()  # plan, symbol, side, net position, ...
                        for pid, done in want.items():
                            if len(cells) > 3 and cells[0] == label[pid] and cells[3] == "+0.01":
                                painted[pid] = time.perf_counter()
                                done.set()
                    return strip

                table.render_line = watching  # type: ignore[method-assign]
                table.select_plan(plan_of[home])
                for price in prices:
                    pid = plan_of[price]
                    index = table.get_row_index(pid)  # on screen (only visible rows are painted), not selected
                    if not table.scroll_y <= index < table.scroll_y + table.size.height - 2:
                        table.scroll_to(y=max(index - 2, 0), animate=False)
                    await asyncio.sleep(0.3)
                    want.clear()
                    want[pid] = done = asyncio.Event()
                    t0 = time.perf_counter()
                    await asyncio.to_thread(sim.control, marks={SYM: str(price - Decimal("0.005"))})
                    await asyncio.wait_for(done.wait(), 10)
                    out.append((painted[pid] - t0) * 1000)
                    want.clear()
        finally:
            await asyncio.to_thread(bridge.stop)
            sim.stop()
    return out


def show(label: str, xs: list[float], goal: float | None = None) -> None:
    xs = sorted(xs)
    med = statistics.median(xs)
    verdict = "" if goal is None else f"   goal <= {goal:.0f} ms median: {'met' if med <= goal else 'NOT met'}"
    print(f"{label:52s} median {med:7.1f} ms   p90 {xs[int(len(xs) * 0.9) - 1]:7.1f} ms   "
          f"max {xs[-1]:7.1f} ms   (n={len(xs)}){verdict}")


async def main(samples: int) -> None:
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    show("WebSocket user data stream", await measure("ws", samples))
    show("polling every 0.25 s (console), no stream", await measure("p25", samples, user_stream=False,
                                                                     poll_interval=0.25))
    for interval in (0.25, 0.05):
        show(f"bridge view (refresh {interval} s), stream", await asyncio.to_thread(
            console_rows, samples, interval))
    show("bridge view (refresh 0.25 s), polling 0.25 s", await asyncio.to_thread(
        console_rows, samples, 0.25, user_stream=False, poll_interval=0.25))
    show("polling every 1 s (default), no stream", await measure("p1", max(5, samples // 2), user_stream=False))


def console(samples: int) -> None:
    """The console runs in its own event loop (as `plandesk console` does), not inside main()'s."""
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    show("fill -> console row (painted), stream", asyncio.run(app_rows(samples)), goal=100)
    show("fill -> console row (painted), UI timer only", asyncio.run(app_rows(samples, event_driven=False)),
         goal=100)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=20)
    ap.add_argument("--console-only", action="store_true", help="only the fill -> console row figures")
    a = ap.parse_args()
    if not a.console_only:
        asyncio.run(main(a.samples))
    console(a.samples)
