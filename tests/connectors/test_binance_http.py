"""Both HTTP clients of BinanceRest (aiohttp, the default since the flatten benchmark picked it, and httpx) over
loopback: the ordinary calls, and the classification the never-send-twice rule rests on (an answer lost after the
venue executed is UNKNOWN_OUTCOME, never retried; a connection refused is UNAVAILABLE, nothing sent)."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from connectors.binance.connector import BinanceConnector
from connectors.paper.markets import DEFAULT_MARKETS
from core.connector import ConnectorError, ConnectorErrorKind, OrderRequest
from core.models import OrderStatus, OrderType, Side, TimeInForce
from tests.connectors.binance_factory import KEY, SECRET, binance_sim


def buy(coid: str) -> OrderRequest:
    return OrderRequest(symbol="ETHUSDT", side=Side.BUY, order_type=OrderType.LIMIT, quantity=Decimal("0.5"),
                        price=Decimal("3000"), client_order_id=coid, time_in_force=TimeInForce.GTC)


@pytest.mark.parametrize("http", ["aiohttp", "httpx"])
async def test_calls_and_failure_classes(http: str) -> None:
    async with binance_sim(DEFAULT_MARKETS(), http=http, user_stream=False) as (conn, sim):
        assert conn.rest.http == http
        placed = await conn.place_order(buy("h-1"))
        assert placed.status is OrderStatus.OPEN
        assert [o.client_order_id for o in await conn.open_orders("ETHUSDT")] == ["h-1"]
        assert (await conn.cancel_order("ETHUSDT", "h-1")).status is OrderStatus.CANCELLED
        sim.control(faults=[{"kind": "lost", "method": "POST", "path": "/api/v3/order"}])
        with pytest.raises(ConnectorError) as err:
            await conn.place_order(buy("h-2"))
        assert err.value.kind is ConnectorErrorKind.UNKNOWN_OUTCOME
        assert sim.accepted("h-2") == 1  # executed once, not sent again
        found = await conn.get_order("ETHUSDT", "h-2")
        assert found is not None and found.status is OrderStatus.OPEN


@pytest.mark.parametrize("http", ["aiohttp", "httpx"])
async def test_refused_connection_is_unavailable(http: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    conn = BinanceConnector(f"http://127.0.0.1:{port}", KEY, SECRET, http=http, user_stream=False, timeout=1.0)
    try:
        with pytest.raises(ConnectorError) as err:
            await conn.place_order(buy("h-3"))
        assert err.value.kind is ConnectorErrorKind.UNAVAILABLE
    finally:
        await conn.close()
