"""Pre-trade checks of the paper exchange, with Binance's codes and words."""

from __future__ import annotations

import re
from decimal import Decimal

from core.connector import OrderRequest
from core.decimals import is_multiple
from core.models import MarketRules, OrderType, Side

CLIENT_ID_RE = re.compile(r"^[.A-Za-z0-9:/_-]{1,36}$")

BAD_SYMBOL = (-1121, "Invalid symbol.")
BAD_CLIENT_ID = (
    -1100,
    "Illegal characters found in parameter 'newClientOrderId'; legal range is '^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
)
PRICE_FILTER = (-1013, "Filter failure: PRICE_FILTER")
LOT_SIZE = (-1013, "Filter failure: LOT_SIZE")
NOTIONAL = (-1013, "Filter failure: NOTIONAL")
STOP_IMMEDIATE = (-2010, "Stop price would trigger immediately.")
DUPLICATE = (-2010, "Duplicate order sent.")
REDUCE_ONLY = (-2010, "ReduceOnly Order is rejected.")

STOP_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
LIMIT_TYPES = (OrderType.LIMIT, OrderType.STOP_LIMIT)


def _missing(name: str) -> tuple[int, str]:
    return -1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed."


def _not_required(name: str) -> tuple[int, str]:
    return -1106, f"Parameter '{name}' sent when not required."


def check_order(
    req: OrderRequest,
    rules: MarketRules | None,
    position: Decimal,
    duplicate: bool,
) -> tuple[int, str] | None:
    """Return (code, reason) of the first failed check, or None if the venue would accept the order.

    `position` is the signed base position of the symbol; `duplicate` whether the client id is already open."""
    if rules is None:
        return BAD_SYMBOL
    if not CLIENT_ID_RE.match(req.client_order_id):
        return BAD_CLIENT_ID
    if duplicate:
        return DUPLICATE
    if req.order_type in LIMIT_TYPES:
        if req.price is None:
            return _missing("price")
    elif req.price is not None:
        return _not_required("price")
    if req.order_type in STOP_TYPES:
        if req.stop_price is None:
            return _missing("stopPrice")
    elif req.stop_price is not None:
        return _not_required("stopPrice")
    for p in (req.price, req.stop_price):
        if p is not None and (p <= 0 or not is_multiple(p, rules.tick_size)):
            return PRICE_FILTER
    if req.quantity <= 0 or not is_multiple(req.quantity, rules.step_size):
        return LOT_SIZE
    ref = req.price if req.price is not None else req.stop_price if req.stop_price is not None else rules.mark_price
    if req.quantity * ref < rules.min_notional:
        return NOTIONAL
    if req.stop_price is not None and stop_triggered(req.side, req.stop_price, rules.mark_price):
        return STOP_IMMEDIATE
    if req.reduce_only and (position * req.side.sign >= 0 or req.quantity > abs(position)):
        return REDUCE_ONLY
    return None


def stop_triggered(side: Side, stop: Decimal, mark: Decimal) -> bool:
    """A SELL stop fires when the mark falls to it, a BUY stop when the mark rises to it."""
    return mark <= stop if side is Side.SELL else mark >= stop


def limit_crossed(side: Side, price: Decimal, mark: Decimal) -> bool:
    """A BUY limit is marketable / crossed when the mark is at or below it, a SELL limit when at or above."""
    return mark <= price if side is Side.BUY else mark >= price
