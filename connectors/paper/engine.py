"""PaperEngine: a synchronous, deterministic matching engine (no asyncio, no wall clock: time is passed in).

A margin-like paper account on a set of USDT markets: a seeded random walk moves the marks, orders match against the
mark (MARKET / marketable LIMIT at the mark, resting LIMIT at its own price when the mark crosses it, stops trigger when
the mark crosses the stop), filters and refusals follow Binance's codes and words. Events are delivered to subscribers
synchronously, inside the call that caused them."""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from connectors.paper.filters import LIMIT_TYPES, STOP_TYPES, check_order, limit_crossed, stop_triggered
from connectors.paper.orders import QUOTE_ASSET, PaperConfig, PaperNotFound, PaperOrder, PaperReject, Trade, base_asset
from core.connector import ConnectorEvent, MarkPriceUpdated, OrderFilled, OrderRequest, OrderUpdated, VenueOrder
from core.decimals import plain, round_down_to, round_to_tick
from core.models import MarketRules, OrderStatus, OrderType, Side, TimeInForce

log = logging.getLogger(__name__)

STATE_VERSION = 1


class PaperEngine:
    def __init__(self, markets: dict[str, MarketRules], config: PaperConfig | None = None) -> None:
        self.config = config or PaperConfig()
        self.markets: dict[str, MarketRules] = {s: r.model_copy() for s, r in markets.items()}
        self.order_log: list[tuple[str, str]] = []
        self.last_mark_ts: float | None = None
        self._rng = random.Random(self.config.seed)
        self._orders: dict[str, PaperOrder] = {}  # by venue order id, in submission order
        self._latest: dict[tuple[str, str], PaperOrder] = {}  # (symbol, client id) -> newest order
        self._open: dict[tuple[str, str], PaperOrder] = {}  # open orders, in submission order
        self._positions: dict[str, Decimal] = {s: Decimal(0) for s in self.markets}
        self._quote = self.config.quote_balance
        self._trades: list[Trade] = []
        self._next_order_id = 1
        self._next_trade_id = 1
        self._subscribers: list[Callable[[ConnectorEvent], None]] = []
        self._lock = threading.RLock()
        #: Orders created or changed since the store last took them (venue order id -> order): what to persist.
        self.changed: dict[str, PaperOrder] = {}

    # ----------------------------------------------------------------------------------------------- orders

    def submit(self, req: OrderRequest, now: float) -> VenueOrder:
        """Accept (and match at once if marketable) or raise PaperReject."""
        with self._lock:
            self._check(req)
            return self._accept(req, now).view()

    def cancel(self, symbol: str, client_order_id: str, now: float) -> VenueOrder:
        with self._lock:
            o = self._open.get((symbol, client_order_id))
            if o is None:
                raise PaperNotFound()
            self._finish(o, OrderStatus.CANCELLED, now)
            return o.view()

    def cancel_replace(
        self,
        symbol: str,
        client_order_id: str,
        new_client_order_id: str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        now: float,
    ) -> VenueOrder:
        """STOP_ON_FAILURE cancel-replace. The new order keeps side, type, time in force and reduce-only; its quantity
        is `quantity` or else the old order's unfilled remainder. If the new order would be rejected nothing changes
        (PaperReject); else the old one is CANCELLED and the new one placed (and matched)."""
        with self._lock:
            old = self._open.get((symbol, client_order_id))
            if old is None:
                raise PaperNotFound()
            req = OrderRequest(
                symbol=symbol,
                side=old.side,
                order_type=old.order_type,
                quantity=quantity if quantity is not None else old.remaining,
                client_order_id=new_client_order_id,
                price=price if price is not None else old.price,
                stop_price=stop_price if stop_price is not None else old.stop_price,
                time_in_force=old.time_in_force,
                reduce_only=old.reduce_only,
            )
            self._check(req, replacing=old)
            self._finish(old, OrderStatus.CANCELLED, now)
            return self._accept(req, now).view()

    def cancel_all(self, symbol: str, now: float) -> list[VenueOrder]:
        with self._lock:
            victims = [o for o in self._open.values() if o.symbol == symbol]
            for o in victims:
                self._finish(o, OrderStatus.CANCELLED, now)
            return [o.view() for o in victims]

    def get(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """The newest order with that client id, open or final; None if the venue never accepted one."""
        with self._lock:
            o = self._latest.get((symbol, client_order_id))
            return o.view() if o else None

    def get_by_order_id(self, symbol: str, order_id: str) -> VenueOrder | None:
        with self._lock:
            o = self._orders.get(str(order_id))
            return o.view() if o is not None and o.symbol == symbol else None

    def order_record(self, symbol: str, client_order_id: str) -> PaperOrder | None:
        """The engine's own record (venue order id, created/updated times). Read only."""
        return self._latest.get((symbol, client_order_id))

    def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        with self._lock:
            return [o.view() for o in self._open.values() if symbol is None or o.symbol == symbol]

    def open_count(self) -> int:
        """How many orders rest (without building their views: the health line asks every second)."""
        with self._lock:
            return len(self._open)

    def all_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        """Every accepted order, open or final, in submission order."""
        with self._lock:
            return [o.view() for o in self._orders.values() if symbol is None or o.symbol == symbol]

    # ----------------------------------------------------------------------------------------------- account

    def positions(self) -> dict[str, Decimal]:
        with self._lock:
            return dict(self._positions)

    def balances(self) -> dict[str, Decimal]:
        """Asset -> free amount: the quote asset plus each market's base asset (the position; may be negative)."""
        with self._lock:
            out = {QUOTE_ASSET: self._quote}
            for symbol, qty in self._positions.items():
                out[base_asset(symbol)] = qty
            return out

    def trades(self, symbol: str | None = None) -> list[Trade]:
        with self._lock:
            return [t for t in self._trades if symbol is None or t.symbol == symbol]

    # ----------------------------------------------------------------------------------------------- prices

    def set_mark(self, symbol: str, price: Decimal, now: float) -> None:
        """Move the mark of one symbol, then match its open orders."""
        with self._lock:
            if symbol not in self.markets:
                raise KeyError(symbol)
            if price <= 0:
                raise ValueError("mark price must be greater than 0")
            self._move(symbol, price, now)

    def tick(self, now: float) -> None:
        """One step of the seeded random walk for every symbol (sorted order), each followed by matching."""
        with self._lock:
            for symbol in sorted(self.markets):
                rules = self.markets[symbol]
                z = Decimal(repr(self._rng.gauss(0.0, 1.0)))
                raw = rules.mark_price * (1 + self.config.volatility * z)
                price = plain((raw / rules.tick_size).to_integral_value(rounding=ROUND_HALF_EVEN) * rules.tick_size)
                self._move(symbol, max(price, rules.tick_size), now)

    def add_market(self, symbol: str, rules: MarketRules) -> None:
        with self._lock:
            self.markets[symbol] = rules.model_copy()
            self._positions.setdefault(symbol, Decimal(0))

    # ----------------------------------------------------------------------------------------------- events

    def subscribe(self, callback: Callable[[ConnectorEvent], None]) -> Callable[[], None]:
        """Deliver every event to `callback` synchronously. Returns the unsubscribe function."""
        self._subscribers.append(callback)

        def unsubscribe() -> None:
            if callback in self._subscribers:
                self._subscribers.remove(callback)

        return unsubscribe

    def _emit(self, event: ConnectorEvent) -> None:
        for cb in list(self._subscribers):
            try:
                cb(event)
            except Exception:  # a broken subscriber must not break the venue
                log.exception("paper engine subscriber failed on %r", event)

    # ----------------------------------------------------------------------------------------------- internals

    def _check(self, req: OrderRequest, replacing: PaperOrder | None = None) -> None:
        key = (req.symbol, req.client_order_id)
        dup = key in self._open and self._open[key] is not replacing
        refusal = check_order(req, self.markets.get(req.symbol), self._positions.get(req.symbol, Decimal(0)), dup)
        if refusal is not None:
            raise PaperReject(*refusal)

    def _accept(self, req: OrderRequest, now: float) -> PaperOrder:
        tif = req.time_in_force
        if req.order_type in LIMIT_TYPES and tif is None:
            tif = TimeInForce.GTC
        o = PaperOrder(
            order_id=str(self._next_order_id),
            symbol=req.symbol,
            client_order_id=req.client_order_id,
            side=req.side,
            order_type=req.order_type,
            quantity=req.quantity,
            price=req.price,
            stop_price=req.stop_price,
            time_in_force=tif if req.order_type in LIMIT_TYPES else None,
            reduce_only=req.reduce_only,
            status=OrderStatus.OPEN,
            created_ts=now,
            updated_ts=now,
        )
        self._next_order_id += 1
        key = (o.symbol, o.client_order_id)
        self._orders[o.order_id] = o
        self._latest[key] = o
        self._open[key] = o
        self.changed[o.order_id] = o
        self.order_log.append(key)
        self._emit(OrderUpdated(o.view(), ts=now))
        mark = self.markets[o.symbol].mark_price
        if o.order_type is OrderType.MARKET:
            self._take(o, self._taker_price(o.symbol, o.side), now)
        elif o.order_type is OrderType.LIMIT:
            self._limit_arrives(o, mark, now)
        return o

    def _limit_arrives(self, o: PaperOrder, mark: Decimal, now: float) -> None:
        """A LIMIT (or a just-triggered STOP_LIMIT) meets the market: fills at the mark if marketable (IOC/FOK
        remainder expires), else rests (IOC/FOK expire)."""
        assert o.price is not None
        immediate = o.time_in_force in (TimeInForce.IOC, TimeInForce.FOK)
        if limit_crossed(o.side, o.price, mark):
            self._take(o, mark, now, rest=not immediate)
        elif immediate:
            self._finish(o, OrderStatus.EXPIRED, now)

    def _taker_price(self, symbol: str, side: Side) -> Decimal:
        rules = self.markets[symbol]
        s = self.config.slippage
        if side is Side.BUY:
            return round_to_tick(rules.mark_price * (1 + s), rules.tick_size, up=True)
        return max(round_to_tick(rules.mark_price * (1 - s), rules.tick_size, up=False), rules.tick_size)

    def _available(self, o: PaperOrder, price: Decimal) -> tuple[Decimal, bool]:
        """(quantity that may fill now, whether reduce-only clipped it)."""
        qty = o.remaining
        cap = self.config.max_fill_notional
        if cap is not None:
            step = self.markets[o.symbol].step_size
            qty = min(qty, max(round_down_to(cap / price, step), step))
        clipped = False
        if o.reduce_only:
            pos = self._positions[o.symbol]
            reducible = abs(pos) if pos * o.side.sign < 0 else Decimal(0)
            if reducible < qty:
                qty, clipped = reducible, True
        return qty, clipped

    def _take(self, o: PaperOrder, price: Decimal, now: float, *, rest: bool = False, maker: bool = False) -> None:
        """Fill what is available at `price`; then FILLED, or the remainder rests (`rest`) or EXPIRES."""
        qty, clipped = self._available(o, price)
        if o.time_in_force is TimeInForce.FOK and qty < o.remaining:
            qty = Decimal(0)
        if qty > 0:
            self._fill(o, price, qty, now, maker=maker)
        if o.remaining == 0:
            self._finish(o, OrderStatus.FILLED, now)
        elif clipped or not rest:
            self._finish(o, OrderStatus.EXPIRED, now)
        elif qty > 0:
            self._update(o, OrderStatus.PARTIALLY_FILLED, now)

    def _fill(self, o: PaperOrder, price: Decimal, qty: Decimal, now: float, *, maker: bool) -> None:
        notional = price * qty
        fee = plain(notional * self.config.fee_rate)
        t = Trade(
            trade_id=str(self._next_trade_id),
            symbol=o.symbol,
            client_order_id=o.client_order_id,
            side=o.side,
            price=price,
            quantity=qty,
            fee=fee,
            ts=now,
            order_id=o.order_id,
            maker=maker,
        )
        self._next_trade_id += 1
        self._trades.append(t)
        self._positions[o.symbol] = plain(self._positions[o.symbol] + o.side.sign * qty)
        self._quote = self._quote - o.side.sign * notional - fee
        o.filled_quantity += qty
        o.filled_quote += notional
        o.fee += fee
        self.changed[o.order_id] = o
        self._emit(
            OrderFilled(o.symbol, o.client_order_id, t.trade_id, o.side, price, qty, fee=fee, ts=now),
        )

    def _update(self, o: PaperOrder, status: OrderStatus, now: float) -> None:
        o.status = status
        o.updated_ts = now
        self.changed[o.order_id] = o
        self._emit(OrderUpdated(o.view(), ts=now))

    def _finish(self, o: PaperOrder, status: OrderStatus, now: float) -> None:
        self._open.pop((o.symbol, o.client_order_id), None)
        self._update(o, status, now)

    def _move(self, symbol: str, price: Decimal, now: float) -> None:
        self.markets[symbol] = self.markets[symbol].model_copy(update={"mark_price": price})
        self.last_mark_ts = now
        self._emit(MarkPriceUpdated(symbol, price, ts=now))
        self._match(symbol, now)

    def _match(self, symbol: str, now: float) -> None:
        mark = self.markets[symbol].mark_price
        for o in [o for o in self._open.values() if o.symbol == symbol]:
            if not o.is_open:
                continue
            if o.order_type in STOP_TYPES and not o.triggered:
                assert o.stop_price is not None
                if not stop_triggered(o.side, o.stop_price, mark):
                    continue
                o.triggered = True
                self.changed[o.order_id] = o
                if o.order_type is OrderType.STOP_MARKET:
                    self._take(o, self._taker_price(symbol, o.side), now)
                else:
                    self._limit_arrives(o, mark, now)
            elif o.order_type in LIMIT_TYPES:
                assert o.price is not None
                if limit_crossed(o.side, o.price, mark):
                    self._take(o, o.price, now, rest=o.time_in_force is TimeInForce.GTC, maker=True)

    # ----------------------------------------------------------------------------------------------- state

    def to_dict(self) -> dict[str, Any]:
        """The full venue state (subscribers excepted), JSON-able."""
        with self._lock:
            version, internal, gauss_next = self._rng.getstate()
            return {
                "version": STATE_VERSION,
                "config": self.config.to_dict(),
                "markets": {s: r.model_dump(mode="json") for s, r in self.markets.items()},
                "rng": [version, list(internal), gauss_next],
                "next_order_id": self._next_order_id,
                "next_trade_id": self._next_trade_id,
                "orders": [o.to_dict() for o in self._orders.values()],
                "positions": {s: format(q, "f") for s, q in self._positions.items()},
                "quote": format(self._quote, "f"),
                "trades": [t.to_dict() for t in self._trades],
                "order_log": [list(k) for k in self.order_log],
                "last_mark_ts": self.last_mark_ts,
            }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PaperEngine:
        if data.get("version") != STATE_VERSION:
            raise ValueError(f"paper state version {data.get('version')!r} is not supported (want {STATE_VERSION})")
        markets = {s: MarketRules.model_validate(r) for s, r in data["markets"].items()}
        eng = cls(markets, PaperConfig.from_dict(data["config"]))
        version, internal, gauss_next = data["rng"]
        eng._rng.setstate((version, tuple(internal), gauss_next))
        eng._next_order_id = int(data["next_order_id"])
        eng._next_trade_id = int(data["next_trade_id"])
        for d in data["orders"]:
            o = PaperOrder.from_dict(d)
            key = (o.symbol, o.client_order_id)
            eng._orders[o.order_id] = o
            eng._latest[key] = o
            if o.is_open:
                eng._open[key] = o
        eng._positions.update({s: Decimal(q) for s, q in data["positions"].items()})
        eng._quote = Decimal(data["quote"])
        eng._trades = [Trade.from_dict(t) for t in data["trades"]]
        eng.order_log = [(s, c) for s, c in data["order_log"]]
        eng.last_mark_ts = data.get("last_mark_ts")
        return eng
