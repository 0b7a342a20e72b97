"""StrategyDirective and its sub-directives: what the operator (or a strategy) wants, at plan level."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

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

from core.decimals import Dec
from core.models import OrderType, Side

RELATIVE_SIZE_HELP = (
    "sizes are absolute: use size_directive.target_position_size, the total position magnitude the plan should "
    "hold (e.g. 1.5 to go from 1.0 to 1.5; 0.75 to halve 1.5; 0 to close)"
)


class Scope(StrEnum):
    NEW_TRADE = "NEW_TRADE"
    MODIFY_EXISTING = "MODIFY_EXISTING"
    CLOSE_EXISTING = "CLOSE_EXISTING"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntryDirective(_Strict):
    symbol: str | None = Field(default=None, min_length=1)
    direction: Side | None = None
    order_type: OrderType = OrderType.MARKET
    limit_price: Dec | None = None

    @field_validator("limit_price")
    @classmethod
    def _positive(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @model_validator(mode="after")
    def _limit_needs_price(self) -> EntryDirective:
        if self.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            raise ValueError("order_type: entries are MARKET or LIMIT (stops belong in exit_directive)")
        if self.order_type is OrderType.LIMIT and self.limit_price is None:
            raise ValueError("limit_price: required when order_type is LIMIT")
        if self.order_type is OrderType.MARKET and self.limit_price is not None:
            raise ValueError("limit_price: only allowed when order_type is LIMIT")
        return self


class SizeDirective(_Strict):
    target_position_size: Dec
    aggressiveness: Dec | None = None

    @model_validator(mode="before")
    @classmethod
    def _refuse_relative(cls, data: Any) -> Any:
        if isinstance(data, dict) and "position_size" in data:
            raise ValueError(f"position_size is not accepted: {RELATIVE_SIZE_HELP}")
        return data

    @field_validator("target_position_size", mode="before")
    @classmethod
    def _no_sign(cls, v: Any) -> Any:
        text = v.strip() if isinstance(v, str) else ""
        if text.startswith("+"):
            raise ValueError(f"{text!r} has a sign; the target is the absolute size the plan ends with, not a "
                             "change ('+0.5' would mean a position of 0.5)")
        if text.startswith("-") and text.lstrip("-").strip("0.") != "":
            raise ValueError("must be >= 0; a negative size is not a way to reduce: " + RELATIVE_SIZE_HELP)
        return text[1:] if text.startswith("-") else v

    @field_validator("target_position_size")
    @classmethod
    def _non_negative(cls, v: Decimal) -> Decimal:
        if v < 0:
            raise ValueError(
                "must be >= 0; a negative size is not a way to reduce: " + RELATIVE_SIZE_HELP
            )
        return v

    @field_validator("aggressiveness")
    @classmethod
    def _unit(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not (0 <= v <= 1):
            raise ValueError("must be between 0 and 1")
        return v


class ExitDirective(_Strict):
    stop_loss_tolerance: Dec | None = None
    stop_loss_price: Dec | None = None
    take_profit_price: Dec | None = None
    allow_loosen: bool = False

    @field_validator("stop_loss_tolerance")
    @classmethod
    def _tolerance(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not (0 < v < 1):
            raise ValueError("must be a fraction between 0 and 1 (0.01 means 1 %)")
        return v

    @field_validator("stop_loss_price", "take_profit_price")
    @classmethod
    def _positive(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and v <= 0:
            raise ValueError("must be greater than 0")
        return v

    @model_validator(mode="after")
    def _one_stop(self) -> ExitDirective:
        if self.stop_loss_tolerance is not None and self.stop_loss_price is not None:
            raise ValueError("give stop_loss_tolerance or stop_loss_price, not both")
        if self.stop_loss_tolerance is None and self.stop_loss_price is None and self.take_profit_price is None:
            raise ValueError("needs stop_loss_tolerance, stop_loss_price or take_profit_price")
        return self


class ExecutionDirective(_Strict):
    execution_urgency: Dec | None = None
    max_total_slippage_pct: Dec | None = None

    @field_validator("execution_urgency")
    @classmethod
    def _urgency(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not (0 <= v <= 1):
            raise ValueError("must be between 0 and 1")
        return v

    @field_validator("max_total_slippage_pct")
    @classmethod
    def _slippage(cls, v: Decimal | None) -> Decimal | None:
        if v is not None and not (0 < v < 1):
            raise ValueError("must be a fraction between 0 and 1 (0.05 means 5 %)")
        return v


class CancelDirective(_Strict):
    """MODIFY_EXISTING only: cancel these open orders of the target plans (one CANCEL_ORDER each). Allowed in every
    desk state; cancelling a plan's stop says which plan becomes UNPROTECTED."""

    order_ids: list[str] = Field(min_length=1)

    @field_validator("order_ids")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        for oid in v:
            if not oid or not oid.strip():
                raise ValueError("order ids must be non-empty strings")
        dupes = sorted({i for i in v if v.count(i) > 1})
        if dupes:
            raise ValueError(f"order ids must be distinct; repeated: {', '.join(dupes)}")
        return v


class StrategyDirective(_Strict):
    directive_id: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    scope: Scope
    target_plan_ids: list[str] = Field(default_factory=list)
    entry_directive: EntryDirective | None = None
    size_directive: SizeDirective | None = None
    exit_directive: ExitDirective | None = None
    execution_directive: ExecutionDirective | None = None
    cancel_directive: CancelDirective | None = None

    @model_serializer(mode="wrap")
    def _omit_no_cancel(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        """`cancel_directive` is left out when absent: a directive without it dumps (and derives its id) exactly
        as before it existed."""
        data = handler(self)
        if isinstance(data, dict) and data.get("cancel_directive", 0) is None:
            del data["cancel_directive"]
        return data

    @field_validator("target_plan_ids")
    @classmethod
    def _ids(cls, v: list[str]) -> list[str]:
        for pid in v:
            if not pid or not pid.strip():
                raise ValueError("plan ids must be non-empty strings")
        return v
