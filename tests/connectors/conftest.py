"""The `connector` fixture of the contract suite: one param per available connector factory.

"paper" always; "binance" when tests/connectors/binance_factory.py exists (it exposes an async context manager
`binance_connector(markets)` yielding a connected IExecutionConnector) — skipped otherwise."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator

import pytest

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine
from core.connector import IExecutionConnector

BINANCE_FACTORY = "tests.connectors.binance_factory"


def _has_binance_factory() -> bool:
    try:
        return importlib.util.find_spec(BINANCE_FACTORY) is not None
    except ModuleNotFoundError:
        return False


@pytest.fixture(params=["paper", "binance"])
async def connector(request: pytest.FixtureRequest) -> AsyncIterator[IExecutionConnector]:
    markets = DEFAULT_MARKETS()
    if request.param == "paper":
        conn = PaperConnector(PaperEngine(markets))
        try:
            yield conn
        finally:
            await conn.close()
        return
    if not _has_binance_factory():
        pytest.skip(f"{BINANCE_FACTORY} is not there (no Binance simulator factory yet)")
    factory = importlib.import_module(BINANCE_FACTORY)  # a broken factory fails loudly, it is not skipped
    async with factory.binance_connector(markets) as conn:
        yield conn
