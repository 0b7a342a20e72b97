"""Translation between the port's types and Binance JSON: order types, statuses, parameters, filters."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from core.connector import OrderRequest, VenueOrder
from core.decimals import dec_str, plain
from core.models import MarketRules, OrderStatus, OrderType, Side, TimeInForce

TO_BINANCE_TYPE = {
    OrderType.MARKET: "MARKET",
    OrderType.LIMIT: "LIMIT",
    OrderType.STOP_MARKET: "STOP_LOSS",
    OrderType.STOP_LIMIT: "STOP_LOSS_LIMIT",
}
FROM_BINANCE_TYPE = {
    "MARKET": OrderType.MARKET,
    "LIMIT": OrderType.LIMIT,
    "LIMIT_MAKER": OrderType.LIMIT,
    "STOP_LOSS": OrderType.STOP_MARKET,
    "TAKE_PROFIT": OrderType.STOP_MARKET,
    "STOP_LOSS_LIMIT": OrderType.STOP_LIMIT,
    "TAKE_PROFIT_LIMIT": OrderType.STOP_LIMIT,
}
FROM_BINANCE_STATUS = {
    "NEW": OrderStatus.OPEN,
    "PENDING_NEW": OrderStatus.PENDING,
    "PARTIALLY_FILLED": OrderStatus.PARTIALLY_FILLED,
    "FILLED": OrderStatus.FILLED,
    "CANCELED": OrderStatus.CANCELLED,
    "PENDING_CANCEL": OrderStatus.OPEN,
    "REJECTED": OrderStatus.REJECTED,
    "EXPIRED": OrderStatus.EXPIRED,
    "EXPIRED_IN_MATCH": OrderStatus.EXPIRED,
}
_NEEDS_TIF = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_NEEDS_PRICE = (OrderType.LIMIT, OrderType.STOP_LIMIT)
_NEEDS_STOP = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)


def fmt(d: Decimal) -> str:
    return dec_str(plain(d))


def dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return Decimal(0)


def _positive(value: Any) -> Decimal | None:
    if value is None:
        return None
    d = dec(value)
    return plain(d) if d > 0 else None


def order_params(
    symbol: str,
    side: Side,
    order_type: OrderType,
    quantity: Decimal,
    *,
    price: Decimal | None,
    stop_price: Decimal | None,
    time_in_force: TimeInForce | None,
) -> list[tuple[str, str]]:
    """The new-order parameters shared by POST /api/v3/order and cancelReplace. Reduce-only does not exist on
    Binance Spot and is never sent; timeInForce is sent only where the type takes it (GTC when not given)."""
    params = [("symbol", symbol), ("side", side.value), ("type", TO_BINANCE_TYPE[order_type])]
    if order_type in _NEEDS_TIF:
        params.append(("timeInForce", (time_in_force or TimeInForce.GTC).value))
    params.append(("quantity", fmt(quantity)))
    if order_type in _NEEDS_PRICE and price is not None:
        params.append(("price", fmt(price)))
    if order_type in _NEEDS_STOP and stop_price is not None:
        params.append(("stopPrice", fmt(stop_price)))
    return params


def new_order_params(req: OrderRequest) -> list[tuple[str, str]]:
    params = order_params(
        req.symbol,
        req.side,
        req.order_type,
        req.quantity,
        price=req.price,
        stop_price=req.stop_price,
        time_in_force=req.time_in_force,
    )
    # FULL: the answer carries the order's fills with their commission (RESULT has no fills)
    return [*params, ("newClientOrderId", req.client_order_id), ("newOrderRespType", "FULL")]


def quote_fee(symbol: str, fee: Any, asset: Any) -> Decimal:
    """A commission in the symbol's quote asset (the asset the symbol ends with), else 0: a commission paid in the
    base asset or in BNB is not a quote amount and is left out (the ledger's P&L is in quote)."""
    a = str(asset or "")
    return dec(fee) if a and symbol != a and symbol.endswith(a) else Decimal(0)


def fills_fee(d: dict[str, Any]) -> Decimal:
    """The quote commission of the fills in a FULL new-order answer (0 without fills)."""
    symbol = str(d.get("symbol", ""))
    return plain(sum((quote_fee(symbol, f.get("commission"), f.get("commissionAsset"))
                      for f in d.get("fills") or [] if isinstance(f, dict)), Decimal(0)))


def venue_order(d: dict[str, Any], *, reduce_only: bool = False) -> VenueOrder:
    """An order from any Binance order answer (new order RESULT/FULL, query, cancel, open orders).

    Cancel answers carry the order's own id in `origClientOrderId` (their `clientOrderId` is the cancel's id)."""
    order_type = FROM_BINANCE_TYPE.get(str(d.get("type")), OrderType.LIMIT)
    executed = dec(d.get("executedQty", "0"))
    quote = dec(d.get("cummulativeQuoteQty", "0"))
    tif_raw = str(d.get("timeInForce", ""))
    tif = TimeInForce(tif_raw) if order_type in _NEEDS_TIF and tif_raw in TimeInForce.__members__ else None
    status = FROM_BINANCE_STATUS.get(str(d.get("status")), OrderStatus.UNKNOWN)
    return VenueOrder(
        symbol=str(d["symbol"]),
        client_order_id=str(d.get("origClientOrderId") or d["clientOrderId"]),
        side=Side(str(d.get("side", "BUY"))),
        order_type=order_type,
        quantity=plain(dec(d.get("origQty", "0"))),
        status=status,
        filled_quantity=plain(executed),
        avg_fill_price=plain(quote / executed) if executed > 0 and quote > 0 else None,
        price=_positive(d.get("price")) if order_type in _NEEDS_PRICE else None,
        stop_price=_positive(d.get("stopPrice")) if order_type in _NEEDS_STOP else None,
        time_in_force=tif,
        reduce_only=reduce_only,
        exchange_order_id=str(d["orderId"]) if "orderId" in d else None,
        fee=fills_fee(d),
    )


@dataclass(frozen=True)
class SymbolInfo:
    symbol: str
    base_asset: str
    quote_asset: str
    tick_size: Decimal
    step_size: Decimal
    min_notional: Decimal
    trading: bool

    def rules(self, mark: Decimal | None) -> MarketRules | None:
        if mark is None or mark <= 0:
            return None
        return MarketRules(
            mark_price=mark, tick_size=self.tick_size, step_size=self.step_size, min_notional=self.min_notional
        )


def symbol_info(d: dict[str, Any]) -> SymbolInfo:
    """PRICE_FILTER tickSize, LOT_SIZE stepSize and NOTIONAL (or the older MIN_NOTIONAL) minNotional."""
    filters = {str(f.get("filterType")): f for f in d.get("filters", [])}
    tick = _positive(filters.get("PRICE_FILTER", {}).get("tickSize")) or Decimal("0.00000001")
    step = _positive(filters.get("LOT_SIZE", {}).get("stepSize")) or Decimal("0.00000001")
    notional = filters.get("NOTIONAL") or filters.get("MIN_NOTIONAL") or {}
    return SymbolInfo(
        symbol=str(d["symbol"]),
        base_asset=str(d.get("baseAsset", "")),
        quote_asset=str(d.get("quoteAsset", "")),
        tick_size=tick,
        step_size=step,
        min_notional=plain(dec(notional.get("minNotional", "0"))),
        trading=d.get("status", "TRADING") == "TRADING",
    )
