"""Building blocks of the ExecutionWorker (core/worker.py): the per-plan command lists, the trusted CancelOrder
constructor, and the protective-order rules (stops, take profits, and their quantities following the position).

Pure, like the worker: no I/O, no clock, no randomness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

from core.batch import CancelOrder, CommandAction, ExecuteTrade, Loosening, ModifyOrder, client_order_id
from core.decimals import dec_str, is_multiple, plain, round_down_to, round_to_tick
from core.directives import ExitDirective
from core.models import MarketRules, Order, OrderRole, OrderStatus, OrderType, Side, TimeInForce, TradePlan
from core.slots import set_dict, set_extra, set_fields_set, set_private

_CANCEL_FIELDS_SET = {"seq", "plan_id", "symbol", "order_id"}
#: OrderStatus.is_open as a tuple: `status in _LIVE` compares in C (the frozenset behind is_open hashes each enum
#: member through Enum.__hash__, a Python call: 40,000 of them were most of a stop tighten over 2,000 plans)
_LIVE = tuple(s for s in OrderStatus if s.is_open)
PROTECTIVE = (OrderRole.STOP_LOSS, OrderRole.TAKE_PROFIT)  # OrderRole.is_protective, without the property call



def open_orders(plan: TradePlan) -> list[Order]:
    """plan.open_orders (the orders that may still be working), at a fraction of the cost."""
    live = _LIVE
    return [o for o in plan.orders if o.status in live]


def covered(plan: TradePlan, role: OrderRole = OrderRole.STOP_LOSS) -> Decimal:
    """The remaining quantity of the plan's open orders of `role`."""
    return sum((o.remaining for o in open_orders(plan) if o.role is role), Decimal(0))


def unprotected_reason(plan: TradePlan, step: Decimal | None = None) -> str | None:
    """Why a plan holding a position is not fully covered by its open stops (None when it is, or is flat).
    Quantities are compared to the step: a dust remainder finer than the step is not a hole."""
    pos = abs(plan.net_position)
    if pos == 0:
        return None
    want = round_down_to(pos, step) if step else pos
    if want == 0:
        return None
    have = covered(plan)
    if step:
        have = round_down_to(have, step)
    if have == want:
        return None
    if have == 0:
        return f"no stop for a position of {dec_str(plan.net_position)}"
    return f"stop covers {dec_str(have)} of a position of {dec_str(plan.net_position)}"


def trusted_cancel(seq: int, plan_id: str, symbol: str, order_id: str) -> CancelOrder:
    """CancelOrder(seq=..., plan_id=..., symbol=..., order_id=...) without re-validating what the worker took from
    validated models: the same fields, values and fields-set (the test suite compares the two), at a fifth of the
    cost. A flatten of 1,000 plans makes 20,000 of these; built the validated way, the per-instance allocations
    triggered full garbage collections over the loaded snapshot. The fields-set is shared: the commands are frozen,
    and pydantic copies it before changing it (model_copy)."""
    c = CancelOrder.__new__(CancelOrder)
    set_dict(c, {"seq": seq, "action": CommandAction.CANCEL_ORDER, "plan_id": plan_id, "symbol": symbol,
                  "order_id": order_id})
    set_fields_set(c, _CANCEL_FIELDS_SET)
    set_extra(c, None)
    set_private(c, None)
    return c


def trusted_cancels(seq: int, plan_id: str, symbol: str, order_ids: list[str]) -> list[CancelOrder]:
    """[trusted_cancel(seq + 1, ...), trusted_cancel(seq + 2, ...), ...] for the order ids, in one loop."""
    new, sd, sf, se, sp = CancelOrder.__new__, set_dict, set_fields_set, set_extra, set_private  # (locals: faster)
    fields, action = _CANCEL_FIELDS_SET, CommandAction.CANCEL_ORDER
    out: list[CancelOrder] = []
    for order_id in order_ids:
        seq += 1
        c = new(CancelOrder)
        sd(c, {"seq": seq, "action": action, "plan_id": plan_id, "symbol": symbol, "order_id": order_id})
        sf(c, fields)
        se(c, None)
        sp(c, None)
        out.append(c)
    return out


#: per command class: its fields in order with their defaults (None where required), the required ones but seq, all
_TEMPLATES: dict[type, tuple[dict[str, object], frozenset[str], frozenset[str]]] = {}


def trusted_command(spec: partial[ExecuteTrade] | partial[ModifyOrder], seq: int) -> ExecuteTrade | ModifyOrder:
    """spec(seq=seq) without re-validating what the worker computed from validated models (its decimals come out
    of the rounding helpers, its enums and ids from the inputs): the same field values in the same order, the
    same fields-set and defaults (tests/core/test_worker_trusted.py compares the two on every scenario)."""
    cls: type[ExecuteTrade] | type[ModifyOrder] = spec.func  # type: ignore[assignment]
    given = spec.keywords
    template = _TEMPLATES.get(cls)
    if template is None:
        fields = cls.model_fields
        template = _TEMPLATES[cls] = (
            {name: None if f.is_required() else f.default for name, f in fields.items()},
            frozenset(name for name, f in fields.items() if f.is_required() and name != "seq"),
            frozenset(fields),
        )
    defaults, required, known = template
    if not (required <= given.keys() <= known):  # pragma: no cover - a builder bug; validation would say so too
        raise TypeError(f"{cls.__name__}: missing {sorted(required - given.keys())}, "
                        f"unknown {sorted(given.keys() - known)}")
    data = defaults.copy()  # the fields in their order; update() keeps it
    data.update(given)
    data["seq"] = seq
    c = cls.__new__(cls)
    set_dict(c, data)
    set_fields_set(c, {"seq", *given})
    set_extra(c, None)
    set_private(c, None)
    return c


@dataclass
class PlanCommands:
    """Commands for one plan, in the order they are listed (cancels, trade, modifies, new protective orders).

    Cancels are kept as order ids, the others as partial constructors still missing their `seq`: each command is
    built once, with its final number, when the batch is assembled (copying 21,000 frozen models to renumber them
    was half the time of a large flatten)."""

    cancels: list[str] = field(default_factory=list)
    trades: list[partial[ExecuteTrade]] = field(default_factory=list)
    modifies: list[partial[ModifyOrder]] = field(default_factory=list)
    protective: list[partial[ExecuteTrade]] = field(default_factory=list)


class BuilderBase:
    """What the worker's builder shares with the protective-order rules: the directive id, errors and warnings."""

    did: str
    errors: list[str]
    warnings: list[str]
    loosened: list[Loosening]
    #: the stop a tolerance gives, by (symbol, long): one mark and one tick for every plan of that side
    tolerance_stops: dict[tuple[str, bool], Decimal]

    def err(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    def warn(self, where: str, msg: str) -> None:
        self.warnings.append(f"{where}: {msg}")

    def coid(self, *parts: str) -> str:
        return client_order_id(self.did, *parts)

    # ---- protective orders ---------------------------------------------------------------------------------
    def exits(
        self, plan: TradePlan, rules: MarketRules, ex: ExitDirective, resulting: Decimal, pc: PlanCommands
    ) -> None:
        pid = plan.plan_id
        if resulting == 0:
            self.warn(pid, "plan is flat: no stop or take profit to set")
            return
        mark = rules.mark_price
        long = plan.direction is Side.BUY
        stop: Decimal | None = None
        if ex.stop_loss_tolerance is not None:
            key = (plan.symbol, long)
            stop = self.tolerance_stops.get(key)
            if stop is None:
                t = ex.stop_loss_tolerance
                stop = self.tolerance_stops[key] = round_to_tick(mark * (1 - t) if long else mark * (1 + t),
                                                                 rules.tick_size, up=not long)
            field_name = "exit_directive.stop_loss_tolerance"
        elif ex.stop_loss_price is not None:
            stop = ex.stop_loss_price
            field_name = "exit_directive.stop_loss_price"
            if not is_multiple(stop, rules.tick_size):
                self.err(f"{pid}: {field_name}",
                         f"{dec_str(stop)} is not a multiple of the tick size {dec_str(rules.tick_size)}")
                return
        if stop is not None:
            if (long and stop >= mark) or (not long and stop <= mark):
                self.err(f"{pid}: {field_name}",
                         f"stop {dec_str(stop)} is on the wrong side of the mark {dec_str(mark)} for a "
                         f"{'long' if long else 'short'}: it would trigger at once")
                return
            live = open_orders(plan)
            looser = [o for o in live if o.role is OrderRole.STOP_LOSS and o.stop_price is not None
                      and (stop < o.stop_price if long else stop > o.stop_price)]
            for o in looser:
                assert o.stop_price is not None
                self.loosened.append(Loosening(pid, o.order_id, o.stop_price, stop))
            if looser and not ex.allow_loosen:
                o = looser[0]
                self.err(f"{pid}: {field_name}",
                         f"new stop {dec_str(stop)} is looser than the current {dec_str(o.stop_price or stop)} "
                         f"({o.order_id}); set exit_directive.allow_loosen to move it away")
                return
        else:
            live = None
        tp = ex.take_profit_price
        if tp is not None:
            if not is_multiple(tp, rules.tick_size):
                self.err(f"{pid}: exit_directive.take_profit_price",
                         f"{dec_str(tp)} is not a multiple of the tick size {dec_str(rules.tick_size)}")
                return
            if (long and tp <= mark) or (not long and tp >= mark):
                self.err(f"{pid}: exit_directive.take_profit_price",
                         f"take profit {dec_str(tp)} is on the wrong side of the mark {dec_str(mark)} for a "
                         f"{'long' if long else 'short'}: it would fill at once")
                return
        self.follow_protective(plan, rules, resulting, pc, stop=stop, take_profit=tp, live=live)

    def follow_protective(
        self,
        plan: TradePlan,
        rules: MarketRules,
        resulting: Decimal,
        pc: PlanCommands,
        *,
        stop: Decimal | None,
        take_profit: Decimal | None,
        live: list[Order] | None = None,
    ) -> None:
        """Protective orders follow the resulting position: quantity scaled, stop / take-profit moved. (`live`: the
        plan's open orders, when the caller has them already.)"""
        pid = plan.plan_id
        net = abs(plan.net_position)
        has_stop = has_tp = False
        for o in open_orders(plan) if live is None else live:
            if o.role is OrderRole.STOP_LOSS:
                has_stop = True
            elif o.role is OrderRole.TAKE_PROFIT:
                has_tp = True
            else:
                continue
            new_qty = self.scaled_quantity(o, net, resulting, rules)
            new_price, new_stop = self.moved_prices(o, stop, take_profit)
            if new_qty == 0 or new_qty * (new_stop or new_price or rules.mark_price) < rules.min_notional:
                self.warn(pid, f"{o.order_id}: {o.role} would shrink to {dec_str(new_qty)}, below the minimum "
                               "order; it is cancelled")
                pc.cancels.append(o.order_id)
                continue
            changes: dict[str, Decimal] = {}
            if new_qty != o.remaining:
                changes["quantity"] = new_qty
            if new_price is not None and new_price != o.price:
                changes["price"] = new_price
            if new_stop is not None and new_stop != o.stop_price:
                changes["stop_price"] = new_stop
            if changes:
                pc.modifies.append(
                    partial(ModifyOrder, plan_id=pid, symbol=plan.symbol, order_id=o.order_id, **changes)
                )
        if not (stop is not None and not has_stop or take_profit is not None and not has_tp):
            return  # (nothing new to place)
        qty = round_down_to(resulting, rules.step_size)
        side = plan.direction.opposite
        if stop is not None and not has_stop:
            if qty == 0 or qty * stop < rules.min_notional:
                self.err(f"{pid}: exit_directive", f"a stop for {dec_str(qty)} {plan.symbol} is below the minimum "
                         f"order (step {dec_str(rules.step_size)}, min_notional {dec_str(rules.min_notional)})")
                return
            pc.protective.append(
                partial(
                    ExecuteTrade, plan_id=pid, symbol=plan.symbol, side=side, order_type=OrderType.STOP_MARKET,
                    quantity=qty, stop_price=stop, reduce_only=True, role=OrderRole.STOP_LOSS,
                    client_order_id=self.coid(pid, "stop"),
                )
            )
        if take_profit is not None and not has_tp:
            if qty == 0 or qty * take_profit < rules.min_notional:
                self.err(f"{pid}: exit_directive", f"a take profit for {dec_str(qty)} {plan.symbol} is below the "
                         f"minimum order (step {dec_str(rules.step_size)}, min_notional {dec_str(rules.min_notional)})")
                return
            pc.protective.append(
                partial(
                    ExecuteTrade, plan_id=pid, symbol=plan.symbol, side=side, order_type=OrderType.LIMIT, quantity=qty,
                    price=take_profit, time_in_force=TimeInForce.GTC, reduce_only=True, role=OrderRole.TAKE_PROFIT,
                    client_order_id=self.coid(pid, "take_profit"),
                )
            )

    @staticmethod
    def scaled_quantity(o: Order, net: Decimal, resulting: Decimal, rules: MarketRules) -> Decimal:
        """old_qty x |resulting| / |net|, rounded down to the step, and never more than the resulting position
        (an order that was already larger than the position must not grow past it)."""
        if net == resulting:
            return o.remaining
        cap = round_down_to(resulting, rules.step_size)
        if net == 0:
            return cap
        return min(round_down_to(o.remaining * resulting / net, rules.step_size), cap)

    @staticmethod
    def moved_prices(
        o: Order, stop: Decimal | None, take_profit: Decimal | None
    ) -> tuple[Decimal | None, Decimal | None]:
        """(new price, new stop price) for a protective order; None where unchanged."""
        if o.role is OrderRole.STOP_LOSS and stop is not None:
            if o.type is OrderType.STOP_LIMIT and o.price is not None and o.stop_price is not None:
                return plain(stop + (o.price - o.stop_price)), stop  # keep the stop-limit offset
            return None, stop
        if o.role is OrderRole.TAKE_PROFIT and take_profit is not None:
            if o.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
                return None, take_profit
            return take_profit, None
        return None, None
