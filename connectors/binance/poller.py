"""Live state by polling (Binance user-data websocket streams may come later): open orders, trades of the
symbols with activity, and prices, paced to a share of the request-weight budget. Changes become port events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from connectors.binance.mapping import dec, quote_fee, venue_order
from connectors.binance.marks import MarkSource
from connectors.binance.rest import BinanceRest
from core.connector import ConnectorError, ConnectorEvent, MarkPriceUpdated, OrderFilled, OrderUpdated, VenueOrder
from core.models import OrderStatus, Side, can_transition

log = logging.getLogger("connectors.binance")

#: Share of the request-weight budget the poller may use; the rest stays free for orders and cancels.
POLL_SHARE = 0.4
W_OPEN_ONE, W_OPEN_ALL, W_TRADES, W_ORDER = 6, 80, 20, 4

_State = tuple[str | None, OrderStatus, Decimal, Decimal, Decimal | None, Decimal | None]


class OrderBook:
    """What the connector knows of every order it has seen, for change detection (one event per change)."""

    def __init__(self) -> None:
        self.state: dict[str, _State] = {}
        self.orders: dict[str, VenueOrder] = {}
        self.symbol_of: dict[str, str] = {}
        self.coid_by_oid: dict[tuple[str, str], str] = {}
        #: client order id -> quote commission of the order's trades seen so far (stream and myTrades)
        self.fees: dict[str, Decimal] = {}

    def note(self, order: VenueOrder) -> bool:
        """Record `order`; True when it is news (new order, or a forward change of status / fill / prices)."""
        key = order.client_order_id
        new: _State = (
            order.exchange_order_id,
            order.status,
            order.filled_quantity,
            order.quantity,
            order.price,
            order.stop_price,
        )
        old = self.state.get(key)
        if order.exchange_order_id is not None:
            self.coid_by_oid[(order.symbol, order.exchange_order_id)] = key
        if old is not None and (old[0] == new[0] or new[0] is None or old[0] is None):
            if old[1:] == new[1:]:
                return False
            if not can_transition(old[1], new[1]) or new[2] < old[2]:
                return False  # a stale snapshot: never move an order backwards
            if new[0] is None:
                new = (old[0], *new[1:])
        self.state[key] = new
        self.orders[key] = order
        self.symbol_of[key] = order.symbol
        return True

    def open_coids(self) -> set[str]:
        return {k for k, s in self.state.items() if s[1].is_open}


class Poller:
    def __init__(
        self,
        rest: BinanceRest,
        book: OrderBook,
        symbols: Callable[[], list[str]],
        source: MarkSource,
        *,
        interval: float,
        start_ms: int,
    ) -> None:
        self.rest = rest
        self.book = book
        self.symbols = symbols
        self.source = source
        self.interval = interval
        self.start_ms = start_ms
        self.subscribers: list[asyncio.Queue[ConnectorEvent | None]] = []
        self.touched: set[str] = set()
        self.last_trade_id: dict[str, int] = {}
        self.marks: dict[str, Decimal] = {}
        self.last_poll: float | None = None
        self.last_error: str | None = None
        self.cycles = 0
        self.seen_trades: set[tuple[str, str]] = set()
        #: set by the connector: True while the WebSocket user data stream is live (then polling is the fallback
        #: only: marks when no market stream is up, and a slow reconciliation)
        self.stream_live: Callable[[], bool] = lambda: False
        self.marks_live: Callable[[], bool] = lambda: False
        self.reconcile_interval = 30.0
        self._last_full = 0.0
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    # -- events fan-out -------------------------------------------------------------------------------------
    def emit(self, event: ConnectorEvent) -> None:
        for q in self.subscribers:
            q.put_nowait(event)

    def fill(self, ev: OrderFilled, quote_fee: Decimal = Decimal(0)) -> bool:
        """Emit a fill once per (symbol, trade id), whoever tells it (stream, reconciliation, duplicate event).
        `quote_fee`: its commission if paid in the quote asset (else 0), added to the order's cumulative fee."""
        key = (ev.symbol, ev.trade_id)
        if key in self.seen_trades:
            return False
        self.seen_trades.add(key)
        if quote_fee:
            self.book.fees[ev.client_order_id] = self.book.fees.get(ev.client_order_id, Decimal(0)) + quote_fee
        self.emit(ev)
        return True

    def note(self, order: VenueOrder) -> bool:
        """Record a snapshot of an order (OrderUpdated when it is news). True when it shows a fill not seen before:
        then its symbol's trades are asked for (at the next poll, or by the poll that is noting it)."""
        fee = self.book.fees.get(order.client_order_id)
        if fee is not None and fee > order.fee:  # the commission of the trades seen, which the snapshot lacks
            order = replace(order, fee=fee)
        known = self.book.state.get(order.client_order_id)
        filled_more = order.filled_quantity > (known[2] if known is not None else Decimal(0))
        if self.book.note(order):
            if filled_more:
                self.touched.add(order.symbol)
            self.emit(OrderUpdated(order=order, ts=time.time()))
            return filled_more
        return False

    def stream(self) -> AsyncIterator[ConnectorEvent]:
        """A new subscriber, registered now (every event from this call on); starts the polling task."""
        q: asyncio.Queue[ConnectorEvent | None] = asyncio.Queue()
        if self._closed:
            q.put_nowait(None)
        else:
            self.subscribers.append(q)
            if self._task is None:
                self._task = asyncio.create_task(self._run(), name="binance-poller")
        return self._drain(q)

    async def _drain(self, q: asyncio.Queue[ConnectorEvent | None]) -> AsyncIterator[ConnectorEvent]:
        try:
            while True:
                ev = await q.get()
                if ev is None:
                    return
                yield ev
        finally:
            with contextlib.suppress(ValueError):
                self.subscribers.remove(q)

    async def close(self) -> None:
        self._closed = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        for q in self.subscribers:
            q.put_nowait(None)

    # -- the loop --------------------------------------------------------------------------------------------
    async def _run(self) -> None:
        while not self._closed:
            started = time.monotonic()
            weight = 0
            try:
                if self.stream_live() and time.monotonic() - self._last_full < self.reconcile_interval:
                    if not self.marks_live():
                        weight = await self._prices(self.symbols())
                else:
                    weight = await self.cycle()
                    self._last_full = time.monotonic()
                self.last_poll = time.time()
                self.last_error = None
            except ConnectorError as exc:
                self.last_error = exc.reason
                log.warning("poll failed: %s", exc.reason)
            except Exception as exc:  # keep polling; a bug must not silence the stream
                self.last_error = type(exc).__name__
                log.exception("poll failed")
            budget = self.rest.limiter.weight_per_minute() * POLL_SHARE / 60  # weight per second
            pace = weight / budget if budget > 0 else self.interval
            await asyncio.sleep(max(self.interval, pace) - min(time.monotonic() - started, self.interval))

    async def cycle(self) -> int:
        """One poll; returns the weight it used."""
        symbols = self.symbols()
        touched, self.touched = self.touched, set()
        weight = 0
        was_open = self.book.open_coids()
        seen: set[str] = set()
        if symbols and len(symbols) * W_OPEN_ONE < W_OPEN_ALL:
            results = await _gather([self._get("/api/v3/openOrders", [("symbol", s)], W_OPEN_ONE) for s in symbols])
            rows = [row for batch in results for row in batch]
            weight += W_OPEN_ONE * len(symbols)
        else:
            rows = await self._get("/api/v3/openOrders", [], W_OPEN_ALL)
            weight += W_OPEN_ALL
        # myTrades (weight 20 a symbol) only where an order of ours shows a fill not seen before: an open order
        # filled further, an order that left the open list filled (below; or whose final state is unknown), or one
        # noted since the last poll with a fill (a placed order that filled at once, a stream update). Every fill
        # of an order moves its executedQty, so no such change means no new trade of ours. Asking every symbol with
        # open orders on every poll cost 20 of a cycle's ~34 weight and, paced to the poll's share of the weight
        # budget, held a 0.25 s poll to ~0.95 s.
        active = set(touched)
        for row in rows:
            order = venue_order(row)
            seen.add(order.client_order_id)
            if self.note(order):
                active.add(order.symbol)
        gone = [c for c in was_open - seen if not symbols or self.book.symbol_of.get(c) in symbols]
        for coid in gone:  # left the open list: ask for its final state
            symbol = self.book.symbol_of[coid]
            weight += W_ORDER
            try:
                row = await self._get("/api/v3/order", [("symbol", symbol), ("origClientOrderId", coid)], W_ORDER)
            except ConnectorError:
                active.add(symbol)  # its final state is unknown: its trades tell whether it filled
                continue
            if self.note(venue_order(row)):
                active.add(symbol)
        for symbol in sorted(active):
            weight += await self._trades(symbol)
        weight += await self._prices(symbols)
        self.cycles += 1
        return weight

    async def _trades(self, symbol: str) -> int:
        last = self.last_trade_id.get(symbol)
        params = [("symbol", symbol), ("limit", "1000")]
        params.append(("fromId", str(last + 1)) if last is not None else ("startTime", str(self.start_ms)))
        rows = await self._get("/api/v3/myTrades", params, W_TRADES)
        weight = W_TRADES
        if len(rows) >= 1000:  # a full page: the rest at the next poll
            self.touched.add(symbol)
        for t in sorted(rows, key=lambda r: int(r["id"])):
            self.last_trade_id[symbol] = max(self.last_trade_id.get(symbol, -1), int(t["id"]))
            oid = str(t["orderId"])
            coid = self.book.coid_by_oid.get((symbol, oid))
            if coid is None:
                weight += W_ORDER
                try:
                    row = await self._get("/api/v3/order", [("symbol", symbol), ("orderId", oid)], W_ORDER)
                except ConnectorError:
                    continue
                coid = str(row["clientOrderId"])
                self.book.coid_by_oid[(symbol, oid)] = coid
            self.fill(
                OrderFilled(
                    symbol=symbol,
                    client_order_id=coid,
                    trade_id=str(t["id"]),
                    side=Side.BUY if t.get("isBuyer") else Side.SELL,
                    price=dec(t["price"]),
                    quantity=dec(t["qty"]),
                    fee=dec(t.get("commission", "0")),
                    ts=int(t.get("time", 0)) / 1000,
                ),
                quote_fee(symbol, t.get("commission", "0"), t.get("commissionAsset")),
            )
        return weight

    async def _prices(self, symbols: list[str]) -> int:
        marks = await self.source.fetch(symbols)
        self.update_marks({s: p for s, p in marks.items() if not symbols or s in symbols}, time.time())
        return self.source.last_weight

    def update_marks(self, marks: dict[str, Decimal], ts: float) -> None:
        for sym, price in marks.items():
            if self.marks.get(sym) != price:
                self.marks[sym] = price
                self.emit(MarkPriceUpdated(symbol=sym, price=price, ts=ts))

    async def _get(self, path: str, params: list[tuple[str, str]], weight: int) -> Any:
        return await self.rest.request("GET", path, params, weight=weight, signed=True)


async def _gather(calls: list[Awaitable[Any]]) -> list[Any]:
    return list(await asyncio.gather(*calls))
