"""Injected faults over real loopback sockets: no duplicate order at the simulator, outcomes resolved by lookup."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest

from connectors.paper.markets import DEFAULT_MARKETS
from core.connector import ConnectorError, ConnectorErrorKind, OrderRequest
from core.models import OrderStatus, OrderType, Side
from tests.connectors.binance_factory import binance_sim

BTC = "BTCUSDT"
ORDER = "/api/v3/order"


def limit(coid: str, price: str = "90000") -> OrderRequest:
    return OrderRequest(BTC, Side.BUY, OrderType.LIMIT, Decimal("0.001"), coid, price=Decimal(price))


def cid() -> str:
    return f"ft-{uuid.uuid4().hex[:20]}"


async def unknown(coro: object) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        await coro  # type: ignore[misc]
    assert info.value.kind is ConnectorErrorKind.UNKNOWN_OUTCOME, info.value
    return info.value


@pytest.mark.parametrize(
    ("fault", "executed"),
    [
        ({"kind": "5xx", "status": 503}, False),
        ({"kind": "5xx", "status": 500, "execute": True}, True),
        ({"kind": "timeout", "execute": True}, True),  # -1007
        ({"kind": "timeout"}, False),
        ({"kind": "lost"}, True),  # executed, then the connection drops before the answer
        ({"kind": "reset"}, False),  # the connection drops before anything executes
    ],
)
async def test_unknown_outcome_resolved_by_lookup(fault: dict[str, object], executed: bool) -> None:
    async with binance_sim(DEFAULT_MARKETS(), recv_window=300) as (conn, sim):
        coid = cid()
        sim.control(faults=[{**fault, "method": "POST", "path": ORDER}])
        err = await unknown(conn.place_order(limit(coid)))
        assert "unknown" in err.reason
        found = await conn.get_order(BTC, coid)
        assert (found is not None) is executed
        assert sim.accepted(coid) == (1 if executed else 0)
        if found is not None:
            assert found.status is OrderStatus.OPEN
        else:  # proven absent: only now may the same client id be placed again
            placed = await conn.place_order(limit(coid))
            assert placed.status is OrderStatus.OPEN
        assert sim.accepted(coid) == 1


async def test_client_timeout_while_the_venue_executes() -> None:
    """The answer comes after the client gave up: the lookup finds the order, nothing is sent twice."""
    async with binance_sim(DEFAULT_MARKETS(), timeout=0.2) as (conn, sim):
        coid = cid()
        sim.control(faults=[{"kind": "delay", "seconds": 0.5, "execute": True, "method": "POST", "path": ORDER}])
        await unknown(conn.place_order(limit(coid)))
        found = await conn.get_order(BTC, coid)
        assert found is not None and found.status is OrderStatus.OPEN
        assert sim.accepted(coid) == 1


async def test_late_arrival_within_recv_window_is_waited_for() -> None:
    """The request reaches the matching engine only after the client timed out. A lookup at once would say
    'absent'; get_order waits until timestamp + recvWindow has passed, so the late order is found."""
    async with binance_sim(DEFAULT_MARKETS(), timeout=0.15, recv_window=800) as (conn, sim):
        coid = cid()
        sim.control(faults=[{"kind": "delay", "seconds": 0.4, "method": "POST", "path": ORDER}])
        await unknown(conn.place_order(limit(coid)))
        assert sim.accepted(coid) == 0  # not executed yet
        started = time.monotonic()
        found = await conn.get_order(BTC, coid)
        assert found is not None, "the late order must be found, never reported absent"
        assert time.monotonic() - started < 1.5
        assert sim.accepted(coid) == 1


async def test_arrival_after_recv_window_is_refused_by_the_venue() -> None:
    async with binance_sim(DEFAULT_MARKETS(), timeout=0.15, recv_window=300) as (conn, sim):
        coid = cid()
        sim.control(faults=[{"kind": "delay", "seconds": 0.5, "method": "POST", "path": ORDER}])
        await unknown(conn.place_order(limit(coid)))
        assert await conn.get_order(BTC, coid) is None
        time.sleep(0.1)  # the delayed request has been refused (-1021) by now
        assert sim.accepted(coid) == 0
        refused = [r["status"] for r in sim.state.requests if r["method"] == "POST" and r["path"] == ORDER]
        assert refused == [400]  # -1021: outside the recvWindow


async def test_modify_with_lost_answer() -> None:
    async with binance_sim(DEFAULT_MARKETS(), recv_window=300) as (conn, sim):
        old = await conn.place_order(limit(cid()))
        new_id = cid()
        sim.control(faults=[{"kind": "lost", "path": "/api/v3/order/cancelReplace"}])
        await unknown(conn.modify_order(BTC, old.client_order_id, new_id, price=Decimal("91000")))
        new = await conn.get_order(BTC, new_id)
        assert new is not None and new.price == Decimal("91000") and new.status is OrderStatus.OPEN
        gone = await conn.get_order(BTC, old.client_order_id)
        assert gone is not None and gone.status is OrderStatus.CANCELLED
        assert sim.accepted(new_id) == 1


@pytest.mark.parametrize("kind", ["lost", "reset", "5xx"])
async def test_cancel_with_unknown_outcome_is_resolved_inside(kind: str) -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        order = await conn.place_order(limit(cid()))
        sim.control(faults=[{"kind": kind, "method": "DELETE", "path": ORDER}])
        done = await conn.cancel_order(BTC, order.client_order_id)
        assert done.status is OrderStatus.CANCELLED
        assert await conn.open_orders(BTC) == []


async def test_reads_retry_transient_failures() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        sim.control(faults=[{"kind": "5xx", "count": 2, "method": "GET", "path": "/api/v3/openOrders"}])
        assert await conn.open_orders(BTC) == []
        assert sim.state.statuses.get(503) == 2


async def test_venue_down_is_unavailable() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        await conn.rest.close()
        url = conn.rest.base_url
        sim.stop()
    from connectors.binance.connector import BinanceConnector

    dead = BinanceConnector(url, "k", "s", timeout=0.5)
    try:
        with pytest.raises(ConnectorError) as info:
            await dead.place_order(limit(cid()))
        assert info.value.kind is ConnectorErrorKind.UNAVAILABLE
        assert (await dead.health()).ok is False
    finally:
        await dead.close()
