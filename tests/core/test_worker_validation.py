"""Validation and refusals of the worker (DESIGN.md section 2): every refusal names the plan and the field."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from core.batch import ExecuteTrade
from core.directives import StrategyDirective
from core.models import Side
from core.worker import translate
from tests.core.conftest import (
    COID_RE,
    D,
    cancels,
    directive,
    modifies,
    order,
    plan,
    run,
    state,
    trades,
)


def seed() -> object:
    return state(plan("TPL_1", "1.0", orders=[order("ORD_1", "STOP_LOSS", "SELL", "1.0", stop="100000")]),
                 plan("TPL_2", "-20", symbol="ETHUSDT"),
                 plan("TPL_C", "0", status="CLOSED"),
                 plan("TPL_F", "0"))


def refused(batch: object, *needles: str) -> str:
    assert batch.commands == [] and batch.errors, batch  # type: ignore[attr-defined]
    text = " | ".join(batch.errors)  # type: ignore[attr-defined]
    for n in needles:
        assert n in text, (n, text)
    return text


# ---- NEW_TRADE ---------------------------------------------------------------------------------------------------

def test_new_trade_with_target_plan_ids_refused() -> None:
    d = directive("NEW_TRADE", "TPL_1", entry_directive={"symbol": "BTCUSDT", "direction": "BUY"},
                  size_directive={"target_position_size": "1"})
    refused(run(d, seed()), "target_plan_ids", "must be empty for NEW_TRADE")


@pytest.mark.parametrize(("parts", "field"), [
    ({"entry_directive": {"direction": "BUY"}, "size_directive": {"target_position_size": "1"}},
     "entry_directive.symbol"),
    ({"entry_directive": {"symbol": "BTCUSDT"}, "size_directive": {"target_position_size": "1"}},
     "entry_directive.direction"),
    ({"size_directive": {"target_position_size": "1"}}, "entry_directive.symbol"),
    ({"entry_directive": {"symbol": "BTCUSDT", "direction": "BUY"}}, "size_directive.target_position_size"),
    ({"entry_directive": {"symbol": "BTCUSDT", "direction": "BUY"}, "size_directive": {"target_position_size": "0"}},
     "size_directive.target_position_size: must be greater than 0"),
    ({"entry_directive": {"symbol": "DOGEUSDT", "direction": "BUY"}, "size_directive": {"target_position_size": "1"}},
     "no market rules for DOGEUSDT"),
])
def test_new_trade_missing_parts_refused(parts: dict[str, object], field: str) -> None:
    refused(run(directive("NEW_TRADE", **parts), seed()), field)


def test_new_trade_below_min_notional_refused() -> None:
    d = directive("NEW_TRADE", entry_directive={"symbol": "BTCUSDT", "direction": "BUY"},
                  size_directive={"target_position_size": "0.00004"})  # 0.00004 x 102000 = 4.08 < 5
    refused(run(d, seed()), "size_directive.target_position_size", "min_notional 5", "cannot be reached")


# ---- target lists ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["MODIFY_EXISTING", "CLOSE_EXISTING"])
def test_empty_plan_list_refused(scope: str) -> None:
    parts = {"size_directive": {"target_position_size": "1"}} if scope == "MODIFY_EXISTING" else {}
    refused(run(directive(scope, **parts), seed()), "target_plan_ids", "at least one plan")


@pytest.mark.parametrize("scope", ["MODIFY_EXISTING", "CLOSE_EXISTING"])
def test_duplicate_plan_ids_refused(scope: str) -> None:
    parts = {"size_directive": {"target_position_size": "1"}} if scope == "MODIFY_EXISTING" else {}
    text = refused(run(directive(scope, "TPL_1", "TPL_2", "TPL_1", **parts), seed()), "target_plan_ids", "distinct")
    assert "TPL_1" in text and "TPL_2" not in text


def test_blank_plan_id_refused_at_parse() -> None:
    with pytest.raises(ValidationError, match="non-empty"):
        directive("CLOSE_EXISTING", " ")


def test_modify_without_sub_directives_refused() -> None:
    refused(run(directive("MODIFY_EXISTING", "TPL_1"), seed()), "size_directive, exit_directive or entry_directive")


def test_close_existing_with_sub_directives_refused() -> None:
    d = directive("CLOSE_EXISTING", "TPL_1", size_directive={"target_position_size": "0"})
    refused(run(d, seed()), "size_directive", "not allowed for CLOSE_EXISTING")


def test_unknown_plan_in_modify_is_an_error() -> None:
    d = directive("MODIFY_EXISTING", "TPL_1", "TPL_NOPE", size_directive={"target_position_size": "2"})
    refused(run(d, seed()), "TPL_NOPE: unknown plan id")


def test_unknown_plan_in_flatten_is_a_warning_and_the_rest_closes() -> None:
    batch = run(directive("CLOSE_EXISTING", "TPL_NOPE", "TPL_1"), seed())
    assert batch.ok and [t.plan_id for t in trades(batch)] == ["TPL_1"] and cancels(batch)
    assert batch.warnings == ["TPL_NOPE: unknown plan; skipped (the other plans still close)"]


def test_closed_and_flat_plans_in_flatten_are_warnings() -> None:
    batch = run(directive("CLOSE_EXISTING", "TPL_C", "TPL_F", "TPL_2"), seed())
    assert batch.ok and [t.plan_id for t in trades(batch)] == ["TPL_2"]
    assert [w.split(":")[0] for w in batch.warnings] == ["TPL_C", "TPL_F"]
    assert all("already flat" in w for w in batch.warnings)


def test_flatten_of_only_closed_plans_is_ok_and_empty() -> None:
    batch = run(directive("CLOSE_EXISTING", "TPL_C"), seed())
    assert batch.ok and batch.commands == [] and batch.warnings


def test_closed_plan_in_modify() -> None:
    refused(run(directive("MODIFY_EXISTING", "TPL_C", size_directive={"target_position_size": "1"}), seed()),
            "TPL_C: plan is CLOSED")
    zero = run(directive("MODIFY_EXISTING", "TPL_C", size_directive={"target_position_size": "0"}), seed())
    assert zero.ok and zero.commands == [] and "already CLOSED" in zero.warnings[0]


def test_wrong_sign_plan_refused_in_modify_but_closed_as_it_stands_in_flatten() -> None:
    s = state(plan("TPL_W", "-0.3", direction="BUY"))  # a long plan that a venue overshot into a short
    refused(run(directive("MODIFY_EXISTING", "TPL_W", size_directive={"target_position_size": "1"}), s),
            "TPL_W", "wrong sign")
    batch = run(directive("CLOSE_EXISTING", "TPL_W"), s)
    (t,) = trades(batch)
    assert batch.ok and (t.side, t.quantity, t.reduce_only) == (Side.BUY, D("0.3"), True)
    assert "wrong sign" in batch.warnings[0]


# ---- the seed's relative form ------------------------------------------------------------------------------------

SEED_SCALE_IN = """{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
  "size_directive": {"position_size": 0.5, "aggressiveness": 0.8},
  "entry_directive": {"direction": "BUY", "order_type": "MARKET"}}"""
SEED_TAKE_PROFIT = """{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
  "size_directive": {"position_size": -0.75}, "entry_directive": {"direction": "SELL", "order_type": "MARKET"}}"""


@pytest.mark.parametrize("text", [SEED_SCALE_IN, SEED_TAKE_PROFIT])
def test_seed_position_size_refused_pointing_to_target_position_size(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        StrategyDirective.model_validate_json(text)
    msg = str(info.value)
    assert "position_size is not accepted" in msg and "target_position_size" in msg and "absolute" in msg


def test_negative_target_refused_pointing_to_the_absolute_form() -> None:
    with pytest.raises(ValidationError) as info:
        directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "-0.75"})
    assert "target_position_size" in str(info.value) and "absolute" in str(info.value)


def test_opposite_direction_is_not_a_way_to_reduce() -> None:
    d = directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "0.75"},
                  entry_directive={"direction": "SELL", "order_type": "MARKET"})
    text = refused(run(d, seed()), "TPL_1: entry_directive.direction", "opposite", "target_position_size")
    assert "absolute" in text
    same = directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "0.75"},
                     entry_directive={"direction": "BUY", "order_type": "MARKET"})
    assert run(same, seed()).ok


def test_symbol_mismatch_refused() -> None:
    d = directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "2"},
                  entry_directive={"symbol": "ETHUSDT"})
    refused(run(d, seed()), "TPL_1: entry_directive.symbol", "ETHUSDT")


def test_missing_market_rules_refused() -> None:
    s = state(plan("TPL_X", "1", symbol="XRPUSDT"))
    refused(run(directive("MODIFY_EXISTING", "TPL_X", exit_directive={"stop_loss_tolerance": "0.01"}), s),
            "TPL_X", "no market rules for XRPUSDT")


def test_entry_directive_alone_needs_a_limit_price() -> None:
    refused(run(directive("MODIFY_EXISTING", "TPL_1", entry_directive={"order_type": "MARKET"}), seed()),
            "TPL_1: entry_directive", "reprice")


# ---- minimum notional, dust ----------------------------------------------------------------------------------

def test_scale_below_min_notional_is_an_error() -> None:
    d = directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "1.00004"})
    refused(run(d, seed()), "TPL_1: size_directive.target_position_size", "cannot be reached", "min_notional 5")


def test_close_of_dust_is_a_warning_and_the_orders_still_cancel() -> None:
    s = state(plan("TPL_D", "0.00004", orders=[order("ORD_S", "STOP_LOSS", "SELL", "0.00004", stop="90000")]))
    for d in (directive("CLOSE_EXISTING", "TPL_D"),
              directive("MODIFY_EXISTING", "TPL_D", size_directive={"target_position_size": "0"})):
        batch = run(d, s)
        assert batch.ok and [c.order_id for c in cancels(batch)] == ["ORD_S"] and trades(batch) == []
        assert "dust remains" in batch.warnings[0] and "min notional 5" in batch.warnings[0]


def test_close_of_a_position_finer_than_the_step_closes_the_steps_and_warns() -> None:
    s = state(plan("TPL_D", "1.000004"))
    batch = run(directive("CLOSE_EXISTING", "TPL_D"), s)
    (t,) = trades(batch)
    assert t.quantity == D(1) and "dust remains: 0.000004" in batch.warnings[0]


def test_protective_order_shrinking_below_min_notional_is_cancelled_with_a_warning() -> None:
    s = state(plan("TPL_1", "1", orders=[order("ORD_1", "STOP_LOSS", "SELL", "1", stop="100000"),
                                         order("ORD_T", "TAKE_PROFIT", "SELL", "0.00008", price="110000")]))
    batch = run(directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "0.5"}), s)
    assert [c.order_id for c in cancels(batch)] == ["ORD_T"]
    assert [(m.order_id, m.quantity) for m in modifies(batch)] == [("ORD_1", D("0.5"))]
    assert "ORD_T" in batch.warnings[0] and "cancelled" in batch.warnings[0]


def test_new_stop_below_min_notional_refused() -> None:
    s = state(plan("TPL_1", "0.00004"))
    refused(run(directive("MODIFY_EXISTING", "TPL_1", exit_directive={"stop_loss_price": "100000"}), s),
            "TPL_1: exit_directive", "min_notional")


# ---- tick and step rounding ------------------------------------------------------------------------------------

def test_trade_quantity_rounds_down_to_the_step() -> None:
    s = state(plan("TPL_1", "1"))
    up = run(directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "1.2345678"}), s)
    assert [t.quantity for t in trades(up)] == [D("0.23456")]
    down = run(directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "0.3333333"}), s)
    assert [t.quantity for t in trades(down)] == [D("0.66666")]  # 0.6666667 rounded toward zero


def test_protective_quantity_rounds_down_and_never_exceeds_the_position() -> None:
    s = state(plan("TPL_1", "3", orders=[order("ORD_1", "STOP_LOSS", "SELL", "3", stop="100000"),
                                         order("ORD_2", "STOP_LOSS", "SELL", "2", stop="99000")]))
    batch = run(directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "1"}), s)
    assert [(m.order_id, m.quantity) for m in modifies(batch)] == [("ORD_1", D(1)), ("ORD_2", D("0.66666"))]


def test_protective_larger_than_the_position_is_capped_when_the_position_changes() -> None:
    s = state(plan("TPL_1", "1", orders=[order("ORD_1", "STOP_LOSS", "SELL", "2", stop="100000")]))
    batch = run(directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "1.5"}), s)
    assert [(m.order_id, m.quantity) for m in modifies(batch)] == [("ORD_1", D("1.5"))]  # not 3


def test_stop_tolerance_rounds_away_from_the_mark() -> None:
    # mark 102000 x 0.98765 = 100740.3 -> long stop rounds down to 100740.3 (already on tick); use a finer one
    s = state(plan("TPL_1", "1", orders=[order("ORD_1", "STOP_LOSS", "SELL", "1", stop="90000")]))
    batch = run(directive("MODIFY_EXISTING", "TPL_1", exit_directive={"stop_loss_tolerance": "0.0123456"}), s)
    # 102000 x (1 - 0.0123456) = 100740.7488 -> 100740.74 (down, away from the mark)
    assert [m.stop_price for m in modifies(batch)] == [D("100740.74")]


@pytest.mark.parametrize(("parts", "field"), [
    ({"exit_directive": {"stop_loss_price": "100000.005"}}, "exit_directive.stop_loss_price"),
    ({"exit_directive": {"take_profit_price": "110000.001"}}, "exit_directive.take_profit_price"),
    ({"size_directive": {"target_position_size": "2"},
      "entry_directive": {"order_type": "LIMIT", "limit_price": "101000.123"}}, "entry_directive.limit_price"),
    ({"entry_directive": {"order_type": "LIMIT", "limit_price": "101000.123"}}, "entry_directive.limit_price"),
])
def test_prices_off_the_tick_are_refused(parts: dict[str, object], field: str) -> None:
    refused(run(directive("MODIFY_EXISTING", "TPL_1", **parts), seed()), f"TPL_1: {field}", "tick size 0.01")


def test_exit_on_a_flat_plan_warns() -> None:
    batch = run(directive("MODIFY_EXISTING", "TPL_F", exit_directive={"stop_loss_tolerance": "0.01"}), seed())
    assert batch.ok and batch.commands == [] and "flat" in batch.warnings[0]


# ---- client order ids ------------------------------------------------------------------------------------------

def test_client_order_ids_fit_binance_even_for_long_ids() -> None:
    long_plan = "TPL_" + "x" * 60
    s = state(plan(long_plan, "1"), plan("TPL_2", "-20", symbol="ETHUSDT"))
    did = "STR_" + "A1:_.-" * 10
    d = directive("MODIFY_EXISTING", long_plan, "TPL_2", directive_id=did[:64],
                  size_directive={"target_position_size": "3"},
                  exit_directive={"stop_loss_tolerance": "0.02", "take_profit_price": "100.01"},
                  )
    batch = translate(d, s)
    # the take profit is on the wrong side for the long plan: refused, but the ids of a good batch are checked below
    assert not batch.ok
    d = directive("MODIFY_EXISTING", long_plan, "TPL_2", directive_id=did[:64],
                  size_directive={"target_position_size": "3"}, exit_directive={"stop_loss_tolerance": "0.02"})
    batch = run(d, s)
    ids = [c.client_order_id for c in batch.commands if isinstance(c, ExecuteTrade)]
    assert len(ids) == 4 and all(len(i) <= 36 and COID_RE.match(i) for i in ids)
    assert json.loads(batch.to_json())["commands"][0]["client_order_id"] == ids[0]
