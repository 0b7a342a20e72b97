"""The simulator's other market-data endpoints: ticker/bookTicker, avgPrice, depth (a thin book around the mark:
best bid one tick under it, best ask one tick over it, so the mid is the mark)."""

from __future__ import annotations

from typing import Any

from connectors.binance.sim_format import s8
from connectors.binance.sim_handlers import Endpoint, Params, _symbols, int_param, symbol_param
from connectors.binance.sim_state import SimState

_BOOK_QTY = "10.00000000"


def _bid_ask(st: SimState, sym: str) -> tuple[str, str]:
    rules = st.engine.markets[sym]
    return s8(rules.mark_price - rules.tick_size), s8(rules.mark_price + rules.tick_size)


def book_ticker(st: SimState, p: Params, now: float) -> Any:
    def row(sym: str) -> dict[str, str]:
        bid, ask = _bid_ask(st, sym)
        return {"symbol": sym, "bidPrice": bid, "bidQty": _BOOK_QTY, "askPrice": ask, "askQty": _BOOK_QTY}

    if p.get("symbol"):
        return row(str(symbol_param(st, p)))
    return [row(s) for s in _symbols(st, p)]


def avg_price(st: SimState, p: Params, now: float) -> Any:
    sym = str(symbol_param(st, p))
    return {"mins": 5, "price": s8(st.engine.markets[sym].mark_price), "closeTime": int(now * 1000)}


def depth(st: SimState, p: Params, now: float) -> Any:
    sym = str(symbol_param(st, p))
    limit = int_param(p, "limit") or 100
    bid, ask = _bid_ask(st, sym)
    return {"lastUpdateId": int(now * 1000), "bids": [[bid, _BOOK_QTY]][:limit], "asks": [[ask, _BOOK_QTY]][:limit]}


MARKET_ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/api/v3/ticker/bookTicker"): Endpoint(
        book_ticker, lambda p: 2 if p.get("symbol") else 4, frozenset({"symbol", "symbols", "symbolStatus"})
    ),
    ("GET", "/api/v3/avgPrice"): Endpoint(avg_price, lambda p: 2, frozenset({"symbol"})),
    ("GET", "/api/v3/depth"): Endpoint(depth, lambda p: 5, frozenset({"symbol", "limit", "symbolStatus"})),
}
