"""ExecutionBatch and its three commands: ExecuteTrade, ModifyOrder, CancelOrder."""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from core.decimals import Dec
from core.directives import Scope
from core.models import OrderRole, OrderType, Side, TimeInForce


class CommandAction(StrEnum):
    EXECUTE_TRADE = "EXECUTE_TRADE"
    MODIFY_ORDER = "MODIFY_ORDER"
    CANCEL_ORDER = "CANCEL_ORDER"


class _Cmd(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExecuteTrade(_Cmd):
    seq: int
    action: Literal[CommandAction.EXECUTE_TRADE] = CommandAction.EXECUTE_TRADE
    plan_id: str
    symbol: str
    side: Side
    order_type: OrderType
    quantity: Dec
    price: Dec | None = None
    stop_price: Dec | None = None
    time_in_force: TimeInForce | None = None
    reduce_only: bool = False
    role: OrderRole
    client_order_id: str


class ModifyOrder(_Cmd):
    seq: int
    action: Literal[CommandAction.MODIFY_ORDER] = CommandAction.MODIFY_ORDER
    plan_id: str
    symbol: str
    order_id: str
    quantity: Dec | None = None
    price: Dec | None = None
    stop_price: Dec | None = None


class CancelOrder(_Cmd):
    seq: int
    action: Literal[CommandAction.CANCEL_ORDER] = CommandAction.CANCEL_ORDER
    plan_id: str
    symbol: str
    order_id: str


Command = Annotated[ExecuteTrade | ModifyOrder | CancelOrder, Field(discriminator="action")]


class Loosening(NamedTuple):
    """A stop the directive moves away from the mark: the plan, its STOP_LOSS order, the current and the new stop
    price. Without `exit_directive.allow_loosen` each is also an error naming both prices."""

    plan_id: str
    order_id: str
    current: Decimal
    new: Decimal


class ExecutionBatch(BaseModel):
    """The exact batch a directive will send. `plan_versions` is not part of the JSON contract: it records the
    plan versions the batch was computed from so the handler can refuse a stale preview."""

    model_config = ConfigDict(extra="forbid")

    directive_id: str
    scope: Scope
    commands: list[Command] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    plan_versions: dict[str, int] = Field(default_factory=dict, exclude=True)
    #: the mark of each symbol the batch trades, as previewed (not part of the JSON contract): what the handler
    #: measures each fill's slippage against
    marks: dict[str, Decimal] = Field(default_factory=dict, exclude=True)
    #: every stop this directive loosens (allowed or not; not part of the JSON contract): what a console's second
    #: confirmation names before it previews again with allow_loosen
    loosened: list[Loosening] = Field(default_factory=list, exclude=True)

    @property
    def ok(self) -> bool:
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """The batch format of DESIGN.md section 5 (JSON-ready)."""
        return self.model_dump(mode="json")

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def canonical_json(self) -> str:
        """The batch contract as canonical JSON text (sorted keys, no spaces): what digest() hashes."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def digest(self) -> str:
        """A stable hash of the batch contract (what the journal records as the preview hash)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    def count(self, action: CommandAction) -> int:
        return sum(1 for c in self.commands if c.action == action)

    def notional(self, marks: dict[str, Decimal]) -> Decimal:
        """Sum of |quantity x price| over new orders, at the order's price or else the mark."""
        total = Decimal(0)
        for c in self.commands:
            if isinstance(c, ExecuteTrade):
                px = c.price if c.price is not None else marks.get(c.symbol, Decimal(0))
                total += abs(c.quantity * px)
        return total


def client_order_id(directive_id: str, *parts: str) -> str:
    """Deterministic client order id: 'pd-' + 29 base-36-safe hex chars of sha256(directive_id, parts).

    32 characters, within Binance's rule ([.A-Za-z0-9:/_-], at most 36)."""
    h = hashlib.sha256("\x1f".join((directive_id, *parts)).encode()).hexdigest()
    return "pd-" + h[:29]


def replacement_client_order_id(directive_id: str, order_id: str, attempt: int = 0) -> str:
    """Client order id of the replacement order a MODIFY_ORDER creates on a cancel-replace venue."""
    return client_order_id(directive_id, "replace", order_id, str(attempt))
