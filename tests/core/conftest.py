"""Builders for the pure-core tests, and a tiny pure "venue" that applies a batch to a LedgerState.

`apply_batch` is what the idempotency and property tests use to ask "where does the position land?": new ENTRY/EXIT
orders fill completely at the mark (or, with fill=False, stay working as open orders), new STOP_LOSS/TAKE_PROFIT
orders rest as open orders, MODIFY_ORDER changes the fields it names, CANCEL_ORDER cancels.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch, ModifyOrder
from core.directives import StrategyDirective
from core.models import LedgerState, Order, OrderRole, OrderStatus, TradePlan
from core.worker import translate

D = Decimal
COID_RE = re.compile(r"^[.A-Za-z0-9:/_-]+$")

BTC = {"mark_price": "102000", "tick_size": "0.01", "step_size": "0.00001", "min_notional": "5"}
ETH = {"mark_price": "3500", "tick_size": "0.01", "step_size": "0.0001", "min_notional": "5"}
SOL = {"mark_price": "150", "tick_size": "0.01", "step_size": "0.001", "min_notional": "5"}
MARKETS = {"BTCUSDT": BTC, "ETHUSDT": ETH, "SOLUSDT": SOL}


def order(
    order_id: str,
    role: str,
    side: str,
    qty: str,
    *,
    type: str | None = None,
    price: str | None = None,
    stop: str | None = None,
    status: str = "OPEN",
    filled: str = "0",
) -> dict[str, Any]:
    if type is None:
        type = {"STOP_LOSS": "STOP_MARKET", "TAKE_PROFIT": "LIMIT", "EXIT": "LIMIT"}.get(role, "LIMIT")
    o: dict[str, Any] = {"order_id": order_id, "role": role, "side": side, "type": type, "quantity": qty,
                         "status": status, "filled_quantity": filled}
    if price is not None:
        o["price"] = price
    if stop is not None:
        o["stop_price"] = stop
    if role in ("STOP_LOSS", "TAKE_PROFIT"):
        o["reduce_only"] = True
    return o


def plan(
    plan_id: str,
    net: str,
    *,
    symbol: str = "BTCUSDT",
    direction: str | None = None,
    orders: list[dict[str, Any]] | None = None,
    status: str = "ACTIVE",
) -> dict[str, Any]:
    if direction is None:
        direction = "SELL" if net.startswith("-") else "BUY"
    return {"plan_id": plan_id, "symbol": symbol, "direction": direction, "status": status, "net_position": net,
            "avg_entry_price": "95000", "orders": orders or []}


def state(
    *plans: dict[str, Any],
    markets: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    desk: str = "ACTIVE",
) -> LedgerState:
    data: dict[str, Any] = {"markets": markets or MARKETS, "plans": list(plans), "desk": {"state": desk}}
    if limits is not None:
        data["limits"] = limits
    return LedgerState.model_validate(data)


def directive(scope: str, *plan_ids: str, directive_id: str | None = "STR_T", **parts: Any) -> StrategyDirective:
    data: dict[str, Any] = {"scope": scope, **parts}
    if plan_ids:
        data["target_plan_ids"] = list(plan_ids)
    if directive_id is not None:
        data["directive_id"] = directive_id
    return StrategyDirective.model_validate(data)


def run(d: StrategyDirective, s: LedgerState) -> ExecutionBatch:
    """translate(), plus the checks every batch must pass whatever the inputs."""
    batch = translate(d, s)
    if batch.errors:
        assert batch.commands == [], "a batch with errors must carry no commands"
    assert [c.seq for c in batch.commands] == list(range(1, len(batch.commands) + 1))
    for c in batch.commands:
        if isinstance(c, ExecuteTrade):
            assert len(c.client_order_id) <= 36 and COID_RE.match(c.client_order_id), c.client_order_id
            assert c.quantity > 0
    coids = [c.client_order_id for c in batch.commands if isinstance(c, ExecuteTrade)]
    assert len(coids) == len(set(coids)), "client order ids must be unique within a batch"
    return batch


def trades(batch: ExecutionBatch) -> list[ExecuteTrade]:
    return [c for c in batch.commands if isinstance(c, ExecuteTrade)]


def modifies(batch: ExecutionBatch) -> list[ModifyOrder]:
    return [c for c in batch.commands if isinstance(c, ModifyOrder)]


def cancels(batch: ExecutionBatch) -> list[CancelOrder]:
    return [c for c in batch.commands if isinstance(c, CancelOrder)]


def apply_batch(s: LedgerState, batch: ExecutionBatch, *, fill: bool = True) -> LedgerState:
    """A pure venue: returns the ledger state after the batch ran. New ENTRY/EXIT orders fill at the mark (or stay
    working when fill=False); new protective orders rest; modifies change the named fields; cancels cancel."""
    assert batch.ok, batch.errors
    new = s.model_copy(deep=True)
    plans = {p.plan_id: p for p in new.plans}
    for c in batch.commands:
        if isinstance(c, ExecuteTrade):
            p = plans.get(c.plan_id)
            if p is None:  # NEW_TRADE opens the plan
                p = TradePlan(plan_id=c.plan_id, symbol=c.symbol, direction=c.side)
                new.plans.append(p)
                plans[c.plan_id] = p
            working = c.role.is_protective or not fill
            p.orders.append(
                Order(order_id=c.client_order_id, client_order_id=c.client_order_id, role=c.role, side=c.side,
                      type=c.order_type, quantity=c.quantity, price=c.price, stop_price=c.stop_price,
                      reduce_only=c.reduce_only, time_in_force=c.time_in_force,
                      status=OrderStatus.OPEN if working else OrderStatus.FILLED,
                      filled_quantity=D(0) if working else c.quantity)
            )
            if not working:
                p.net_position += c.side.sign * c.quantity
        elif isinstance(c, ModifyOrder):
            o = _find(plans[c.plan_id], c.order_id)
            assert o.is_open, f"modify of {c.order_id} which is not open"
            if c.quantity is not None:
                o.quantity = o.filled_quantity + c.quantity
            if c.price is not None:
                o.price = c.price
            if c.stop_price is not None:
                o.stop_price = c.stop_price
        else:
            o = _find(plans[c.plan_id], c.order_id)
            assert o.is_open, f"cancel of {c.order_id} which is not open"
            o.status = OrderStatus.CANCELLED
    return LedgerState.model_validate(new.model_dump())


def _find(p: TradePlan, order_id: str) -> Order:
    for o in p.orders:
        if o.order_id == order_id:
            return o
    raise AssertionError(f"{p.plan_id} has no order {order_id}")


def open_orders(s: LedgerState, plan_id: str, role: OrderRole | None = None) -> list[Order]:
    p = s.plan(plan_id)
    assert p is not None
    return [o for o in p.open_orders if role is None or o.role is role]
