"""Where the marks come from: the first price endpoint the venue offers, discovered once.

Binance Spot serves all three; other Binance-dialect venues serve a subset. In order of preference:
  ticker/price          GET /api/v3/ticker/price?symbols=[...]       last trade price (weight 4)
  bookTicker mid        GET /api/v3/ticker/bookTicker?symbols=[...]  (bid + ask) / 2 (weight 4)
  avgPrice              GET /api/v3/avgPrice?symbol=S, per symbol    5-minute average price (weight 2 each)
An endpoint counts as not offered when the venue answers 404 / 405, or -1000 / -1020 naming an unknown or
unsupported endpoint. Any other failure (timeout, 5xx, 429) decides nothing: the next fetch tries again. When the
venue offers none, marks are empty (the connector keeps working; previews say the mark is missing)."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

from connectors.binance.rest import BinanceError, BinanceRest

log = logging.getLogger("connectors.binance")

TICKER_PRICE, BOOK_MID, AVG_PRICE, NONE = "ticker/price", "ticker/bookTicker mid", "avgPrice", "none"
_PATHS = {TICKER_PRICE: "/api/v3/ticker/price", BOOK_MID: "/api/v3/ticker/bookTicker", AVG_PRICE: "/api/v3/avgPrice"}
ORDER = (TICKER_PRICE, BOOK_MID, AVG_PRICE)
W_LIST, W_AVG = 4, 2


def not_offered(exc: BinanceError) -> bool:
    """The venue says it has no such endpoint (as opposed to a passing failure)."""
    if exc.status in (404, 405):
        return True
    text = exc.reason.lower()
    return exc.code in (-1000, -1020) and ("unknown endpoint" in text or "not supported" in text)


class MarkSource:
    """Fetches marks from the endpoint chosen at the first successful fetch. `kind` says which (None: not yet)."""

    def __init__(self, rest: BinanceRest) -> None:
        self.rest = rest
        self.kind: str | None = None
        self.refused: dict[str, str] = {}  # endpoint kind -> the venue's answer
        self.last_weight = 0
        self._discovering = asyncio.Lock()

    def describe(self) -> str:
        if self.kind is None:
            return "marks: not discovered yet"
        why = "; ".join(f"{k} not offered ({v})" for k, v in self.refused.items())
        return f"marks from {self.kind}" + (f" ({why})" if why else "")

    async def fetch(self, symbols: list[str]) -> dict[str, Decimal]:
        """Marks of `symbols` (all the venue lists when empty; avgPrice needs the symbols)."""
        self.last_weight = 0
        if self.kind is not None:
            return await self._fetch(self.kind, symbols)
        async with self._discovering:  # concurrent first fetches discover once, not once each
            if self.kind is not None:
                return await self._fetch(self.kind, symbols)
            return await self._discover(symbols)

    async def _discover(self, symbols: list[str]) -> dict[str, Decimal]:
        for kind in ORDER:
            if kind in self.refused:
                continue
            if kind == AVG_PRICE and not symbols:
                return {}  # avgPrice cannot be tried without a symbol: decide at a fetch that names some
            try:
                # avgPrice is asked per symbol: probe with one, so a venue without it is asked exactly once
                probe = symbols[:1] if kind == AVG_PRICE else symbols
                marks = await self._fetch(kind, probe)
                if probe != symbols:
                    marks |= await self._fetch(kind, symbols[1:])
            except BinanceError as exc:
                if not not_offered(exc):
                    raise
                self.refused[kind] = f"{exc.status} {exc.code}: {exc.reason}"
                continue
            self.kind = kind
            log.info("binance %s: %s", self.rest.base_url, self.describe())
            return marks
        self.kind = NONE
        log.warning("binance %s: the venue offers no price endpoint; no marks (%s)", self.rest.base_url,
                    self.describe())
        return {}

    async def _fetch(self, kind: str, symbols: list[str]) -> dict[str, Decimal]:
        if kind == NONE:
            return {}
        path = _PATHS[kind]
        if kind == AVG_PRICE:
            if not symbols:
                return {}
            rows = await asyncio.gather(
                *(self.rest.request("GET", path, [("symbol", s)], weight=W_AVG) for s in symbols)
            )
            self.last_weight += W_AVG * len(symbols)
            return {s: p for s, r in zip(symbols, rows, strict=True) if (p := _price(r.get("price"))) is not None}
        params = [("symbols", '["' + '","'.join(symbols) + '"]')] if symbols else []
        data = await self.rest.request("GET", path, params, weight=W_LIST)
        self.last_weight += W_LIST
        out: dict[str, Decimal] = {}
        for row in data if isinstance(data, list) else [data]:
            price = _price(row.get("price")) if kind == TICKER_PRICE else _mid(row)
            if price is not None:
                out[str(row["symbol"])] = price
        return out


def _price(raw: Any) -> Decimal | None:
    try:
        p = Decimal(str(raw))
    except (InvalidOperation, ValueError):
        return None
    return p if p.is_finite() and p > 0 else None


def _mid(row: dict[str, Any]) -> Decimal | None:
    bid, ask = _price(row.get("bidPrice")), _price(row.get("askPrice"))
    if bid is not None and ask is not None:
        return (bid + ask) / 2
    return bid if bid is not None else ask  # one side of the book only: that side
