"""ExecutionWorker: a pure function from (directive, ledger state) to an ExecutionBatch.

No I/O, no clock, no randomness: the same inputs give the same batch, byte for byte, client order ids included.
The rules are DESIGN.md section 2; where the design is silent the choice is written next to the code.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from functools import partial

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch, Loosening, ModifyOrder
from core.decimals import dec_str, is_multiple, plain, round_down_to, round_to_tick
from core.directives import RELATIVE_SIZE_HELP, Scope, StrategyDirective
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
from core.risk import ALGO_TYPES, BatchCommand, RiskContext, adds_exposure, review
from core.worker_exits import (
    PROTECTIVE,
    BuilderBase,
    PlanCommands,
    open_orders,
    trusted_cancels,
    trusted_command,
    unprotected_reason,
)

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
        self.closing: set[str] = set()  # plans the batch closes entirely
        self.loosened: list[Loosening] = []
        self.tolerance_stops: dict[tuple[str, bool], Decimal] = {}
        #: close_price by (side, symbol): the same for every plan of a flatten on that symbol (one mark, one cap)
        self._close_prices: dict[tuple[Side, str], tuple[tuple[Decimal | None, TimeInForce | None, OrderType],
                                                         str | None]] = {}

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
        symbols: dict[str, None] = {}  # of the commands, in the order they first appear (every command of a plan
        if not self.errors:  # is on the plan's symbol)
            others: list[BatchCommand] = []  # everything but the cancels: what the risk context needs to look at
            seq = 0
            for pid, symbol, pc in self.out:
                if pc.cancels:
                    commands.extend(trusted_cancels(seq, pid, symbol, pc.cancels))
                    seq += len(pc.cancels)
                specs: list[partial[ExecuteTrade] | partial[ModifyOrder]] = [*pc.trades, *pc.modifies, *pc.protective]
                for spec in specs:
                    seq += 1
                    cmd = trusted_command(spec, seq)
                    commands.append(cmd)
                    others.append(cmd)
                if pc.cancels or specs:
                    symbols.setdefault(symbol)
            found = review(commands, self.risk_context(others, commands, set(symbols)))
            self.errors.extend(found.errors)
            self.warnings.extend(found.warnings)
        if self.errors:
            commands = []
        return ExecutionBatch.model_construct(
            directive_id=self.did,
            scope=scope,
            commands=commands,
            warnings=self.warnings,
            errors=self.errors,
            plan_versions=self.plan_versions,
            marks={s: self.state.markets[s].mark_price for s in symbols if s in self.state.markets} if commands
            else {},
            loosened=self.loosened,
        )

    def risk_context(self, commands: list[BatchCommand], everything: list[BatchCommand],
                     touched: set[str]) -> RiskContext:
        """Positions are summed only for the symbols a position limit applies to and an exposure-adding order
        touches; roles and quantities only for the orders a MODIFY_ORDER targets (what check() reads). The venue's
        facts (the orders cancelled or modified, the open counts) only where a market carries venue rules."""
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
        # `touched`: the symbols of every command (the non-cancels' and the cancels'), given by build()
        venue = {s for s in touched if (r := self.state.markets.get(s)) is not None and _has_venue_rules(r)}
        orders: dict[str, Order] = {}
        counts: dict[str, tuple[int, int]] = {}
        if venue:
            ids = {c.order_id for c in everything if isinstance(c, CancelOrder | ModifyOrder) and c.symbol in venue}
            orders = {o.order_id: o for p in self.target_plans.values() for o in p.orders if o.order_id in ids}
            for sym in venue:
                r = self.state.markets[sym]
                if r.max_num_orders is None and r.max_num_algo_orders is None:
                    continue
                live = [o for p in plans if p.symbol == sym for o in open_orders(p)]
                counts[sym] = (len(live), sum(1 for o in live if o.type in ALGO_TYPES))
        return RiskContext(
            limits=self.state.limits,
            desk=self.state.desk.state,
            markets=self.state.markets,
            symbol_positions=positions,
            order_roles=roles,
            order_quantities=qtys,
            closing=frozenset(self.closing),
            orders=orders,
            open_counts=counts,
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
        if d.cancel_directive is not None:
            self.err("cancel_directive", "only for MODIFY_EXISTING (a new plan has no orders to cancel)")
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
        if (d.size_directive is None and d.exit_directive is None and d.entry_directive is None
                and d.cancel_directive is None):
            self.err("directive",
                     "MODIFY_EXISTING needs size_directive, exit_directive or entry_directive (or cancel_directive)")
            return
        plans = self.resolve_targets(flatten=False)
        if self.errors:
            return
        cancelling = self.cancel_orders(plans)
        if self.errors:
            return
        entry = d.entry_directive
        only_cancels = d.size_directive is None and d.exit_directive is None and d.entry_directive is None
        for listed in plans:
            pid = listed.plan_id
            plan, pc = self.without_cancelled(listed, cancelling.get(pid, []))
            if only_cancels:
                if pc.cancels:
                    self.out.append((pid, plan.symbol, pc))
                else:
                    self.warn(pid, "no order of this plan is listed in cancel_directive.order_ids; nothing to do")
                continue
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

    def cancel_orders(self, plans: list[TradePlan]) -> dict[str, list[Order]]:
        """cancel_directive: plan id -> the listed orders to cancel. Each listed order must be open and belong to
        a target plan; any other is an error naming it."""
        cd = self.d.cancel_directive
        if cd is None:
            return {}
        owned = {o.order_id: (p, o) for p in plans for o in p.orders}
        out: dict[str, list[Order]] = {}
        for oid in cd.order_ids:
            where = f"cancel_directive.order_ids: {oid}"
            hit = owned.get(oid)
            if hit is None:
                owner = next((p.plan_id for p in self.state.plans for o in p.orders if o.order_id == oid), None)
                if owner is not None:
                    self.err(where, f"belongs to {owner}, which is not in target_plan_ids")
                else:
                    self.err(where, f"unknown order: not an order of {', '.join(p.plan_id for p in plans)}")
                continue
            plan, order = hit
            if not order.is_open:
                self.err(where, f"is {order.status}, not open: nothing to cancel ({plan.plan_id})")
                continue
            out.setdefault(plan.plan_id, []).append(order)
        return out

    def without_cancelled(self, plan: TradePlan, orders: list[Order]) -> tuple[TradePlan, PlanCommands]:
        """The plan's commands starting with the cancels of `orders`, and the plan as the rest of the directive
        sees it: without them. Cancelling a stop that leaves the position uncovered says UNPROTECTED (unless the
        same directive sets a stop or closes the plan)."""
        pc = PlanCommands()
        if not orders:
            return plan, pc
        ids = [o.order_id for o in orders]
        pc.cancels.extend(ids)
        view = plan.model_copy(update={"orders": [o for o in plan.orders if o.order_id not in set(ids)]})
        ex = self.d.exit_directive
        sets_stop = ex is not None and (ex.stop_loss_tolerance is not None or ex.stop_loss_price is not None)
        size = self.d.size_directive
        closes = size is not None and size.target_position_size == 0
        stops = [o.order_id for o in orders if o.role is OrderRole.STOP_LOSS]
        if stops and not sets_stop and not closes:
            rules = self.state.markets.get(plan.symbol)
            why = unprotected_reason(view, rules.step_size if rules is not None else None)
            if why is not None:
                self.warn(plan.plan_id, f"becomes UNPROTECTED: cancelling {', '.join(stops)} leaves {why}")
        return view, pc

    def close_existing(self) -> None:
        d = self.d
        for name in ("size_directive", "exit_directive", "entry_directive", "cancel_directive"):
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
        live = open_orders(plan)
        if plan.status is PlanStatus.CLOSED or (plan.net_position == 0 and not live):
            self.warn(pid, "already flat with no open orders; nothing to close")
            return
        self.closing.add(pid)
        net = plan.net_position
        if not rules.trading and net != 0:
            # Only cancels reach the venue: the close cannot be sent, so the protective orders stay (cancelling
            # them could not be followed by a close); the working entries and exits are cancelled.
            kept = [o.order_id for o in live if o.role in PROTECTIVE]
            pc.cancels.extend(o.order_id for o in live if o.role not in PROTECTIVE)
            self.warn(pid, f"{plan.symbol}: symbol status {rules.symbol_status}: only cancels may be sent; the close "
                           f"of {dec_str(abs(net))} is not sent"
                      + (f" and {', '.join(kept)} stay{'s' if len(kept) == 1 else ''} open to protect it"
                         if kept else " (the position stays open)"))
            return
        pc.cancels.extend([o.order_id for o in live])
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
        price, tif, otype = self.close_price(side, plan.symbol, rules, pid)
        pc.trades.append(
            partial(
                ExecuteTrade, plan_id=pid, symbol=plan.symbol, side=side, order_type=otype, quantity=qty, price=price,
                time_in_force=tif, reduce_only=True, role=OrderRole.EXIT, client_order_id=self.coid(pid, "close"),
            )
        )

    def close_price(self, side: Side, symbol: str, rules: MarketRules,
                    pid: str = "") -> tuple[Decimal | None, TimeInForce | None, OrderType]:
        """The close's limit price (the slippage cap from the mark, kept inside the venue's band), its time in force
        and its type; the plan gets the band's note as a warning."""
        key = (side, symbol)
        known = self._close_prices.get(key)
        if known is None:
            known = self._close_prices[key] = self._close_price(side, rules)
        price, note = known
        if note is not None:
            self.warn(pid, note)
        return price

    def _close_price(self, side: Side, rules: MarketRules) -> tuple[tuple[Decimal | None, TimeInForce | None,
                                                                        OrderType], str | None]:
        """close_price's price, time in force and type, and the note (a warning) it gives each plan."""
        ex = self.d.execution_directive
        if ex is None or ex.max_total_slippage_pct is None:
            return (None, None, OrderType.MARKET), None
        c = ex.max_total_slippage_pct
        if side is Side.SELL:  # worst acceptable sell price, rounded up to stay inside the cap
            price = round_to_tick(rules.mark_price * (1 - c), rules.tick_size, up=True)
        else:
            price = round_to_tick(rules.mark_price * (1 + c), rules.tick_size, up=False)
        note = None
        band = rules.percent_price_by_side
        if band is not None:  # a cap beyond the venue's PERCENT_PRICE_BY_SIDE band: the band's edge, still inside
            lo, hi = band.bounds(side, rules.mark_price)
            edge = None
            if side is Side.SELL and price < lo:
                edge = round_to_tick(lo, rules.tick_size, up=True)
            elif side is Side.BUY and price > hi:
                edge = round_to_tick(hi, rules.tick_size, up=False)
            if edge is not None:
                note = (f"close limit {dec_str(price)} moved to {dec_str(edge)}, the edge of the venue's "
                        "PERCENT_PRICE_BY_SIDE band (inside the slippage cap)")
                price = edge
        return (price, TimeInForce.IOC, OrderType.LIMIT), note

    def size_to(self, plan: TradePlan, rules: MarketRules, target: Decimal, pc: PlanCommands) -> Decimal | None:
        """Cancel working entries/exits and trade the difference. Returns the position magnitude the batch lands on
        (the target to the step; protective orders then follow it), or None when already at target or refused."""
        pid = plan.plan_id
        sign = plan.direction.sign
        target_signed = sign * target
        working_orders = [o for o in open_orders(plan) if o.role in (OrderRole.ENTRY, OrderRole.EXIT)]
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
        entries = [o for o in open_orders(plan) if o.role is OrderRole.ENTRY and o.type is OrderType.LIMIT]
        if not entries:
            self.warn(pid, "no working LIMIT entry orders to reprice")
        for o in entries:
            if o.price != entry.limit_price:
                pc.modifies.append(partial(ModifyOrder, plan_id=pid, symbol=plan.symbol, order_id=o.order_id,
                                           price=entry.limit_price))

def _has_venue_rules(r: MarketRules) -> bool:
    return (r.percent_price_by_side is not None or r.max_num_orders is not None or r.max_num_algo_orders is not None
            or r.free_base is not None or r.free_quote is not None)


def translate(directive: StrategyDirective, state: LedgerState) -> ExecutionBatch:
    """Translate a directive against the ledger state into the exact batch of commands it will send."""
    return _Builder(directive, state).build()
