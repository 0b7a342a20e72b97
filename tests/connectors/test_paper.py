"""The paper exchange: engine (walk, matching, filters, reduce-only, state) and connector (faults, file, latency)."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal as D
from pathlib import Path

import pytest

from connectors.paper import (
    DEFAULT_MARKETS,
    PaperConfig,
    PaperConnector,
    PaperEngine,
    PaperNotFound,
    PaperReject,
    load_engine,
)
from core.connector import (
    ConnectorError,
    ConnectorErrorKind,
    ConnectorEvent,
    MarkPriceUpdated,
    OrderFilled,
    OrderRequest,
    OrderUpdated,
)
from core.decimals import is_multiple
from core.models import OrderStatus, OrderType, Side, TimeInForce

BTC, ETH, SOL = "BTCUSDT", "ETHUSDT", "SOLUSDT"
BUY, SELL = Side.BUY, Side.SELL
MKT, LMT, STOP, STOP_LMT = OrderType.MARKET, OrderType.LIMIT, OrderType.STOP_MARKET, OrderType.STOP_LIMIT


def eng(**cfg: object) -> PaperEngine:
    return PaperEngine(DEFAULT_MARKETS(), PaperConfig(**cfg))  # type: ignore[arg-type]


def req(cid: str, side: Side, typ: OrderType, qty: str, sym: str = BTC, **kw: object) -> OrderRequest:
    kw = {k: D(v) if k in ("price", "stop_price") else v for k, v in kw.items()}  # type: ignore[arg-type]
    return OrderRequest(sym, side, typ, D(qty), cid, **kw)  # type: ignore[arg-type]


def scenario(e: PaperEngine) -> None:
    e.submit(req("m1", BUY, MKT, "0.01"), 1)
    e.submit(req("l1", SELL, LMT, "0.005", price="100100"), 2)
    e.submit(req("s1", SELL, STOP, "0.005", stop_price="99900", reduce_only=True), 3)
    for i in range(300):
        e.tick(10 + i)


# ------------------------------------------------------------------------------------------------ engine


def test_walk_is_seeded_on_tick_and_positive() -> None:
    a, b, c = eng(seed=1), eng(seed=1), eng(seed=2)
    walk_a: list[D] = []
    walk_b: list[D] = []
    walk_c: list[D] = []
    for i in range(200):
        for e, walk in ((a, walk_a), (b, walk_b), (c, walk_c)):
            e.tick(i)
            walk.append(e.markets[BTC].mark_price)
    assert walk_a == walk_b and walk_a != walk_c and len(set(walk_a)) > 50
    assert all(p > 0 and is_multiple(p, D("0.01")) for p in walk_a)
    wild = eng(volatility=D("3"))
    for i in range(300):
        wild.tick(i)
        assert all(r.mark_price >= r.tick_size for r in wild.markets.values())


def test_same_seed_same_trades_and_state() -> None:
    a, b = eng(seed=3), eng(seed=3)
    scenario(a)
    scenario(b)
    assert a.trades() == b.trades() and len(a.trades()) >= 2
    assert a.to_dict() == b.to_dict()


def test_market_fills_with_slippage_fee_and_balances() -> None:
    e = eng(slippage=D("0.001"))
    buy = e.submit(req("b", BUY, MKT, "0.01"), 1)
    assert buy.status is OrderStatus.FILLED and buy.avg_fill_price == D("100100")
    sell = e.submit(req("s", SELL, MKT, "0.004"), 2)
    assert sell.avg_fill_price == D("99900")
    assert e.positions()[BTC] == D("0.006")
    fees = D("1001") * D("0.001") + D("399.6") * D("0.001")
    assert e.balances()["USDT"] == D("10000000") - D("1001") + D("399.6") - fees
    assert e.balances()["BTC"] == D("0.006")
    assert [t.fee for t in e.trades()] == [D("1.001"), D("0.3996")]


def test_limit_fills_at_mark_when_marketable_and_at_its_price_when_crossed() -> None:
    e = eng()
    taker = e.submit(req("t", BUY, LMT, "0.01", price="101000"), 1)
    assert taker.status is OrderStatus.FILLED and taker.avg_fill_price == D("100000")
    rest = e.submit(req("r", BUY, LMT, "0.01", price="99000"), 2)
    assert rest.status is OrderStatus.OPEN and e.open_orders(BTC)[0].client_order_id == "r"
    e.set_mark(BTC, D("99500"), 3)
    assert e.get(BTC, "r").status is OrderStatus.OPEN  # type: ignore[union-attr]
    e.set_mark(BTC, D("98000"), 4)
    done = e.get(BTC, "r")
    assert done is not None and done.status is OrderStatus.FILLED and done.avg_fill_price == D("99000")
    assert e.trades()[-1].maker and e.trades()[-1].ts == 4


def test_stops_trigger_when_the_mark_crosses() -> None:
    e = eng()
    e.submit(req("long", BUY, MKT, "0.02"), 0)
    e.submit(req("sl", SELL, STOP, "0.01", stop_price="99000"), 1)
    e.submit(req("bs", BUY, STOP, "0.01", stop_price="101000"), 1)
    e.submit(req("stl", SELL, STOP_LMT, "0.01", price="98500", stop_price="98900"), 1)
    e.set_mark(BTC, D("99000.01"), 2)
    assert {o.client_order_id for o in e.open_orders()} == {"sl", "bs", "stl"}
    e.set_mark(BTC, D("98000"), 3)  # sl fires (market); stl fires but its limit 98500 is above the mark: it rests
    assert e.get(BTC, "sl").status is OrderStatus.FILLED and e.get(BTC, "sl").avg_fill_price == D("98000")  # type: ignore[union-attr]
    assert e.get(BTC, "stl").status is OrderStatus.OPEN  # type: ignore[union-attr]
    e.set_mark(BTC, D("98600"), 4)
    assert e.get(BTC, "stl").avg_fill_price == D("98500")  # type: ignore[union-attr]
    e.set_mark(BTC, D("101000"), 5)
    assert e.get(BTC, "bs").status is OrderStatus.FILLED and e.positions()[BTC] == D("0.01")  # type: ignore[union-attr]
    e.submit(req("stl2", SELL, STOP_LMT, "0.01", price="100000", stop_price="100500"), 6)
    e.set_mark(BTC, D("100400"), 7)  # triggered and marketable: fills at once at the mark
    assert e.get(BTC, "stl2").avg_fill_price == D("100400")  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("request_", "code", "reason"),
    [
        (req("x", BUY, LMT, "0.01", price="99000.005"), -1013, "Filter failure: PRICE_FILTER"),
        (req("x", BUY, LMT, "0.000015", price="99000"), -1013, "Filter failure: LOT_SIZE"),
        (req("x", BUY, MKT, "0"), -1013, "Filter failure: LOT_SIZE"),
        (req("x", BUY, MKT, "0.00004"), -1013, "Filter failure: NOTIONAL"),  # 4 USDT at the mark
        (req("x", SELL, STOP, "0.01", stop_price="100001"), -2010, "Stop price would trigger immediately."),
        (req("x", BUY, STOP, "0.01", stop_price="100000"), -2010, "Stop price would trigger immediately."),
        (req("x", BUY, LMT, "0.01"), -1102, "Mandatory parameter 'price'"),
        (req("x", BUY, MKT, "0.01", price="1"), -1106, "Parameter 'price' sent when not required."),
        (req("x", BUY, MKT, "0.01", sym="DOGEUSDT"), -1121, "Invalid symbol."),
        (req("bad id!", BUY, MKT, "0.01"), -1100, "Illegal characters"),
        (req("x", SELL, MKT, "0.01", reduce_only=True), -2010, "ReduceOnly Order is rejected."),
    ],
)
def test_filters_and_refusals(request_: OrderRequest, code: int, reason: str) -> None:
    e = eng()
    with pytest.raises(PaperReject) as info:
        e.submit(request_, 1)
    assert info.value.code == code and info.value.reason.startswith(reason)
    assert e.order_log == [] and e.get(request_.symbol, request_.client_order_id) is None


def test_client_id_unique_among_open_orders_only() -> None:
    e = eng()
    e.submit(req("a", BUY, LMT, "0.01", price="90000"), 1)
    with pytest.raises(PaperReject, match="Duplicate order sent"):
        e.submit(req("a", BUY, LMT, "0.01", price="91000"), 2)
    e.cancel(BTC, "a", 3)
    again = e.submit(req("a", BUY, LMT, "0.02", price="92000"), 4)  # a finished id may be reused
    assert e.get(BTC, "a") == again and again.exchange_order_id == "2"
    assert e.order_log == [(BTC, "a"), (BTC, "a")]
    assert e.submit(req("a", BUY, MKT, "0.01", sym=ETH), 5).status is OrderStatus.FILLED  # other symbol: fine


def test_reduce_only_checked_at_submit_and_clipped_at_fill() -> None:
    e = eng()
    e.submit(req("long", BUY, MKT, "0.01"), 1)
    with pytest.raises(PaperReject, match="ReduceOnly"):
        e.submit(req("r1", BUY, MKT, "0.001", reduce_only=True), 2)  # same side as the position
    with pytest.raises(PaperReject, match="ReduceOnly"):
        e.submit(req("r2", SELL, MKT, "0.011", reduce_only=True), 2)  # more than the position
    e.submit(req("sl", SELL, STOP, "0.01", stop_price="99000", reduce_only=True), 3)
    e.submit(req("sl2", SELL, STOP, "0.01", stop_price="98000", reduce_only=True), 3)
    e.submit(req("cut", SELL, MKT, "0.006"), 4)
    e.set_mark(BTC, D("97000"), 5)  # both stops fire: the first is clipped to 0.004, the second finds nothing
    sl, sl2 = e.get(BTC, "sl"), e.get(BTC, "sl2")
    assert sl is not None and sl.status is OrderStatus.EXPIRED and sl.filled_quantity == D("0.004")
    assert sl2 is not None and sl2.status is OrderStatus.EXPIRED and sl2.filled_quantity == 0
    assert e.positions()[BTC] == 0


def test_ioc_fok_and_liquidity_cap() -> None:
    e = eng(max_fill_notional=D("1000"))  # 0.01 BTC per pass at 100000
    ioc = e.submit(req("ioc", BUY, LMT, "0.03", price="100000", time_in_force=TimeInForce.IOC), 1)
    assert ioc.status is OrderStatus.EXPIRED and ioc.filled_quantity == D("0.01")
    fok = e.submit(req("fok", BUY, LMT, "0.03", price="100000", time_in_force=TimeInForce.FOK), 2)
    assert fok.status is OrderStatus.EXPIRED and fok.filled_quantity == 0
    mkt = e.submit(req("mkt", BUY, MKT, "0.03"), 3)
    assert mkt.status is OrderStatus.EXPIRED and mkt.filled_quantity == D("0.01")
    gtc = e.submit(req("gtc", BUY, LMT, "0.03", price="100000"), 4)
    assert gtc.status is OrderStatus.PARTIALLY_FILLED and gtc.filled_quantity == D("0.01")
    e.set_mark(BTC, D("99999"), 5)
    e.set_mark(BTC, D("99998"), 6)
    assert e.get(BTC, "gtc").status is OrderStatus.FILLED  # type: ignore[union-attr]
    far = e.submit(req("far", BUY, LMT, "0.01", price="90000", time_in_force=TimeInForce.IOC), 7)
    assert far.status is OrderStatus.EXPIRED and far.filled_quantity == 0


def test_cancel_replace_stop_on_failure() -> None:
    e = eng()
    e.submit(req("a", BUY, LMT, "0.01", price="90000"), 1)
    with pytest.raises(PaperReject, match="PRICE_FILTER"):
        e.cancel_replace(BTC, "a", "b", price=D("90000.001"), now=2)
    assert e.get(BTC, "a").status is OrderStatus.OPEN and e.get(BTC, "b") is None  # type: ignore[union-attr]
    new = e.cancel_replace(BTC, "a", "b", price=D("91000"), quantity=D("0.02"), now=3)
    assert (new.client_order_id, new.price, new.quantity, new.status) == ("b", D("91000"), D("0.02"), OrderStatus.OPEN)
    assert e.get(BTC, "a").status is OrderStatus.CANCELLED  # type: ignore[union-attr]
    same = e.cancel_replace(BTC, "b", "b", price=D("92000"), now=4)  # same id: old one goes first
    assert same.price == D("92000") and [o.client_order_id for o in e.open_orders()] == ["b"]
    with pytest.raises(PaperNotFound):
        e.cancel_replace(BTC, "a", "c", price=D("91000"), now=5)
    e.submit(req("long", BUY, MKT, "0.01"), 6)
    e.submit(req("sl", SELL, STOP, "0.01", stop_price="95000", reduce_only=True), 6)
    moved = e.cancel_replace(BTC, "sl", "sl-2", stop_price=D("97000"), now=7)
    assert moved.stop_price == D("97000") and moved.reduce_only and moved.order_type is STOP


def test_cancel_cancel_all_and_not_found() -> None:
    e = eng()
    e.submit(req("b1", BUY, LMT, "0.01", price="90000"), 1)
    e.submit(req("b2", SELL, STOP, "0.01", stop_price="90000"), 1)
    e.submit(req("e1", BUY, LMT, "0.01", sym=ETH, price="3000"), 1)
    assert {o.client_order_id for o in e.cancel_all(BTC, 2)} == {"b1", "b2"}
    assert [o.client_order_id for o in e.open_orders()] == ["e1"]
    assert e.cancel(ETH, "e1", 3).status is OrderStatus.CANCELLED
    for sym, cid in ((ETH, "e1"), (BTC, "zzz"), (SOL, "e1")):
        with pytest.raises(PaperNotFound):
            e.cancel(sym, cid, 4)
    assert e.cancel_all(BTC, 5) == []


def test_events_in_order_and_unsubscribe() -> None:
    e = eng()
    seen: list[ConnectorEvent] = []
    def broken(ev: ConnectorEvent) -> None:
        raise RuntimeError("subscriber bug")

    e.subscribe(broken)  # a broken subscriber does not break the venue
    unsubscribe = e.subscribe(seen.append)
    e.submit(req("m", BUY, MKT, "0.01"), 1)
    assert [type(ev).__name__ for ev in seen] == ["OrderUpdated", "OrderFilled", "OrderUpdated"]
    first, fill, last = seen
    assert isinstance(first, OrderUpdated) and first.order.status is OrderStatus.OPEN
    assert isinstance(fill, OrderFilled) and fill.quantity == D("0.01") and fill.fee == D("1")
    assert isinstance(last, OrderUpdated) and last.order.status is OrderStatus.FILLED
    seen.clear()
    e.tick(2)
    assert [ev.symbol for ev in seen if isinstance(ev, MarkPriceUpdated)] == [BTC, ETH, SOL]
    unsubscribe()
    e.tick(3)
    assert len(seen) == 3 and e.last_mark_ts == 3


def test_state_round_trip_continues_identically() -> None:
    a = eng(seed=11, max_fill_notional=D("500"))
    scenario(a)
    a.submit(req("rest", BUY, LMT, "0.01", price="80000"), 400)
    b = PaperEngine.from_dict(json.loads(json.dumps(a.to_dict())))
    assert b.to_dict() == a.to_dict()
    assert b.open_orders() == a.open_orders() and b.positions() == a.positions() and b.trades() == a.trades()
    for i in range(100):
        a.tick(500 + i)
        b.tick(500 + i)
    a.set_mark(BTC, D("79000"), 700)
    b.set_mark(BTC, D("79000"), 700)
    assert a.to_dict() == b.to_dict() and a.get(BTC, "rest") == b.get(BTC, "rest")
    assert a.get(BTC, "rest").filled_quantity > 0  # type: ignore[union-attr]


# ------------------------------------------------------------------------------------------------ connector


def conn(**kw: object) -> PaperConnector:
    return PaperConnector(eng(), clock=lambda: 1000.0, **kw)  # type: ignore[arg-type]


async def expect(kind: ConnectorErrorKind, coro: object) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        await coro  # type: ignore[misc]
    assert info.value.kind is kind, info.value
    return info.value


async def test_error_mapping() -> None:
    c = conn()
    err = await expect(ConnectorErrorKind.REJECTED, c.place_order(req("x", BUY, MKT, "0.000015")))
    assert (err.code, err.reason) == (-1013, "Filter failure: LOT_SIZE")
    err = await expect(ConnectorErrorKind.NOT_FOUND, c.cancel_order(BTC, "nope"))
    assert err.code == -2011
    await expect(ConnectorErrorKind.NOT_FOUND, c.modify_order(BTC, "nope", "new", price=D("1")))


async def test_fault_kinds() -> None:
    c = conn()
    c.faults.inject("reject")
    await expect(ConnectorErrorKind.REJECTED, c.place_order(req("r", BUY, MKT, "0.01")))
    c.faults.inject("timeout_before")
    await expect(ConnectorErrorKind.UNKNOWN_OUTCOME, c.place_order(req("tb", BUY, MKT, "0.01")))
    c.faults.inject("unavailable")
    await expect(ConnectorErrorKind.UNAVAILABLE, c.place_order(req("un", BUY, MKT, "0.01")))
    c.faults.inject("timeout_after")
    await expect(ConnectorErrorKind.UNKNOWN_OUTCOME, c.place_order(req("ta", BUY, MKT, "0.01")))
    assert c.engine.order_log == [(BTC, "ta")]  # only timeout_after executed
    assert await c.get_order(BTC, "tb") is None and (await c.get_order(BTC, "ta")).status is OrderStatus.FILLED  # type: ignore[union-attr]
    assert [k for k, _, _ in c.faults.fired] == ["reject", "timeout_before", "unavailable", "timeout_after"]


async def test_fault_filters_count_op_and_match() -> None:
    c = conn()
    c.faults.inject("unavailable", op="cancel", count=2, match="keep")
    await c.place_order(req("keep-1", BUY, LMT, "0.01", price="90000"))  # op place: untouched
    await c.place_order(req("drop-1", BUY, LMT, "0.01", price="90000"))
    await c.cancel_order(BTC, "drop-1")  # id does not match
    for _ in range(2):
        await expect(ConnectorErrorKind.UNAVAILABLE, c.cancel_order(BTC, "keep-1"))
    assert (await c.cancel_order(BTC, "keep-1")).status is OrderStatus.CANCELLED  # count used up
    c.faults.inject("timeout_before", op="any")
    await expect(ConnectorErrorKind.UNKNOWN_OUTCOME, c.open_orders())
    c.faults.inject("timeout_after", op="modify", match="new")
    await c.place_order(req("old", BUY, LMT, "0.01", price="90000"))
    await expect(ConnectorErrorKind.UNKNOWN_OUTCOME, c.modify_order(BTC, "old", "new", price=D("91000")))
    assert (await c.get_order(BTC, "new")).price == D("91000")  # type: ignore[union-attr]
    c.faults.inject("reject", op="cancel_all", match=ETH)
    assert len(await c.cancel_all(BTC)) == 1
    await expect(ConnectorErrorKind.REJECTED, c.cancel_all(ETH))
    with pytest.raises(ValueError):
        c.faults.inject("explode")


async def test_fail_ratio_is_seeded() -> None:
    async def run() -> list[str]:
        c = conn()
        c.faults.fail_ratio(0.3, seed=5)
        out = []
        for i in range(60):
            try:
                await c.place_order(req(f"o{i}", BUY, LMT, "0.01", price="90000"))
                out.append("ok")
            except ConnectorError as e:
                out.append(e.kind.value)
        return out

    first, second = await run(), await run()
    assert first == second and 5 < first.count("ok") < 55
    assert set(first) == {"ok", "unknown_outcome", "unavailable"}


async def test_drop_event_and_stream_end() -> None:
    c = conn()
    stream = c.events()
    c.faults.inject("drop_event", match="lost", count=2)
    await c.place_order(req("lost", BUY, MKT, "0.01"))  # OPEN and the fill dropped; FILLED update arrives
    await c.place_order(req("kept", BUY, MKT, "0.01"))
    await c.close()
    got = [ev async for ev in stream]
    lost = [ev for ev in got if isinstance(ev, OrderUpdated) and ev.order.client_order_id == "lost"]
    assert [ev.order.status for ev in lost] == [OrderStatus.FILLED]
    assert not any(isinstance(ev, OrderFilled) and ev.client_order_id == "lost" for ev in got)
    assert sum(isinstance(ev, OrderFilled) and ev.client_order_id == "kept" for ev in got) == 1
    await expect(ConnectorErrorKind.UNAVAILABLE, c.positions())  # closed


async def test_outage_and_health() -> None:
    c = conn()
    assert (await c.health()).ok
    c.faults.outage = True
    await expect(ConnectorErrorKind.UNAVAILABLE, c.mark_prices())
    assert not (await c.health()).ok
    c.faults.clear()
    assert (await c.mark_prices())[BTC] == D("100000")


async def test_state_file_survives_processes(tmp_path: Path) -> None:
    path = tmp_path / "venue.json"
    first = PaperConnector.open(path, DEFAULT_MARKETS(), PaperConfig(seed=9))
    await first.place_order(req("long", BUY, MKT, "0.01"))
    await first.place_order(req("rest", SELL, LMT, "0.01", price="120000"))
    await first.close()
    assert path.read_bytes().startswith(b"SQLite format 3\x00")
    assert [p.name for p in tmp_path.iterdir()] == ["venue.json"]  # no temporary or -wal file left behind
    second = PaperConnector.open(path, DEFAULT_MARKETS())
    assert [o.client_order_id for o in await second.open_orders()] == ["rest"]
    assert (await second.positions())[BTC] == D("0.01")
    assert second.engine.to_dict() == first.engine.to_dict()
    await second.cancel_order(BTC, "rest")  # saved after the call, before close
    assert PaperConnector.open(path).engine.open_orders() == []


async def test_price_walk_task(tmp_path: Path) -> None:
    c = PaperConnector(eng(volatility=D("0.01")), tick_interval=0.005, state_path=tmp_path / "s.json")
    stream = c.events()
    async with c:
        marks = []
        async for ev in stream:
            if isinstance(ev, MarkPriceUpdated) and ev.symbol == BTC:
                marks.append(ev.price)
                if len(marks) == 3:
                    break
        assert (await c.health()).last_data_ts is not None
    ticks = c.engine.last_mark_ts
    await asyncio.sleep(0.02)
    assert c.engine.last_mark_ts == ticks  # stopped
    assert load_engine(tmp_path / "s.json").to_dict() == c.engine.to_dict()


async def test_200_concurrent_calls_overlap_latency() -> None:
    c = conn(latency=0.02)
    reqs = [
        req(f"c{i}", BUY, LMT, "0.1", sym=SOL, price="100") if i % 2 else req(f"c{i}", BUY, LMT, "0.001", price="90000")
        for i in range(200)
    ]
    start = time.perf_counter()
    results = await asyncio.gather(*(c.place_order(r) for r in reqs))
    elapsed = time.perf_counter() - start
    print(f"200 concurrent place_order calls with 20 ms latency: {elapsed * 1000:.1f} ms")
    assert all(o.status is OrderStatus.OPEN for o in results) and len(c.engine.order_log) == 200
    assert elapsed < 1.0
