"""Pre-trade risk checks (pure). Each refusal names the plan, the field and the limit.

What is checked (DESIGN.md section 2, "Risk limits", and issue 11 item 7 for the desk states):
- max absolute position per symbol, for orders that add exposure (reducing a position that is already over the
  limit is always allowed: a limit must never block a way out);
- max notional per order, for orders that add exposure (a close of a large position is never blocked);
- max distance of any limit or stop price from the mark (a typo guard, applied to every priced order);
- the desk state (`desk_problem`, the one rule, also used by the handler at send time): ACTIVE passes everything;
  REDUCING only what reduces exposure; HALTED only cancels, closes and changes of protective orders (and a new
  stop: protection is never refused);
- the venue's own rules when the market rules carry them (`venue_problems`): symbol status, PERCENT_PRICE_BY_SIDE,
  MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS, free balances, no short selling. What the pure preview cannot know is not
  guessed: a count covers the open orders of the plans in the state (not orders at the venue that are not ours),
  a balance is checked only when the venue reported it, and every doubt goes the way of no error. For a plan the
  batch closes entirely (a flatten, a target of 0) a venue problem is a warning, not an error: one plan's close
  that the venue will refuse must not stop the others (the handler then says plainly what is still open).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch, ModifyOrder, client_order_id
from core.decimals import dec_str, plain
from core.directives import Scope
from core.models import DeskStatus, MarketRules, Order, OrderRole, OrderType, RiskLimits, Side, TimeInForce

BatchCommand = ExecuteTrade | ModifyOrder | CancelOrder
ZERO = Decimal(0)
ALGO_TYPES = (OrderType.STOP_MARKET, OrderType.STOP_LIMIT)
_LIMIT_PRICED = (OrderType.LIMIT, OrderType.STOP_LIMIT)


@dataclass(frozen=True)
class RiskContext:
    limits: RiskLimits
    desk: DeskStatus
    markets: Mapping[str, MarketRules]
    symbol_positions: Mapping[str, Decimal]  # current signed position per symbol, summed over all plans
    order_roles: Mapping[str, OrderRole]  # order_id -> role, for MODIFY_ORDER targets
    order_quantities: Mapping[str, Decimal]  # order_id -> current remaining quantity
    #: plans the batch closes entirely (CLOSE_EXISTING, or a target of 0)
    closing: frozenset[str] = frozenset()
    #: order_id -> the ledger's order, for every order a CANCEL_ORDER or MODIFY_ORDER of the batch targets
    orders: Mapping[str, Order] = field(default_factory=dict)
    #: symbol -> (open orders, open algo orders) of the plans in the state, for symbols with MAX_NUM_* filters
    open_counts: Mapping[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class Review:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def adds_exposure(cmd: ExecuteTrade) -> bool:
    return cmd.role is OrderRole.ENTRY and not cmd.reduce_only


# ---- the desk state ------------------------------------------------------------------------------------------

def desk_problem(cmd: BatchCommand, desk: DeskStatus, *, closing: bool, role: OrderRole | None = None) -> str | None:
    """Why `cmd` may not be sent while the desk is `desk` (None: it may). `closing`: the command's plan is closed
    entirely by its batch. `role`: the role of the order a MODIFY_ORDER changes, when known.

    ACTIVE: everything. REDUCING: no order that adds exposure (entries, repriced working entries). HALTED: besides,
    no scale-out and no new take profit (a resting scale-out); closes, cancels, stop / take-profit changes and a
    new stop (protection) pass."""
    if desk is DeskStatus.ACTIVE or isinstance(cmd, CancelOrder):
        return None
    if isinstance(cmd, ModifyOrder):
        if role is OrderRole.ENTRY:
            return f"desk.state: desk is {desk}: working entry {cmd.order_id} may not be changed"
        return None
    what = f"{cmd.side} {dec_str(cmd.quantity)} {cmd.symbol}"
    if adds_exposure(cmd):
        allowed = ("stops, scale-outs, closes and cancels are still allowed" if desk is DeskStatus.REDUCING
                   else "cancels, closes and stop changes are still allowed")
        return f"desk.state: desk is {desk}: {what} would add exposure ({allowed})"
    if desk is not DeskStatus.HALTED or closing:
        return None
    if cmd.role is OrderRole.EXIT:
        return (f"desk.state: desk is HALTED: {what} is a scale-out; only cancels, closes and stop changes may be "
                "sent (set the desk to REDUCING to scale out)")
    if cmd.role is OrderRole.TAKE_PROFIT:
        return (f"desk.state: desk is HALTED: a new take profit ({what}) is a resting scale-out; set the desk to "
                "REDUCING to place it")
    return None


def closing_plans(batch: ExecutionBatch) -> frozenset[str]:
    """Plans a batch closes entirely, from the batch alone: every plan of a CLOSE_EXISTING, and in a MODIFY_EXISTING
    the plans whose exit is the worker's close (its client order id is the directive's `close` id)."""
    if batch.scope is Scope.CLOSE_EXISTING:
        return frozenset(batch.plan_versions) | {c.plan_id for c in batch.commands}
    return frozenset(
        c.plan_id for c in batch.commands
        if isinstance(c, ExecuteTrade) and c.role is OrderRole.EXIT
        and c.client_order_id == client_order_id(batch.directive_id, c.plan_id, "close")
    )


def desk_refusal(batch: ExecutionBatch, desk: DeskStatus, roles: Mapping[str, OrderRole] | None = None) -> str | None:
    """The first command of `batch` the desk state refuses, as one line (None: all may be sent). What the handler
    checks at send time, when the desk may have changed since the preview."""
    if desk is DeskStatus.ACTIVE:
        return None
    closing = closing_plans(batch)
    for c in batch.commands:
        role = roles.get(c.order_id) if roles is not None and isinstance(c, ModifyOrder) else None
        why = desk_problem(c, desk, closing=c.plan_id in closing, role=role)
        if why is not None:
            return f"{c.plan_id}: {why}"
    return None


# ---- all checks ----------------------------------------------------------------------------------------------

def check(commands: Sequence[BatchCommand], ctx: RiskContext) -> list[str]:
    """The errors of `review` (its warnings dropped)."""
    return review(commands, ctx).errors


def review(commands: Sequence[BatchCommand], ctx: RiskContext) -> Review:
    out = Review()
    errors = out.errors
    limits = ctx.limits
    deltas: dict[str, Decimal] = {}
    adders: dict[str, list[str]] = {}  # symbol -> plans whose orders add exposure there
    for cmd in commands:
        if isinstance(cmd, CancelOrder):
            continue  # a cancel never adds exposure and carries no price
        rules = ctx.markets.get(cmd.symbol)
        mark = rules.mark_price if rules is not None else None
        role = ctx.order_roles.get(cmd.order_id) if isinstance(cmd, ModifyOrder) else None
        why = desk_problem(cmd, ctx.desk, closing=cmd.plan_id in ctx.closing, role=role)
        if why is not None:
            errors.append(f"{cmd.plan_id}: {why}")
        if isinstance(cmd, ExecuteTrade) and adds_exposure(cmd):
            deltas[cmd.symbol] = deltas.get(cmd.symbol, ZERO) + cmd.side.sign * cmd.quantity
            names = adders.setdefault(cmd.symbol, [])
            if cmd.plan_id not in names:
                names.append(cmd.plan_id)
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
    for symbol, delta in deltas.items():
        limit = limits.max_position.get(symbol)
        if limit is None:
            continue
        current = ctx.symbol_positions.get(symbol, ZERO)
        after = current + delta
        if abs(after) > limit and abs(after) > abs(current):
            errors.append(
                f"{', '.join(adders[symbol])}: quantity: resulting {symbol} position {dec_str(after)} exceeds "
                f"limits.max_position[{symbol}] {dec_str(limit)}"
            )
    for plan_id, problem in venue_problems(commands, ctx):
        target = out.warnings if plan_id in ctx.closing else errors
        text = f"{plan_id}: {problem}" + (" (the venue will refuse this close)" if plan_id in ctx.closing else "")
        if text not in target:
            target.append(text)
    return out


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


# ---- the venue's rules ---------------------------------------------------------------------------------------

def _d(x: Decimal) -> str:
    return dec_str(plain(x))


def _pct(x: Decimal) -> str:
    return dec_str(plain(x * 100))


def _rests(cmd: ExecuteTrade) -> bool:
    """Does the new order stay open at the venue (and count towards MAX_NUM_ORDERS after it is placed)?"""
    if cmd.order_type in ALGO_TYPES:
        return True
    return cmd.order_type is OrderType.LIMIT and cmd.time_in_force not in (TimeInForce.IOC, TimeInForce.FOK)


def venue_problems(commands: Sequence[BatchCommand], ctx: RiskContext) -> list[tuple[str, str]]:
    """(plan_id, problem) for every command the venue's own rules would refuse, as far as the market rules say
    (absent rules: nothing checked). Cancels are never refused here."""
    out: list[tuple[str, str]] = []
    for cmd in commands:
        if isinstance(cmd, CancelOrder):
            continue
        rules = ctx.markets.get(cmd.symbol)
        if rules is None:
            continue
        if not rules.trading:
            out.append((cmd.plan_id, f"{cmd.symbol}: symbol status {rules.symbol_status}: only cancels may be sent"))
            continue
        _percent_price(cmd, rules, ctx, out)
        if (isinstance(cmd, ExecuteTrade) and adds_exposure(cmd) and cmd.side is Side.SELL
                and rules.short_selling is False):
            out.append((cmd.plan_id, f"{cmd.symbol}: no short selling on this account (spot, not margin): "
                                     f"SELL {_d(cmd.quantity)} would open a short"))
    _counts(commands, ctx, out)
    _balances(commands, ctx, out)
    return out


def _percent_price(cmd: ExecuteTrade | ModifyOrder, rules: MarketRules, ctx: RiskContext,
                   out: list[tuple[str, str]]) -> None:
    band = rules.percent_price_by_side
    if band is None or cmd.price is None:
        return
    if isinstance(cmd, ExecuteTrade):
        side, kind = cmd.side, cmd.order_type
    else:
        order = ctx.orders.get(cmd.order_id)
        if order is None:
            return
        side, kind = order.side, order.type
    if kind not in _LIMIT_PRICED:
        return
    mark = rules.mark_price
    lo, hi = band.bounds(side, mark)
    up, down = (band.bid_up, band.bid_down) if side is Side.BUY else (band.ask_up, band.ask_down)
    what = f"{cmd.symbol}: PERCENT_PRICE_BY_SIDE: {side} limit {_d(cmd.price)}"
    if cmd.price < lo:
        out.append((cmd.plan_id, f"{what} below {_pct(down)}% of the mark {_d(mark)} (min {_d(lo)})"))
    elif cmd.price > hi:
        out.append((cmd.plan_id, f"{what} above {_pct(up)}% of the mark {_d(mark)} (max {_d(hi)})"))


def _counts(commands: Sequence[BatchCommand], ctx: RiskContext, out: list[tuple[str, str]]) -> None:
    """MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS: the open orders of the symbol, minus every order the batch cancels
    there (all cancels are taken as done first: the optimistic order, so never a false error), plus each new order
    in turn (one that does not rest, MARKET or IOC, is counted only while it is placed). A MODIFY_ORDER is a
    cancel-replace: it leaves the count as it is."""
    limited = {s for s, r in ctx.markets.items() if r.max_num_orders is not None or r.max_num_algo_orders is not None}
    if not limited:
        return
    cancelled: dict[str, list[int]] = {}
    for c in commands:
        if isinstance(c, CancelOrder) and c.symbol in limited:
            n = cancelled.setdefault(c.symbol, [0, 0])
            n[0] += 1
            order = ctx.orders.get(c.order_id)
            if order is not None and order.type in ALGO_TYPES:
                n[1] += 1
    placed: dict[str, list[int]] = {}
    failed: set[tuple[str, str]] = set()
    for c in commands:
        if not isinstance(c, ExecuteTrade) or c.symbol not in limited:
            continue
        rules = ctx.markets[c.symbol]
        open_all, open_algo = ctx.open_counts.get(c.symbol, (0, 0))
        gone = cancelled.get(c.symbol, [0, 0])
        new = placed.setdefault(c.symbol, [0, 0])
        algo = c.order_type in ALGO_TYPES
        for name, limit, have, minus, plus, noun, applies in (
            ("MAX_NUM_ORDERS", rules.max_num_orders, open_all, gone[0], new[0], "orders", True),
            ("MAX_NUM_ALGO_ORDERS", rules.max_num_algo_orders, open_algo, gone[1], new[1], "stops", algo),
        ):
            if limit is None or not applies or (c.symbol, name) in failed:
                continue
            if max(have - minus, 0) + plus + 1 > limit:
                failed.add((c.symbol, name))
                cut = f" - {minus} cancelled first" if minus else ""
                out.append((c.plan_id, f"{c.symbol}: {name}: {have} {noun} open{cut} + {plus + 1} new > {limit}"))
        if _rests(c):
            new[0] += 1
            if algo:
                new[1] += 1


def _balances(commands: Sequence[BatchCommand], ctx: RiskContext, out: list[tuple[str, str]]) -> None:
    """Free balances, per asset (shared by every symbol that trades it), where the venue reported them. A SELL
    needs free base, a BUY free quote (quantity x its price, else stop price, else the mark). Available: the free
    balance, plus what the batch's cancels and shrinking modifies release, plus what its other side brings in (a
    buy's base, a sell's quote: taken as filled, the optimistic way). On a margin account (short_selling True) the
    base is not checked."""
    base_free: dict[str, tuple[Decimal, Decimal | None]] = {}  # asset -> (free, locked)
    quote_free: dict[str, tuple[Decimal, Decimal | None]] = {}
    for sym, r in ctx.markets.items():
        if r.free_base is not None and r.short_selling is not True:
            base_free.setdefault(r.base_asset or f"{sym} base", (r.free_base, r.locked_base))
        if r.free_quote is not None:
            quote_free.setdefault(r.quote_asset or f"{sym} quote", (r.free_quote, r.locked_quote))
    if not base_free and not quote_free:
        return

    def assets(symbol: str) -> tuple[str | None, str | None]:
        r = ctx.markets.get(symbol)
        if r is None:
            return None, None
        b = r.base_asset or f"{symbol} base"
        q = r.quote_asset or f"{symbol} quote"
        return (b if b in base_free else None), (q if q in quote_free else None)

    def ref(symbol: str, price: Decimal | None, stop: Decimal | None) -> Decimal:
        if price is not None:
            return price
        if stop is not None:
            return stop
        r = ctx.markets.get(symbol)
        return r.mark_price if r is not None else ZERO

    released: dict[str, Decimal] = {}  # asset -> locks the batch releases (cancels, shrinking modifies)
    brought: dict[str, Decimal] = {}  # asset -> what the batch's other side brings in
    for c in commands:
        base, quote = assets(c.symbol)
        if isinstance(c, CancelOrder | ModifyOrder):
            order = ctx.orders.get(c.order_id)
            if order is None:
                continue
            new_qty = order.remaining if isinstance(c, CancelOrder) else (c.quantity or order.remaining)
            shrink = order.remaining if isinstance(c, CancelOrder) else order.remaining - new_qty
            if shrink <= 0:
                continue
            if order.side is Side.SELL and base is not None:
                released[base] = released.get(base, ZERO) + shrink
            elif order.side is Side.BUY and quote is not None:
                released[quote] = released.get(quote, ZERO) + shrink * ref(c.symbol, order.price, order.stop_price)
        elif c.side is Side.BUY and base is not None:
            brought[base] = brought.get(base, ZERO) + c.quantity
        elif c.side is Side.SELL and quote is not None:
            brought[quote] = brought.get(quote, ZERO) + c.quantity * ref(c.symbol, c.price, c.stop_price)
    need: dict[str, Decimal] = {}
    failed: set[str] = set()
    for c in commands:
        if isinstance(c, CancelOrder):
            continue
        base, quote = assets(c.symbol)
        if isinstance(c, ModifyOrder):
            order = ctx.orders.get(c.order_id)
            if order is None or c.quantity is None or c.quantity <= order.remaining:
                continue
            side, amount = order.side, c.quantity - order.remaining
            price = ref(c.symbol, c.price or order.price, c.stop_price or order.stop_price)
            verb = f"{side.lower()} {_d(amount)} more"
        else:
            rules = ctx.markets.get(c.symbol)
            if adds_exposure(c) and c.side is Side.SELL and rules is not None and rules.short_selling is False:
                continue  # said once, as no short selling
            side, amount, price = c.side, c.quantity, ref(c.symbol, c.price, c.stop_price)
            verb = f"{side.lower()} {_d(amount)}"
        asset, books = (base, base_free) if side is Side.SELL else (quote, quote_free)
        if asset is None or asset in failed:
            continue
        cost = amount if side is Side.SELL else amount * price
        need[asset] = need.get(asset, ZERO) + cost
        free, locked = books[asset]
        available = free + released.get(asset, ZERO) + brought.get(asset, ZERO)
        if need[asset] > available:
            failed.add(asset)
            shown = free + released.get(asset, ZERO)  # what is free once the batch's cancels are done
            why = f"insufficient free {asset}: {verb} needs {_d(need[asset])}, free {_d(shown)}"
            if locked is not None and locked - released.get(asset, ZERO) > 0:
                why += (f" ({_d(locked - released.get(asset, ZERO))} locked by open orders that this batch does not "
                        "cancel first)")
            out.append((c.plan_id, why))
