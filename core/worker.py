"""ExecutionWorker: a pure function from (directive, ledger state) to an ExecutionBatch.

No I/O, no clock, no randomness: the same inputs give the same batch, byte for byte, client order ids included.
The rules are DESIGN.md section 2; where the design is silent the choice is written next to the code.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from functools import partial

from core.batch import ExecuteTrade, ExecutionBatch, ModifyOrder
from core.decimals import dec_str, is_multiple, plain, round_down_to, round_to_tick
from core.directives import RELATIVE_SIZE_HELP, Scope, StrategyDirective
from core.models import (
    LedgerState,
    MarketRules,
    OrderRole,
    OrderType,
    PlanStatus,
    Side,
    TimeInForce,
    TradePlan,
)
from core.risk import BatchCommand, RiskContext, adds_exposure, check
from core.worker_exits import BuilderBase, PlanCommands, trusted_cancel

ZERO = Decimal(0)


def directive_id_of(directive: StrategyDirective) -> str:
    """The directive's id, or a deterministic one derived from its content when absent."""
    if directive.directive_id:
        return directive.directive_id
    digest = hashlib.sha256(directive.model_dump_json(exclude={"directive_id"}).encode()).hexdigest()
    return "STR_" + digest[:16]


def new_plan_id(directive_id: str) -> str:
    return "TPL_" + hashlib.sha256(("plan\x1f" + directive_id).encode()).hexdigest()[:12]


class _Builder(BuilderBase):
    def __init__(self, directive: StrategyDirective, state: LedgerState) -> None:
        self.d = directive
        self.state = state
        self.did = directive_id_of(directive)
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.out: list[tuple[str, str, PlanCommands]] = []  # (plan_id, symbol, commands)
        self.plan_versions: dict[str, int] = {}
        self.target_plans: dict[str, TradePlan] = {}

    # ---- helpers --------------------------------------------------------------------------------------------
    def market(self, where: str, symbol: str) -> MarketRules | None:
        rules = self.state.markets.get(symbol)
        if rules is None:
            self.err(where, f"symbol: no market rules for {symbol} (mark, tick, step, min notional)")
        return rules

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
            others: list[BatchCommand] = []  # everything but the cancels: what the risk context needs to look at
            seq = 0
            for pid, symbol, pc in self.out:
                for order_id in pc.cancels:
                    seq += 1
                    commands.append(trusted_cancel(seq, pid, symbol, order_id))
                specs: list[partial[ExecuteTrade] | partial[ModifyOrder]] = [*pc.trades, *pc.modifies, *pc.protective]
                for spec in specs:
                    seq += 1
                    cmd = spec(seq=seq)
                    commands.append(cmd)
                    others.append(cmd)
            self.errors.extend(check(commands, self.risk_context(others)))
        if self.errors:
            commands = []
        return ExecutionBatch.model_construct(
            directive_id=self.did,
            scope=scope,
            commands=commands,
            warnings=self.warnings,
            errors=self.errors,
            plan_versions=self.plan_versions,
            marks={c.symbol: self.state.markets[c.symbol].mark_price for c in commands
                   if c.symbol in self.state.markets},
        )

    def risk_context(self, commands: list[BatchCommand]) -> RiskContext:
        """Positions are summed only for the symbols a position limit applies to and an exposure-adding order
        touches; roles and quantities only for the orders a MODIFY_ORDER targets (what check() reads)."""
        limited = self.state.limits.max_position
        symbols: set[str] = set()
        modified: set[str] = set()
        for c in commands:
            if isinstance(c, ExecuteTrade):
                if c.symbol in limited and adds_exposure(c):
                    symbols.add(c.symbol)
            elif isinstance(c, ModifyOrder):
                modified.add(c.order_id)
        plans = self.state.plans
        positions = {sym: sum([p.net_position for p in plans if p.symbol == sym], ZERO) for sym in sorted(symbols)}
        roles: dict[str, OrderRole] = {}
        qtys: dict[str, Decimal] = {}
        if modified:
            for p in self.target_plans.values():
                for o in p.orders:
                    if o.order_id in modified:
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

    def resolve_targets(self, *, flatten: bool) -> list[TradePlan]:
        """The target plans, in the directive's order. In a flatten an unknown plan is a warning (the rest still
        closes) and a plan whose position has the wrong sign for its direction is closed as it stands (a venue
        overshoot must not block the way out); elsewhere both are errors."""
        ids = self.d.target_plan_ids
        if not ids:
            self.err("target_plan_ids", f"must list at least one plan for {self.d.scope}")
            return []
        dupes = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
        if dupes:
            self.err("target_plan_ids", f"plan ids must be distinct; repeated: {', '.join(dupes)}")
            return []
        wanted = set(ids)
        by_id: dict[str, TradePlan] = {}
        for p in self.state.plans:
            if p.plan_id in wanted:
                by_id[p.plan_id] = p
                if len(by_id) == len(wanted):
                    break
        found: list[TradePlan] = []
        for pid in ids:
            plan = by_id.get(pid)
            if plan is None:
                if flatten:
                    self.warn(pid, "unknown plan; skipped (the other plans still close)")
                else:
                    self.err(pid, "unknown plan id")
                continue
            if plan.net_position * plan.direction.sign < 0:
                if flatten:
                    self.warn(pid, f"net_position {dec_str(plan.net_position)} has the wrong sign for a "
                                   f"{plan.direction} plan; the close follows the actual position")
                else:
                    self.err(pid, f"net_position {dec_str(plan.net_position)} has the wrong sign for a "
                                  f"{plan.direction} plan; reconcile it or flatten it (CLOSE_EXISTING) before acting")
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
        if self.state.plan(pid) is not None:
            # the plan id derives from the directive id: this directive was already sent and opened its plan
            self.warn(pid, f"already opened by directive {self.did}; nothing to send (MODIFY_EXISTING changes it)")
            return
        plan = TradePlan(plan_id=pid, symbol=entry.symbol, direction=entry.direction, version=0)
        self.target_plans = {pid: plan}
        pc = PlanCommands()
        landing = self.size_to(plan, rules, d.size_directive.target_position_size, pc)
        if landing is None:
            return
        if d.exit_directive is not None:
            self.exits(plan, rules, d.exit_directive, landing, pc)
        self.out.append((pid, plan.symbol, pc))

    def modify_existing(self) -> None:
        d = self.d
        if d.size_directive is None and d.exit_directive is None and d.entry_directive is None:
            self.err("directive", "MODIFY_EXISTING needs size_directive, exit_directive or entry_directive")
            return
        plans = self.resolve_targets(flatten=False)
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
            pc = PlanCommands()
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
                landing = self.size_to(plan, rules, target, pc)
                if landing is not None:
                    resulting = landing
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
        for plan in self.resolve_targets(flatten=True):
            rules = self.market(plan.plan_id, plan.symbol)
            if rules is None:
                continue
            pc = PlanCommands()
            self.close_plan(plan, rules, pc)
            self.out.append((plan.plan_id, plan.symbol, pc))

    # ---- building blocks ------------------------------------------------------------------------------------
    def close_plan(self, plan: TradePlan, rules: MarketRules, pc: PlanCommands) -> None:
        pid = plan.plan_id
        open_orders = plan.open_orders
        if plan.status is PlanStatus.CLOSED or (plan.net_position == 0 and not open_orders):
            self.warn(pid, "already flat with no open orders; nothing to close")
            return
        pc.cancels.extend(o.order_id for o in open_orders)
        net = plan.net_position
        if net == 0:
            return
        qty = round_down_to(abs(net), rules.step_size)
        side = Side.SELL if net > 0 else Side.BUY  # the actual position's opposite (a wrong-sign plan included)
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
            partial(
                ExecuteTrade, plan_id=pid, symbol=plan.symbol, side=side, order_type=otype, quantity=qty, price=price,
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

    def size_to(self, plan: TradePlan, rules: MarketRules, target: Decimal, pc: PlanCommands) -> Decimal | None:
        """Cancel working entries/exits and trade the difference. Returns the position magnitude the batch lands on
        (the target to the step; protective orders then follow it), or None when already at target or refused."""
        pid = plan.plan_id
        sign = plan.direction.sign
        target_signed = sign * target
        working_orders = [o for o in plan.open_orders if o.role in (OrderRole.ENTRY, OrderRole.EXIT)]
        working = sum((o.side.sign * o.remaining for o in working_orders), ZERO)
        if round_down_to(abs(plan.net_position + working - target_signed), rules.step_size) == 0:
            self.warn(pid, f"already at target {dec_str(target)} (position plus working orders); nothing to send")
            return None
        delta = target_signed - plan.net_position
        qty = round_down_to(abs(delta), rules.step_size)
        entry = self.d.entry_directive
        otype = entry.order_type if entry is not None else OrderType.MARKET
        price = entry.limit_price if entry is not None else None
        if price is not None and not is_multiple(price, rules.tick_size):
            self.err(f"{pid}: entry_directive.limit_price",
                     f"{dec_str(price)} is not a multiple of the tick size {dec_str(rules.tick_size)}")
            return None
        pc.cancels.extend(o.order_id for o in working_orders)
        if qty == 0:
            return abs(plan.net_position)  # the working orders were the difference; cancelling them lands on it
        ref = price if price is not None else rules.mark_price
        if qty * ref < rules.min_notional:
            self.err(
                f"{pid}: size_directive.target_position_size",
                f"target {dec_str(target)} cannot be reached: the trade of {dec_str(qty)} {plan.symbol} "
                f"(notional {dec_str(plain(qty * ref))}) is below min_notional {dec_str(rules.min_notional)}",
            )
            return None
        grows = abs(target_signed) > abs(plan.net_position)
        side = Side.BUY if delta > 0 else Side.SELL
        pc.trades.append(
            partial(
                ExecuteTrade, plan_id=pid, symbol=plan.symbol, side=side, order_type=otype, quantity=qty, price=price,
                time_in_force=TimeInForce.GTC if otype is OrderType.LIMIT else None, reduce_only=not grows,
                role=OrderRole.ENTRY if grows else OrderRole.EXIT, client_order_id=self.coid(pid, "size"),
            )
        )
        return abs(plan.net_position + side.sign * qty)

    def reprice_entries(self, plan: TradePlan, rules: MarketRules, pc: PlanCommands) -> None:
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
                pc.modifies.append(partial(ModifyOrder, plan_id=pid, symbol=plan.symbol, order_id=o.order_id,
                                           price=entry.limit_price))

def translate(directive: StrategyDirective, state: LedgerState) -> ExecutionBatch:
    """Translate a directive against the ledger state into the exact batch of commands it will send."""
    return _Builder(directive, state).build()
