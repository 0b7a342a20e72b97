"""Pre-trade risk checks (pure). Each refusal names the plan, the field and the limit.

What is checked (DESIGN.md section 2, "Risk limits"):
- max absolute position per symbol, for orders that add exposure (reducing a position that is already over the
  limit is always allowed: a limit must never block a way out);
- max notional per order, for orders that add exposure (a close of a large position is never blocked);
- max distance of any limit or stop price from the mark (a typo guard, applied to every priced order);
- while the desk is HALTED nothing that adds exposure may be sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.batch import CancelOrder, ExecuteTrade, ModifyOrder
from core.decimals import dec_str
from core.models import DeskStatus, MarketRules, OrderRole, RiskLimits

BatchCommand = ExecuteTrade | ModifyOrder | CancelOrder


@dataclass(frozen=True)
class RiskContext:
    limits: RiskLimits
    desk: DeskStatus
    markets: Mapping[str, MarketRules]
    symbol_positions: Mapping[str, Decimal]  # current signed position per symbol, summed over all plans
    order_roles: Mapping[str, OrderRole]  # order_id -> role, for MODIFY_ORDER targets
    order_quantities: Mapping[str, Decimal]  # order_id -> current remaining quantity


def adds_exposure(cmd: ExecuteTrade) -> bool:
    return cmd.role is OrderRole.ENTRY and not cmd.reduce_only


def check(commands: Sequence[BatchCommand], ctx: RiskContext) -> list[str]:
    errors: list[str] = []
    limits = ctx.limits
    deltas: dict[str, Decimal] = {}
    adders: dict[str, list[str]] = {}  # symbol -> plans whose orders add exposure there
    for cmd in commands:
        if isinstance(cmd, CancelOrder):
            continue  # a cancel never adds exposure and carries no price
        rules = ctx.markets.get(cmd.symbol)
        mark = rules.mark_price if rules is not None else None
        if isinstance(cmd, ExecuteTrade):
            if adds_exposure(cmd):
                deltas[cmd.symbol] = deltas.get(cmd.symbol, Decimal(0)) + cmd.side.sign * cmd.quantity
                names = adders.setdefault(cmd.symbol, [])
                if cmd.plan_id not in names:
                    names.append(cmd.plan_id)
                if ctx.desk is DeskStatus.HALTED:
                    errors.append(
                        f"{cmd.plan_id}: desk.state: desk is HALTED: {cmd.side} {dec_str(cmd.quantity)} {cmd.symbol} "
                        "would add exposure (stops, scale-outs and closes are still allowed)"
                    )
                px = cmd.price if cmd.price is not None else mark
                if limits.max_order_notional is not None and px is not None:
                    notional = cmd.quantity * px
                    if notional > limits.max_order_notional:
                        errors.append(
                            f"{cmd.plan_id}: quantity: order notional {dec_str(notional)} exceeds "
                            f"limits.max_order_notional {dec_str(limits.max_order_notional)}"
                        )
            _check_deviation(errors, cmd.plan_id, "price", cmd.price, mark, limits)
            _check_deviation(errors, cmd.plan_id, "stop_price", cmd.stop_price, mark, limits)
        elif isinstance(cmd, ModifyOrder):
            role = ctx.order_roles.get(cmd.order_id)
            if role is OrderRole.ENTRY and ctx.desk is DeskStatus.HALTED:
                errors.append(
                    f"{cmd.plan_id}: desk.state: desk is HALTED: working entry {cmd.order_id} may not be changed"
                )
            _check_deviation(errors, cmd.plan_id, "price", cmd.price, mark, limits)
            _check_deviation(errors, cmd.plan_id, "stop_price", cmd.stop_price, mark, limits)
    for symbol, delta in deltas.items():
        limit = limits.max_position.get(symbol)
        if limit is None:
            continue
        current = ctx.symbol_positions.get(symbol, Decimal(0))
        after = current + delta
        if abs(after) > limit and abs(after) > abs(current):
            errors.append(
                f"{', '.join(adders[symbol])}: quantity: resulting {symbol} position {dec_str(after)} exceeds "
                f"limits.max_position[{symbol}] {dec_str(limit)}"
            )
    return errors


def _check_deviation(
    errors: list[str],
    plan_id: str,
    field: str,
    price: Decimal | None,
    mark: Decimal | None,
    limits: RiskLimits,
) -> None:
    if price is None or mark is None or limits.max_price_deviation is None:
        return
    deviation = abs(price - mark) / mark
    if deviation > limits.max_price_deviation:
        errors.append(
            f"{plan_id}: {field}: {dec_str(price)} is {dec_str(round(deviation * 100, 2))} % from the mark "
            f"{dec_str(mark)}, beyond limits.max_price_deviation {dec_str(limits.max_price_deviation)}"
        )
