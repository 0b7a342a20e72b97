"""Domain models: plans, execution groups, orders, fills, market rules, risk limits, desk state, ledger snapshot."""

from __future__ import annotations

import re
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from core.decimals import Dec, SignedDec


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1


class PlanStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CLOSED = "CLOSED"


class GroupStatus(StrEnum):
    PENDING = "PENDING"
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    PARTIAL = "PARTIAL"


class OrderRole(StrEnum):
    ENTRY = "ENTRY"
    EXIT = "EXIT"
    STOP_LOSS = "STOP_LOSS"
    TAKE_PROFIT = "TAKE_PROFIT"

    @property
    def is_protective(self) -> bool:
        return self in (OrderRole.STOP_LOSS, OrderRole.TAKE_PROFIT)


class OrderType(StrEnum):
    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP_MARKET = "STOP_MARKET"
    STOP_LIMIT = "STOP_LIMIT"


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    OPEN = "OPEN"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELLED = "CANCELLED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"
    UNKNOWN = "UNKNOWN"

    @property
    def is_open(self) -> bool:
        """May still be working at the venue (PENDING and UNKNOWN included: not proven gone)."""
        return self in _LIVE

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_LIVE = frozenset({OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.UNKNOWN})
_FINAL = frozenset({OrderStatus.FILLED, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED})

#: The one transition table for order status. Final states have no way out.
ORDER_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,
        }
    ),
    OrderStatus.UNKNOWN: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.OPEN: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,
        }
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELLED,
            OrderStatus.EXPIRED,
            OrderStatus.UNKNOWN,
        }
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELLED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class InvalidTransition(ValueError):
    def __init__(self, current: OrderStatus, new: OrderStatus) -> None:
        super().__init__(f"order status cannot go from {current} to {new}")
        self.current = current
        self.new = new


def can_transition(current: OrderStatus, new: OrderStatus) -> bool:
    return current == new or new in ORDER_TRANSITIONS[current]


def transition(current: OrderStatus, new: OrderStatus) -> OrderStatus:
    """Return the new status if the move is allowed, else raise InvalidTransition. Same-state is a no-op."""
    if not can_transition(current, new):
        raise InvalidTransition(current, new)
    return new


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False, validate_assignment=False, use_enum_values=False)


class PercentPriceBySide(_Strict):
    """Binance's PERCENT_PRICE_BY_SIDE: a BUY limit price must lie within [mark x bid_down, mark x bid_up], a SELL
    limit price within [mark x ask_down, mark x ask_up] (the venue uses its weighted average price; the preview
    uses the mark)."""

    bid_up: Dec
    bid_down: Dec
    ask_up: Dec
    ask_down: Dec

    @field_validator("bid_up", "bid_down", "ask_up", "ask_down")
    @classmethod
    def _positive(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v

    def bounds(self, side: Side, mark: Decimal) -> tuple[Decimal, Decimal]:
        """(lowest, highest) limit price the venue accepts for `side` at `mark`."""
        up, down = (self.bid_up, self.bid_down) if side is Side.BUY else (self.ask_up, self.ask_down)
        return mark * down, mark * up


#: The venue facts a MarketRules may carry beyond the four of the DESIGN section 5 contract, with their defaults
#: (None: the venue did not say, so nothing is checked). Left out of the JSON when None, so a snapshot without them
#: reads and writes byte for byte as before.
VENUE_FIELDS: dict[str, Any] = {
    "symbol_status": None,
    "percent_price_by_side": None,
    "max_num_orders": None,
    "max_num_algo_orders": None,
    "base_asset": None,
    "quote_asset": None,
    "free_base": None,
    "locked_base": None,
    "free_quote": None,
    "locked_quote": None,
    "short_selling": None,
}


class MarketRules(_Strict):
    """Per-symbol rules. The first four are the DESIGN section 5 contract; the rest are optional venue facts
    (Binance exchangeInfo filters, symbol status, account balances) that the preview checks only when present:
    - `symbol_status`: TRADING, CANCEL_ONLY, BREAK, HALT, ...; anything but TRADING allows cancels only;
    - `percent_price_by_side`: PERCENT_PRICE_BY_SIDE multipliers (LIMIT and STOP_LIMIT prices);
    - `max_num_orders` / `max_num_algo_orders`: MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS (open orders per symbol on
      the account; algo = STOP_MARKET and STOP_LIMIT);
    - `base_asset` / `quote_asset`: asset names (balances are per asset, shared by every symbol that trades it);
    - `free_base`, `locked_base`, `free_quote`, `locked_quote`: the account's balances as the venue reported them
      (they must be current: leave them out rather than keep them stale);
    - `short_selling`: False on a spot account without margin (a SELL may not take the base below zero)."""

    mark_price: Dec
    tick_size: Dec
    step_size: Dec
    min_notional: Dec = Decimal(0)
    symbol_status: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[A-Z_]+$")
    percent_price_by_side: PercentPriceBySide | None = None
    max_num_orders: int | None = Field(default=None, ge=1)
    max_num_algo_orders: int | None = Field(default=None, ge=1)
    base_asset: str | None = Field(default=None, min_length=1, max_length=32)
    quote_asset: str | None = Field(default=None, min_length=1, max_length=32)
    free_base: SignedDec | None = None
    locked_base: Dec | None = None
    free_quote: SignedDec | None = None
    locked_quote: Dec | None = None
    short_selling: bool | None = None

    @field_validator("mark_price", "tick_size", "step_size")
    @classmethod
    def _positive(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @field_validator("min_notional")
    @classmethod
    def _non_negative(cls, v: Decimal) -> Decimal:
        if v < 0:
            raise ValueError("must not be negative")
        return v

    @field_validator("locked_base", "locked_quote")
    @classmethod
    def _locked(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v < 0:
            raise ValueError("must not be negative")
        return v

    @model_serializer(mode="wrap")
    def _omit_unset_venue(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if isinstance(data, dict):
            for name in VENUE_FIELDS:
                if data.get(name, 0) is None:
                    del data[name]
        return data

    @property
    def trading(self) -> bool:
        """New orders may be sent (the status is TRADING or was not reported)."""
        return self.symbol_status in (None, "TRADING")

    def __eq__(self, other: object) -> bool:
        """Field by field, an absent venue field equal to its default (rules built from the ledger's four columns
        equal the same rules validated)."""
        if not isinstance(other, MarketRules):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model that is not frozen

    if not TYPE_CHECKING:
        # Rules built without validation from four stored columns (the ledger's fast path) lack the venue
        # fields in __dict__: they read as their defaults (None), never as an AttributeError.
        def __getattr__(self, name: str) -> Any:
            if name in VENUE_FIELDS:
                return VENUE_FIELDS[name]
            return super().__getattr__(name)


class RiskLimits(_Strict):
    max_position: dict[str, Dec] = Field(default_factory=dict)
    max_order_notional: Dec | None = None
    max_price_deviation: Dec | None = None

    @field_validator("max_order_notional", "max_price_deviation")
    @classmethod
    def _positive(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @field_validator("max_position")
    @classmethod
    def _positions(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        for symbol, limit in v.items():
            if limit < 0:
                raise ValueError(f"{symbol}: must not be negative")
        return v


class DeskStatus(StrEnum):
    """ACTIVE: everything may be sent. REDUCING: only what reduces exposure (scale-outs, closes, stop and take-profit
    changes, new protective orders; cancels always). HALTED: nothing new but cancels, closes (CLOSE_EXISTING or a
    target of 0), changes of existing protective orders and new stops; scale-ins, scale-outs and new take profits
    are refused (core.risk.desk_problem is the one rule)."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


class DeskState(_Strict):
    state: DeskStatus = DeskStatus.ACTIVE


class Order(_Strict):
    order_id: str = Field(min_length=1)
    role: OrderRole
    side: Side
    type: OrderType
    quantity: Dec
    price: Dec | None = None
    stop_price: Dec | None = None
    status: OrderStatus = OrderStatus.OPEN
    filled_quantity: Dec = Decimal(0)
    client_order_id: str | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    group_id: str | None = None
    reason: str | None = None

    @field_validator("quantity")
    @classmethod
    def _qty(cls, v: Decimal) -> Decimal:
        if v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @field_validator("price", "stop_price")
    @classmethod
    def _price(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @model_validator(mode="after")
    def _filled(self) -> Order:
        if self.filled_quantity < 0:
            raise ValueError("filled_quantity must not be negative")
        if self.filled_quantity > self.quantity:
            raise ValueError("filled_quantity must not exceed quantity")
        return self

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self.status.is_open


class Fill(_Strict):
    fill_id: str = Field(min_length=1)
    order_id: str
    side: Side
    price: Dec
    quantity: Dec
    fee: SignedDec = Decimal(0)
    time: str = ""


class ExecutionGroup(_Strict):
    group_id: str = Field(min_length=1)
    directive_id: str
    status: GroupStatus = GroupStatus.PENDING
    order_ids: list[str] = Field(default_factory=list)


class TradePlan(_Strict):
    plan_id: str = Field(min_length=1)
    symbol: str = Field(min_length=1)
    direction: Side
    status: PlanStatus = PlanStatus.ACTIVE
    net_position: SignedDec = Decimal(0)
    avg_entry_price: Dec = Decimal(0)
    realized_pnl: SignedDec = Decimal(0)
    version: int = Field(default=1, ge=0)
    orders: list[Order] = Field(default_factory=list)
    groups: list[ExecutionGroup] = Field(default_factory=list)
    fills: list[Fill] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_orders(self) -> TradePlan:
        ids = [o.order_id for o in self.orders]
        if len(ids) != len(set(ids)):
            raise ValueError("orders: order_id values must be unique within a plan")
        return self

    @property
    def open_orders(self) -> list[Order]:
        return [o for o in self.orders if o.is_open]


class LedgerState(_Strict):
    """The snapshot format of DESIGN.md section 5: what the worker reads and what import/export exchange."""

    markets: dict[str, MarketRules] = Field(default_factory=dict)
    plans: list[TradePlan] = Field(default_factory=list)
    desk: DeskState = Field(default_factory=DeskState)
    limits: RiskLimits = Field(default_factory=RiskLimits)

    @model_validator(mode="after")
    def _unique(self) -> LedgerState:
        seen: set[str] = set()
        for p in self.plans:
            if p.plan_id in seen:
                raise ValueError(f"plans: duplicate plan_id {p.plan_id}")
            seen.add(p.plan_id)
        return self

    def sign_errors(self) -> list[str]:
        """Plans whose net_position has the wrong sign for their direction (refused at import; the ledger itself
        records the truth even if a venue overshoots)."""
        return [
            f"plans[{p.plan_id}].net_position: {p.net_position} has the wrong sign for a {p.direction} plan "
            "(+ for BUY/long, - for SELL/short)"
            for p in self.plans
            if p.net_position * p.direction.sign < 0
        ]

    def import_errors(self, *, ids: bool = True) -> list[str]:
        """Everything a snapshot import refuses beyond the field types (one list for `ledger import` and
        `preview --state`): wrong signs, ids repeated across plans and, with `ids`, ids outside the safe form."""
        problems = self.sign_errors()
        orders = [(p, o) for p in self.plans for o in p.orders]
        for what, values in (
            ("order_id", [o.order_id for _p, o in orders]),
            ("client_order_id", [o.client_order_id for _p, o in orders if o.client_order_id is not None]),
            ("group_id", [g.group_id for p in self.plans for g in p.groups]),
            ("fill_id", [f.fill_id for p in self.plans for f in p.fills]),
        ):
            problems += [f"duplicate {what} {v!r} (must be unique across all plans)" for v in _duplicates(values)]
        if ids:
            for symbol in self.markets:
                problems += _id_problems(f"markets.{symbol!r}", symbol, "symbol")
            for i, p in enumerate(self.plans):
                where = f"plans[{i}]"
                problems += _id_problems(f"{where}.plan_id", p.plan_id, "plan_id")
                problems += _id_problems(f"{where}.symbol", p.symbol, "symbol")
                for j, o in enumerate(p.orders):
                    problems += _id_problems(f"{where}.orders[{j}].order_id", o.order_id, "order_id")
                    if o.client_order_id is not None:
                        problems += _id_problems(f"{where}.orders[{j}].client_order_id", o.client_order_id,
                                                 "client_order_id")
                    if o.group_id is not None:
                        problems += _id_problems(f"{where}.orders[{j}].group_id", o.group_id, "group_id")
                for j, g in enumerate(p.groups):
                    problems += _id_problems(f"{where}.groups[{j}].group_id", g.group_id, "group_id")
                    problems += _id_problems(f"{where}.groups[{j}].directive_id", g.directive_id, "directive_id")
                for j, f in enumerate(p.fills):
                    problems += _id_problems(f"{where}.fills[{j}].fill_id", f.fill_id, "fill_id")
        return problems

    def plan(self, plan_id: str) -> TradePlan | None:
        for p in self.plans:
            if p.plan_id == plan_id:
                return p
        return None


#: The safe form of an id that came from a file: these characters only, bounded length, and the DESIGN prefix.
SAFE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
#: Binance's rule for client order ids.
SAFE_CLIENT_ID = re.compile(r"[.A-Za-z0-9:/_-]{1,36}")
ID_PREFIX = {"plan_id": "TPL_", "order_id": "ORD_", "group_id": "EXG_", "directive_id": "STR_"}


def id_problem(value: str, kind: str) -> str | None:
    """Why `value` is not a safe id of `kind` (plan_id, order_id, group_id, directive_id, client_order_id,
    fill_id, symbol), or None."""
    shown = value if len(value) <= 40 else value[:40] + "..."
    rule = SAFE_CLIENT_ID if kind == "client_order_id" else SAFE_ID
    if rule.fullmatch(value) is None:
        chars = "[.A-Za-z0-9:/_-], 1 to 36" if kind == "client_order_id" else "[A-Za-z0-9_.:-], 1 to 64"
        return f"{shown!r} is not a safe id (allowed: {chars} characters)"
    prefix = ID_PREFIX.get(kind)
    if prefix is not None and not value.startswith(prefix):
        return f"{shown!r} must start with {prefix}"
    return None


def _id_problems(where: str, value: str, kind: str) -> list[str]:
    why = id_problem(value, kind)
    return [] if why is None else [f"{where}: {why}"]


def _duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    dups: list[str] = []
    for v in values:
        if v in seen and v not in dups:
            dups.append(v)
        seen.add(v)
    return dups
