"""StrategyDirective and its sub-directives: strict parsing (extra="forbid"), absolute sizes, clear messages."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.directives import (
    RELATIVE_SIZE_HELP,
    EntryDirective,
    ExecutionDirective,
    ExitDirective,
    Scope,
    SizeDirective,
    StrategyDirective,
)
from core.models import OrderType, Side

DESIGN_EXAMPLE = """{"directive_id": "STR_7", "scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
 "size_directive": {"target_position_size": "1.5"},
 "entry_directive": {"order_type": "MARKET"},
 "exit_directive": {"stop_loss_tolerance": "0.01"},
 "execution_directive": {"execution_urgency": "1.0", "max_total_slippage_pct": "0.05"}}"""


def test_design_example_parses() -> None:
    d = StrategyDirective.model_validate_json(DESIGN_EXAMPLE)
    assert d.scope is Scope.MODIFY_EXISTING and d.target_plan_ids == ["TPL_1"]
    assert d.size_directive == SizeDirective(target_position_size=Decimal("1.5"))
    assert d.entry_directive is not None and d.entry_directive.order_type is OrderType.MARKET
    assert d.exit_directive is not None and d.exit_directive.stop_loss_tolerance == Decimal("0.01")
    assert d.execution_directive is not None and d.execution_directive.max_total_slippage_pct == Decimal("0.05")


def test_numbers_are_accepted_as_well_as_strings_and_stay_decimal() -> None:
    d = StrategyDirective.model_validate_json(
        '{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], "size_directive": {"target_position_size": 0.1}}')
    assert d.size_directive is not None
    assert d.size_directive.target_position_size == Decimal("0.1")  # not 0.1000000000000000055...
    assert json.loads(d.model_dump_json())["size_directive"]["target_position_size"] == "0.1"


@pytest.mark.parametrize(("where", "payload"), [
    ("top", {"scope": "CLOSE_EXISTING", "target_plan_ids": ["A"], "urgent": True}),
    ("size", {"scope": "MODIFY_EXISTING", "target_plan_ids": ["A"],
              "size_directive": {"target_position_size": "1", "delta": "1"}}),
    ("entry", {"scope": "MODIFY_EXISTING", "target_plan_ids": ["A"], "size_directive": {"target_position_size": "1"},
               "entry_directive": {"order_type": "MARKET", "side": "BUY"}}),
    ("exit", {"scope": "MODIFY_EXISTING", "target_plan_ids": ["A"],
              "exit_directive": {"stop_loss_tolerance": "0.01", "trail": True}}),
    ("execution", {"scope": "CLOSE_EXISTING", "target_plan_ids": ["A"],
                   "execution_directive": {"max_total_slippage_pct": "0.05", "algo": "TWAP"}}),
])
def test_unknown_fields_refused(where: str, payload: dict[str, object]) -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        StrategyDirective.model_validate(payload)


def test_seed_relative_position_size_refused_with_help() -> None:
    with pytest.raises(ValidationError) as info:
        SizeDirective.model_validate({"position_size": 0.5, "aggressiveness": 0.8})
    assert RELATIVE_SIZE_HELP in str(info.value)
    assert "target_position_size" in RELATIVE_SIZE_HELP and "absolute" in RELATIVE_SIZE_HELP


def test_position_size_refused_even_next_to_target_position_size() -> None:
    with pytest.raises(ValidationError, match="position_size is not accepted"):
        SizeDirective.model_validate({"target_position_size": "1", "position_size": "0.5"})


@pytest.mark.parametrize("bad", ["+0.5", "+0", " +1"])
def test_plus_sign_is_not_a_relative_target(bad: str) -> None:
    """'+0.5' once opened a position of 0.5 on a plan of 0.001: a sign is refused, naming the field."""
    with pytest.raises(ValidationError) as info:
        SizeDirective.model_validate({"target_position_size": bad})
    assert "target_position_size" in str(info.value) and "has a sign" in str(info.value)


@pytest.mark.parametrize("bad", ["0.00_2", "1_000", "0,5", "1e1000000", "0x10", "1e-1000000"])
def test_target_follows_the_typed_number_grammar(bad: str) -> None:
    with pytest.raises(ValidationError) as info:
        SizeDirective.model_validate({"target_position_size": bad})
    assert "target_position_size" in str(info.value)


@pytest.mark.parametrize("bad", ["-0.75", -1, "-0"])
def test_negative_target_refused(bad: object) -> None:
    if bad == "-0":
        assert SizeDirective.model_validate({"target_position_size": bad}).target_position_size == 0
        return
    with pytest.raises(ValidationError) as info:
        SizeDirective.model_validate({"target_position_size": bad})
    assert "a negative size is not a way to reduce" in str(info.value) and "target_position_size" in str(info.value)


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "1e400", "abc", "", True, None, [1]])
def test_target_must_be_a_finite_decimal(bad: object) -> None:
    with pytest.raises(ValidationError):
        SizeDirective.model_validate({"target_position_size": bad})


def test_target_size_is_required() -> None:
    with pytest.raises(ValidationError, match="target_position_size"):
        SizeDirective.model_validate({"aggressiveness": "0.5"})


@pytest.mark.parametrize("bad", ["-0.1", "1.1"])
def test_aggressiveness_and_urgency_are_fractions(bad: str) -> None:
    with pytest.raises(ValidationError, match="between 0 and 1|has a sign"):
        SizeDirective.model_validate({"target_position_size": "1", "aggressiveness": bad})
    with pytest.raises(ValidationError, match="between 0 and 1|has a sign"):
        ExecutionDirective.model_validate({"execution_urgency": bad})


def test_entry_directive_rules() -> None:
    assert EntryDirective().order_type is OrderType.MARKET
    assert EntryDirective.model_validate({"direction": "SELL"}).direction is Side.SELL
    with pytest.raises(ValidationError, match="limit_price: required"):
        EntryDirective.model_validate({"order_type": "LIMIT"})
    with pytest.raises(ValidationError, match="only allowed when order_type is LIMIT"):
        EntryDirective.model_validate({"order_type": "MARKET", "limit_price": "100"})
    with pytest.raises(ValidationError, match="entries are MARKET or LIMIT"):
        EntryDirective.model_validate({"order_type": "STOP_MARKET"})
    with pytest.raises(ValidationError, match="greater than 0|has a sign"):
        EntryDirective.model_validate({"order_type": "LIMIT", "limit_price": "0"})
    with pytest.raises(ValidationError):
        EntryDirective.model_validate({"direction": "LONG"})
    with pytest.raises(ValidationError):
        EntryDirective.model_validate({"symbol": ""})


def test_exit_directive_rules() -> None:
    with pytest.raises(ValidationError, match="needs stop_loss_tolerance"):
        ExitDirective.model_validate({})
    with pytest.raises(ValidationError, match="not both"):
        ExitDirective.model_validate({"stop_loss_tolerance": "0.01", "stop_loss_price": "100"})
    for bad in ("0", "1", "-0.01", "1.5"):
        with pytest.raises(ValidationError, match="fraction between 0 and 1|has a sign"):
            ExitDirective.model_validate({"stop_loss_tolerance": bad})
    with pytest.raises(ValidationError, match="greater than 0|has a sign"):
        ExitDirective.model_validate({"take_profit_price": "-1"})
    assert ExitDirective.model_validate({"take_profit_price": "1"}).allow_loosen is False


@pytest.mark.parametrize("bad", ["0", "1", "-0.05"])
def test_slippage_cap_is_a_fraction(bad: str) -> None:
    with pytest.raises(ValidationError, match="fraction between 0 and 1|has a sign"):
        ExecutionDirective.model_validate({"max_total_slippage_pct": bad})


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "emoji\u2603", "semi;colon"])
def test_directive_id_charset_and_length(bad: str) -> None:
    with pytest.raises(ValidationError):
        StrategyDirective.model_validate({"directive_id": bad, "scope": "CLOSE_EXISTING", "target_plan_ids": ["A"]})


def test_scope_is_required_and_closed_set() -> None:
    with pytest.raises(ValidationError):
        StrategyDirective.model_validate({"target_plan_ids": ["A"]})
    with pytest.raises(ValidationError):
        StrategyDirective.model_validate({"scope": "ADD_TO_POSITION", "target_plan_ids": ["A"]})


def test_round_trip_through_json_is_identical() -> None:
    d = StrategyDirective.model_validate_json(DESIGN_EXAMPLE)
    again = StrategyDirective.model_validate_json(d.model_dump_json())
    assert again == d and again.model_dump_json() == d.model_dump_json()
