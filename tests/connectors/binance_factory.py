"""`binance_connector(markets)`: the Binance connector against a fresh simulator on a free loopback port.

Used by the shared contract suite (tests/connectors/conftest.py) and the Binance tests."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from connectors.binance.connector import BinanceConnector
from connectors.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET
from connectors.binance.sim_server import SimServer, start_sim_in_thread
from connectors.binance.sim_state import SimLimits
from connectors.paper.engine import PaperEngine
from core.models import MarketRules

KEY, SECRET = DEFAULT_API_KEY, DEFAULT_API_SECRET


@contextlib.asynccontextmanager
async def binance_sim(
    markets: dict[str, MarketRules],
    *,
    limits: SimLimits | None = None,
    omit: frozenset[str] = frozenset(),
    spot: Any = None,
    **connector_kw: Any,
) -> AsyncIterator[tuple[BinanceConnector, SimServer]]:
    """A started connector and its simulator (for tests that inject faults or read the order log)."""
    server = start_sim_in_thread(PaperEngine(markets), KEY, SECRET, limits=limits, omit=omit, spot=spot)
    kw: dict[str, Any] = {"poll_interval": 0.1, "timeout": 2.0, "symbols": sorted(markets)} | connector_kw
    conn = BinanceConnector(server.base_url, KEY, SECRET, **kw)
    try:
        await conn.start()
        yield conn, server
    finally:
        await conn.close()
        server.stop(wait=False)  # the daemon thread winds down on its own (saves ~0.2 s per test)


@contextlib.asynccontextmanager
async def binance_connector(markets: dict[str, MarketRules]) -> AsyncIterator[BinanceConnector]:
    async with binance_sim(markets) as (conn, _server):
        yield conn


def signed_request(
    base_url: str,
    method: str,
    path: str,
    params: list[tuple[str, str]],
    *,
    key: str = KEY,
    secret: str = SECRET,
    timestamp_ms: int | None = None,
) -> Any:
    """A raw signed request (no connector, no pacing) for checking the simulator's own answers."""
    import time

    import httpx

    from connectors.binance.signing import encode_params, sign

    full = [*params, ("timestamp", str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)))]
    payload = encode_params(full)
    query = f"{payload}&signature={sign(secret, payload)}"
    if method == "POST":
        return httpx.request(
            method,
            f"{base_url}{path}",
            content=query,
            headers={"X-MBX-APIKEY": key, "Content-Type": "application/x-www-form-urlencoded"},
        )
    return httpx.request(method, f"{base_url}{path}?{query}", headers={"X-MBX-APIKEY": key})
