"""What the operator types, checked as they type: pure parsing and the directives it becomes (no Textual here).

Every check answers in words. A value that does not pass gives no directive, so nothing can be sent from it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.decimals import is_multiple, parse_number_text, plain, round_down_to, round_to_tick
from core.directives import EntryDirective, ExitDirective, Scope, SizeDirective, StrategyDirective
from core.models import MarketRules, OrderType, Side
from tui.bridge_view import PlanRow, quote_of
from tui.widgets.fmt import money, num, pct

HUNDRED = Decimal(100)


def parse_number(text: str, what: str = "value", *, signed: bool = False) -> Decimal:
    """A typed number in the one strict grammar (core.decimals.parse_number_text): NumberError (a ValueError) in
    words, naming the field. A comma is refused with a hint, never read as a thousands separator."""
    return parse_number_text(text.replace("\u2212", "-"), what, signed=signed)


def _finer(value: Decimal, step: Decimal, what: str, symbol: str) -> str:
    return (f"{num(value)} is finer than the {what} {num(step)} of {symbol}; "
            f"try {num(round_down_to(value, step))}")


# ------------------------------------------------------------------------------------------------ stop


@dataclass(frozen=True)
class StopInput:
    error: str | None = None
    tolerance: Decimal | None = None  # fraction (0.015 = 1.5 %)
    price: Decimal | None = None  # absolute stop price
    new_stop: Decimal | None = None
    distance: Decimal | None = None
    note: str = ""
    #: the current stop when the new one is looser: the worker refuses it unless allow_loosen (see loosen_request)
    looser_than: Decimal | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.new_stop is not None


def parse_stop(text: str, row: PlanRow, rules: MarketRules | None) -> StopInput:
    """`1.5%` is a tolerance from the mark; a plain number is the stop price itself. A looser stop passes here with
    a note: the worker refuses it in the preview, where a deliberate second confirmation can loosen it."""
    if rules is None or row.mark is None:
        return StopInput(error=f"no market data for {row.symbol} yet")
    if row.net == 0:
        return StopInput(error="the plan is flat: there is no position to protect")
    mark, tick = row.mark, rules.tick_size
    long = row.side is Side.BUY
    t = text.strip()
    if not t:
        return StopInput(error="stop: type a tolerance like 1.5% or the stop price itself")
    tolerance: Decimal | None = None
    price: Decimal | None = None
    try:
        if t.endswith("%"):
            p = parse_number(t[:-1], "stop tolerance %")
            if not (0 < p < 100):
                return StopInput(error=f"a tolerance must be above 0 % and below 100 %, not {num(p)} %")
            tolerance = plain(p / HUNDRED)
            new = round_to_tick(mark * (1 - tolerance) if long else mark * (1 + tolerance), tick, up=not long)
        else:
            price = parse_number(t, "stop price")
            if price <= 0:
                return StopInput(error=f"a stop price must be greater than 0, not {num(price)}")
            if not is_multiple(price, tick):
                return StopInput(error=_finer(price, tick, "tick size", row.symbol))
            new = plain(price)
    except ValueError as exc:
        return StopInput(error=str(exc))
    if (long and new >= mark) or (not long and new <= mark):
        where = "below" if long else "above"
        return StopInput(error=f"a stop for a {'long' if long else 'short'} must be {where} the mark {num(mark)}; "
                               f"{num(new)} would trigger at once")
    cur = row.stop
    if cur is not None and new == cur:
        return StopInput(error=f"{num(new)} is the current stop: nothing to change")
    looser = cur is not None and ((long and new < cur) or (not long and new > cur))
    distance = abs(mark - new)
    note = f"new stop {num(new)}, {num(distance)} ({pct(distance / mark)}) from the mark {num(mark)}"
    if distance / mark > Decimal("0.2"):
        note += "; that is far from the mark" + (" — did you mean a %?" if price is not None else "")
    if looser:
        assert cur is not None
        note += (f"; ⚠ looser than the current stop {num(cur)} ({num(abs(new - cur))} further from the mark): the "
                 "preview refuses it, and L there loosens it after a second confirmation")
    return StopInput(tolerance=tolerance, price=price, new_stop=new, distance=distance, note=note,
                     looser_than=cur if looser else None)


def stop_directive(plan_id: str, parsed: StopInput, directive_id: str) -> StrategyDirective:
    exit_kw = ({"stop_loss_tolerance": parsed.tolerance} if parsed.tolerance is not None
               else {"stop_loss_price": parsed.price})
    return StrategyDirective(directive_id=directive_id, scope=Scope.MODIFY_EXISTING, target_plan_ids=[plan_id],
                             exit_directive=ExitDirective(**exit_kw))


# ------------------------------------------------------------------------------------------------ scale


@dataclass(frozen=True)
class ScaleInput:
    error: str | None = None
    target: Decimal | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None and self.target is not None


def parse_scale(text: str, row: PlanRow, rules: MarketRules | None) -> ScaleInput:
    """The absolute target size. Helpers: `50%` of the current size, `+0.5` / `-0.25` relative to it."""
    if rules is None:
        return ScaleInput(error=f"no market rules for {row.symbol}")
    step = rules.step_size
    now = abs(row.net)
    t = text.strip().replace("\u2212", "-")
    if not t:
        return ScaleInput(error="scale: type a target size, a % of now, or +/- an amount")
    how = ""
    try:
        if t.endswith("%"):
            body = t[:-1].strip()
            sign = body[:1] if body[:1] in ("+", "-") else ""
            p = parse_number(body.lstrip("+-"), "scale %") if sign else parse_number(body, "scale %")
            if sign and body[1:2] in ("+", "-"):
                return ScaleInput(error=f"scale %: {t!r} has two signs")
            share = now * p / HUNDRED
            if sign:  # +5% / -5%: add or remove 5 % of the position
                exact = now + share if sign == "+" else now - share
                if exact < 0:
                    return ScaleInput(error=f"{num(now)} {sign} {num(p)} % = {num(plain(exact))} is below zero; "
                                            "the smallest target is 0 (close the plan)")
                how = f"{num(now)} {sign} {num(p)} % of it ({num(plain(share))})"
            else:  # 50%: half of the position
                exact = share
                how = f"{num(p)} % of {num(now)}"
            target = round_down_to(exact, step)
            if target != exact:
                how += f" = {num(plain(exact))}, rounded down to the step {num(step)}"
        elif t[:1] in ("+", "-"):
            d = parse_number(t, "scale change", signed=True)
            if not is_multiple(abs(d), step):
                return ScaleInput(error=_finer(abs(d), step, "step size", row.symbol))
            target = now + d
            if target < 0:
                return ScaleInput(error=f"{num(now)} {t} = {num(target)} is below zero; the smallest target is 0 "
                                        "(close the plan)")
            how = f"{num(now)} {'+' if d >= 0 else '-'} {num(abs(d))}"
        else:
            target = parse_number(t, "scale target")
            if not is_multiple(target, step):
                return ScaleInput(error=_finer(target, step, "step size", row.symbol))
    except ValueError as exc:
        return ScaleInput(error=str(exc))
    target = plain(target)
    base = row.symbol[: -len(quote_of(row.symbol))] if quote_of(row.symbol) else row.symbol
    delta = target - now
    if target == 0:
        what = "close the plan"
    elif delta > 0:
        what = f"scale in: {row.side} {num(delta)} {base}"
    elif delta < 0:
        what = f"scale out: {row.side.opposite} {num(-delta)} {base}"
    else:
        what = "the current size: nothing to trade (working entries may be cancelled)"
    if target > 0 and delta != 0 and row.mark is not None and abs(delta) * row.mark < rules.min_notional:
        q = quote_of(row.symbol)
        return ScaleInput(error=f"a trade of {num(abs(delta))} {base} ({num(plain(abs(delta) * row.mark))} {q}) is "
                                f"below the minimum order {num(rules.min_notional)} {q}")
    head = f"target {num(target)} {base} (now {num(now)})"
    return ScaleInput(target=target, note=f"{head}: {what}" + (f"  [{how}]" if how else ""))


def scale_directive(plan_id: str, target: Decimal, directive_id: str) -> StrategyDirective:
    return StrategyDirective(directive_id=directive_id, scope=Scope.MODIFY_EXISTING, target_plan_ids=[plan_id],
                             size_directive=SizeDirective(target_position_size=target),
                             entry_directive=EntryDirective(order_type=OrderType.MARKET))


# ------------------------------------------------------------------------------------------------ new plan


@dataclass(frozen=True)
class NewPlanInput:
    errors: dict[str, str]
    symbol: str | None = None
    direction: Side | None = None
    size: Decimal | None = None
    tolerance: Decimal | None = None
    note: str = ""

    @property
    def ok(self) -> bool:
        return not self.errors and self.symbol is not None and self.direction is not None and self.size is not None


_DIRECTIONS = {"buy": Side.BUY, "long": Side.BUY, "b": Side.BUY, "l": Side.BUY,
               "sell": Side.SELL, "short": Side.SELL, "s": Side.SELL}


def parse_new_plan(symbol: str, direction: str, size: str, stop: str,
                   markets: dict[str, MarketRules]) -> NewPlanInput:
    errors: dict[str, str] = {}
    sym = symbol.strip().upper()
    rules = markets.get(sym)
    if not sym:
        errors["symbol"] = "type a symbol: " + ", ".join(sorted(markets))
    elif rules is None:
        errors["symbol"] = f"unknown symbol {sym}; known: " + ", ".join(sorted(markets))
    side = _DIRECTIONS.get(direction.strip().lower())
    if side is None:
        errors["direction"] = "long or short (buy / sell)"
    qty: Decimal | None = None
    try:
        qty = parse_number(size, "size")
        if qty <= 0:
            errors["size"] = "the size must be greater than 0"
        elif rules is not None and not is_multiple(qty, rules.step_size):
            errors["size"] = _finer(qty, rules.step_size, "step size", sym)
        elif rules is not None and qty * rules.mark_price < rules.min_notional:
            errors["size"] = (f"{num(qty)} {sym} is {num(plain(qty * rules.mark_price))} {quote_of(sym)}, below the "
                              f"minimum order {num(rules.min_notional)} {quote_of(sym)}")
    except ValueError as exc:
        errors["size"] = str(exc)
    tol: Decimal | None = None
    if stop.strip():
        try:
            p = parse_number(stop.strip().removesuffix("%"), "stop distance %")
            if not (0 < p < 100):
                errors["stop"] = f"a stop distance must be above 0 % and below 100 %, not {num(p)} %"
            else:
                tol = plain(p / HUNDRED)
        except ValueError as exc:
            errors["stop"] = str(exc)
    note = ""
    if not errors and rules is not None and side is not None and qty is not None:
        notional = plain(qty * rules.mark_price)
        note = f"{'long' if side is Side.BUY else 'short'} {num(qty)} {sym} ≈ {num(notional)} {quote_of(sym)} at " \
               f"the mark {num(rules.mark_price)}"
        if tol is not None:
            long = side is Side.BUY
            stop_px = round_to_tick(rules.mark_price * (1 - tol if long else 1 + tol), rules.tick_size, up=not long)
            note += f"; stop {num(stop_px)} ({pct(tol)})"
    return NewPlanInput(errors=errors, symbol=sym if rules else None, direction=side, size=qty, tolerance=tol,
                        note=note)


def new_plan_directive(parsed: NewPlanInput, directive_id: str) -> StrategyDirective:
    assert parsed.ok and parsed.size is not None
    return StrategyDirective(
        directive_id=directive_id, scope=Scope.NEW_TRADE,
        entry_directive=EntryDirective(symbol=parsed.symbol, direction=parsed.direction, order_type=OrderType.MARKET),
        size_directive=SizeDirective(target_position_size=parsed.size),
        exit_directive=ExitDirective(stop_loss_tolerance=parsed.tolerance) if parsed.tolerance is not None else None,
    )


def close_directive(plan_ids: list[str], directive_id: str, slippage: Decimal | None) -> StrategyDirective:
    from core.directives import ExecutionDirective

    ex = ExecutionDirective(max_total_slippage_pct=slippage) if slippage is not None else None
    return StrategyDirective(directive_id=directive_id, scope=Scope.CLOSE_EXISTING, target_plan_ids=plan_ids,
                             execution_directive=ex)



# ------------------------------------------------------------------------------------------------ order actions

def cancel_order_directive(plan_id: str, order_id: str, directive_id: str) -> StrategyDirective:
    """Cancel one order of one plan: MODIFY_EXISTING with cancel_directive.order_ids."""
    return StrategyDirective.model_validate({
        "directive_id": directive_id, "scope": Scope.MODIFY_EXISTING, "target_plan_ids": [plan_id],
        "cancel_directive": {"order_ids": [order_id]}})


def price_text(value: Decimal, tick: Decimal) -> str:
    """A price with the tick's decimals, grouped: 96500 at tick 0.01 -> '96,500.00'."""
    exp = tick.normalize().as_tuple().exponent
    places = max(0, -exp) if isinstance(exp, int) else 2
    return f"{value.quantize(Decimal(1).scaleb(-places)):,.{places}f}"


@dataclass(frozen=True)
class LoosenRequest:
    """A stop the worker refused as looser than the current one, as the loosen confirmation names it."""

    plan_id: str
    symbol: str
    long: bool
    current: Decimal
    new: Decimal
    mark: Decimal
    tick: Decimal
    net: Decimal
    take_profit: Decimal | None = None  # kept from the refused directive

    @property
    def further(self) -> Decimal:
        return abs(self.current - self.new)

    def px(self, value: Decimal) -> str:
        return price_text(value, self.tick)

    def sentence(self) -> str:
        return (f"Loosen {self.plan_id} stop from {self.px(self.current)} to {self.px(self.new)} "
                f"({self.px(self.further)} further from the mark)")

    def details(self) -> str:
        side = "below" if self.long else "above"
        away = abs(self.mark - self.new)
        quote = quote_of(self.symbol)
        more = plain(self.further * abs(self.net))
        return (f"{self.symbol} {'long' if self.long else 'short'} {num(abs(self.net))}: the new stop "
                f"{self.px(self.new)} is {self.px(away)} ({pct(away / self.mark)}) {side} the mark at preview "
                f"{self.px(self.mark)}. If it triggers, the loss is up to {money(more)} {quote} larger than at "
                f"the current stop {self.px(self.current)}.")


def looser_refusal(errors: list[str]) -> bool:
    """Every error of a preview is the worker's refusal of a looser stop (nothing else would stop the send)."""
    return bool(errors) and all("looser" in e.lower() for e in errors)


def loosen_request(directive: StrategyDirective, errors: list[str], row: PlanRow | None,
                   rules: MarketRules | None) -> LoosenRequest | None:
    """The loosen a refused stop preview asks for, or None when the preview is not (only) that: one plan, a stop
    directive without allow_loosen, refused as looser, and looser than the plan's current stop at the preview's
    mark."""
    ex = directive.exit_directive
    if (directive.scope is not Scope.MODIFY_EXISTING or len(directive.target_plan_ids) != 1 or ex is None
            or ex.allow_loosen or directive.size_directive is not None or not looser_refusal(errors)
            or row is None or row.stop is None or rules is None or row.plan_id != directive.target_plan_ids[0]):
        return None
    long = row.side is Side.BUY
    mark = rules.mark_price
    if ex.stop_loss_price is not None:
        new = ex.stop_loss_price
    elif ex.stop_loss_tolerance is not None:
        t = ex.stop_loss_tolerance
        new = round_to_tick(mark * (1 - t) if long else mark * (1 + t), rules.tick_size, up=not long)
    else:
        return None
    if not ((long and new < row.stop) or (not long and new > row.stop)):
        return None
    return LoosenRequest(plan_id=row.plan_id, symbol=row.symbol, long=long, current=row.stop, new=plain(new),
                         mark=mark, tick=rules.tick_size, net=row.net, take_profit=ex.take_profit_price)


def loosen_directive(req: LoosenRequest, directive_id: str) -> StrategyDirective:
    """The confirmed loosen: the exact price the confirmation named, with allow_loosen."""
    return StrategyDirective(directive_id=directive_id, scope=Scope.MODIFY_EXISTING, target_plan_ids=[req.plan_id],
                             exit_directive=ExitDirective(stop_loss_price=req.new, take_profit_price=req.take_profit,
                                                          allow_loosen=True))
