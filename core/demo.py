"""A realistic desk to start from: plans opened through the real handler on whatever venue is given.

Six plans on three symbols, long and short, with stops, take profits and a ladder of working limit entries (more on
request: the six repeat). Used by `plandesk demo`, the console's tests, the handler's tests and the kill test."""

from __future__ import annotations

from decimal import Decimal

from core.batch import client_order_id
from core.connector import OrderRequest
from core.decimals import round_down_to, round_to_tick
from core.directives import EntryDirective, ExitDirective, Scope, SizeDirective, StrategyDirective
from core.handler import ExecutionHandler
from core.handler_orders import order_id_for
from core.models import Order, OrderRole, OrderStatus, OrderType, Side, TimeInForce
from core.outcomes import CommandOutcome
from core.worker import translate

# (plan id, symbol, direction, size, stop distance, take-profit distance, ladder of (distance, size))
DEMO_PLANS: list[tuple[str, str, Side, str, str | None, str | None, list[tuple[str, str]]]] = [
    ("TPL_1", "BTCUSDT", Side.BUY, "1.0", "0.02", "0.05", []),
    ("TPL_2", "ETHUSDT", Side.SELL, "20", "0.03", "0.06", [("0.01", "2"), ("0.02", "3")]),
    ("TPL_3", "SOLUSDT", Side.BUY, "400", "0.04", None, [("0.01", "50"), ("0.02", "50"), ("0.03", "50")]),
    ("TPL_4", "BTCUSDT", Side.BUY, "0.25", None, "0.08", [("0.015", "0.05")]),
    ("TPL_5", "ETHUSDT", Side.SELL, "8", "0.025", None, []),
    ("TPL_6", "SOLUSDT", Side.BUY, "120", "0.05", "0.10", []),
]


def demo_plans(plans: int | None = None) -> list[tuple[str, str, Side, str, str | None, str | None,
                                                       list[tuple[str, str]]]]:
    """The first `plans` demo plans (default: the six above); beyond six the templates repeat as TPL_7, TPL_8, ..."""
    count = len(DEMO_PLANS) if plans is None else plans
    return [(f"TPL_{i + 1}", *DEMO_PLANS[i % len(DEMO_PLANS)][1:]) for i in range(count)]


async def seed_demo_desk(handler: ExecutionHandler, *, plans: int | None = None) -> list[str]:
    """Open the demo plans through `handler` (its ledger must hold the venue's market rules). Returns plan ids.
    Plans already in the ledger are left as they are. `plans`: how many (default six; more repeat the six)."""
    ledger = handler.ledger
    made: list[str] = []
    for plan_id, symbol, direction, size, stop_d, tp_d, ladder in demo_plans(plans):
        if ledger.get_plan(plan_id) is not None:
            made.append(plan_id)
            continue
        ledger.create_plan(plan_id, symbol, direction)
        mark = ledger.markets()[symbol].mark_price
        tick = ledger.markets()[symbol].tick_size
        long = direction is Side.BUY
        exit_kw: dict[str, Decimal] = {}
        if stop_d is not None:
            exit_kw["stop_loss_tolerance"] = Decimal(stop_d)
        if tp_d is not None:
            tp = mark * (1 + Decimal(tp_d)) if long else mark * (1 - Decimal(tp_d))
            exit_kw["take_profit_price"] = round_to_tick(tp, tick, up=long)
        directive = StrategyDirective(
            directive_id=f"STR_DEMO_{plan_id}",
            scope=Scope.MODIFY_EXISTING,
            target_plan_ids=[plan_id],
            size_directive=SizeDirective(target_position_size=Decimal(size)),
            entry_directive=EntryDirective(order_type=OrderType.MARKET),
            exit_directive=ExitDirective(**exit_kw) if exit_kw else None,
        )
        batch = translate(directive, ledger.state([plan_id]))
        if not batch.ok:
            raise RuntimeError(f"demo plan {plan_id}: {batch.errors}")
        report = await handler.send(batch, directive)
        if not report.ok:
            raise RuntimeError(f"demo plan {plan_id}: {report.summary()}")
        for i, (dist, qty) in enumerate(ladder):
            await _ladder_order(handler, plan_id, symbol, direction, Decimal(dist), Decimal(qty), i)
        made.append(plan_id)
    return made


async def _ladder_order(handler: ExecutionHandler, plan_id: str, symbol: str, direction: Side, dist: Decimal,
                        qty: Decimal, i: int) -> None:
    rules = handler.ledger.markets()[symbol]
    long = direction is Side.BUY
    price = round_to_tick(rules.mark_price * (1 - dist if long else 1 + dist), rules.tick_size, up=not long)
    qty = round_down_to(qty, rules.step_size)
    coid = client_order_id(f"STR_DEMO_{plan_id}", "ladder", str(i))
    order = Order(order_id=order_id_for(coid), client_order_id=coid, role=OrderRole.ENTRY, side=direction,
                  type=OrderType.LIMIT, quantity=qty, price=price, time_in_force=TimeInForce.GTC,
                  status=OrderStatus.PENDING)
    req = OrderRequest(symbol=symbol, side=direction, order_type=OrderType.LIMIT, quantity=qty,
                       client_order_id=coid, price=price, time_in_force=TimeInForce.GTC)
    oc = CommandOutcome(seq=0, action="EXECUTE_TRADE", plan_id=plan_id, symbol=symbol, order_id=order.order_id)
    await handler.ops.place(plan_id, order, req, oc, lambda _o: None)
    if oc.status.is_bad:
        raise RuntimeError(f"demo plan {plan_id}: ladder order {coid}: {oc.status} {oc.detail}")
