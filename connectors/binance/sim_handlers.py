"""The simulator's endpoints: parameter checks with Binance's codes and words, then the paper engine."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from connectors.binance.sim_format import account_json, ms, order_json, s8, symbol_json, trade_json
from connectors.binance.sim_state import SimState
from connectors.paper.filters import check_order
from connectors.paper.orders import PaperNotFound, PaperReject
from core.connector import OrderRequest, VenueOrder
from core.models import OrderStatus, OrderType, Side, TimeInForce

Params = dict[str, str]
_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
TYPES = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "STOP_LOSS": OrderType.STOP_MARKET,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
}
OTHER_TYPES = {"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
UNKNOWN_ORDER = (-2011, "Unknown order sent.")
NO_SUCH_ORDER = (-2013, "Order does not exist.")


class ApiError(Exception):
    def __init__(
        self, code: int, msg: str, *, status: int = 400, data: Any = None, retry_after: int | None = None
    ) -> None:
        super().__init__(msg)
        self.status, self.code, self.msg, self.data = status, code, msg, data
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "msg": self.msg}
        if self.data is not None:
            out["data"] = self.data
        return out


def missing(name: str) -> ApiError:
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def need(p: Params, name: str) -> str:
    v = p.get(name, "")
    if not v:
        raise missing(name)
    return v


def decimal_param(p: Params, name: str) -> Decimal | None:
    raw = p.get(name)
    if raw is None or raw == "":
        return None
    if not _DECIMAL_RE.match(raw):
        raise ApiError(
            -1100,
            f"Illegal characters found in parameter '{name}'; legal range is '^([0-9]{{1,20}})(\\.[0-9]{{1,20}})?$'.",
        )
    d = Decimal(raw)
    if d != d.quantize(Decimal("0.00000001"), rounding="ROUND_DOWN"):
        raise ApiError(-1111, "Precision is over the maximum defined for this asset.")
    return d


def int_param(p: Params, name: str) -> int | None:
    raw = p.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ApiError(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is '^[0-9]{{1,20}}$'."
        ) from None


def symbol_param(st: SimState, p: Params, *, required: bool = True) -> str | None:
    sym = p.get("symbol")
    if not sym:
        if required:
            raise missing("symbol")
        return None
    if sym not in st.engine.markets:
        raise ApiError(-1121, "Invalid symbol.")
    return sym


def parse_new_order(st: SimState, p: Params) -> tuple[OrderRequest, str]:
    """The new-order part of POST /api/v3/order and cancelReplace; returns the request and newOrderRespType."""
    symbol = symbol_param(st, p)
    assert symbol is not None
    side_raw = need(p, "side")
    if side_raw not in ("BUY", "SELL"):
        raise ApiError(-1117, "Invalid side.")
    type_raw = need(p, "type")
    if type_raw in OTHER_TYPES or any(p.get(k) for k in ("quoteOrderQty", "trailingDelta", "icebergQty")):
        raise ApiError(-1014, "Unsupported order combination.")  # valid on Binance; not simulated
    if type_raw not in TYPES:
        raise ApiError(-1116, "Invalid orderType.")
    order_type = TYPES[type_raw]
    quantity = decimal_param(p, "quantity")
    if quantity is None:
        raise missing("quantity")
    tif: TimeInForce | None = None
    tif_raw = p.get("timeInForce")
    if order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        if not tif_raw:
            raise missing("timeInForce")
        if tif_raw not in TimeInForce.__members__:
            raise ApiError(-1115, "Invalid timeInForce.")
        tif = TimeInForce(tif_raw)
    elif tif_raw:
        raise ApiError(-1106, "Parameter 'timeInForce' sent when not required.")
    resp = p.get("newOrderRespType") or ("FULL" if order_type in (OrderType.MARKET, OrderType.LIMIT) else "ACK")
    if resp not in ("ACK", "RESULT", "FULL"):
        raise ApiError(-1100, "Illegal characters found in parameter 'newOrderRespType'.")
    coid = p.get("newClientOrderId") or secrets.token_urlsafe(16)[:22].replace("-", "x").replace("_", "y")
    req = OrderRequest(
        symbol=symbol,
        side=Side(side_raw),
        order_type=order_type,
        quantity=quantity,
        client_order_id=coid,
        price=decimal_param(p, "price"),
        stop_price=decimal_param(p, "stopPrice"),
        time_in_force=tif,
    )
    return req, resp


def _find(st: SimState, symbol: str, p: Params, id_key: str, coid_key: str) -> VenueOrder | None:
    oid, coid = int_param(p, id_key), p.get(coid_key)
    if oid is None and not coid:
        raise ApiError(-1102, f"Param '{coid_key}' or '{id_key}' must be sent, but both were empty/null!")
    found = st.engine.get_by_order_id(symbol, str(oid)) if oid is not None else st.engine.get(symbol, coid or "")
    if found is not None and coid and found.client_order_id != coid:
        return None
    return found


def _engine_error(exc: PaperReject) -> ApiError:
    return ApiError(exc.code, exc.reason)


# --- endpoints ---------------------------------------------------------------------------------------------


def ping(st: SimState, p: Params, now: float) -> Any:
    return {}


def server_time(st: SimState, p: Params, now: float) -> Any:
    return {"serverTime": ms(now)}


def exchange_info(st: SimState, p: Params, now: float) -> Any:
    wanted = _symbols(st, p)
    return {
        "timezone": "UTC",
        "serverTime": ms(now),
        "rateLimits": st.limits.rate_limits(),
        "exchangeFilters": [],
        "symbols": [symbol_json(s, st.engine.markets[s]) for s in wanted],
    }


def ticker_price(st: SimState, p: Params, now: float) -> Any:
    if p.get("symbol"):
        sym = symbol_param(st, p)
        assert sym is not None
        return {"symbol": sym, "price": s8(st.engine.markets[sym].mark_price)}
    return [{"symbol": s, "price": s8(st.engine.markets[s].mark_price)} for s in _symbols(st, p)]


def _symbols(st: SimState, p: Params) -> list[str]:
    if p.get("symbol") and p.get("symbols"):
        raise ApiError(-1128, "Combination of optional parameters invalid.")
    if p.get("symbol"):
        return [str(symbol_param(st, p))]
    if p.get("symbols"):
        try:
            names = json.loads(p["symbols"])
        except json.JSONDecodeError:
            raise ApiError(-1100, "Illegal characters found in parameter 'symbols'.") from None
        if not isinstance(names, list) or any(n not in st.engine.markets for n in names):
            raise ApiError(-1121, "Invalid symbol.")
        return [str(n) for n in names]
    return sorted(st.engine.markets)


def account(st: SimState, p: Params, now: float) -> Any:
    return account_json(st.engine, now, omit_zero=p.get("omitZeroBalances") == "true")


def new_order(st: SimState, p: Params, now: float) -> Any:
    req, resp = parse_new_order(st, p)
    try:
        placed = st.engine.submit(req, now)
    except PaperReject as exc:
        raise _engine_error(exc) from None
    return order_json(st.engine, placed, now, resp=resp)


def cancel_order(st: SimState, p: Params, now: float) -> Any:
    symbol = str(symbol_param(st, p))
    found = _find(st, symbol, p, "orderId", "origClientOrderId")
    if found is None:
        raise ApiError(*UNKNOWN_ORDER)
    try:
        done = st.engine.cancel(symbol, found.client_order_id, now)
    except PaperNotFound:
        raise ApiError(*UNKNOWN_ORDER) from None
    if done.exchange_order_id != found.exchange_order_id:  # an older order of a reused client id
        raise ApiError(*UNKNOWN_ORDER)
    return order_json(st.engine, done, now, resp="CANCEL")


def query_order(st: SimState, p: Params, now: float) -> Any:
    symbol = str(symbol_param(st, p))
    found = _find(st, symbol, p, "orderId", "origClientOrderId")
    if found is None:
        expired = st.spot_expired.get((symbol, p.get("origClientOrderId") or ""))
        if expired is not None:  # spot mode: expired by self-trade prevention (sim_spot)
            return expired
        raise ApiError(*NO_SUCH_ORDER)
    return order_json(st.engine, found, now)


def open_orders(st: SimState, p: Params, now: float) -> Any:
    symbol = symbol_param(st, p, required=False)
    return [order_json(st.engine, o, now) for o in st.engine.open_orders(symbol)]


def cancel_open_orders(st: SimState, p: Params, now: float) -> Any:
    symbol = str(symbol_param(st, p))
    if not st.engine.open_orders(symbol):
        raise ApiError(*UNKNOWN_ORDER)
    return [order_json(st.engine, o, now, resp="CANCEL") for o in st.engine.cancel_all(symbol, now)]


def my_trades(st: SimState, p: Params, now: float) -> Any:
    symbol = str(symbol_param(st, p))
    limit = min(int_param(p, "limit") or 500, 1000)
    from_id, order_id = int_param(p, "fromId"), int_param(p, "orderId")
    start, end = int_param(p, "startTime"), int_param(p, "endTime")
    rows = st.engine.trades(symbol)
    if order_id is not None:
        rows = [t for t in rows if t.order_id == str(order_id)]
    if from_id is not None:
        rows = [t for t in rows if int(t.trade_id) >= from_id][:limit]
    elif start is not None or end is not None:
        rows = [t for t in rows if (start is None or ms(t.ts) >= start) and (end is None or ms(t.ts) <= end)][:limit]
    else:
        rows = rows[-limit:]
    return [trade_json(t) for t in rows]


def cancel_replace(st: SimState, p: Params, now: float) -> Any:
    mode = need(p, "cancelReplaceMode")
    if mode != "STOP_ON_FAILURE":
        raise ApiError(
            -1130, "Data sent for parameter 'cancelReplaceMode' is not valid."
        )  # ALLOW_FAILURE: not simulated
    req, resp = parse_new_order(st, p)
    old = _find(st, req.symbol, p, "cancelOrderId", "cancelOrigClientOrderId")
    if old is None or old.status not in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
        raise ApiError(
            -2022,
            "Order cancel-replace failed.",
            data={
                "cancelResult": "FAILURE",
                "newOrderResult": "NOT_ATTEMPTED",
                "cancelResponse": {"code": UNKNOWN_ORDER[0], "msg": UNKNOWN_ORDER[1]},
                "newOrderResponse": None,
            },
        )
    # Parameter and filter checks come before anything is cancelled; matching-engine refusals (-2010) after.
    eng = st.engine
    dup = req.client_order_id != old.client_order_id and any(
        o.client_order_id == req.client_order_id for o in eng.open_orders(req.symbol)
    )
    refusal = check_order(req, eng.markets.get(req.symbol), eng.positions().get(req.symbol, Decimal(0)), dup)
    if refusal is not None and refusal[0] != -2010:
        raise ApiError(*refusal)
    cancelled = eng.cancel(req.symbol, old.client_order_id, now)
    cancel_json = order_json(eng, cancelled, now, resp="CANCEL")
    try:
        placed = eng.submit(req, now)
    except PaperReject as exc:
        raise ApiError(
            -2021,
            "Order cancel-replace partially failed.",
            status=409,
            data={
                "cancelResult": "SUCCESS",
                "newOrderResult": "FAILURE",
                "cancelResponse": cancel_json,
                "newOrderResponse": {"code": exc.code, "msg": exc.reason},
            },
        ) from None
    return {
        "cancelResult": "SUCCESS",
        "newOrderResult": "SUCCESS",
        "cancelResponse": cancel_json,
        "newOrderResponse": order_json(eng, placed, now, resp=resp),
    }


# --- the endpoint table --------------------------------------------------------------------------------------

_ORDER_PARAMS = {
    "symbol", "side", "type", "timeInForce", "quantity", "quoteOrderQty", "price", "newClientOrderId", "strategyId",
    "strategyType", "stopPrice", "trailingDelta", "icebergQty", "newOrderRespType", "selfTradePreventionMode",
}  # fmt: skip


@dataclass(frozen=True)
class Endpoint:
    handler: Callable[[SimState, Params, float], Any]
    weight: Callable[[Params], int]
    params: frozenset[str]
    signed: bool = False
    orders: int = 0


def _w(n: int) -> Callable[[Params], int]:
    return lambda p: n


ENDPOINTS: dict[tuple[str, str], Endpoint] = {
    ("GET", "/api/v3/ping"): Endpoint(ping, _w(1), frozenset()),
    ("GET", "/api/v3/time"): Endpoint(server_time, _w(1), frozenset()),
    ("GET", "/api/v3/exchangeInfo"): Endpoint(
        exchange_info, _w(20), frozenset({"symbol", "symbols", "permissions", "showPermissionSets", "symbolStatus"})
    ),
    ("GET", "/api/v3/ticker/price"): Endpoint(
        ticker_price, lambda p: 2 if p.get("symbol") else 4, frozenset({"symbol", "symbols", "symbolStatus"})
    ),
    ("GET", "/api/v3/account"): Endpoint(account, _w(20), frozenset({"omitZeroBalances"}), signed=True),
    ("POST", "/api/v3/order"): Endpoint(new_order, _w(1), frozenset(_ORDER_PARAMS), signed=True, orders=1),
    ("DELETE", "/api/v3/order"): Endpoint(
        cancel_order,
        _w(1),
        frozenset({"symbol", "orderId", "origClientOrderId", "newClientOrderId", "cancelRestrictions"}),
        signed=True,
    ),
    ("GET", "/api/v3/order"): Endpoint(
        query_order, _w(4), frozenset({"symbol", "orderId", "origClientOrderId"}), signed=True
    ),
    ("POST", "/api/v3/order/cancelReplace"): Endpoint(
        cancel_replace,
        _w(1),
        frozenset(
            _ORDER_PARAMS
            | {
                "cancelReplaceMode",
                "cancelNewClientOrderId",
                "cancelOrigClientOrderId",
                "cancelOrderId",
                "cancelRestrictions",
                "orderRateLimitExceededMode",
            }
        ),
        signed=True,
        orders=1,
    ),
    ("GET", "/api/v3/openOrders"): Endpoint(
        open_orders, lambda p: 6 if p.get("symbol") else 80, frozenset({"symbol"}), signed=True
    ),
    ("DELETE", "/api/v3/openOrders"): Endpoint(cancel_open_orders, _w(1), frozenset({"symbol"}), signed=True),
    ("GET", "/api/v3/myTrades"): Endpoint(
        my_trades, _w(20), frozenset({"symbol", "orderId", "startTime", "endTime", "fromId", "limit"}), signed=True
    ),
}
