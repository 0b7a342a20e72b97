"""ExecutionWorker: a pure function from (directive, ledger state) to an ExecutionBatch.

No I/O, no clock, no randomness: the same inputs give the same batch, byte for byte, client order ids included.
The rules are DESIGN.md section 2; where the design is silent the choice is written next to the code.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch, ModifyOrder, client_order_id
from core.decimals import dec_str, is_multiple, plain, round_down_to, round_to_tick
from core.directives import RELATIVE_SIZE_HELP, ExitDirective, Scope, StrategyDirective
from core.models import (
    LedgerState,
    MarketRules,
    Order,
    OrderRole,
    OrderType,
    PlanStatus,
    Side,
    TimeInForce,
    TradePlan,
)
from core.risk import BatchCommand, RiskContext, check

ZERO = Decimal(0)


def directive_id_of(directive: StrategyDirective) -> str:
    """The directive's id, or a deterministic one derived from its content when absent."""
    if directive.directive_id:
        return directive.directive_id
    digest = hashlib.sha256(directive.model_dump_json(exclude={"directive_id"}).encode()).hexdigest()
    return "STR_" + digest[:16]


def new_plan_id(directive_id: str) -> str:
    return "TPL_" + hashlib.sha256(("plan\x1f" + directive_id).encode()).hexdigest()[:12]


@dataclass
class _Plan:
    """Commands for one plan, in the order they are listed (cancels, trade, modifies, new protective orders)."""

    cancels: list[CancelOrder] = field(default_factory=list)
    trades: list[ExecuteTrade] = field(default_factory=list)
    modifies: list[ModifyOrder] = field(default_factory=list)
    protective: list[ExecuteTrade] = field(default_factory=list)


class _Builder:
    def __init__(self, directive: StrategyDirective, state: LedgerState) -> None:
        self.d = directive
        self.state = state
        self.did = directive_id_of(directive)
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.out: list[tuple[str, str, _Plan]] = []  # (plan_id, symbol, commands)
        self.plan_versions: dict[str, int] = {}
        self.target_plans: dict[str, TradePlan] = {}

    # ---- helpers --------------------------------------------------------------------------------------------
    def err(self, where: str, msg: str) -> None:
        self.errors.append(f"{where}: {msg}")

    def warn(self, where: str, msg: str) -> None:
        self.warnings.append(f"{where}: {msg}")

    def market(self, where: str, symbol: str) -> MarketRules | None:
        rules = self.state.markets.get(symbol)
        if rules is None:
            self.err(where, f"symbol: no market rules for {symbol} (mark, tick, step, min notional)")
        return rules

    def coid(self, *parts: str) -> str:
        return client_order_id(self.did, *parts)

    # ---- entry point ----------------------------------------------------------------------------------------
    def build(self) -> ExecutionBatch:
        scope = self.d.scope
        if scope is Scope.NEW_TRADE:
            self.new_trade()
        elif scope is Scope.MODIFY_EXISTING:
            self.modify_existing()
        else:
            self.close_existing()
        commands: list[BatchCommand] = []
        if not self.errors:
            for _pid, _sym, pc in self.out:
                commands.extend(pc.cancels)
                commands.extend(pc.trades)
                commands.extend(pc.modifies)
                commands.extend(pc.protective)
            self.errors.extend(check(commands, self.risk_context()))
        numbered: list[BatchCommand] = []
        if not self.errors:
            numbered = [c.model_copy(update={"seq": i}) for i, c in enumerate(commands, start=1)]
        return ExecutionBatch.model_construct(
            directive_id=self.did,
            scope=scope,
            commands=numbered,
            warnings=self.warnings,
            errors=self.errors,
            plan_versions=self.plan_versions,
        )

    def risk_context(self) -> RiskContext:
        positions: dict[str, Decimal] = {}
        roles: dict[str, OrderRole] = {}
        qtys: dict[str, Decimal] = {}
        for p in self.state.plans:
            positions[p.symbol] = positions.get(p.symbol, ZERO) + p.net_position
        for p in self.target_plans.values():
            for o in p.orders:
                roles[o.order_id] = o.role
                qtys[o.order_id] = o.remaining
        return RiskContext(
            limits=self.state.limits,
            desk=self.state.desk.state,
            markets=self.state.markets,
            symbol_positions=positions,
            order_roles=roles,
            order_quantities=qtys,
        )

    def resolve_targets(self, *, unknown_is_warning: bool) -> list[TradePlan]:
        ids = self.d.target_plan_ids
        if not ids:
            self.err("target_plan_ids", f"must list at least one plan for {self.d.scope}")
            return []
        dupes = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
        if dupes:
            self.err("target_plan_ids", f"plan ids must be distinct; repeated: {', '.join(dupes)}")
            return []
        by_id = {p.plan_id: p for p in self.state.plans}
        found: list[TradePlan] = []
        for pid in ids:
            plan = by_id.get(pid)
            if plan is None:
                if unknown_is_warning:
                    self.warn(pid, "unknown plan; skipped (the other plans still close)")
                else:
                    self.err(pid, "unknown plan id")
                continue
            if plan.net_position * plan.direction.sign < 0:
                self.err(pid, f"net_position {dec_str(plan.net_position)} has the wrong sign for a "
                              f"{plan.direction} plan; reconcile it before acting")
                continue
            found.append(plan)
            self.plan_versions[pid] = plan.version
        self.target_plans = {p.plan_id: p for p in found}
        return found

    # ---- scopes ---------------------------------------------------------------------------------------------
    def new_trade(self) -> None:
        d = self.d
        if d.target_plan_ids:
            self.err("target_plan_ids", "must be empty for NEW_TRADE (it opens a new plan)")
        entry = d.entry_directive
        if entry is None or entry.symbol is None:
            self.err("entry_directive.symbol", "required for NEW_TRADE")
        if entry is None or entry.direction is None:
            self.err("entry_directive.direction", "required for NEW_TRADE (BUY for long, SELL for short)")
        if d.size_directive is None:
            self.err("size_directive.target_position_size", "required for NEW_TRADE")
        elif d.size_directive.target_position_size <= 0:
            self.err("size_directive.target_position_size", "must be greater than 0 for NEW_TRADE")
        if self.errors or entry is None or entry.symbol is None or entry.direction is None or d.size_directive is None:
            return
        rules = self.market("entry_directive.symbol", entry.symbol)
        if rules is None:
            return
        pid = new_plan_id(self.did)
        plan = TradePlan(plan_id=pid, symbol=entry.symbol, direction=entry.direction, version=0)
        self.target_plans = {pid: plan}
        pc = _Plan()
        if not self.size_to(plan, rules, d.size_directive.target_position_size, pc):
            return
        if d.exit_directive is not None:
            self.exits(plan, rules, d.exit_directive, d.size_directive.target_position_size, pc)
        self.out.append((pid, plan.symbol, pc))

    def modify_existing(self) -> None:
        d = self.d
        if d.size_directive is None and d.exit_directive is None and d.entry_directive is None:
            self.err("directive", "MODIFY_EXISTING needs size_directive, exit_directive or entry_directive")
            return
        plans = self.resolve_targets(unknown_is_warning=False)
        if self.errors:
            return
        entry = d.entry_directive
        for plan in plans:
            pid = plan.plan_id
            if entry is not None and entry.direction is not None and entry.direction != plan.direction:
                self.err(
                    f"{pid}: entry_directive.direction",
                    f"{entry.direction} is opposite to the plan's {plan.direction}; a direction is not a way to "
                    f"reduce: {RELATIVE_SIZE_HELP}",
                )
                continue
            if entry is not None and entry.symbol is not None and entry.symbol != plan.symbol:
                self.err(f"{pid}: entry_directive.symbol", f"{entry.symbol} differs from the plan's {plan.symbol}")
                continue
            rules = self.market(pid, plan.symbol)
            if rules is None:
                continue
            pc = _Plan()
            target = d.size_directive.target_position_size if d.size_directive is not None else None
            if plan.status is PlanStatus.CLOSED:
                if target is not None and target > 0 or d.exit_directive is not None:
                    self.err(pid, "plan is CLOSED; open a new one with NEW_TRADE")
                else:
                    self.warn(pid, "plan is already CLOSED; nothing to do")
                continue
            if target is not None and target == 0:
                if d.exit_directive is not None:
                    self.warn(pid, "exit_directive ignored: target 0 closes the plan")
                self.close_plan(plan, rules, pc)
                self.out.append((pid, plan.symbol, pc))
                continue
            resulting = abs(plan.net_position)
            if target is not None:
                if self.size_to(plan, rules, target, pc):
                    resulting = target
            elif entry is not None:
                self.reprice_entries(plan, rules, pc)
            if d.exit_directive is not None:
                self.exits(plan, rules, d.exit_directive, resulting, pc)
            elif resulting != abs(plan.net_position):
                self.follow_protective(plan, rules, resulting, pc, stop=None, take_profit=None)
            self.out.append((pid, plan.symbol, pc))

    def close_existing(self) -> None:
        d = self.d
        for name in ("size_directive", "exit_directive", "entry_directive"):
            if getattr(d, name) is not None:
                self.err(name, "not allowed for CLOSE_EXISTING (it cancels every order and closes the position)")
        if self.errors:
            return
        for plan in self.resolve_targets(unknown_is_warning=True):
            rules = self.market(plan.plan_id, plan.symbol)
            if rules is None:
                continue
            pc = _Plan()
            self.close_plan(plan, rules, pc)
            self.out.append((plan.plan_id, plan.symbol, pc))

    # ---- building blocks ------------------------------------------------------------------------------------
    def close_plan(self, plan: TradePlan, rules: MarketRules, pc: _Plan) -> None:
        pid = plan.plan_id
        open_orders = plan.open_orders
        if plan.status is PlanStatus.CLOSED or (plan.net_position == 0 and not open_orders):
            self.warn(pid, "already flat with no open orders; nothing to close")
            return
        for o in open_orders:
            pc.cancels.append(CancelOrder(seq=0, plan_id=pid, symbol=plan.symbol, order_id=o.order_id))
        net = plan.net_position
        if net == 0:
            return
        qty = round_down_to(abs(net), rules.step_size)
        side = plan.direction.opposite
        if qty == 0 or qty * rules.mark_price < rules.min_notional:
            self.warn(
                pid,
                f"dust remains: {dec_str(abs(net))} {plan.symbol} is below the minimum order "
                f"(step {dec_str(rules.step_size)}, min notional {dec_str(rules.min_notional)}); not closed",
            )
            return
        if qty != abs(net):
            self.warn(pid, f"dust remains: {dec_str(abs(net) - qty)} {plan.symbol} is finer than the step size")
        price, tif, otype = self.close_price(side, rules)
        pc.trades.append(
            ExecuteTrade(
                seq=0, plan_id=pid, symbol=plan.symbol, side=side, order_type=otype, quantity=qty, price=price,
                time_in_force=tif, reduce_only=True, role=OrderRole.EXIT, client_order_id=self.coid(pid, "close"),
            )
        )

    def close_price(self, side: Side, rules: MarketRules) -> tuple[Decimal | None, TimeInForce | None, OrderType]:
        ex = self.d.execution_directive
        if ex is None or ex.max_total_slippage_pct is None:
            return None, None, OrderType.MARKET
        c = ex.max_total_slippage_pct
        if side is Side.SELL:  # worst acceptable sell price, rounded up to stay inside the cap
            price = round_to_tick(rules.mark_price * (1 - c), rules.tick_size, up=True)
        else:
            price = round_to_tick(rules.mark_price * (1 + c), rules.tick_size, up=False)
        return price, TimeInForce.IOC, OrderType.LIMIT

    def size_to(self, plan: TradePlan, rules: MarketRules, target: Decimal, pc: _Plan) -> bool:
        """Cancel working entries/exits and trade the difference. True when the position will move to the target
        (protective orders then follow it); False when already at target or refused."""
        pid = plan.plan_id
        sign = plan.direction.sign
        target_signed = sign * target
        working_orders = [o for o in plan.open_orders if o.role in (OrderRole.ENTRY, OrderRole.EXIT)]
        working = sum((o.side.sign * o.remaining for o in working_orders), ZERO)
        if round_down_to(abs(plan.net_position + working - target_signed), rules.step_size) == 0:
            self.warn(pid, f"already at target {dec_str(target)} (position plus working orders); nothing to send")
            return False
        delta = target_signed - plan.net_position
        qty = round_down_to(abs(delta), rules.step_size)
        entry = self.d.entry_directive
        otype = entry.order_type if entry is not None else OrderType.MARKET
        price = entry.limit_price if entry is not None else None
        if price is not None and not is_multiple(price, rules.tick_size):
            self.err(f"{pid}: entry_directive.limit_price",
                     f"{dec_str(price)} is not a multiple of the tick size {dec_str(rules.tick_size)}")
            return False
        for o in working_orders:
            pc.cancels.append(CancelOrder(seq=0, plan_id=pid, symbol=plan.symbol, order_id=o.order_id))
        if qty == 0:
            return True  # the working orders were the difference; cancelling them lands on the target
        ref = price if price is not None else rules.mark_price
        if qty * ref < rules.min_notional:
            self.err(
                f"{pid}: size_directive.target_position_size",
                f"target {dec_str(target)} cannot be reached: the trade of {dec_str(qty)} {plan.symbol} "
                f"(notional {dec_str(plain(qty * ref))}) is below min_notional {dec_str(rules.min_notional)}",
            )
            return False
        grows = abs(target_signed) > abs(plan.net_position)
        side = Side.BUY if delta > 0 else Side.SELL
        pc.trades.append(
            ExecuteTrade(
                seq=0, plan_id=pid, symbol=plan.symbol, side=side, order_type=otype, quantity=qty, price=price,
                time_in_force=TimeInForce.GTC if otype is OrderType.LIMIT else None, reduce_only=not grows,
                role=OrderRole.ENTRY if grows else OrderRole.EXIT, client_order_id=self.coid(pid, "size"),
            )
        )
        return True

    def reprice_entries(self, plan: TradePlan, rules: MarketRules, pc: _Plan) -> None:
        """MODIFY_EXISTING with only an entry_directive: move the limit price of the plan's working entries."""
        entry = self.d.entry_directive
        pid = plan.plan_id
        if entry is None or entry.limit_price is None:
            self.err(f"{pid}: entry_directive",
                     "without size_directive it can only reprice working entries: give order_type LIMIT and "
                     "limit_price, or add size_directive.target_position_size")
            return
        if not is_multiple(entry.limit_price, rules.tick_size):
            self.err(f"{pid}: entry_directive.limit_price",
                     f"{dec_str(entry.limit_price)} is not a multiple of the tick size {dec_str(rules.tick_size)}")
            return
        entries = [o for o in plan.open_orders if o.role is OrderRole.ENTRY and o.type is OrderType.LIMIT]
        if not entries:
            self.warn(pid, "no working LIMIT entry orders to reprice")
        for o in entries:
            if o.price != entry.limit_price:
                pc.modifies.append(ModifyOrder(seq=0, plan_id=pid, symbol=plan.symbol, order_id=o.order_id,
                                               price=entry.limit_price))

    def exits(self, plan: TradePlan, rules: MarketRules, ex: ExitDirective, resulting: Decimal, pc: _Plan) -> None:
        pid = plan.plan_id
        if resulting == 0:
            self.warn(pid, "plan is flat: no stop or take profit to set")
            return
        mark = rules.mark_price
        long = plan.direction is Side.BUY
        stop: Decimal | None = None
        if ex.stop_loss_tolerance is not None:
            t = ex.stop_loss_tolerance
            stop = round_to_tick(mark * (1 - t) if long else mark * (1 + t), rules.tick_size, up=not long)
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
            if not ex.allow_loosen:
                for o in plan.open_orders:
                    if o.role is OrderRole.STOP_LOSS and o.stop_price is not None:
                        looser = stop < o.stop_price if long else stop > o.stop_price
                        if looser:
                            self.err(f"{pid}: {field_name}",
                                     f"new stop {dec_str(stop)} is looser than the current {dec_str(o.stop_price)} "
                                     f"({o.order_id}); set exit_directive.allow_loosen to move it away")
                            return
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
        self.follow_protective(plan, rules, resulting, pc, stop=stop, take_profit=tp)

    def follow_protective(
        self,
        plan: TradePlan,
        rules: MarketRules,
        resulting: Decimal,
        pc: _Plan,
        *,
        stop: Decimal | None,
        take_profit: Decimal | None,
    ) -> None:
        """Protective orders follow the resulting position: quantity scaled, stop / take-profit moved."""
        pid = plan.plan_id
        net = abs(plan.net_position)
        have = {OrderRole.STOP_LOSS: False, OrderRole.TAKE_PROFIT: False}
        for o in plan.open_orders:
            if not o.role.is_protective:
                continue
            have[o.role] = True
            new_qty = self.scaled_quantity(o, net, resulting, rules)
            new_price, new_stop = self.moved_prices(o, stop, take_profit)
            if new_qty == 0 or new_qty * (new_stop or new_price or rules.mark_price) < rules.min_notional:
                self.warn(pid, f"{o.order_id}: {o.role} would shrink to {dec_str(new_qty)}, below the minimum "
                               "order; it is cancelled")
                pc.cancels.append(CancelOrder(seq=0, plan_id=pid, symbol=plan.symbol, order_id=o.order_id))
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
                    ModifyOrder(seq=0, plan_id=pid, symbol=plan.symbol, order_id=o.order_id, **changes)
                )
        qty = round_down_to(resulting, rules.step_size)
        side = plan.direction.opposite
        if stop is not None and not have[OrderRole.STOP_LOSS]:
            if qty * stop < rules.min_notional:
                self.err(f"{pid}: exit_directive", f"a stop for {dec_str(qty)} is below min_notional")
                return
            pc.protective.append(
                ExecuteTrade(
                    seq=0, plan_id=pid, symbol=plan.symbol, side=side, order_type=OrderType.STOP_MARKET,
                    quantity=qty, stop_price=stop, reduce_only=True, role=OrderRole.STOP_LOSS,
                    client_order_id=self.coid(pid, "stop"),
                )
            )
        if take_profit is not None and not have[OrderRole.TAKE_PROFIT]:
            if qty * take_profit < rules.min_notional:
                self.err(f"{pid}: exit_directive", f"a take profit for {dec_str(qty)} is below min_notional")
                return
            pc.protective.append(
                ExecuteTrade(
                    seq=0, plan_id=pid, symbol=plan.symbol, side=side, order_type=OrderType.LIMIT, quantity=qty,
                    price=take_profit, time_in_force=TimeInForce.GTC, reduce_only=True, role=OrderRole.TAKE_PROFIT,
                    client_order_id=self.coid(pid, "take_profit"),
                )
            )

    @staticmethod
    def scaled_quantity(o: Order, net: Decimal, resulting: Decimal, rules: MarketRules) -> Decimal:
        if net == resulting:
            return o.remaining
        if net == 0:
            return round_down_to(resulting, rules.step_size)
        return round_down_to(o.remaining * resulting / net, rules.step_size)

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


def translate(directive: StrategyDirective, state: LedgerState) -> ExecutionBatch:
    """Translate a directive against the ledger state into the exact batch of commands it will send."""
    return _Builder(directive, state).build()
