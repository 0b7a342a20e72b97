"""BinanceConnector: the port (IExecutionConnector) over the Binance Spot REST v3 dialect.

Notes on the venue:
- Reduce-only does not exist on Binance Spot. It is never sent; a spot sell can only sell what the account holds,
  and the handler keeps closes within the confirmed position. `reduce_only` of a request is echoed on the returned
  VenueOrder for the caller's bookkeeping only.
- Modify is cancel-replace (POST /api/v3/order/cancelReplace, cancelReplaceMode=STOP_ON_FAILURE): the replacement
  is a new order with `new_client_order_id`; the order it replaces ends CANCELLED.
- A request whose outcome is unknown (timeout, connection lost, -1007, 5xx) is never sent again by the connector
  for a new order or a cancel-replace: UNKNOWN_OUTCOME is raised and the caller resolves it with get_order, because
  Binance accepts a reused client order id once the first order is no longer open. A cancel is idempotent, so an
  unknown cancel is resolved here: look the order up, cancel again only if it is still open.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import httpx

from connectors.binance.errors import CANCEL_REPLACE_FAILED, CANCEL_REPLACE_PARTIAL, is_unknown_order
from connectors.binance.mapping import SymbolInfo, dec, new_order_params, order_params, symbol_info, venue_order
from connectors.binance.marks import MarkSource
from connectors.binance.poller import OrderBook, Poller
from connectors.binance.rest import BinanceError, BinanceRest
from connectors.binance.ws import MarkStream, UserStream, ws_urls
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

W_ORDER_NEW, W_CANCEL, W_QUERY, W_OPEN_ONE, W_OPEN_ALL = 1, 1, 4, 6, 80
W_INFO, W_ACCOUNT = 20, 20


def venue_fields(d: dict[str, Any]) -> dict[str, Any]:
    """The MarketRules venue fields of one exchangeInfo symbol: `status`, the PERCENT_PRICE_BY_SIDE multipliers
    (or PERCENT_PRICE's, the same on both sides), MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS, base and quote asset.
    What is absent or out of form is left out (not checked)."""
    filters = {str(f.get("filterType")): f for f in d.get("filters", []) if isinstance(f, dict)}
    out: dict[str, Any] = {}
    if isinstance(d.get("status"), str):
        out["symbol_status"] = d["status"]
    for key, name in (("base_asset", "baseAsset"), ("quote_asset", "quoteAsset")):
        if d.get(name):
            out[key] = str(d[name])
    by_side = filters.get("PERCENT_PRICE_BY_SIDE")
    flat = filters.get("PERCENT_PRICE")
    if by_side is not None:
        band = {"bid_up": by_side.get("bidMultiplierUp"), "bid_down": by_side.get("bidMultiplierDown"),
                "ask_up": by_side.get("askMultiplierUp"), "ask_down": by_side.get("askMultiplierDown")}
    elif flat is not None:
        up, down = flat.get("multiplierUp"), flat.get("multiplierDown")
        band = {"bid_up": up, "bid_down": down, "ask_up": up, "ask_down": down}
    else:
        band = {}
    if band and all(v is not None and dec(v) > 0 for v in band.values()):
        out["percent_price_by_side"] = {k: dec(v) for k, v in band.items()}
    for key, fname, field in (("max_num_orders", "MAX_NUM_ORDERS", "maxNumOrders"),
                              ("max_num_algo_orders", "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders")):
        value = filters.get(fname, {}).get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
            out[key] = value
    return out


class BinanceConnector:
    name = "binance"
    capabilities = Capabilities(has_cancel_all=True, has_native_modify=False)

    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        max_in_flight: int = 8,
        recv_window: int = 5000,
        timeout: float = 5.0,
        poll_interval: float = 1.0,
        symbols: list[str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        user_stream: bool = True,
        ws_url: str | None = None,
        stream_url: str | None = None,
        stall_timeout: float = 10.0,
        http: str = "aiohttp",
    ) -> None:
        self.rest = BinanceRest(
            base_url,
            api_key,
            api_secret,
            max_in_flight=max_in_flight,
            recv_window=recv_window,
            timeout=timeout,
            transport=transport,
            http=http,
        )
        self._wanted = list(symbols) if symbols else None
        self.info: dict[str, SymbolInfo] = {}
        #: symbol -> the MarketRules venue fields read from exchangeInfo (status, filters, assets)
        self.venue_rules: dict[str, dict[str, Any]] = {}
        self.book = OrderBook()
        self._reduce_only: dict[str, bool] = {}
        #: client id -> server time after which a request sent for it with an unknown outcome can no longer execute
        self._unsure: dict[str, float] = {}
        self.marks = MarkSource(self.rest)
        self.poller = Poller(self.rest, self.book, self._poll_symbols, self.marks, interval=poll_interval, start_ms=0)
        api_ws, market_ws = ws_urls(base_url)
        self.user_stream: UserStream | None = None
        self.mark_stream: MarkStream | None = None
        if user_stream:
            self.user_stream = UserStream(self.rest, api_key, self.poller, ws_url or api_ws,
                                          reconcile=self.poller.cycle, stall_timeout=stall_timeout,
                                          heartbeat=min(3.0, stall_timeout / 3))
            self.mark_stream = MarkStream(self.poller, stream_url or market_ws, self._poll_symbols)
            us, ms_ = self.user_stream, self.mark_stream
            self.poller.stream_live = lambda: us.live
            self.poller.marks_live = lambda: ms_.live
        self._started = False

    def __repr__(self) -> str:
        return f"BinanceConnector(base_url={self.rest.base_url!r})"

    # -- life cycle -------------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Measure the server-time offset, load exchangeInfo (rate limits, filters) and the first prices."""
        await self.rest.sync_time()
        await self._load_info()
        self.poller.start_ms = int(self.rest.server_time() * 1000) - 1000
        await self.mark_prices()
        self._started = True

    async def close(self) -> None:
        for stream in (self.user_stream, self.mark_stream):
            if stream is not None:
                await stream.close()
        await self.poller.close()
        await self.rest.close()

    async def __aenter__(self) -> BinanceConnector:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _load_info(self) -> None:
        params = [("symbols", '["' + '","'.join(self._wanted) + '"]')] if self._wanted else []
        data = await self.rest.request("GET", "/api/v3/exchangeInfo", params, weight=W_INFO)
        self.rest.limiter.configure(data.get("rateLimits", []))
        self.info = {s["symbol"]: symbol_info(s) for s in data.get("symbols", [])}
        self.venue_rules = {s["symbol"]: venue_fields(s) for s in data.get("symbols", [])}

    def _poll_symbols(self) -> list[str]:
        if self._wanted:
            return list(self._wanted)
        return sorted(set(self.info) if len(self.info) <= 20 else set(self.book.symbol_of.values()))

    # -- orders ---------------------------------------------------------------------------------------------
    async def place_order(self, request: OrderRequest) -> VenueOrder:
        self._reduce_only[request.client_order_id] = request.reduce_only
        params = new_order_params(request)
        data = await self._creating(request.client_order_id, "/api/v3/order", params)
        return self._seen(data)

    async def _creating(self, client_order_id: str, path: str, params: list[tuple[str, str]]) -> Any:
        """Send a request that creates the order `client_order_id`; remember when its outcome is unknown."""
        try:
            data = await self._signed("POST", path, params, W_ORDER_NEW, orders=1)
        except ConnectorError as exc:
            if exc.kind is ConnectorErrorKind.UNKNOWN_OUTCOME:
                self._unsure[client_order_id] = self.rest.server_time() + self.rest.recv_window / 1000 + 0.25
            raise
        self._unsure.pop(client_order_id, None)
        return data

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        for _attempt in range(3):
            try:
                return self._seen(await self._signed("DELETE", "/api/v3/order", params, W_CANCEL))
            except ConnectorError as exc:
                if exc.kind is not ConnectorErrorKind.UNKNOWN_OUTCOME:
                    raise
                found = await self.get_order(symbol, client_order_id)
                if found is None:
                    raise ConnectorError(ConnectorErrorKind.NOT_FOUND, "Order does not exist.", code=-2013) from None
                if not found.status.is_open:
                    return found
                # still open: cancelling again is safe (a cancel never creates an order)
        raise ConnectorError(ConnectorErrorKind.UNKNOWN_OUTCOME, "cancel outcome unknown after 3 attempts")

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
        """Cancel-replace. The current order is read first (side, type, price, remaining quantity). Failures:
        NOT_FOUND (code -2022/-2011) when the order is not open any more (nothing changed); REJECTED with code
        -2021 when the original was cancelled but the replacement was refused (the order is gone)."""
        current = await self.get_order(symbol, client_order_id)
        if current is None or not current.status.is_open:
            state = "does not exist" if current is None else f"is {current.status.value}"
            raise ConnectorError(ConnectorErrorKind.NOT_FOUND, f"Order {state}; nothing to modify.", code=-2011)
        qty = quantity if quantity is not None else current.quantity - current.filled_quantity
        params = order_params(
            symbol,
            current.side,
            current.order_type,
            qty,
            price=price if price is not None else current.price,
            stop_price=stop_price if stop_price is not None else current.stop_price,
            time_in_force=current.time_in_force,
        )
        params += [
            ("cancelReplaceMode", "STOP_ON_FAILURE"),
            ("cancelOrigClientOrderId", client_order_id),
            ("newClientOrderId", new_client_order_id),
            ("newOrderRespType", "RESULT"),
        ]
        reduce_only = self._reduce_only.get(client_order_id, current.reduce_only)
        try:
            data = await self._creating(new_client_order_id, "/api/v3/order/cancelReplace", params)
        except BinanceError as exc:
            raise self._cancel_replace_error(exc) from None
        self._seen(data.get("cancelResponse") or {})
        self._reduce_only[new_client_order_id] = reduce_only
        return self._seen(data["newOrderResponse"])

    def _cancel_replace_error(self, exc: BinanceError) -> ConnectorError:
        data: dict[str, Any] = exc.data if isinstance(exc.data, dict) else {}
        cancel = data.get("cancelResponse") or {}
        new = data.get("newOrderResponse") or {}
        if exc.code == CANCEL_REPLACE_FAILED:
            c_code, c_msg = cancel.get("code"), str(cancel.get("msg", ""))
            kind = ConnectorErrorKind.NOT_FOUND if is_unknown_order(c_code, c_msg) else ConnectorErrorKind.REJECTED
            reason = f"cancel failed: {c_msg or exc.reason}; the order was not replaced"
            return ConnectorError(kind, reason, code=exc.code)
        if exc.code == CANCEL_REPLACE_PARTIAL:
            if "symbol" in cancel:
                self._seen(cancel)
            return ConnectorError(
                ConnectorErrorKind.REJECTED,
                f"the original order was cancelled but the replacement was rejected: {new.get('msg', exc.reason)}",
                code=exc.code,
            )
        return exc

    async def cancel_all(self, symbol: str) -> list[VenueOrder]:
        """DELETE /api/v3/openOrders: every open order of the symbol, ours or not. See cancel_all_if_owned."""
        try:
            rows = await self._signed("DELETE", "/api/v3/openOrders", [("symbol", symbol)], W_CANCEL)
        except ConnectorError as exc:
            if exc.kind is ConnectorErrorKind.NOT_FOUND:
                return []
            raise
        return [self._seen(r) for r in rows if "orderId" in r]  # order lists (OCO) come as reports; skipped

    async def cancel_all_if_owned(self, symbol: str, owned_client_ids: set[str]) -> list[VenueOrder] | None:
        """Cancel all open orders of `symbol` in one request only when every one of them is in `owned_client_ids`.

        Returns None (nothing cancelled) when a foreign order is open: the caller then cancels its own orders one
        by one. A foreign order placed between the listing and the cancel-all would be cancelled too: Binance has no
        conditional cancel-all, so the window is one round trip."""
        open_now = await self.open_orders(symbol)
        if any(o.client_order_id not in owned_client_ids for o in open_now):
            return None
        if not open_now:
            return []
        return await self.cancel_all(symbol)

    async def get_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """The order with this client id (the newest one if the id was reused), or None when proven absent.

        After a create request for this id ended with an unknown outcome, absence is only proof once that request
        can no longer execute: Binance refuses a request older than its `timestamp + recvWindow`, so the lookup
        waits until then before it answers None."""
        params = [("symbol", symbol), ("origClientOrderId", client_order_id)]
        while True:
            try:
                data = await self.rest.request("GET", "/api/v3/order", params, weight=W_QUERY, signed=True)
            except ConnectorError as exc:
                if exc.kind is not ConnectorErrorKind.NOT_FOUND:
                    raise
                wait = self._unsure.get(client_order_id, 0.0) - self.rest.server_time()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                self._unsure.pop(client_order_id, None)
                return None
            self._unsure.pop(client_order_id, None)
            return self._seen(data)

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]:
        params = [("symbol", symbol)] if symbol else []
        weight = W_OPEN_ONE if symbol else W_OPEN_ALL
        rows = await self.rest.request("GET", "/api/v3/openOrders", params, weight=weight, signed=True)
        return [self._seen(r) for r in rows]

    # -- market data and account ------------------------------------------------------------------------------
    async def market_rules(self, *, account: bool = False) -> dict[str, MarketRules]:
        """Per symbol with a mark: tick, step and min notional, plus what exchangeInfo says of the venue's own
        rules (symbol status, PERCENT_PRICE_BY_SIDE, MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS, base and quote asset).
        A symbol that is not TRADING is listed with its status (a flatten may still cancel there). With `account`
        (one signed GET /api/v3/account): the free and locked balances of each symbol's base and quote asset
        (an asset the account does not list holds 0) and `short_selling` (only a MARGIN account may sell short);
        they are current only at this moment."""
        if not self.info:
            await self._load_info()
        marks = await self.mark_prices()
        held: dict[str, tuple[Decimal, Decimal]] | None = None
        margin = False
        if account:
            data = await self.rest.request("GET", "/api/v3/account", [], weight=W_ACCOUNT, signed=True)
            held = {str(b["asset"]): (dec(b.get("free", "0")), dec(b.get("locked", "0")))
                    for b in data.get("balances", [])}
            margin = str(data.get("accountType", "SPOT")) == "MARGIN"
        out: dict[str, MarketRules] = {}
        for sym, info in self.info.items():
            rules = info.rules(marks.get(sym))
            if rules is None:
                continue
            extra = dict(self.venue_rules.get(sym, {}))
            if held is not None:
                free_b, locked_b = held.get(info.base_asset, (Decimal(0), Decimal(0)))
                free_q, locked_q = held.get(info.quote_asset, (Decimal(0), Decimal(0)))
                extra |= {"free_base": free_b, "locked_base": locked_b, "free_quote": free_q,
                          "locked_quote": locked_q, "short_selling": margin}
            try:
                out[sym] = MarketRules.model_validate(rules.model_dump() | extra) if extra else rules
            except ValueError:  # a venue value out of form: its rules are left unchecked, never guessed
                out[sym] = rules
        return out

    @property
    def mark_source(self) -> str | None:
        """Which endpoint the marks come from ('ticker/price', 'ticker/bookTicker mid', 'avgPrice', 'none'), once
        discovered (at start)."""
        return self.marks.kind

    async def mark_prices(self) -> dict[str, Decimal]:
        wanted = self._wanted or (sorted(self.info) if 0 < len(self.info) <= 100 else [])
        marks = await self.marks.fetch(wanted)
        if self.info:
            marks = {s: p for s, p in marks.items() if s in self.info}
        self.poller.marks.update(marks)
        return marks

    async def positions(self) -> dict[str, Decimal]:
        """Spot holdings as positions: per symbol, the free + locked balance of its base asset."""
        data = await self.rest.request(
            "GET", "/api/v3/account", [("omitZeroBalances", "true")], weight=W_ACCOUNT, signed=True
        )
        held = {str(b["asset"]): dec(b.get("free", "0")) + dec(b.get("locked", "0")) for b in data.get("balances", [])}
        out: dict[str, Decimal] = {}
        for sym, info in self.info.items():
            qty = held.get(info.base_asset, Decimal(0))
            if qty != 0:
                out[sym] = qty
        return out

    async def balances(self) -> dict[str, Decimal]:
        data = await self.rest.request("GET", "/api/v3/account", [], weight=W_ACCOUNT, signed=True)
        return {str(b["asset"]): dec(b.get("free", "0")) + dec(b.get("locked", "0")) for b in data.get("balances", [])}

    # -- events and health ----------------------------------------------------------------------------------
    def events(self) -> AsyncIterator[ConnectorEvent]:
        """Live events: the WebSocket user data stream and market streams when the venue has them (REST
        reconciliation on every (re)connect), polling while they are down."""
        it = self.poller.stream()
        for stream in (self.user_stream, self.mark_stream):
            if stream is not None:
                stream.start()
        return it

    def rate_limits(self) -> VenueLimits:
        """The account's limits for the handler's gate and the preview's duration: the shortest order window and
        the weight budget per minute, from exchangeInfo once started (Binance's defaults before). `windowed`: this
        connector counts the venue's fixed windows itself from the usage headers, so the gate does not space."""
        lim = self.rest.limiter
        orders = sorted((w for w in lim.windows if w.kind == "orders"), key=lambda w: w.seconds)
        weight = sorted((w for w in lim.windows if w.kind == "weight"), key=lambda w: w.seconds)
        o = orders[0] if orders else None
        r = weight[0] if weight else None
        return VenueLimits(
            orders=o.limit if o is not None and o.limit > 0 else None,
            orders_window=float(o.seconds) if o is not None else 10.0,
            requests=max(1, r.budget()) if r is not None and r.limit > 0 else None,
            requests_window=float(r.seconds) if r is not None else 60.0,
            round_trip=0.1,
            windowed=True,
        )

    async def health(self) -> ConnectorHealth:
        poll = self.poller
        extra = {k: v for k, v in self.rest.usage().items()}
        extra["time_offset_ms"] = f"{self.rest.time_offset * 1000:.0f}"
        extra["requests"] = str(self.rest.sent)
        extra["marks"] = self.marks.describe() + (
            "; live from bookTicker streams" if self.mark_stream is not None and self.mark_stream.live else "")
        us = self.user_stream
        extra["user_stream"] = ("off (polling)" if us is None else
                                f"live (connects {us.connects})" if us.live else
                                f"down, polling ({us.last_error or 'not started'})")
        if poll.last_error is not None:
            return ConnectorHealth(
                ok=False, detail=f"polling failed: {poll.last_error}", last_data_ts=poll.last_poll, extra=extra
            )
        if self.rest.last_error is not None and self.rest.last_ok is None:
            return ConnectorHealth(ok=False, detail=f"venue unreachable: {self.rest.last_error}", extra=extra)
        last = poll.last_poll or self.rest.last_ok
        return ConnectorHealth(
            ok=self._started, detail="ok" if self._started else "not started", last_data_ts=last, extra=extra
        )

    # -- helpers --------------------------------------------------------------------------------------------
    async def _signed(
        self, method: str, path: str, params: list[tuple[str, str]], weight: int, *, orders: int = 0
    ) -> Any:
        return await self.rest.request(method, path, params, weight=weight, orders=orders, signed=True, mutating=True)

    def _seen(self, data: dict[str, Any]) -> VenueOrder:
        coid = str(data.get("origClientOrderId") or data.get("clientOrderId", ""))
        order = venue_order(data, reduce_only=self._reduce_only.get(coid, False))
        self.poller.note(order)
        return order
