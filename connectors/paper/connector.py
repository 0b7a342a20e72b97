"""PaperConnector: the IExecutionConnector port over the in-process PaperEngine (the default connector).

Every call awaits `latency` seconds (concurrent calls overlap, as on a real venue), consults the fault injector, then
acts on the engine. With a state file (`PaperConnector.open`, or `state_path`) every call goes through the account's
PaperStore: a mutating call writes what it changed in one SQLite transaction, under the store's writer lock, after
taking in what other processes wrote; a read first takes in what they wrote. So consecutive and concurrent processes
see one account, and the cost of a call does not grow with the account's history.
With `tick_interval`, `start()` runs the live price walk."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from connectors.paper.engine import PaperEngine
from connectors.paper.faults import FaultInjector
from connectors.paper.markets import DEFAULT_MARKETS
from connectors.paper.orders import PaperConfig, PaperNotFound, PaperReject
from connectors.paper.store import PaperStore
from core.connector import (
    Capabilities,
    ConnectorError,
    ConnectorErrorKind,
    ConnectorEvent,
    ConnectorHealth,
    OrderRequest,
    VenueOrder,
)
from core.models import MarketRules
from core.pacing import VenueLimits

T = TypeVar("T")
_CLOSED = object()


class _Subscriber:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.thread = threading.get_ident()
        try:
            self.loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self.loop = None

    def deliver(self, item: Any) -> None:
        if self.loop is None or threading.get_ident() == self.thread:
            self.queue.put_nowait(item)
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.queue.put_nowait, item)


class PaperConnector:
    name = "paper"
    capabilities = Capabilities(has_cancel_all=True, has_native_modify=False)

    def __init__(
        self,
        engine: PaperEngine,
        *,
        latency: float = 0.0,
        state_path: Path | None = None,
        tick_interval: float | None = None,
        clock: Callable[[], float] = time.time,
        store: PaperStore | None = None,
    ) -> None:
        """`state_path` without `store`: `engine` replaces whatever account is stored there."""
        self.engine = engine
        self.latency = latency
        self.state_path = Path(state_path) if state_path is not None else (store.path if store else None)
        if store is None and self.state_path is not None:
            store = PaperStore.replace(self.state_path, engine)
        self.store = store
        self.tick_interval = tick_interval
        self.faults = FaultInjector()
        self._clock = clock
        self._subs: list[_Subscriber] = []
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False
        self._unsubscribe = engine.subscribe(self._on_event)
        #: The account's rate limits (None: the paper venue does not limit); the handler paces to them.
        self.limits: VenueLimits | None = None

    @classmethod
    def open(
        cls,
        state_path: Path,
        markets: dict[str, MarketRules] | None = None,
        config: PaperConfig | None = None,
        **kw: Any,
    ) -> PaperConnector:
        """The account stored at `state_path` if the file exists (markets it lacks are added; its own config wins),
        else a new one on `markets` (default: DEFAULT_MARKETS()) with `config`, saved at once."""
        path = Path(state_path)
        fresh = PaperEngine(markets if markets is not None else DEFAULT_MARKETS(), config)
        store, engine = PaperStore.open_or_create(path, fresh)
        conn = cls(engine, state_path=path, store=store, **kw)
        missing = {s: r for s, r in (markets or {}).items() if s not in engine.markets}
        if missing:
            with store.write(engine):
                for symbol, rules in missing.items():
                    engine.add_market(symbol, rules)
        return conn

    # ------------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the live price walk (when tick_interval is set). Idempotent."""
        if self.tick_interval and self._ticker is None and not self._closed:
            self._ticker = asyncio.create_task(self._tick_loop(self.tick_interval), name="paper-ticker")

    async def close(self) -> None:
        """Stop the price walk, save, end every event stream. Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        self._unsubscribe()
        self.save()
        if self.store is not None:
            self.store.close()
        for sub in list(self._subs):
            sub.deliver(_CLOSED)

    async def __aenter__(self) -> PaperConnector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def save(self) -> None:
        """Write what changed outside a venue call (a test moving a mark on the engine directly)."""
        if self.store is not None and not self.store.closed:
            with self.store.write(self.engine):
                pass

    async def _tick_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if self.store is None:
                self.engine.tick(self._clock())
            else:
                with self.store.write(self.engine):
                    self.engine.tick(self._clock())

    def rate_limits(self) -> VenueLimits | None:
        return self.limits

    # ------------------------------------------------------------------------------------------- the port

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        return await self._call(
            "place", (request.client_order_id,), lambda now: self.engine.submit(request, now), mutating=True
        )

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        return await self._call(
            "cancel", (client_order_id,), lambda now: self.engine.cancel(symbol, client_order_id, now), mutating=True
        )

    async def modify_order(
        self,
        symbol: str,
        client_order_id: str,
        new_client_order_id: str,
        *,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
    ) -> VenueOrder:
        def act(now: float) -> VenueOrder:
            return self.engine.cancel_replace(
                symbol,
                client_order_id,
                new_client_order_id,
                quantity=quantity,
                price=price,
                stop_price=stop_price,
                now=now,
            )

        return await self._call("modify", (client_order_id, new_client_order_id), act, mutating=True)

    async def cancel_all(self, symbol: str) -> list[VenueOrder]:
        return await self._call("cancel_all", (symbol,), lambda now: self.engine.cancel_all(symbol, now), mutating=True)

    async def get_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        return await self._call("get", (client_order_id,), lambda now: self.engine.get(symbol, client_order_id))

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        keys = (symbol,) if symbol else ()
        return await self._call("open_orders", keys, lambda now: self.engine.open_orders(symbol))

    async def market_rules(self) -> dict[str, MarketRules]:
        return await self._call("market_rules", (), lambda now: {s: r.model_copy() for s, r in self._markets()})

    async def mark_prices(self) -> dict[str, Decimal]:
        return await self._call("mark_prices", (), lambda now: {s: r.mark_price for s, r in self._markets()})

    async def positions(self) -> dict[str, Decimal]:
        return await self._call("positions", (), lambda now: self.engine.positions())

    async def health(self) -> ConnectorHealth:
        if self._closed:
            return ConnectorHealth(ok=False, detail="closed", last_data_ts=self.engine.last_mark_ts)
        if self.faults.outage:
            return ConnectorHealth(ok=False, detail="venue unavailable", last_data_ts=self.engine.last_mark_ts)
        extra = {"open_orders": str(self.engine.open_count()), "ticking": str(self._ticker is not None)}
        return ConnectorHealth(ok=True, detail="ok", last_data_ts=self.engine.last_mark_ts, extra=extra)

    def events(self) -> AsyncIterator[ConnectorEvent]:
        """A new subscriber: every event from now on, until close()."""
        sub = _Subscriber()
        if self._closed:
            sub.deliver(_CLOSED)
        self._subs.append(sub)
        return self._drain(sub)

    # ------------------------------------------------------------------------------------------- internals

    async def _drain(self, sub: _Subscriber) -> AsyncIterator[ConnectorEvent]:
        try:
            while True:
                item = await sub.queue.get()
                if item is _CLOSED:
                    return
                yield item
        finally:
            if sub in self._subs:
                self._subs.remove(sub)

    def _markets(self) -> list[tuple[str, MarketRules]]:
        return list(self.engine.markets.items())

    def _on_event(self, event: ConnectorEvent) -> None:
        if self.faults.drops(event):
            return
        for sub in list(self._subs):
            sub.deliver(event)

    async def _call(self, op: str, keys: tuple[str, ...], act: Callable[[float], T], *, mutating: bool = False) -> T:
        await asyncio.sleep(self.latency)
        if self._closed:
            raise ConnectorError(ConnectorErrorKind.UNAVAILABLE, "paper connector is closed")
        if self.faults.outage:
            raise ConnectorError(ConnectorErrorKind.UNAVAILABLE, "paper venue unavailable (outage)")
        fault = self.faults.take(op, *keys)
        if fault == "reject":
            raise ConnectorError(ConnectorErrorKind.REJECTED, "Order rejected (injected fault).", code=-2010)
        if fault == "rate_limited":
            raise ConnectorError(ConnectorErrorKind.RATE_LIMITED, "Too many requests (injected 429).", code=-1003,
                                 retry_after=self.faults.retry_after)
        if fault == "unavailable":
            raise ConnectorError(ConnectorErrorKind.UNAVAILABLE, "paper venue unavailable (injected fault)")
        if fault == "timeout_before":
            raise ConnectorError(ConnectorErrorKind.UNKNOWN_OUTCOME, "request timed out (injected fault)")
        try:
            if self.store is None:
                result = act(self._clock())
            elif mutating:
                with self.store.write(self.engine):
                    result = act(self._clock())
            else:
                self.store.refresh(self.engine)
                result = act(self._clock())
        except PaperReject as e:
            raise ConnectorError(ConnectorErrorKind.REJECTED, e.reason, code=e.code) from None
        except PaperNotFound as e:
            raise ConnectorError(ConnectorErrorKind.NOT_FOUND, e.reason, code=e.code) from None
        if fault == "timeout_after":
            raise ConnectorError(ConnectorErrorKind.UNKNOWN_OUTCOME, "response lost after execution (injected fault)")
        return result
