"""Pre-trade risk checks (core/risk.py), directly and through the worker. Every refusal names plan, field and limit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.batch import CancelOrder, ExecuteTrade, ModifyOrder
from core.models import DeskStatus, MarketRules, OrderRole, OrderType, RiskLimits, Side
from core.risk import RiskContext, adds_exposure, check
from tests.core.conftest import D, directive, order, plan, run, state, trades

LIMITS = {"max_position": {"BTCUSDT": "5"}, "max_order_notional": "300000", "max_price_deviation": "0.10"}
POSITION_ONLY = {"max_position": {"BTCUSDT": "5"}}


def desk(*plans: dict[str, object], halted: bool = False, limits: dict[str, object] | None = None):  # type: ignore[no-untyped-def]
    return state(*plans, limits=LIMITS if limits is None else limits,  # type: ignore[arg-type]
                 desk="HALTED" if halted else "ACTIVE")


def long_btc(net: str = "1", pid: str = "TPL_1") -> dict[str, object]:
    return plan(pid, net, orders=[order(f"{pid}_SL", "STOP_LOSS", "SELL", net.lstrip("-"), stop="95000")])


def size(pid: str, target: str, **entry: object):  # type: ignore[no-untyped-def]
    parts: dict[str, object] = {"size_directive": {"target_position_size": target}}
    if entry:
        parts["entry_directive"] = entry
    return directive("MODIFY_EXISTING", pid, **parts)  # type: ignore[arg-type]


def only_error(batch: object) -> str:
    assert batch.commands == [] and len(batch.errors) == 1, batch.errors  # type: ignore[attr-defined]
    return batch.errors[0]  # type: ignore[attr-defined, no-any-return]


# ---- max position ------------------------------------------------------------------------------------------------

def test_scale_in_past_max_position_refused_naming_plan_field_and_limit() -> None:
    err = only_error(run(size("TPL_1", "2.9"), desk(long_btc("1"), long_btc("2.5", "TPL_2"))))
    assert err == "TPL_1: quantity: resulting BTCUSDT position 5.4 exceeds limits.max_position[BTCUSDT] 5"


def test_scale_in_up_to_max_position_passes_counting_every_plan_on_the_symbol() -> None:
    assert run(size("TPL_1", "2.5"), desk(long_btc("1"), long_btc("2.5", "TPL_2"))).ok
    # a short plan on the same symbol nets against the long ones
    short = plan("TPL_S", "-3")
    assert run(size("TPL_1", "5"), desk(long_btc("1"), long_btc("2.5", "TPL_2"), short, limits=POSITION_ONLY)).ok


def test_max_position_applies_to_shorts_too() -> None:
    err = only_error(run(size("TPL_S", "6"), desk(plan("TPL_S", "-1"), limits=POSITION_ONLY)))
    assert "TPL_S" in err and "-6" in err and "limits.max_position[BTCUSDT] 5" in err


def test_new_trade_past_max_position_refused() -> None:
    d = directive("NEW_TRADE", entry_directive={"symbol": "BTCUSDT", "direction": "BUY"},
                  size_directive={"target_position_size": "2"})
    err = only_error(run(d, desk(long_btc("4"))))
    assert err.startswith("TPL_") and "limits.max_position[BTCUSDT] 5" in err


def test_reducing_a_position_already_over_the_limit_passes() -> None:
    s = desk(long_btc("8"))
    assert run(size("TPL_1", "6"), s).ok  # scale-out: no exposure added
    assert run(directive("CLOSE_EXISTING", "TPL_1"), s).ok


def test_symbol_without_a_position_limit_is_not_limited() -> None:
    assert run(size("TPL_E", "1000"), desk(plan("TPL_E", "10", symbol="ETHUSDT"), limits=POSITION_ONLY)).ok


# ---- max notional ------------------------------------------------------------------------------------------------

def test_entry_over_max_notional_refused() -> None:
    err = only_error(run(size("TPL_1", "4"), desk(long_btc("1"))))  # 3 x 102000 = 306000 > 300000
    assert err == "TPL_1: quantity: order notional 306000 exceeds limits.max_order_notional 300000"


def test_limit_entry_notional_uses_the_limit_price() -> None:
    ok = run(size("TPL_1", "4", order_type="LIMIT", limit_price="99000"), desk(long_btc("1")))  # 297000
    assert ok.ok and trades(ok)[0].price == D(99000)


def test_close_over_max_notional_passes() -> None:
    s = desk(long_btc("4.9"))  # 4.9 x 102000 = 499800 > 300000
    assert run(size("TPL_1", "0"), s).ok
    assert run(size("TPL_1", "1"), s).ok
    assert run(directive("CLOSE_EXISTING", "TPL_1"), s).ok


# ---- price deviation ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("parts", "field"), [
    ({"exit_directive": {"stop_loss_tolerance": "0.2", "allow_loosen": True}}, "stop_price"),
    ({"exit_directive": {"stop_loss_price": "90000", "allow_loosen": True}}, "stop_price"),
    ({"exit_directive": {"take_profit_price": "115000"}}, "price"),
    ({"size_directive": {"target_position_size": "1.5"},
      "entry_directive": {"order_type": "LIMIT", "limit_price": "91000"}}, "price"),
])
def test_price_too_far_from_the_mark_refused(parts: dict[str, object], field: str) -> None:
    err = only_error(run(directive("MODIFY_EXISTING", "TPL_1", **parts), desk(long_btc("1"))))
    assert err.startswith(f"TPL_1: {field}: ") and "% from the mark 102000" in err
    assert "limits.max_price_deviation 0.10" in err


def test_price_at_the_deviation_limit_passes() -> None:
    batch = run(directive("MODIFY_EXISTING", "TPL_1", exit_directive={"stop_loss_price": "91800",
                                                                       "allow_loosen": True}), desk(long_btc("1")))
    assert batch.ok  # exactly 10 %


def test_flatten_with_a_slippage_cap_beyond_the_deviation_limit_is_refused() -> None:
    # the rule as defined: any limit price is checked against the mark, a close's too
    d = directive("CLOSE_EXISTING", "TPL_1", execution_directive={"max_total_slippage_pct": "0.2"})
    err = only_error(run(d, desk(long_btc("1"))))
    assert err.startswith("TPL_1: price: 81600") and "limits.max_price_deviation" in err
    assert run(directive("CLOSE_EXISTING", "TPL_1"), desk(long_btc("1"))).ok  # MARKET has no price to check


def test_quantity_only_modify_of_a_far_stop_is_not_checked() -> None:
    s = desk(plan("TPL_1", "1", orders=[order("SL", "STOP_LOSS", "SELL", "1", stop="50000")]))
    assert run(size("TPL_1", "0.5"), s).ok


# ---- desk HALTED -------------------------------------------------------------------------------------------------

def test_halted_blocks_new_trade_and_scale_in() -> None:
    s = desk(long_btc("1"), halted=True)
    new = directive("NEW_TRADE", entry_directive={"symbol": "BTCUSDT", "direction": "BUY"},
                    size_directive={"target_position_size": "1"})
    err = only_error(run(new, s))
    assert "desk.state: desk is HALTED" in err and "BUY 1 BTCUSDT would add exposure" in err
    err = only_error(run(size("TPL_1", "1.5"), s))
    assert err.startswith("TPL_1: desk.state: desk is HALTED: BUY 0.5 BTCUSDT")


def test_halted_blocks_repricing_working_entries() -> None:
    s = desk(plan("TPL_1", "1", orders=[order("E1", "ENTRY", "BUY", "1", price="100000")]), halted=True)
    err = only_error(run(directive("MODIFY_EXISTING", "TPL_1",
                                   entry_directive={"order_type": "LIMIT", "limit_price": "100500"}), s))
    assert err == "TPL_1: desk.state: desk is HALTED: working entry E1 may not be changed"


@pytest.mark.parametrize("parts", [
    {"exit_directive": {"stop_loss_tolerance": "0.01"}},  # tighten
    {"size_directive": {"target_position_size": "0"}},  # close
])  # a scale-out and a new take profit are refused while HALTED (issue 11): tests/core/test_desk_states.py
def test_halted_passes_tighten_scale_out_and_close(parts: dict[str, object]) -> None:
    s = desk(long_btc("1"), halted=True)
    batch = run(directive("MODIFY_EXISTING", "TPL_1", **parts), s)
    assert batch.ok and batch.commands


def test_halted_passes_flatten_and_a_new_stop() -> None:
    s = desk(long_btc("1"), plan("TPL_2", "-20", symbol="ETHUSDT"), halted=True)
    assert run(directive("CLOSE_EXISTING", "TPL_1", "TPL_2"), s).ok
    batch = run(directive("MODIFY_EXISTING", "TPL_2", exit_directive={"stop_loss_tolerance": "0.02"}), s)
    assert batch.ok and trades(batch)[0].role is OrderRole.STOP_LOSS


# ---- check() directly --------------------------------------------------------------------------------------------

def ctx(**kw: object) -> RiskContext:
    base: dict[str, object] = dict(
        limits=RiskLimits.model_validate(LIMITS), desk=DeskStatus.ACTIVE,
        markets={"BTCUSDT": MarketRules(mark_price=D(100000), tick_size=D("0.01"), step_size=D("0.00001"))},
        symbol_positions={}, order_roles={}, order_quantities={},
    )
    base.update(kw)
    return RiskContext(**base)  # type: ignore[arg-type]


def trade(side: Side, qty: str, *, role: OrderRole = OrderRole.ENTRY, reduce_only: bool = False,
          price: str | None = None) -> ExecuteTrade:
    return ExecuteTrade(seq=1, plan_id="P", symbol="BTCUSDT", side=side, order_type=OrderType.LIMIT if price else
                        OrderType.MARKET, quantity=D(qty), price=D(price) if price else None, reduce_only=reduce_only,
                        role=role, client_order_id="pd-x")


def test_adds_exposure_is_a_non_reduce_only_entry() -> None:
    assert adds_exposure(trade(Side.BUY, "1"))
    assert not adds_exposure(trade(Side.SELL, "1", role=OrderRole.EXIT, reduce_only=True))
    assert not adds_exposure(trade(Side.BUY, "1", reduce_only=True))
    assert not adds_exposure(trade(Side.SELL, "1", role=OrderRole.STOP_LOSS, reduce_only=True))


def test_check_sums_exposure_per_symbol_over_the_batch() -> None:
    cmds = [trade(Side.BUY, "2"), trade(Side.BUY, "2")]
    assert check(cmds, ctx(symbol_positions={"BTCUSDT": Decimal(1)})) == []
    errs = check(cmds, ctx(symbol_positions={"BTCUSDT": Decimal("1.5")}))
    assert errs == ["P: quantity: resulting BTCUSDT position 5.5 exceeds limits.max_position[BTCUSDT] 5"]


def test_check_ignores_cancels_and_unpriced_modifies() -> None:
    cmds = [CancelOrder(seq=1, plan_id="P", symbol="BTCUSDT", order_id="O"),
            ModifyOrder(seq=2, plan_id="P", symbol="BTCUSDT", order_id="O", quantity=D(100))]
    assert check(cmds, ctx(desk=DeskStatus.HALTED)) == []


def test_check_without_limits_passes_everything_but_halted() -> None:
    free = ctx(limits=RiskLimits())
    assert check([trade(Side.BUY, "1000", price="1")], free) == []
    assert len(check([trade(Side.BUY, "1")], ctx(limits=RiskLimits(), desk=DeskStatus.HALTED))) == 1
