"""Property tests of the ExecutionWorker (hypothesis).

For random plans (long and short, one or two symbols), positions (on the step and off it), working ENTRY/EXIT orders,
protective orders, market rules (tick, step, min notional), risk limits, desk state and directives (absolute targets,
stop/take-profit changes, LIMIT entries, flattens with and without a slippage cap):

- applying the batch's trades, and then letting every order that still works fill, lands each targeted plan's
  position on the target (exactly when everything is on the step, else within one step) -- or the batch has an error;
- the sign of a position never flips;
- protective orders never exceed the position the batch leaves (new orders filled at the mark);
- no batch that breaks a risk limit, as core/risk.py defines them, is error-free.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from core.batch import ExecuteTrade, ExecutionBatch, ModifyOrder
from core.decimals import is_multiple, round_down_to
from core.directives import StrategyDirective
from core.models import LedgerState, OrderRole, OrderStatus, PlanStatus
from tests.core.conftest import apply_batch, run

D = Decimal
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TICKS = [D("0.01"), D("0.5"), D("1"), D("0.001")]
STEPS = [D("0.00001"), D("0.001"), D("0.1"), D("1")]
OPEN = ["OPEN", "PARTIALLY_FILLED", "PENDING", "UNKNOWN"]
CLOSED = ["FILLED", "CANCELLED", "EXPIRED", "REJECTED"]


@dataclass
class Case:
    state: LedgerState
    directive: StrategyDirective
    target: Decimal | None  # the absolute target of a MODIFY with a size_directive (None otherwise)


@st.composite
def market(draw: st.DrawFn) -> dict[str, Any]:
    tick = draw(st.sampled_from(TICKS))
    step = draw(st.sampled_from(STEPS))
    mark = tick * draw(st.integers(1000, 200_000))
    return {"mark_price": str(mark), "tick_size": str(tick), "step_size": str(step),
            "min_notional": draw(st.sampled_from(["0", "0", "1", "5"]))}


def _price(mark: Decimal, tick: Decimal, ticks: int) -> str:
    """mark + ticks x tick, kept positive."""
    return str(max(mark + ticks * tick, tick))


@st.composite
def plan_data(draw: st.DrawFn, pid: str, symbol: str, m: dict[str, Any]) -> dict[str, Any]:
    mark, tick, step = D(m["mark_price"]), D(m["tick_size"]), D(m["step_size"])
    long = draw(st.booleans())
    sign = 1 if long else -1
    direction, close = ("BUY", "SELL") if long else ("SELL", "BUY")
    closed = draw(st.integers(0, 19)) == 0
    units = 0 if closed else draw(st.integers(0, 400))
    off_step = D(0) if closed or draw(st.integers(0, 4)) else step * D(draw(st.integers(1, 9))) / 10
    net = units * step + off_step
    orders: list[dict[str, Any]] = []
    for k in range(0 if closed else draw(st.integers(0, 3))):  # working ENTRY / EXIT orders (some already final)
        role = draw(st.sampled_from(["ENTRY", "EXIT"]))
        qty = step * draw(st.integers(1, 200))
        filled = step * draw(st.integers(0, int(qty / step) - 1))
        status = draw(st.sampled_from(OPEN + CLOSED[:1]))
        if status == "FILLED":
            filled = qty
        elif status == "OPEN" or status == "PENDING":
            filled = D(0)
        side = direction if role == "ENTRY" else close
        dist = draw(st.integers(1, 50))
        px = _price(mark, tick, -sign * dist if role == "ENTRY" else sign * dist)
        orders.append({"order_id": f"{pid}_W{k}", "role": role, "side": side, "type": "LIMIT", "quantity": str(qty),
                       "filled_quantity": str(filled), "price": px, "status": status,
                       "reduce_only": role == "EXIT"})
    if net > 0 and not closed:
        for k in range(draw(st.integers(0, 2))):  # protective orders, each no larger than the position
            role = draw(st.sampled_from(["STOP_LOSS", "TAKE_PROFIT"]))
            qty = min(step * draw(st.integers(1, 400)), net)
            o = {"order_id": f"{pid}_P{k}", "role": role, "side": close, "quantity": str(qty), "reduce_only": True,
                 "status": draw(st.sampled_from(OPEN[:2]))}
            away = draw(st.integers(1, 3000))
            if role == "STOP_LOSS":
                o.update(type="STOP_MARKET", stop_price=_price(mark, tick, -sign * away))
            else:
                o.update(type="LIMIT", price=_price(mark, tick, sign * away))
            orders.append(o)
    return {"plan_id": pid, "symbol": symbol, "direction": direction, "status": "CLOSED" if closed else "ACTIVE",
            "net_position": str(sign * net), "orders": orders}


@st.composite
def cases(draw: st.DrawFn) -> Case:
    markets = {"AAA": draw(market()), "BBB": draw(market())}
    n = draw(st.integers(1, 3))
    plans = [draw(plan_data(f"TPL_{i}", sym, markets[sym]))
             for i, sym in enumerate(draw(st.lists(st.sampled_from(["AAA", "BBB"]), min_size=n, max_size=n)))]
    limits: dict[str, Any] = {}
    if draw(st.booleans()):
        limits["max_position"] = {s: str(D(markets[s]["step_size"]) * draw(st.integers(0, 900)))
                                  for s in draw(st.sets(st.sampled_from(["AAA", "BBB"])))}
    if draw(st.booleans()):
        limits["max_order_notional"] = str(draw(st.integers(1, 2_000_000)))
    if draw(st.booleans()):
        limits["max_price_deviation"] = draw(st.sampled_from(["0.01", "0.05", "0.5"]))
    state = LedgerState.model_validate({"markets": markets, "plans": plans, "limits": limits,
                                        "desk": {"state": draw(st.sampled_from(["ACTIVE", "ACTIVE", "HALTED"]))}})
    ids = draw(st.lists(st.sampled_from([p["plan_id"] for p in plans]), min_size=1, max_size=n, unique=True))
    data: dict[str, Any] = {"directive_id": "STR_P", "target_plan_ids": ids}
    target: Decimal | None = None
    if draw(st.integers(0, 4)) == 0:
        data["scope"] = "CLOSE_EXISTING"
    else:
        data["scope"] = "MODIFY_EXISTING"
        m0 = markets[plans[0]["symbol"]]
        step, tick, mark = D(m0["step_size"]), D(m0["tick_size"]), D(m0["mark_price"])
        sign = 1 if plans[0]["direction"] == "BUY" else -1
        if draw(st.integers(0, 5)):
            first = state.plan(ids[0])
            assert first is not None
            working = sum((o.side.sign * o.remaining for o in first.open_orders
                           if o.role in (OrderRole.ENTRY, OrderRole.EXIT)), D(0))
            with_working = (first.net_position + working) * first.direction.sign
            if with_working >= 0 and draw(st.integers(0, 3)) == 0:
                target = with_working  # what the working orders already reach: nothing to send
            else:
                target = step * draw(st.integers(0, 600))
                if draw(st.integers(0, 5)) == 0:
                    target += step * D(draw(st.integers(1, 9))) / 10  # off the step
            data["size_directive"] = {"target_position_size": str(target)}
            if draw(st.booleans()):
                data["entry_directive"] = {"order_type": "LIMIT",
                                           "limit_price": _price(mark, tick, draw(st.integers(-50, 50)))}
        if draw(st.booleans()) or "size_directive" not in data:
            ex: dict[str, Any] = {"allow_loosen": draw(st.booleans())}
            kind = draw(st.sampled_from(["tolerance", "price", "tp", "both"]))
            if kind == "tolerance":
                ex["stop_loss_tolerance"] = draw(st.sampled_from(["0.001", "0.01", "0.05", "0.3"]))
            if kind in ("price", "both"):
                ex["stop_loss_price"] = _price(mark, tick, -sign * draw(st.integers(-5, 3000)))
            if kind in ("tp", "both"):
                ex["take_profit_price"] = _price(mark, tick, sign * draw(st.integers(-5, 3000)))
            data["exit_directive"] = ex
    if draw(st.booleans()):
        data["execution_directive"] = {"max_total_slippage_pct": draw(st.sampled_from(["0.001", "0.05", "0.3"]))}
    return Case(state, StrategyDirective.model_validate(data), target)


def fill_working(s: LedgerState) -> LedgerState:
    """Every ENTRY/EXIT order still working fills its remaining quantity."""
    out = s.model_copy(deep=True)
    for p in out.plans:
        for o in p.orders:
            if o.is_open and o.role in (OrderRole.ENTRY, OrderRole.EXIT):
                p.net_position += o.side.sign * o.remaining
                o.filled_quantity = o.quantity
                o.status = OrderStatus.FILLED
    return out


def on_step(s: LedgerState, case: Case) -> bool:
    for p in s.plans:
        step = s.markets[p.symbol].step_size
        values = [p.net_position, *(o.remaining for o in p.orders)]
        if case.target is not None:
            values.append(case.target)
        if not all(is_multiple(v, step) for v in values):
            return False
    return True


@SETTINGS
@given(cases())
def test_position_lands_on_the_target_or_the_batch_has_an_error(case: Case) -> None:
    batch = run(case.directive, case.state)
    event(f"{case.directive.scope}: " + ("error" if not batch.ok else "trades" if any(
        isinstance(c, ExecuteTrade) for c in batch.commands) else "no trade" if batch.commands else "empty"))
    if not batch.ok:
        return
    after_batch = apply_batch(case.state, batch)
    final = fill_working(after_batch)
    exact = on_step(case.state, case)
    for pid in case.directive.target_plan_ids:
        before, after = case.state.plan(pid), final.plan(pid)
        assert before is not None and after is not None
        rules = case.state.markets[before.symbol]
        step, sign = rules.step_size, before.direction.sign
        if before.status is PlanStatus.CLOSED:
            assert case.target in (None, 0) and after.net_position == before.net_position
            continue
        target = D(0) if case.directive.scope == "CLOSE_EXISTING" else case.target
        if target is None:  # exit-only directive: the batch does not move the position
            moved = after_batch.plan(pid)
            assert moved is not None and moved.net_position == before.net_position
            continue
        if target == 0:
            left = round_down_to(abs(after.net_position), step)
            assert left == 0 or left * rules.mark_price < rules.min_notional, (pid, after.net_position)
            assert left == 0 or any("dust" in w for w in batch.warnings)
            assert not after.open_orders
            continue
        miss = abs(after.net_position - sign * target)
        assert miss < step, (pid, before.net_position, target, after.net_position)
        if exact:
            assert miss == 0


@SETTINGS
@given(cases())
def test_the_sign_never_flips(case: Case) -> None:
    batch = run(case.directive, case.state)
    if not batch.ok:
        return
    after = apply_batch(case.state, batch)
    final = fill_working(after)
    for p in after.plans:
        assert p.net_position * p.direction.sign >= 0, (p.plan_id, p.net_position)
    if case.target is not None:  # the worker took charge of the working orders: once they fill, still no flip
        for pid in case.directive.target_plan_ids:
            p = final.plan(pid)
            assert p is not None and p.net_position * p.direction.sign >= 0
    for t in batch.commands:
        if isinstance(t, ExecuteTrade):
            plan = case.state.plan(t.plan_id)
            assert plan is not None
            grows = t.side is plan.direction
            assert t.reduce_only is (not grows) and (t.role is OrderRole.ENTRY) is grows


@SETTINGS
@given(cases())
def test_protective_orders_never_exceed_the_resulting_position(case: Case) -> None:
    batch = run(case.directive, case.state)
    if not batch.ok:
        return
    after = apply_batch(case.state, batch)
    for p in after.plans:
        for o in p.open_orders:
            if o.role.is_protective:
                assert o.remaining <= abs(p.net_position), (p.plan_id, o.order_id, o.remaining, p.net_position)
                assert o.side is not p.direction


def risk_breaches(s: LedgerState, batch: ExecutionBatch) -> list[str]:
    """The limits of core/risk.py, recomputed independently from the ledger state and the batch."""
    out: list[str] = []
    limits, halted = s.limits, s.desk.state == "HALTED"
    roles = {(p.plan_id, o.order_id): o.role for p in s.plans for o in p.orders}
    added: dict[str, Decimal] = {}
    for c in batch.commands:
        if isinstance(c, (ExecuteTrade, ModifyOrder)):
            mark = s.markets[c.symbol].mark_price
            for px in (c.price, c.stop_price):
                if px is not None and limits.max_price_deviation is not None:
                    if abs(px - mark) / mark > limits.max_price_deviation:
                        out.append(f"deviation {c}")
        if isinstance(c, ExecuteTrade) and c.role is OrderRole.ENTRY and not c.reduce_only:
            added[c.symbol] = added.get(c.symbol, D(0)) + c.side.sign * c.quantity
            if halted:
                out.append(f"halted {c}")
            px = c.price if c.price is not None else s.markets[c.symbol].mark_price
            if limits.max_order_notional is not None and c.quantity * px > limits.max_order_notional:
                out.append(f"notional {c}")
        if isinstance(c, ModifyOrder) and halted and roles[(c.plan_id, c.order_id)] is OrderRole.ENTRY:
            out.append(f"halted modify {c}")
    for symbol, delta in added.items():
        limit = limits.max_position.get(symbol)
        current = sum((p.net_position for p in s.plans if p.symbol == symbol), D(0))
        if limit is not None and abs(current + delta) > limit and abs(current + delta) > abs(current):
            out.append(f"position {symbol} {current + delta}")
    return out


@SETTINGS
@given(cases())
def test_no_batch_that_breaks_a_risk_limit_is_error_free(case: Case) -> None:
    batch = run(case.directive, case.state)
    if batch.ok:
        assert risk_breaches(case.state, batch) == []
    for c in batch.commands:  # and every quantity and computed price sits on the venue's grid
        rules = case.state.markets[c.symbol]
        if isinstance(c, ExecuteTrade):
            assert is_multiple(c.quantity, rules.step_size)
        if isinstance(c, (ExecuteTrade, ModifyOrder)):
            for px in (c.price, c.stop_price):
                assert px is None or is_multiple(px, rules.tick_size), (c, rules.tick_size)
            if isinstance(c, ModifyOrder) and c.quantity is not None:
                assert is_multiple(c.quantity, rules.step_size)


@SETTINGS
@given(cases())
def test_translation_is_deterministic_and_idempotent(case: Case) -> None:
    first = run(case.directive, case.state)
    assert run(case.directive, case.state).to_json() == first.to_json()
    if not first.ok or not first.commands or case.directive.exit_directive is not None:
        return
    again = run(case.directive, apply_batch(case.state, first))
    assert again.ok and [c for c in again.commands if isinstance(c, ExecuteTrade)] == [], again.to_json()
