"""The console under load: 2,000 plans and 20,000 orders, a feed of 200 price and order updates per second.

Prints (no assertions), each figure beside its goal (issue 11) where there is one:
- key press to preview painted, p50 / p95, at 160x50: `c` (close the selected plan) and `F` (flatten all 2,000);
- `>` (sort by uPnL) to the table painted in the new order; `*` (mark all 2,000 shown) to painted; `enter` in the
  many-plan stop form (`t`, "1%") to the preview of a stop tighten over 2,000 plans painted;
- CPU under the feed, % of one core (process_time over wall time), and per thread;
- resident memory (VmRSS now, ru_maxrss peak);
- the bridge's share: DeskBridge.preview(directive) to the batch in hand, for `F` and the stop tighten over 2,000;
- startup of `plandesk demo` to first paint and to the desk shown (measured in tmux, as a user sees it).

The ledger is built directly (a snapshot import); the paper exchange gets the same positions and open orders through
its normal order entry, so the bridge's startup reconciliation finds the venue and the ledger in agreement. The feed
is injected into the connector's event stream from a thread (as a venue's stream would arrive): 100 mark prices and
100 partial fills per second, each fill a real ledger change (a fill, a new position, a version bump)."""

from __future__ import annotations

import asyncio
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from textual import events  # noqa: E402

from connectors.paper.connector import PaperConnector  # noqa: E402
from connectors.paper.engine import PaperEngine  # noqa: E402
from connectors.paper.markets import DEFAULT_MARKETS  # noqa: E402
from connectors.paper.orders import PaperConfig  # noqa: E402
from core.connector import MarkPriceUpdated, OrderRequest, OrderUpdated, VenueOrder  # noqa: E402
from core.decimals import round_to_tick  # noqa: E402
from core.ledger import Ledger  # noqa: E402
from core.models import (  # noqa: E402
    LedgerState,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    TradePlan,
)
from tui.app import PlanDeskApp  # noqa: E402
from tui.bridge import DeskBridge  # noqa: E402
from tui.screens.preview import PreviewScreen  # noqa: E402
from tui.widgets.plans_table import PlansTable  # noqa: E402

PLANS, ORDERS_PER_PLAN, RATE = 2000, 10, 200
SIZES = {"BTCUSDT": Decimal("0.1"), "ETHUSDT": Decimal("2"), "SOLUSDT": Decimal("50")}
ENTRY_QTY = {"BTCUSDT": Decimal("0.01"), "ETHUSDT": Decimal("0.1"), "SOLUSDT": Decimal("1")}


def build(db: Path) -> tuple[PaperEngine, list[tuple[str, VenueOrder]]]:
    """A ledger and a paper venue that agree: per plan one position, a stop, a take profit and 8 resting entries."""
    markets = DEFAULT_MARKETS()
    engine = PaperEngine(markets, PaperConfig(seed=1))
    symbols = sorted(markets)
    plans: list[TradePlan] = []
    entries: list[tuple[str, VenueOrder]] = []
    for i in range(PLANS):
        sym = symbols[i % 3]
        r = markets[sym]
        mark, tick = r.mark_price, r.tick_size
        net = SIZES[sym]
        pid = f"TPL_{i + 1:04d}"
        engine.submit(OrderRequest(sym, Side.BUY, OrderType.MARKET, net, f"b{i}-open"), 0.0)
        orders: list[Order] = []

        def add(j: int, role: OrderRole, side: Side, otype: OrderType, qty: Decimal, price: Decimal | None,
                stop: Decimal | None, reduce: bool, sym: str = sym, pid: str = pid, i: int = i,
                orders: list[Order] = orders) -> None:
            coid = f"b{i}-{j}"
            tif = TimeInForce.GTC if otype is OrderType.LIMIT else None
            engine.submit(OrderRequest(sym, side, otype, qty, coid, price=price, stop_price=stop, time_in_force=tif,
                                       reduce_only=reduce), 0.0)
            orders.append(Order(order_id=f"ORD_{i}_{j}", client_order_id=coid, role=role, side=side, type=otype,
                                quantity=qty, price=price, stop_price=stop, time_in_force=tif, reduce_only=reduce))
            if role is OrderRole.ENTRY:
                entries.append((pid, VenueOrder(sym, coid, side, otype, qty, OrderStatus.OPEN, price=price,
                                                time_in_force=tif)))

        add(0, OrderRole.STOP_LOSS, Side.SELL, OrderType.STOP_MARKET, net, None,
            round_to_tick(mark * Decimal("0.9"), tick, up=False), True)
        add(1, OrderRole.TAKE_PROFIT, Side.SELL, OrderType.LIMIT, net, round_to_tick(mark * Decimal("1.2"), tick,
                                                                                     up=True), None, True)
        for j in range(2, ORDERS_PER_PLAN):
            price = round_to_tick(mark * (Decimal("0.95") - Decimal(j) / 100), tick, up=False)
            add(j, OrderRole.ENTRY, Side.BUY, OrderType.LIMIT, ENTRY_QTY[sym], price, None, False)
        plans.append(TradePlan(plan_id=pid, symbol=sym, direction=Side.BUY, net_position=net, avg_entry_price=mark,
                               orders=orders))
    ledger = Ledger(db)
    ledger.import_snapshot(LedgerState(markets=markets, plans=plans))
    ledger.close()
    return engine, entries


class Feed(threading.Thread):
    """RATE events per second into the connector's event stream: marks and partial fills, alternating."""

    def __init__(self, connector: PaperConnector, entries: list[tuple[str, VenueOrder]]) -> None:
        super().__init__(name="feed", daemon=True)
        self.connector, self.entries = connector, entries
        self.filled: dict[str, Decimal] = {}
        self.stop_event = threading.Event()
        self.sent = 0
        self.rng = random.Random(3)

    def run(self) -> None:
        markets = self.connector.engine.markets
        base = {s: r.mark_price for s, r in markets.items()}
        symbols = sorted(base)
        period = 1.0 / RATE
        nxt = time.perf_counter()
        while not self.stop_event.is_set():
            if self.sent % 2 == 0:
                s = symbols[self.rng.randrange(3)]
                px = round_to_tick(base[s] * Decimal(str(1 + self.rng.uniform(-0.002, 0.002))), markets[s].tick_size,
                                   up=True)
                self.connector._on_event(MarkPriceUpdated(s, px, ts=time.time()))
            else:
                _pid, vo = self.entries[self.rng.randrange(len(self.entries))]
                step = markets[vo.symbol].step_size
                done = self.filled.get(vo.client_order_id, Decimal(0)) + step
                if done < vo.quantity:
                    self.filled[vo.client_order_id] = done
                    upd = VenueOrder(vo.symbol, vo.client_order_id, vo.side, vo.order_type, vo.quantity,
                                     OrderStatus.PARTIALLY_FILLED, filled_quantity=done, avg_fill_price=vo.price,
                                     price=vo.price, time_in_force=vo.time_in_force)
                    self.connector._on_event(OrderUpdated(upd, ts=time.time()))
            self.sent += 1
            nxt += period
            delay = nxt - time.perf_counter()
            if delay > 0:
                time.sleep(delay)


def thread_cpu() -> dict[str, float]:
    """CPU seconds per thread name (Linux /proc)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            stat = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(tid), f"tid{tid}")
        out[name] = out.get(name, 0.0) + (int(stat[11]) + int(stat[12])) / tick
    return out


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


async def measure(app: PlanDeskApp, feed: Feed, rounds_c: int, rounds_f: int) -> dict[str, object]:
    painted: list[float] = []
    original = PreviewScreen.on_mount

    def on_mount(self: PreviewScreen) -> None:
        original(self)
        self.call_after_refresh(lambda: painted.append(time.perf_counter()))

    PreviewScreen.on_mount = on_mount  # type: ignore[method-assign]
    out: dict[str, object] = {}
    async with app.run_test(size=(160, 50)):
        t0 = time.perf_counter()
        table = app.query_one(PlansTable)
        while not (app.desk_ready and table.row_count == PLANS):
            await asyncio.sleep(0.05)
        out["desk ready (2,000 plans, headless)"] = f"{time.perf_counter() - t0:.2f} s"
        await asyncio.sleep(1.0)
        feed.start()
        await asyncio.sleep(2.0)  # let the feed settle in
        # CPU under the feed, nothing else happening
        cpu0, wall0, thr0, sent0 = time.process_time(), time.perf_counter(), thread_cpu(), feed.sent
        await asyncio.sleep(10.0)
        cpu1, wall1, thr1, sent1 = time.process_time(), time.perf_counter(), thread_cpu(), feed.sent
        wall = wall1 - wall0
        out["feed rate"] = f"{(sent1 - sent0) / wall:.0f} events/s"
        out["CPU under the feed"] = f"{100 * (cpu1 - cpu0) / wall:.1f} % of one core (whole process)"
        per = {k: 100 * (thr1.get(k, 0) - thr0.get(k, 0)) / wall for k in thr1}
        out["  per thread"] = ", ".join(f"{k} {v:.1f} %" for k, v in sorted(per.items(), key=lambda kv: -kv[1])
                                        if v >= 0.5)
        rng = random.Random(5)
        for key, rounds in (("c", rounds_c), ("F", rounds_f)):
            if not rounds:
                continue
            lat: list[float] = []
            for _ in range(rounds):
                if key == "c":
                    table.move_cursor(row=rng.randrange(PLANS))
                    await asyncio.sleep(0.05)
                n = len(painted)
                t = time.perf_counter()
                app._driver.send_message(events.Key(key, key))  # type: ignore[union-attr]
                while len(painted) == n:
                    await asyncio.sleep(0.001)
                lat.append((painted[-1] - t) * 1000)
                screen = app.screen
                await asyncio.sleep(0.1)
                screen.dismiss(None)
                while isinstance(app.screen, PreviewScreen):
                    await asyncio.sleep(0.005)
                await asyncio.sleep(0.15)
            label = "c (close selected)" if key == "c" else f"F (flatten all {PLANS})"
            goal = "" if key == "c" else "   [goal <= 200 ms]"
            out[f"key {label} -> preview painted"] = stats(lat) + goal
        await batch_ready(app, out)
        await many_plans(app, table, painted, out)
        out["memory"] = (f"VmRSS {rss_mb():.0f} MB, peak ru_maxrss "
                         f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
        feed.stop_event.set()
    PreviewScreen.on_mount = original  # type: ignore[method-assign]
    return out


async def batch_ready(app: PlanDeskApp, out: dict[str, object], rounds: int = 8) -> None:
    """The bridge's share of `F` and of the stop tighten over 2,000: DeskBridge.preview(directive) to the batch in
    hand on the UI's loop (reading the plans, translating, the Preview), under the feed, with the app running. The
    rounds are a second apart, as an operator's would be. Once a preview is in hand the bench calls
    bridge.preview_painted(), as the console does once it has painted one: the preview's journal entry (~70-120 ms of
    CPU on the bridge loop for a flatten of 2,000) is written then, not `journal_delay` later, in the next round."""
    from tui.screens.forms import StopInput, close_directive, stop_directive

    bridge = app.bridge
    ids = bridge.active_plan_ids()
    one = StopInput(tolerance=Decimal("0.01"), new_stop=Decimal(1))
    for label, make in (
        (f"F (flatten all {PLANS})", lambda n: close_directive(ids, f"STR_BR_F{n}", app.close_slippage)),
        (f"stop 1% over {PLANS}", lambda n: stop_directive(ids[0], one, f"STR_BR_S{n}").model_copy(
            update={"target_plan_ids": ids})),
    ):
        lat: list[float] = []
        for n in range(rounds):
            directive = make(n)
            t = time.perf_counter()
            preview = await asyncio.wrap_future(bridge.preview(directive))
            lat.append((time.perf_counter() - t) * 1000)
            bridge.preview_painted()
            assert preview.batch.ok and len(preview.batch.plan_versions) == PLANS, preview.batch.errors[:1]
            await asyncio.sleep(1.0)
        out[f"bridge.preview, {label} -> batch ready"] = stats(lat)


def stats(lat: list[float]) -> str:
    return f"p50 {statistics.median(lat):.0f} ms, p95 {pct(lat, 95):.0f} ms, max {max(lat):.0f} ms (n={len(lat)})"


async def after_paint(app: PlanDeskApp) -> float:
    """perf_counter once the screen has been refreshed after what was just done."""
    done: list[float] = []
    app.call_after_refresh(lambda: done.append(time.perf_counter()))
    while not done:
        await asyncio.sleep(0.001)
    return done[0]


async def many_plans(app: PlanDeskApp, table: PlansTable, painted: list[float], out: dict[str, object],
                     rounds: int = 8) -> None:
    """Issue 11: sort by uPnL, mark every plan shown, preview one stop tighten over all 2,000."""
    from tui.screens.many_inputs import ManyStopScreen

    def key(k: str, char: str | None = None) -> float:
        t = time.perf_counter()
        app._driver.send_message(events.Key(k, char))  # type: ignore[union-attr]
        return t

    sort_lat: list[float] = []
    for _ in range(rounds):
        table.sort_by(None)
        await asyncio.sleep(0.3)
        t = key("greater_than_sign", ">")
        while table.sort_state[0] != "upnl":
            await asyncio.sleep(0.001)
        sort_lat.append((await after_paint(app) - t) * 1000)
    out["key > (sort 2,000 by uPnL) -> painted"] = stats(sort_lat) + "   [goal <= 100 ms]"
    await asyncio.sleep(0.5)
    out["  sorted by uPnL under the feed (10 s)"] = f"order kept: {await sorted_under_feed(table)}"
    mark_lat: list[float] = []
    preview_lat: list[float] = []
    for _ in range(rounds):
        table.action_clear_marks()
        await asyncio.sleep(0.3)
        t = key("asterisk", "*")
        while table.marked_count < PLANS:
            await asyncio.sleep(0.001)
        mark_lat.append((await after_paint(app) - t) * 1000)
        key("t", "t")
        while not isinstance(app.screen, ManyStopScreen):
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)
        for ch in ("1", "percent_sign"):
            key(ch, "%" if ch == "percent_sign" else ch)
        await asyncio.sleep(0.5)
        n = len(painted)
        t = key("enter", "\r")
        while len(painted) == n:
            await asyncio.sleep(0.001)
        preview_lat.append((painted[-1] - t) * 1000)
        screen = app.screen
        assert len(screen.directive.target_plan_ids) == PLANS, "the preview must target all 2,000"
        await asyncio.sleep(0.1)
        screen.dismiss(None)
        while isinstance(app.screen, PreviewScreen):
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.2)
    out["key * (mark all 2,000 shown) -> painted"] = stats(mark_lat)
    out["enter in t (1% over 2,000 marked) -> preview painted"] = stats(preview_lat) + "   [goal <= 300 ms]"
    table.action_clear_marks()
    table.sort_by(None)


async def sorted_under_feed(table: PlansTable, seconds: float = 10.0) -> str:
    """Sample the table's order under the feed: is it sorted by uPnL at the newest marks after each update?"""
    ok = bad = 0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        await asyncio.sleep(0.25)
        ids = table.shown_ids()
        values = [table.row_data(pid).upnl for pid in ids]  # type: ignore[union-attr]
        if all(a is None or b is None or a <= b for a, b in zip(values, values[1:], strict=False)):
            ok += 1
        else:
            bad += 1
    return f"{ok} of {ok + bad} samples in order"


def startup_in_tmux(runs: int = 5) -> str:
    """`plandesk demo` in a 160x50 tmux pane: time to the first frame and to the seeded desk on screen."""
    tmux = shutil.which("tmux")
    exe = Path(sys.executable).parent / "plandesk"
    if tmux is None or not exe.exists():
        return "skipped (needs tmux and the plandesk console script)"
    first, shown = [], []
    for i in range(runs):
        name = f"pd-bench-{os.getpid()}-{i}"
        t0 = time.perf_counter()
        subprocess.run([tmux, "new-session", "-d", "-s", name, "-x", "160", "-y", "50", str(exe), "demo"], check=True)
        t_first = None
        try:
            while time.perf_counter() - t0 < 20:
                screen = subprocess.run([tmux, "capture-pane", "-p", "-t", name], capture_output=True,
                                        text=True).stdout
                now = time.perf_counter() - t0
                if t_first is None and "plandesk" in screen and "DESK" in screen:
                    t_first = now
                if "TPL_6" in screen:
                    first.append(t_first or now)
                    shown.append(now)
                    break
                time.sleep(0.01)
        finally:
            subprocess.run([tmux, "send-keys", "-t", name, "q"], capture_output=True)  # quit cleanly (temp files)
            end = time.perf_counter() + 5
            while time.perf_counter() < end and subprocess.run([tmux, "has-session", "-t", name],
                                                               capture_output=True).returncode == 0:
                time.sleep(0.05)
            subprocess.run([tmux, "kill-session", "-t", name], capture_output=True)
    if not shown:
        return "failed (the desk never appeared)"
    return (f"first paint p50 {statistics.median(first):.2f} s (max {max(first):.2f}); seeded desk shown p50 "
            f"{statistics.median(shown):.2f} s (max {max(shown):.2f}); n={len(shown)}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="plandesk-bench-") as tmp:
        db = Path(tmp) / "bench.sqlite"
        t = time.perf_counter()
        engine, entries = build(db)
        print(f"built {PLANS} plans / {PLANS * ORDERS_PER_PLAN} orders (ledger + paper venue) in "
              f"{time.perf_counter() - t:.1f} s")
        connector = PaperConnector(engine)
        bridge = DeskBridge(connector, db)
        app = PlanDeskApp(bridge, cursor_blink=False)
        feed = Feed(connector, entries)
        try:
            results = asyncio.run(measure(app, feed, rounds_c=40, rounds_f=8))
        finally:
            feed.stop_event.set()
            bridge.stop()
    for k, v in results.items():
        print(f"{k}: {v}")
    if os.environ.get("BENCH_STARTUP", "1") == "1":
        print(f"startup of `plandesk demo` (tmux 160x50): {startup_in_tmux()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
