"""The port: IExecutionConnector, the only door to an exchange, with its requests, events and errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Protocol, runtime_checkable

from core.models import MarketRules, OrderStatus, OrderType, Side, TimeInForce


class ConnectorErrorKind(StrEnum):
    REJECTED = "rejected"  # the venue refused; the order does not exist. `reason` is the venue's words.
    UNKNOWN_OUTCOME = "unknown_outcome"  # timeout, connection lost, 5xx: the request may or may not have executed
    RATE_LIMITED = "rate_limited"  # not executed; retry after `retry_after` seconds
    UNAVAILABLE = "unavailable"  # not executed (connection refused before sending, venue down)
    NOT_FOUND = "not_found"  # the order does not exist (cancel/modify/lookup of an unknown order)


class ConnectorError(Exception):
    def __init__(
        self,
        kind: ConnectorErrorKind,
        reason: str,
        *,
        code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{kind}: {reason}" + (f" (code {code})" if code is not None else ""))
        self.kind = kind
        self.reason = reason
        self.code = code
        self.retry_after = retry_after


@dataclass(frozen=True)
class Capabilities:
    has_cancel_all: bool = True
    has_native_modify: bool = False


@dataclass(frozen=True)
class OrderRequest:
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    client_order_id: str
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False


@dataclass(frozen=True)
class VenueOrder:
    """An order as the venue sees it."""

    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    status: OrderStatus
    filled_quantity: Decimal = Decimal(0)
    avg_fill_price: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    exchange_order_id: str | None = None
    reason: str | None = None
    #: commission charged on the order so far, cumulative, in the quote asset (0 when the venue does not say:
    #: the ledger then records the fill without a fee)
    fee: Decimal = Decimal(0)


@dataclass(frozen=True)
class OrderUpdated:
    order: VenueOrder
    ts: float = 0.0


@dataclass(frozen=True)
class OrderFilled:
    symbol: str
    client_order_id: str
    trade_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal = Decimal(0)
    ts: float = 0.0


@dataclass(frozen=True)
class MarkPriceUpdated:
    symbol: str
    price: Decimal
    ts: float = 0.0


ConnectorEvent = OrderUpdated | OrderFilled | MarkPriceUpdated


@dataclass
class ConnectorHealth:
    ok: bool = True
    detail: str = "ok"
    last_data_ts: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class IExecutionConnector(Protocol):
    """Async port to a venue. Every method raises ConnectorError on failure (kinds above)."""

    name: str
    capabilities: Capabilities

    async def place_order(self, request: OrderRequest) -> VenueOrder: ...

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder: ...

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
        """Change quantity / price / stop price. On a venue without native modify this is cancel-replace:
        the returned order carries `new_client_order_id`."""
        ...

    async def cancel_all(self, symbol: str) -> list[VenueOrder]: ...

    async def get_order(self, symbol: str, client_order_id: str) -> VenueOrder | None:
        """Look an order up by client order id. None means proven absent."""
        ...

    async def open_orders(self, symbol: str | None = None) -> list[VenueOrder]: ...

    async def market_rules(self) -> dict[str, MarketRules]: ...

    async def mark_prices(self) -> dict[str, Decimal]: ...

    async def positions(self) -> dict[str, Decimal]:
        """Signed base-asset position per symbol held at the venue."""
        ...

    def events(self) -> AsyncIterator[ConnectorEvent]:
        """Async stream of order updates, fills and mark prices. Each call gives a new subscriber."""
        ...

    async def health(self) -> ConnectorHealth: ...

    async def close(self) -> None: ...
