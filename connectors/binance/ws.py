"""Live account data over the Binance WebSocket API, and marks over the market streams.

The user data stream: connect to the WS API (`/ws-api/v3`), send `userDataStream.subscribe.signature` (apiKey and
timestamp, signed like a REST request: the params sorted by name; HMAC hex or Ed25519 base64), then read
`executionReport` (order changes and fills) and `outboundAccountPosition` (balances). On every (re)connect, once
subscribed, the connector reconciles over REST (open orders, final states of orders that left the open list, trades
since the last reconciliation), so whatever happened while the stream was down is applied; fills are keyed by
(symbol, trade id), so a fill told twice (by a duplicate event or by the stream and the reconciliation) is applied
once, and order states never move backwards (OrderBook), so an out-of-order event changes nothing.

Reconnects back off (0.05 s doubling to 5 s, reset after a healthy minute). A silent stall (no message, not even
the answer to our `ping`, within `stall_timeout`) counts as a drop. `serverShutdown` and the 24-hour connection
limit (`max_session`, reconnect ahead of it) give a planned reconnect. While the stream is not live, the poller
does the polling it always did (fallback); while it is live the poller only keeps the marks (when no market stream
is up) and a slow REST reconciliation."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import websockets

from connectors.binance.mapping import dec, quote_fee, venue_order
from connectors.binance.poller import Poller
from connectors.binance.rest import BinanceRest
from core.connector import OrderFilled
from core.models import Side

log = logging.getLogger("connectors.binance")

MAX_SESSION = 23.5 * 3600  # Binance closes WS API connections after 24 h
BACKOFF_START, BACKOFF_MAX = 0.05, 5.0


def ws_urls(base_url: str) -> tuple[str, str]:
    """(WS API URL, market streams base) for a REST base URL: Binance's own hosts, else the same host and port."""
    if "api.binance.com" in base_url:
        return "wss://ws-api.binance.com:443/ws-api/v3", "wss://stream.binance.com:9443/stream"
    if "testnet.binance.vision" in base_url:
        return "wss://ws-api.testnet.binance.vision/ws-api/v3", "wss://stream.testnet.binance.vision/stream"
    root = base_url.rstrip("/").replace("https://", "wss://").replace("http://", "ws://")
    return f"{root}/ws-api/v3", f"{root}/stream"


def report_to_order_json(e: dict[str, Any]) -> dict[str, Any]:
    """An `executionReport` in the shape of a REST order answer (what mapping.venue_order reads)."""
    cancelled = e.get("x") == "CANCELED" and e.get("C")
    return {
        "symbol": e["s"], "clientOrderId": e["C"] if cancelled else e["c"], "side": e["S"], "type": e["o"],
        "timeInForce": e.get("f", "GTC"), "origQty": e["q"], "price": e.get("p", "0"),
        "stopPrice": e.get("P", "0"), "status": e["X"], "orderId": e["i"], "executedQty": e["z"],
        "cummulativeQuoteQty": e.get("Z", "0"),
    }


class _StreamTask:
    """The life of one stream: one task running `_run` (reconnecting inside it) until `close`."""

    task_name = "binance-stream"
    live: bool
    _task: asyncio.Task[None] | None
    _closed: bool

    async def _run(self) -> None:  # pragma: no cover - each stream has its own
        raise NotImplementedError

    def start(self) -> None:
        if self._task is None and not self._closed:
            self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def close(self) -> None:
        self._closed = True
        self.live = False
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class UserStream(_StreamTask):
    task_name = "binance-user-stream"

    def __init__(
        self,
        rest: BinanceRest,
        api_key: str,
        poller: Poller,
        url: str,
        *,
        reconcile: Callable[[], Awaitable[int]],
        stall_timeout: float = 10.0,
        heartbeat: float = 3.0,
        max_session: float = MAX_SESSION,
    ) -> None:
        self.rest, self.api_key, self.poller, self.url = rest, api_key, poller, url
        self.reconcile = reconcile
        self.stall_timeout, self.heartbeat, self.max_session = stall_timeout, heartbeat, max_session
        self.live = False
        self.connects = 0
        self.reconciles = 0
        self.last_event: float | None = None
        self.last_error: str | None = None
        self.balances: dict[str, tuple[Decimal, Decimal]] = {}  # asset -> (free, locked), from the stream
        self.seen_trades: set[tuple[str, str]] = poller.seen_trades
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._next_id = 0

    async def _run(self) -> None:
        backoff = BACKOFF_START
        while not self._closed:
            started = time.monotonic()
            try:
                reason = await self._session()
                log.info("binance user stream: %s; reconnecting", reason)
            except (OSError, websockets.WebSocketException, TimeoutError, ValueError, KeyError) as exc:
                repeated = self.last_error is not None and not self.live
                self.last_error = f"{type(exc).__name__}: {exc}"
                (log.debug if repeated else log.warning)(
                    "binance user stream lost (%s); polling until it is back", self.last_error)
            except Exception as exc:  # noqa: BLE001 - a bug must not silence live data: fall back, retry
                self.last_error = type(exc).__name__
                log.exception("binance user stream failed")
            self.live = False
            if time.monotonic() - started > 60:
                backoff = BACKOFF_START
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)

    def _signed_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"apiKey": self.api_key, "recvWindow": self.rest.recv_window,
                                  "timestamp": int(self.rest.server_time() * 1000)}
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
        params["signature"] = self.rest.sign(payload)
        return params

    def _request(self, method: str, params: dict[str, Any] | None = None) -> str:
        self._next_id += 1
        msg: dict[str, Any] = {"id": f"pd-{self._next_id}", "method": method}
        if params is not None:
            msg["params"] = params
        return json.dumps(msg)

    async def _session(self) -> str:
        async with websockets.connect(self.url, open_timeout=5, ping_interval=None, close_timeout=1,
                                      max_size=2**22) as ws:
            self.connects += 1
            opened = time.monotonic()
            await ws.send(self._request("userDataStream.subscribe.signature", self._signed_params()))
            first = json.loads(await asyncio.wait_for(ws.recv(), self.stall_timeout))
            if first.get("status") != 200:
                err = first.get("error") or {}
                raise ValueError(f"subscribe refused: {err.get('code')} {err.get('msg')}")
            # subscribed: events from now on reach us; bring everything before up to date over REST
            await self.reconcile()
            self.reconciles += 1
            self.live = True
            self.last_error = None
            last_heard = time.monotonic()
            pinged = False
            while not self._closed:
                if time.monotonic() - opened > self.max_session:
                    return "connection limit ahead (24 h): planned reconnect"
                try:
                    raw = await asyncio.wait_for(ws.recv(), self.heartbeat)
                except TimeoutError:
                    if time.monotonic() - last_heard > self.stall_timeout:
                        self.last_error = "stalled: no message within the stall timeout"
                        return "stalled (no answer to ping)"
                    if not pinged:
                        await ws.send(self._request("ping"))
                        pinged = True
                    continue
                last_heard, pinged = time.monotonic(), False
                msg = json.loads(raw)
                ev = msg.get("event")
                if isinstance(ev, dict):
                    if ev.get("e") == "serverShutdown":
                        return "serverShutdown: planned reconnect"
                    self.on_event(ev)
            return "closed"

    def on_event(self, e: dict[str, Any]) -> None:
        self.last_event = time.time()
        kind = e.get("e")
        if kind == "executionReport":
            order = venue_order(report_to_order_json(e))
            if e.get("x") == "TRADE":
                self.poller.fill(OrderFilled(
                    symbol=order.symbol, client_order_id=order.client_order_id, trade_id=str(e["t"]),
                    side=Side(str(e["S"])), price=dec(e["L"]), quantity=dec(e["l"]), fee=dec(e.get("n") or "0"),
                    ts=int(e.get("T", 0)) / 1000,
                ), quote_fee(order.symbol, e.get("n") or "0", e.get("N")))
            self.poller.note(order)
        elif kind == "outboundAccountPosition":
            for b in e.get("B", []):
                self.balances[str(b["a"])] = (dec(b["f"]), dec(b["l"]))


class MarkStream(_StreamTask):
    """`<symbol>@bookTicker` market streams: the mid of each update becomes the mark. Reconnects with backoff."""

    task_name = "binance-mark-stream"

    def __init__(self, poller: Poller, base: str, symbols: Callable[[], list[str]]) -> None:
        self.poller, self.base, self.symbols = poller, base, symbols
        self.live = False
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def _run(self) -> None:
        backoff = BACKOFF_START
        while not self._closed:
            symbols = self.symbols()
            if not symbols:
                await asyncio.sleep(1.0)
                continue
            url = f"{self.base}?streams=" + "/".join(f"{s.lower()}@bookTicker" for s in symbols)
            try:
                async with websockets.connect(url, open_timeout=5, close_timeout=1) as ws:
                    self.live = True
                    backoff = BACKOFF_START
                    async for raw in ws:
                        data = json.loads(raw).get("data") or {}
                        bid, ask = dec(data.get("b", "0")), dec(data.get("a", "0"))
                        if bid > 0 and ask > 0:
                            self.poller.update_marks({str(data["s"]): (bid + ask) / 2}, time.time())
            except Exception as exc:  # noqa: BLE001 - marks fall back to REST polling
                log.debug("binance mark stream lost: %s", exc)
            self.live = False
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, BACKOFF_MAX)
