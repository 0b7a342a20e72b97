"""Spot realism: a simulator mode layered around the paper engine (the engine itself is unchanged).

With `SpotConfig` on the SimState (create_app(spot=...), `exchange-sim --spot`):
- balances have `free` and `locked`: an open SELL (LIMIT, STOP_LOSS, STOP_LOSS_LIMIT) locks its remaining base
  quantity; an open BUY locks remaining quantity x (price, else stop price) of the quote asset;
- a new order needs the free balance: a SELL of more base than is free (say, placed while the resting stop that
  locks it is not cancelled yet) or a BUY beyond the free quote is refused with -2010 "Account has insufficient
  balance for requested action."; no short selling unless `margin` (then a SELL may take the base negative);
- filters, refused with -1013 "Filter failure: NAME": PERCENT_PRICE_BY_SIDE (LIMIT prices within the multipliers
  of the mark, used as the weighted average price), MAX_NUM_ORDERS (open orders per symbol), MAX_NUM_ALGO_ORDERS
  (open stop orders per symbol); they are advertised in exchangeInfo;
- `symbol_status`: a symbol in CANCEL_ONLY (or any status but TRADING) refuses new orders with -1013 "Market is
  closed." and says so in exchangeInfo; cancels work.
- self-trade prevention, EXPIRE_TAKER: a new LIMIT / MARKET order that would trade with one of the account's own
  resting LIMIT orders (two plans' orders crossing) is accepted and ends EXPIRED_IN_MATCH, nothing executed.
cancelReplace is checked as if the order it replaces were already gone (Binance releases its lock first)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.binance.sim_format import order_json, s8
from connectors.binance.sim_handlers import ApiError, Params, parse_new_order
from connectors.binance.sim_state import SimState
from connectors.binance.sim_ws import execution_report
from connectors.paper.orders import QUOTE_ASSET, base_asset
from core.connector import OrderRequest, VenueOrder
from core.models import OrderStatus, OrderType, Side

INSUFFICIENT = (-2010, "Account has insufficient balance for requested action.")
_ALGO = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


@dataclass
class SpotConfig:
    margin: bool = False
    bid_up: Decimal = Decimal("5")
    bid_down: Decimal = Decimal("0.2")
    ask_up: Decimal = Decimal("5")
    ask_down: Decimal = Decimal("0.2")
    max_num_orders: int = 200
    max_num_algo_orders: int = 5
    symbol_status: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpotConfig:
        known = set(cls.__dataclass_fields__)
        bad = set(d) - known
        if bad:
            raise ValueError(f"unknown spot keys: {', '.join(sorted(bad))}; known: {', '.join(sorted(known))}")
        kw: dict[str, Any] = {}
        for k, v in d.items():
            kw[k] = Decimal(str(v)) if k.endswith(("_up", "_down")) else v
        return cls(**kw)


def _locks(o: VenueOrder) -> tuple[str, Decimal]:
    remaining = o.quantity - o.filled_quantity
    if o.side is Side.SELL:
        return base_asset(o.symbol), remaining
    price = o.price if o.price is not None else (o.stop_price or Decimal(0))
    return QUOTE_ASSET, remaining * price


def balances(st: SimState, *, exclude: str | None = None) -> dict[str, tuple[Decimal, Decimal]]:
    """Asset -> (free, locked)."""
    total = st.engine.balances()
    locked: dict[str, Decimal] = {}
    for o in st.engine.open_orders():
        if o.client_order_id == exclude:
            continue
        asset, amount = _locks(o)
        locked[asset] = locked.get(asset, Decimal(0)) + amount
    return {a: (q - locked.get(a, Decimal(0)), locked.get(a, Decimal(0))) for a, q in total.items()}


def check(st: SimState, path: str, params: Params) -> bool:
    """Refuse a new order (POST order / cancelReplace) the way a spot venue would (raises ApiError). True when the
    order would trade with one of the account's own resting orders: self-trade prevention expires it."""
    spot = st.spot
    assert spot is not None
    req, _resp = parse_new_order(st, dict(params))
    exclude = params.get("cancelOrigClientOrderId") if path.endswith("cancelReplace") else None
    status = spot.symbol_status.get(req.symbol, "TRADING")
    if status != "TRADING":
        raise ApiError(-1013, "Market is closed.")
    _filters(st, spot, req, exclude)
    free = balances(st, exclude=exclude)
    if req.side is Side.SELL:
        have = free.get(base_asset(req.symbol), (Decimal(0), Decimal(0)))[0]
        if req.quantity > have and not spot.margin:
            raise ApiError(*INSUFFICIENT)
    else:
        price = req.price or req.stop_price or st.engine.markets[req.symbol].mark_price
        if req.quantity * price > free.get(QUOTE_ASSET, (Decimal(0), Decimal(0)))[0]:
            raise ApiError(*INSUFFICIENT)
    return exclude is None and self_trade(st, req)


def self_trade(st: SimState, req: OrderRequest) -> bool:
    """Would `req` take liquidity from one of the account's own resting LIMIT orders? The simulated book holds the
    mark's best bid / ask one tick away; an own resting order at (or better than) that level is ahead of it."""
    if req.order_type not in (OrderType.LIMIT, OrderType.MARKET):
        return False
    rules = st.engine.markets[req.symbol]
    for o in st.engine.open_orders(req.symbol):
        if o.side is req.side or o.order_type is not OrderType.LIMIT or o.price is None:
            continue
        if req.side is Side.BUY:
            best = rules.mark_price + rules.tick_size
            if o.price <= best and (req.price is None or req.price >= o.price):
                return True
        else:
            best = rules.mark_price - rules.tick_size
            if o.price >= best and (req.price is None or req.price <= o.price):
                return True
    return False


def expire_in_match(st: SimState, params: Params, now: float) -> dict[str, Any]:
    """The answer to an order that self-trade prevention (EXPIRE_TAKER) expired: accepted, nothing executed,
    status EXPIRED_IN_MATCH; it stays queryable and goes out on the user data stream."""
    req, _resp = parse_new_order(st, dict(params))
    st.spot_next_oid += 1
    v = VenueOrder(symbol=req.symbol, client_order_id=req.client_order_id, side=req.side, order_type=req.order_type,
                   quantity=req.quantity, status=OrderStatus.EXPIRED, price=req.price, stop_price=req.stop_price,
                   time_in_force=req.time_in_force, exchange_order_id=str(st.spot_next_oid))
    body = order_json(st.engine, v, now, resp="QUERY") | {"status": "EXPIRED_IN_MATCH",
                                                           "selfTradePreventionMode": "EXPIRE_TAKER"}
    st.spot_expired[(req.symbol, req.client_order_id)] = body
    st.engine.order_log.append((req.symbol, req.client_order_id))
    if st.ws_hub is not None:
        report = execution_report(v, now) | {"X": "EXPIRED_IN_MATCH", "x": "TRADE_PREVENTION", "V": "EXPIRE_TAKER"}
        st.ws_hub.user_event(report)
    return body

def _filters(st: SimState, spot: SpotConfig, req: OrderRequest, exclude: str | None) -> None:
    mark = st.engine.markets[req.symbol].mark_price
    if req.price is not None and req.order_type in (OrderType.LIMIT, OrderType.STOP_LIMIT):
        up, down = (spot.bid_up, spot.bid_down) if req.side is Side.BUY else (spot.ask_up, spot.ask_down)
        if not mark * down <= req.price <= mark * up:
            raise ApiError(-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
    open_now = [o for o in st.engine.open_orders(req.symbol) if o.client_order_id != exclude]
    if len(open_now) + 1 > spot.max_num_orders:
        raise ApiError(-1013, "Filter failure: MAX_NUM_ORDERS")
    if req.order_type in _ALGO and sum(o.order_type in _ALGO for o in open_now) + 1 > spot.max_num_algo_orders:
        raise ApiError(-1013, "Filter failure: MAX_NUM_ALGO_ORDERS")


def decorate_exchange_info(st: SimState, body: dict[str, Any]) -> dict[str, Any]:
    spot = st.spot
    assert spot is not None
    for s in body.get("symbols", []):
        s["status"] = spot.symbol_status.get(s["symbol"], "TRADING")
        s["filters"] = [*s.get("filters", []),
                        {"filterType": "PERCENT_PRICE_BY_SIDE", "bidMultiplierUp": s8(spot.bid_up),
                         "bidMultiplierDown": s8(spot.bid_down), "askMultiplierUp": s8(spot.ask_up),
                         "askMultiplierDown": s8(spot.ask_down), "avgPriceMins": 5},
                        {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": spot.max_num_orders},
                        {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": spot.max_num_algo_orders}]
        s["defaultSelfTradePreventionMode"] = "EXPIRE_TAKER"
        s["allowedSelfTradePreventionModes"] = ["EXPIRE_TAKER"]
        s["isMarginTradingAllowed"] = spot.margin
    return body


def decorate_account(st: SimState, body: dict[str, Any]) -> dict[str, Any]:
    bal = balances(st)
    rows = body.get("balances", [])
    for row in rows:
        free, locked = bal.get(row["asset"], (Decimal(0), Decimal(0)))
        row["free"], row["locked"] = s8(free), s8(locked)
    if st.spot is not None and st.spot.margin:
        body["accountType"] = "MARGIN"
    return body
