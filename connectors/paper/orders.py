"""Value types of the paper exchange: refusals, configuration, trades and the engine's own order record."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.connector import VenueOrder
from core.decimals import dec_str, plain
from core.models import OrderStatus, OrderType, Side, TimeInForce

QUOTE_ASSET = "USDT"


class PaperReject(Exception):
    """A venue-like refusal (Binance codes and words): the order does not exist."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"{reason} (code {code})")
        self.code = code
        self.reason = reason


class PaperNotFound(Exception):
    """The order is unknown or no longer open (Binance -2011 "Unknown order sent.")."""

    code = -2011

    def __init__(self, reason: str = "Unknown order sent.") -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class PaperConfig:
    seed: int = 7
    volatility: Decimal = Decimal("0.0005")  # per tick, relative (standard deviation of one step)
    slippage: Decimal = Decimal("0")  # relative, against the taker on MARKET and triggered STOP_MARKET
    fee_rate: Decimal = Decimal("0.001")
    quote_balance: Decimal = Decimal("10000000")
    #: Liquidity model: at most this much notional fills per order per matching pass (None = unlimited). With a cap,
    #: MARKET / IOC remainders expire, FOK that cannot fill whole expires, GTC limits fill over several passes.
    max_fill_notional: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "volatility": dec_str(self.volatility),
            "slippage": dec_str(self.slippage),
            "fee_rate": dec_str(self.fee_rate),
            "quote_balance": dec_str(self.quote_balance),
            "max_fill_notional": _opt_str(self.max_fill_notional),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PaperConfig:
        return cls(
            seed=int(data["seed"]),
            volatility=Decimal(data["volatility"]),
            slippage=Decimal(data["slippage"]),
            fee_rate=Decimal(data["fee_rate"]),
            quote_balance=Decimal(data["quote_balance"]),
            max_fill_notional=_opt_dec(data.get("max_fill_notional")),
        )


@dataclass(frozen=True)
class Trade:
    """One fill. `fee` is in the quote asset. `order_id` is the venue's order id; `maker` is True for a resting
    limit filled at its own price."""

    trade_id: str
    symbol: str
    client_order_id: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    ts: float
    order_id: str = ""
    maker: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "trade_id": self.trade_id,
            "symbol": self.symbol,
            "client_order_id": self.client_order_id,
            "side": self.side.value,
            "price": dec_str(self.price),
            "quantity": dec_str(self.quantity),
            "fee": dec_str(self.fee),
            "ts": self.ts,
            "order_id": self.order_id,
            "maker": self.maker,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Trade:
        return cls(
            trade_id=str(d["trade_id"]),
            symbol=d["symbol"],
            client_order_id=d["client_order_id"],
            side=Side(d["side"]),
            price=Decimal(d["price"]),
            quantity=Decimal(d["quantity"]),
            fee=Decimal(d["fee"]),
            ts=float(d["ts"]),
            order_id=str(d.get("order_id", "")),
            maker=bool(d.get("maker", False)),
        )


@dataclass
class PaperOrder:
    """The engine's mutable record of one accepted order. Read it (PaperEngine.order_record), never change it."""

    order_id: str
    symbol: str
    client_order_id: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: TimeInForce | None
    reduce_only: bool
    status: OrderStatus
    created_ts: float
    updated_ts: float
    filled_quantity: Decimal = Decimal(0)
    filled_quote: Decimal = Decimal(0)  # sum of price x quantity of its fills
    triggered: bool = False  # a stop whose trigger fired (STOP_LIMIT then works as a LIMIT)
    reason: str | None = None
    fee: Decimal = Decimal(0)  # commission of its fills so far, in the quote asset

    @property
    def remaining(self) -> Decimal:
        return self.quantity - self.filled_quantity

    @property
    def is_open(self) -> bool:
        return self.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)

    @property
    def avg_fill_price(self) -> Decimal | None:
        if self.filled_quantity == 0:
            return None
        return plain(self.filled_quote / self.filled_quantity)

    def view(self) -> VenueOrder:
        return VenueOrder(
            symbol=self.symbol,
            client_order_id=self.client_order_id,
            side=self.side,
            order_type=self.order_type,
            quantity=self.quantity,
            status=self.status,
            filled_quantity=self.filled_quantity,
            avg_fill_price=self.avg_fill_price,
            price=self.price,
            stop_price=self.stop_price,
            time_in_force=self.time_in_force,
            reduce_only=self.reduce_only,
            exchange_order_id=self.order_id,
            reason=self.reason,
            fee=self.fee,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "order_id": self.order_id,
            "symbol": self.symbol,
            "client_order_id": self.client_order_id,
            "side": self.side.value,
            "order_type": self.order_type.value,
            "quantity": dec_str(self.quantity),
            "price": _opt_str(self.price),
            "stop_price": _opt_str(self.stop_price),
            "time_in_force": self.time_in_force.value if self.time_in_force else None,
            "reduce_only": self.reduce_only,
            "status": self.status.value,
            "created_ts": self.created_ts,
            "updated_ts": self.updated_ts,
            "filled_quantity": dec_str(self.filled_quantity),
            "filled_quote": dec_str(self.filled_quote),
            "triggered": self.triggered,
            "reason": self.reason,
            "fee": dec_str(self.fee),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PaperOrder:
        tif = d.get("time_in_force")
        return cls(
            order_id=str(d["order_id"]),
            symbol=d["symbol"],
            client_order_id=d["client_order_id"],
            side=Side(d["side"]),
            order_type=OrderType(d["order_type"]),
            quantity=Decimal(d["quantity"]),
            price=_opt_dec(d.get("price")),
            stop_price=_opt_dec(d.get("stop_price")),
            time_in_force=TimeInForce(tif) if tif else None,
            reduce_only=bool(d.get("reduce_only", False)),
            status=OrderStatus(d["status"]),
            created_ts=float(d["created_ts"]),
            updated_ts=float(d["updated_ts"]),
            filled_quantity=Decimal(d.get("filled_quantity", "0")),
            filled_quote=Decimal(d.get("filled_quote", "0")),
            triggered=bool(d.get("triggered", False)),
            reason=d.get("reason"),
            fee=Decimal(d.get("fee", "0")),
        )


def base_asset(symbol: str) -> str:
    """BTCUSDT -> BTC (the symbol without the quote asset suffix)."""
    return symbol[: -len(QUOTE_ASSET)] if symbol.endswith(QUOTE_ASSET) else symbol


def _opt_str(d: Decimal | None) -> str | None:
    return None if d is None else dec_str(d)


def _opt_dec(s: Any) -> Decimal | None:
    return None if s is None else Decimal(str(s))
