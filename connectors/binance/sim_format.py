"""JSON shapes of the Binance Spot REST v3 answers, built from the paper engine's records."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from connectors.paper.engine import PaperEngine
from connectors.paper.orders import QUOTE_ASSET, Trade, base_asset
from core.connector import VenueOrder
from core.models import MarketRules, OrderStatus, OrderType

EIGHT = Decimal("0.00000001")
TYPE_NAMES = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_LOSS",
    OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
}
STATUS_NAMES = {
    OrderStatus.PENDING: "NEW",
    OrderStatus.OPEN: "NEW",
    OrderStatus.PARTIALLY_FILLED: "PARTIALLY_FILLED",
    OrderStatus.FILLED: "FILLED",
    OrderStatus.CANCELLED: "CANCELED",
    OrderStatus.REJECTED: "REJECTED",
    OrderStatus.EXPIRED: "EXPIRED",
    OrderStatus.UNKNOWN: "NEW",
}


def s8(d: Decimal | None) -> str:
    """Binance's decimal strings: always eight places ("0.00100000")."""
    return format((d or Decimal(0)).quantize(EIGHT, rounding=ROUND_HALF_EVEN), "f")


def ms(ts: float) -> int:
    return int(ts * 1000)


def _times(engine: PaperEngine, o: VenueOrder, now: float) -> tuple[float, float]:
    rec = engine.order_record(o.symbol, o.client_order_id)
    if rec is not None and rec.order_id == o.exchange_order_id:
        return rec.created_ts, rec.updated_ts
    return now, now


def order_json(engine: PaperEngine, o: VenueOrder, now: float, *, resp: str = "QUERY") -> dict[str, Any]:
    """resp: ACK / RESULT / FULL (new order), CANCEL (cancel answer), QUERY (GET order, openOrders)."""
    created, updated = _times(engine, o, now)
    oid = int(o.exchange_order_id or 0)
    head: dict[str, Any] = {"symbol": o.symbol}
    if resp == "CANCEL":
        head |= {"origClientOrderId": o.client_order_id, "orderId": oid, "orderListId": -1}
    else:
        head |= {"orderId": oid, "orderListId": -1, "clientOrderId": o.client_order_id}
    if resp == "ACK":
        return head | {"transactTime": ms(created)}
    quote = (o.avg_fill_price or Decimal(0)) * o.filled_quantity
    body: dict[str, Any] = {
        "price": s8(o.price),
        "origQty": s8(o.quantity),
        "executedQty": s8(o.filled_quantity),
        "cummulativeQuoteQty": s8(quote),
        "status": STATUS_NAMES[o.status],
        "timeInForce": (o.time_in_force.value if o.time_in_force else "GTC"),
        "type": TYPE_NAMES[o.order_type],
        "side": o.side.value,
    }
    if o.stop_price is not None or resp == "QUERY":
        body["stopPrice"] = s8(o.stop_price)
    if resp == "CANCEL":
        return head | {"clientOrderId": _cancel_id(oid), "transactTime": ms(updated)} | body | _stp()
    if resp == "QUERY":
        return (
            head
            | body
            | {
                "icebergQty": s8(Decimal(0)),
                "time": ms(created),
                "updateTime": ms(updated),
                "isWorking": o.order_type not in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
                or o.status is not OrderStatus.OPEN,
                "workingTime": ms(created),
                "origQuoteOrderQty": s8(Decimal(0)),
            }
            | _stp()
        )
    out = head | {"transactTime": ms(now)} | body | {"workingTime": ms(created)} | _stp()
    out["origQuoteOrderQty"] = s8(Decimal(0))
    if resp == "FULL":
        out["fills"] = [
            {
                "price": s8(t.price),
                "qty": s8(t.quantity),
                "commission": s8(t.fee),
                "commissionAsset": QUOTE_ASSET,
                "tradeId": int(t.trade_id),
            }
            for t in engine.trades(o.symbol)
            if t.order_id == o.exchange_order_id
        ]
    return out


def _stp() -> dict[str, Any]:
    return {"selfTradePreventionMode": "NONE"}


def _cancel_id(oid: int) -> str:
    """The cancel's own client id (Binance generates a random one; the simulator a stable one)."""
    return f"sim-cancel-{oid}"


def trade_json(t: Trade) -> dict[str, Any]:
    return {
        "symbol": t.symbol,
        "id": int(t.trade_id),
        "orderId": int(t.order_id or 0),
        "orderListId": -1,
        "price": s8(t.price),
        "qty": s8(t.quantity),
        "quoteQty": s8(t.price * t.quantity),
        "commission": s8(t.fee),
        "commissionAsset": QUOTE_ASSET,
        "time": ms(t.ts),
        "isBuyer": t.side.value == "BUY",
        "isMaker": t.maker,
        "isBestMatch": True,
    }


def symbol_json(symbol: str, r: MarketRules) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "status": "TRADING",
        "baseAsset": base_asset(symbol),
        "baseAssetPrecision": 8,
        "quoteAsset": QUOTE_ASSET,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": ["LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT"],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": False,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": True,
        "amendAllowed": False,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": s8(r.tick_size),
                "maxPrice": s8(Decimal(10**9)),
                "tickSize": s8(r.tick_size),
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": s8(r.step_size),
                "maxQty": s8(Decimal(10**9)),
                "stepSize": s8(r.step_size),
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": s8(r.min_notional),
                "applyMinToMarket": True,
                "maxNotional": s8(Decimal(10**12)),
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE"],
    }


def account_json(engine: PaperEngine, now: float, *, omit_zero: bool) -> dict[str, Any]:
    balances = [
        {"asset": asset, "free": s8(qty), "locked": s8(Decimal(0))}
        for asset, qty in sorted(engine.balances().items())
        if not (omit_zero and qty == 0)
    ]
    rate = s8(engine.config.fee_rate)
    return {
        "makerCommission": int(engine.config.fee_rate * 10000),
        "takerCommission": int(engine.config.fee_rate * 10000),
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {"maker": rate, "taker": rate, "buyer": s8(Decimal(0)), "seller": s8(Decimal(0))},
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": ms(now),
        "accountType": "SPOT",
        "balances": balances,
        "permissions": ["SPOT"],
        "uid": 1,
    }
