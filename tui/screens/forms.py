"""What the operator types, checked as they type: pure parsing and the directives it becomes (no Textual here).

Every check answers in words. A value that does not pass gives no directive, so nothing can be sent from it."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.decimals import is_multiple, parse_number_text, plain, round_down_to, round_to_tick
from core.directives import EntryDirective, ExitDirective, Scope, SizeDirective, StrategyDirective
from core.models import MarketRules, OrderType, Side
from tui.bridge_view import PlanRow, quote_of
from tui.widgets.fmt import num, pct

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

    @property
    def ok(self) -> bool:
        return self.error is None and self.new_stop is not None


def parse_stop(text: str, row: PlanRow, rules: MarketRules | None) -> StopInput:
    """`1.5%` is a tolerance from the mark; a plain number is the stop price itself."""
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
    if cur is not None and ((long and new < cur) or (not long and new > cur)):
        return StopInput(error=f"{num(new)} is looser than the current stop {num(cur)}: the console only "
                               "tightens stops")
    distance = abs(mark - new)
    note = f"new stop {num(new)}, {num(distance)} ({pct(distance / mark)}) from the mark {num(mark)}"
    if distance / mark > Decimal("0.2"):
        note += "; that is far from the mark" + (" — did you mean a %?" if price is not None else "")
    return StopInput(tolerance=tolerance, price=price, new_stop=new, distance=distance, note=note)


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

