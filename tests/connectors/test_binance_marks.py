"""Mark discovery over real loopback sockets: the connector reads marks from the first price endpoint the venue
offers (ticker/price, else the bookTicker mid, else avgPrice), decides once, says which, and a missing endpoint is
never fatal - including `plandesk send` (the installed script) against a venue without ticker/price."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.binance.marks import AVG_PRICE, BOOK_MID, NONE, TICKER_PRICE
from connectors.binance.sim_server import start_sim_in_thread
from connectors.paper import DEFAULT_MARKETS, PaperEngine
from core.connector import ConnectorError, MarkPriceUpdated
from tests.connectors.binance_factory import KEY, SECRET, binance_sim

PRICE, BOOK, AVG = "/api/v3/ticker/price", "/api/v3/ticker/bookTicker", "/api/v3/avgPrice"
PLANDESK = Path(sys.executable).parent / "plandesk"


def asked(sim: object, path: str) -> int:
    return sum(1 for r in sim.state.requests if r["path"] == path)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("omit", "kind"),
    [((), TICKER_PRICE), ((PRICE,), BOOK_MID), ((PRICE, BOOK), AVG_PRICE), ((PRICE, BOOK, AVG), NONE)],
)
async def test_marks_come_from_the_first_endpoint_offered(omit: tuple[str, ...], kind: str) -> None:
    markets = DEFAULT_MARKETS()
    async with binance_sim(markets, omit=frozenset(omit), poll_interval=0.05) as (conn, sim):
        assert conn.mark_source == kind
        marks = await conn.mark_prices()
        if kind == NONE:
            assert marks == {}
        else:
            assert marks == {s: sim.engine.markets[s].mark_price for s in markets}
        health = await conn.health()
        assert health.ok and f"marks from {kind}" in health.extra["marks"]
        for path in omit:
            assert f"{path.rsplit('/', 1)[-1]}" in health.extra["marks"] or kind == NONE
            assert asked(sim, path) == 1  # discovered once, not asked again
        if kind != NONE:  # the live stream follows the venue's moves through the same endpoint
            stream = conn.events()
            sim.control(marks={"BTCUSDT": "91234.5"})
            async with asyncio.timeout(5):
                async for ev in stream:
                    if isinstance(ev, MarkPriceUpdated) and ev.symbol == "BTCUSDT" and ev.price == Decimal("91234.5"):
                        break


async def test_a_passing_failure_decides_nothing() -> None:
    markets = DEFAULT_MARKETS()
    server = start_sim_in_thread(PaperEngine(markets), KEY, SECRET)
    from connectors.binance.connector import BinanceConnector

    conn = BinanceConnector(server.base_url, KEY, SECRET, timeout=2.0, symbols=sorted(markets))
    try:
        server.control(faults=[{"kind": "5xx", "path": PRICE, "count": 3}])  # the read and its two retries
        with pytest.raises(ConnectorError):
            await conn.start()
        assert conn.mark_source is None  # a 503 does not say the endpoint is missing
        await conn.start()
        assert conn.mark_source == TICKER_PRICE
    finally:
        await conn.close()
        server.stop(wait=False)


def test_plandesk_send_works_against_a_venue_without_ticker_price(tmp_path: Path) -> None:
    server = start_sim_in_thread(PaperEngine(DEFAULT_MARKETS()), KEY, SECRET, omit=frozenset({PRICE}))
    try:
        (tmp_path / "empty.json").write_text('{"plans": []}')
        directive = {
            "directive_id": "STR_MARKS1",
            "scope": "NEW_TRADE",
            "entry_directive": {"symbol": "ETHUSDT", "direction": "BUY", "order_type": "LIMIT", "limit_price": "3000"},
            "size_directive": {"target_position_size": "0.5"},
        }
        (tmp_path / "d.json").write_text(json.dumps(directive))
        env = {k: v for k, v in os.environ.items() if not k.startswith("PLANDESK_")}
        env |= {"PLANDESK_BINANCE_API_KEY": KEY, "PLANDESK_BINANCE_API_SECRET": SECRET}
        db = str(tmp_path / "desk.sqlite")
        r = subprocess.run([str(PLANDESK), "ledger", "import", "empty.json", "--db", db], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(
            [str(PLANDESK), "send", "d.json", "--db", db, "--yes", "--connector", "binance", "--base-url",
             server.base_url],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
        assert r.returncode == 0, (r.stdout[-800:], r.stderr)
        assert "1 acknowledged" in r.stdout
        assert [s for s, _c in server.order_log] == ["ETHUSDT"]
        assert asked(server, PRICE) == 1 and asked(server, BOOK) >= 1
    finally:
        server.stop(wait=False)
