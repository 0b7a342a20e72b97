"""Rate limits over loopback: a burst over the order limit is paced (not rejected), a 429 is honoured (no 418),
the simulator escalates to 418 for a client that ignores Retry-After, and the limiter reads the headers."""

from __future__ import annotations

import asyncio
import time
import uuid
from decimal import Decimal

import pytest

from connectors.binance import ratelimit
from connectors.binance.ratelimit import RateLimiter, Window
from connectors.binance.sim import IN_FLIGHT_GRACE
from connectors.binance.sim_state import SimLimits
from connectors.paper.markets import DEFAULT_MARKETS
from core.connector import OrderRequest
from core.models import OrderStatus, OrderType, Side
from tests.connectors.binance_factory import binance_sim, signed_request

BTC = "BTCUSDT"


def limit(price: str = "90000") -> OrderRequest:
    coid = f"rl-{uuid.uuid4().hex[:20]}"
    return OrderRequest(BTC, Side.BUY, OrderType.LIMIT, Decimal("0.001"), coid, price=Decimal(price))


async def test_burst_over_the_order_limit_is_paced_not_rejected() -> None:
    limits = SimLimits(order_limit=5, order_interval=1)
    async with binance_sim(DEFAULT_MARKETS(), limits=limits) as (conn, sim):
        assert conn.rest.limiter.limit_of("orders") == 5  # adopted from exchangeInfo rateLimits
        started = time.monotonic()
        placed = await asyncio.gather(*(conn.place_order(limit()) for _ in range(12)))
        elapsed = time.monotonic() - started
        assert all(o.status is OrderStatus.OPEN for o in placed)
        assert len(sim.order_log) == 12
        assert 429 not in sim.state.statuses and 418 not in sim.state.statuses
        assert conn.rest.limiter.waits > 0
        assert elapsed >= 1.0  # 12 orders at 5 per second span at least three windows
        # never more than 5 new orders inside one 1-second window at the venue
        stamps = [r["t"] for r in sim.state.requests if r["path"] == "/api/v3/order" and r["status"] == 200]
        per_window: dict[int, int] = {}
        for t in stamps:
            per_window[int(t)] = per_window.get(int(t), 0) + 1
        assert max(per_window.values()) <= 5


async def test_429_is_honoured() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        sim.control(faults=[{"kind": "429", "seconds": 1, "method": "POST", "path": "/api/v3/order"}])
        started = time.monotonic()
        first = asyncio.create_task(conn.place_order(limit()))
        await asyncio.sleep(0.1)  # the 429 is in; these must wait for Retry-After, not be sent into a ban
        others = await asyncio.gather(conn.open_orders(BTC), conn.place_order(limit()))
        order = await first
        elapsed = time.monotonic() - started
        assert order.status is OrderStatus.OPEN and others[1].status is OrderStatus.OPEN
        assert elapsed >= 0.9
        assert sim.state.statuses.get(429) == 1
        assert 418 not in sim.state.statuses
        t429 = next(r["t"] for r in sim.state.requests if r["status"] == 429)
        assert all(r["t"] >= t429 + 0.95 for r in sim.state.requests if r["t"] > t429)


async def test_ignoring_retry_after_gets_418() -> None:
    async with binance_sim(DEFAULT_MARKETS(), limits=SimLimits(ban_seconds=7)) as (_conn, sim):
        sim.control(faults=[{"kind": "429", "seconds": 5}])
        first = signed_request(sim.base_url, "GET", "/api/v3/openOrders", [("symbol", BTC)])
        assert first.status_code == 429 and first.json()["code"] == -1003
        assert first.headers["Retry-After"] == "5"
        in_flight = signed_request(sim.base_url, "GET", "/api/v3/openOrders", [("symbol", BTC)])
        # a request on the wire when the 429 went out (within the grace) gets a 429 of its own, not a ban
        assert in_flight.status_code == 429, in_flight.text
        await asyncio.sleep(IN_FLIGHT_GRACE + 0.1)  # then the client had every chance to back off: it did not
        second = signed_request(sim.base_url, "GET", "/api/v3/openOrders", [("symbol", BTC)])
        assert second.status_code == 418 and int(second.headers["Retry-After"]) == 7
        assert "banned" in second.json()["msg"]
        third = signed_request(sim.base_url, "GET", "/api/v3/time", [])
        assert third.status_code == 418


async def test_weight_limit_gives_429_with_retry_after() -> None:
    async with binance_sim(DEFAULT_MARKETS(), limits=SimLimits(weight_limit=150)) as (_conn, sim):
        codes = []
        for _ in range(10):
            r = signed_request(sim.base_url, "GET", "/api/v3/openOrders", [])  # weight 80; start() used 25
            codes.append(r.status_code)
            if r.status_code != 200:
                assert r.json()["code"] == -1003 and 1 <= int(r.headers["Retry-After"]) <= 60
                break
        assert codes[0] == 200 and codes[1] == 429


async def test_headers_feed_the_limiter() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        await conn.place_order(limit())
        r = signed_request(sim.base_url, "GET", "/api/v3/openOrders", [("symbol", BTC)])
        used = int(r.headers["X-MBX-USED-WEIGHT-1M"])
        assert used >= 6
        order = signed_request(
            sim.base_url,
            "POST",
            "/api/v3/order",
            [
                ("symbol", BTC),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.001"),
                ("price", "90000"),
            ],
        )
        assert order.headers["X-MBX-ORDER-COUNT-10S"] == "2" and order.headers["X-MBX-ORDER-COUNT-1D"] == "2"
        await conn.open_orders(BTC)  # the connector sees the other client's usage in the header
        usage = conn.rest.usage()
        assert int(usage["weight_1m"].split("/")[0]) > used


def sleep_on(now: list[float], monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The limiter's sleeps advance the manual clock `now[0]` at once; returns the list of them."""
    slept: list[float] = []

    async def fake_sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    monkeypatch.setattr(ratelimit.asyncio, "sleep", fake_sleep)
    return slept


async def test_limiter_waits_for_the_next_window(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.2]
    lim = RateLimiter(clock=lambda: now[0], windows=[Window("orders", 1, 2)])
    await lim.acquire(1, 1)
    await lim.acquire(1, 1)
    slept = sleep_on(now, monkeypatch)
    await lim.acquire(1, 1)
    monkeypatch.undo()
    assert slept and abs(slept[0] - 0.85) < 1e-6  # to the boundary at 101.0 plus the margin
    lim.close_gate(2.0)
    assert lim.gate_until == now[0] + 2.0


async def test_a_request_reserved_at_the_end_of_a_window_counts_in_the_next_one_too(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A request reserved just before a window ends may reach the venue after it, in the next window: the burst
    test got a 429 under load when five reserved at t=0.95 landed in the venue's next second, which the client then
    filled with five more. A reservation within SPILL_MARGIN of the end counts against the next window as well."""
    now = [100.0 + 1 - ratelimit.SPILL_MARGIN / 2]  # inside the spill zone of the window [100, 101)
    lim = RateLimiter(clock=lambda: now[0], windows=[Window("orders", 1, 5)])
    for _ in range(5):
        await lim.acquire(1, 1)
    slept = sleep_on(now, monkeypatch)
    now[0] = 101.0 + ratelimit.BOUNDARY_MARGIN  # the next window: the five may be counted in it at the venue
    await lim.acquire(1, 1)
    assert slept and now[0] >= 102.0  # waited for the window after it
    # a reservation early in a window does not spill
    early = RateLimiter(clock=lambda: now[0], windows=[Window("orders", 1, 5)])
    now[0] = 200.1
    for _ in range(5):
        await early.acquire(1, 1)
    slept.clear()
    now[0] = 201.0 + ratelimit.BOUNDARY_MARGIN
    await early.acquire(1, 1)
    assert slept == []


async def test_a_burst_that_starts_at_the_end_of_a_window_is_not_rejected_behind_a_slow_link() -> None:
    """The first five orders of the burst are reserved just before a window of the venue ends and, 150 ms late,
    counted in the next one: the client must not send five more into that window."""
    limits = SimLimits(order_limit=5, order_interval=1)
    async with binance_sim(DEFAULT_MARKETS(), limits=limits) as (conn, sim):
        sim.control(latency_ms=150)
        await conn.open_orders(BTC)  # the server-time estimate under the latency
        while not 0.85 <= conn.rest.limiter.clock() % 1 < 0.9:
            await asyncio.sleep(0.005)
        placed = await asyncio.gather(*(conn.place_order(limit()) for _ in range(12)))
        assert all(o.status is OrderStatus.OPEN for o in placed)
        assert 429 not in sim.state.statuses and 418 not in sim.state.statuses
