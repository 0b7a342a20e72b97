"""The simulator's WebSocket side, in the Binance Spot dialect:

- WS API at `/ws-api/v3`: requests `{"id", "method", "params"}`; methods `ping`, `time`,
  `userDataStream.subscribe.signature` (params apiKey, timestamp, [recvWindow], signature: HMAC hex or Ed25519
  base64 of the params sorted by name), `userDataStream.unsubscribe`. User data events come as
  `{"subscriptionId": N, "event": {"e": "executionReport" | "outboundAccountPosition", ...}}`;
  `{"event": {"e": "serverShutdown"}}` before the server closes the session.
- Market streams at `/stream?streams=btcusdt@bookTicker/...`: `{"stream": "btcusdt@bookTicker", "data": {...}}`
  whenever the mark moves.

Faults (SimState.control key `ws`): drop (close the next session abruptly, losing the events that follow until
the client reconnects), stall (stop sending and answering, connection left open), duplicate N (send the next N
events twice), reorder N (hold an event, send it after the next one), shutdown (serverShutdown to every session,
then close), max_session_s (close sessions older than this: the 24-hour limit, shortened)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect

from connectors.binance.sim_format import STATUS_NAMES, TYPE_NAMES, ms, s8
from connectors.binance.sim_state import SimState
from connectors.paper.orders import QUOTE_ASSET, base_asset
from core.connector import ConnectorEvent, MarkPriceUpdated, OrderFilled, OrderUpdated, VenueOrder
from core.models import OrderStatus


@dataclass
class WsFaults:
    drop: int = 0
    stall: bool = False
    duplicate: int = 0
    reorder: int = 0
    max_session_s: float | None = None


@dataclass
class Session:
    ws: WebSocket
    opened: float
    queue: asyncio.Queue[dict[str, Any] | None] = field(default_factory=asyncio.Queue)
    subscription: int | None = None
    streams: set[str] = field(default_factory=set)
    held: dict[str, Any] | None = None


class WsHub:
    """Every open session; turns engine events into Binance messages."""

    def __init__(self, st: SimState) -> None:
        self.st = st
        self.sessions: list[Session] = []
        self.faults = WsFaults()
        self.next_sub = 0
        self.sent_events = 0
        st.engine.subscribe(self.on_engine_event)

    # -- control ---------------------------------------------------------------------------------------------
    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        f = self.faults
        if "drop" in body:
            f.drop = int(body["drop"])
        if "stall" in body:
            f.stall = bool(body["stall"])
        if "duplicate" in body:
            f.duplicate = int(body["duplicate"])
        if "reorder" in body:
            f.reorder = int(body["reorder"])
        if "max_session_s" in body:
            f.max_session_s = None if body["max_session_s"] is None else float(body["max_session_s"])
        if body.get("shutdown"):
            for s in list(self.sessions):
                s.queue.put_nowait({"event": {"e": "serverShutdown", "E": ms(self.st.now())}})
                s.queue.put_nowait(None)
                s.subscription, s.streams = None, set()  # nothing more is sent on it
        if f.drop:
            for s in list(self.sessions)[: f.drop]:
                s.queue.put_nowait(None)
                s.subscription, s.streams = None, set()
            f.drop = 0
        return {"sessions": len(self.sessions), "subscribed": sum(s.subscription is not None for s in self.sessions),
                "faults": f.__dict__, "sent_events": self.sent_events}

    # -- engine events -----------------------------------------------------------------------------------------
    def on_engine_event(self, ev: ConnectorEvent) -> None:
        now = self.st.now()
        if isinstance(ev, MarkPriceUpdated):
            self._market(ev.symbol, ev.price)
            return
        if isinstance(ev, OrderFilled):
            order = self.st.engine.get(ev.symbol, ev.client_order_id)
            if order is None:
                return
            self._user(execution_report(order, now, trade=ev))
            self._user(account_position(self.st, ev.symbol, now))
        elif isinstance(ev, OrderUpdated):
            o = ev.order
            if o.status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
                return  # already told with the trade
            self._user(execution_report(o, now))
            if o.status in (OrderStatus.OPEN, OrderStatus.CANCELLED, OrderStatus.EXPIRED):
                self._user(account_position(self.st, o.symbol, now))

    def user_event(self, event: dict[str, Any]) -> None:
        self._user(event)

    def _user(self, event: dict[str, Any]) -> None:
        for s in self.sessions:
            if s.subscription is not None:
                self._send(s, {"subscriptionId": s.subscription, "event": event})

    def _market(self, symbol: str, price: Decimal) -> None:
        name = f"{symbol.lower()}@bookTicker"
        rules = self.st.engine.markets[symbol]
        data = {"u": ms(self.st.now()), "s": symbol, "b": s8(price - rules.tick_size), "B": "10.00000000",
                "a": s8(price + rules.tick_size), "A": "10.00000000"}
        for s in self.sessions:
            if name in s.streams:
                self._send(s, {"stream": name, "data": data})

    def _send(self, s: Session, msg: dict[str, Any]) -> None:
        f = self.faults
        if f.stall:
            return
        self.sent_events += 1
        if f.reorder and s.held is None:
            f.reorder -= 1
            s.held = msg
            return
        s.queue.put_nowait(msg)
        if f.duplicate:
            f.duplicate -= 1
            s.queue.put_nowait(msg)
        if s.held is not None:
            held, s.held = s.held, None
            s.queue.put_nowait(held)

    # -- sessions ------------------------------------------------------------------------------------------------
    async def serve_api(self, ws: WebSocket) -> None:
        await ws.accept()
        s = Session(ws=ws, opened=time.monotonic())
        self.sessions.append(s)
        writer = asyncio.create_task(self._writer(s))
        try:
            while True:
                text = await ws.receive_text()
                if self.faults.stall:
                    continue
                reply = self._request(s, text)
                if reply is not None:
                    s.queue.put_nowait(reply)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            await self._end(s, writer)

    async def serve_streams(self, ws: WebSocket) -> None:
        await ws.accept()
        s = Session(ws=ws, opened=time.monotonic())
        s.streams = {x for x in (ws.query_params.get("streams") or "").split("/") if x}
        self.sessions.append(s)
        writer = asyncio.create_task(self._writer(s))
        try:
            while True:
                await ws.receive_text()  # SUBSCRIBE requests are not simulated; the URL names the streams
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            await self._end(s, writer)

    async def _end(self, s: Session, writer: asyncio.Task[None]) -> None:
        with contextlib.suppress(ValueError):
            self.sessions.remove(s)
        writer.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await writer

    async def _writer(self, s: Session) -> None:
        limit = self.faults.max_session_s
        while True:
            timeout = None if limit is None else max(0.0, s.opened + limit - time.monotonic())
            try:
                msg = await asyncio.wait_for(s.queue.get(), timeout)
            except TimeoutError:
                msg = None  # the session's time is up
            if msg is None:
                with contextlib.suppress(Exception):
                    await s.ws.close(code=1001 if limit is not None else 1011)
                return
            await s.ws.send_text(json.dumps(msg, separators=(",", ":")))

    def _request(self, s: Session, text: str) -> dict[str, Any] | None:
        try:
            req = json.loads(text)
            rid, method, params = req.get("id"), str(req["method"]), dict(req.get("params") or {})
        except (ValueError, KeyError, TypeError, AttributeError):
            return {"id": None, "status": 400, "error": {"code": -1102, "msg": "Malformed request."}}
        if method == "ping":
            return {"id": rid, "status": 200, "result": {}}
        if method == "time":
            return {"id": rid, "status": 200, "result": {"serverTime": ms(self.st.now())}}
        if method == "userDataStream.subscribe.signature":
            err = self._verify(params)
            if err is not None:
                return {"id": rid, "status": 400 if err[0] != -2015 else 401, "error": {"code": err[0], "msg": err[1]}}
            s.subscription = self.next_sub
            self.next_sub += 1
            return {"id": rid, "status": 200, "result": {"subscriptionId": s.subscription}}
        if method == "userDataStream.unsubscribe":
            s.subscription = None
            return {"id": rid, "status": 200, "result": {}}
        return {"id": rid, "status": 400, "error": {"code": -1000, "msg": f"Unknown method '{method}' (simulator)."}}

    def _verify(self, params: dict[str, Any]) -> tuple[int, str] | None:
        sig = str(params.pop("signature", ""))
        verifier = self.st.keys.get(str(params.get("apiKey", "")))
        if verifier is None:
            return -2015, "Invalid API-key, IP, or permissions for action."
        try:
            ts = int(params["timestamp"])
        except (KeyError, ValueError):
            return -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
        now_ms = self.st.now() * 1000
        if ts > now_ms + 1000 or now_ms - ts > float(params.get("recvWindow") or 5000):
            return -1021, "Timestamp for this request is outside of the recvWindow."
        payload = "&".join(f"{k}={params[k]}" for k in sorted(params))
        if not sig or not verifier.matches(payload, sig):
            return -1022, "Signature for this request is not valid."
        return None


def execution_report(o: VenueOrder, now: float, *, trade: OrderFilled | None = None) -> dict[str, Any]:
    oid = int(o.exchange_order_id or 0)
    filled = o.filled_quantity
    status = o.status
    if trade is not None:
        status = OrderStatus.FILLED if filled >= o.quantity else OrderStatus.PARTIALLY_FILLED
    x = {OrderStatus.OPEN: "NEW", OrderStatus.CANCELLED: "CANCELED", OrderStatus.EXPIRED: "EXPIRED",
         OrderStatus.REJECTED: "REJECTED"}.get(status, "NEW")
    cancel = status is OrderStatus.CANCELLED
    quote = (o.avg_fill_price or Decimal(0)) * filled
    return {
        "e": "executionReport", "E": ms(now), "s": o.symbol,
        "c": f"sim-cancel-{oid}" if cancel else o.client_order_id,
        "S": o.side.value, "o": TYPE_NAMES[o.order_type],
        "f": o.time_in_force.value if o.time_in_force else "GTC",
        "q": s8(o.quantity), "p": s8(o.price), "P": s8(o.stop_price), "F": "0.00000000", "g": -1,
        "C": o.client_order_id if cancel else "",
        "x": "TRADE" if trade is not None else x, "X": STATUS_NAMES[status], "r": "NONE", "i": oid,
        "l": s8(trade.quantity if trade else Decimal(0)), "z": s8(filled),
        "L": s8(trade.price if trade else Decimal(0)),
        "n": s8(trade.fee if trade else Decimal(0)), "N": QUOTE_ASSET if trade else None,
        "T": ms(trade.ts if trade else now), "t": int(trade.trade_id) if trade else -1,
        "w": status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED), "m": False,
        "O": ms(now), "Z": s8(quote), "Y": s8(trade.price * trade.quantity if trade else Decimal(0)),
        "Q": "0.00000000", "V": "EXPIRE_MAKER",
    }


def account_position(st: SimState, symbol: str, now: float) -> dict[str, Any]:
    bal = st.engine.balances()
    assets = [base_asset(symbol), QUOTE_ASSET]
    return {"e": "outboundAccountPosition", "E": ms(now), "u": ms(now),
            "B": [{"a": a, "f": s8(bal.get(a, Decimal(0))), "l": "0.00000000"} for a in assets]}
