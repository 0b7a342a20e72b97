"""Idempotency and determinism: absolute targets buy nothing twice; same inputs give the same bytes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch
from core.directives import StrategyDirective
from core.models import LedgerState
from core.worker import directive_id_of, new_plan_id, translate
from tests.core.conftest import D, apply_batch, directive, open_orders, order, plan, run, state, trades


def base() -> LedgerState:
    return state(
        plan("TPL_1", "1.0", orders=[order("ORD_1", "STOP_LOSS", "SELL", "1.0", stop="100000")]),
        plan("TPL_2", "-20", symbol="ETHUSDT", orders=[order("ORD_2", "STOP_LOSS", "BUY", "20", stop="3700"),
                                                        order("ORD_3", "ENTRY", "SELL", "5", price="3600")]),
        plan("TPL_3", "400", symbol="SOLUSDT", orders=[order("ORD_4", "TAKE_PROFIT", "SELL", "400", price="170")]),
        limits={"max_position": {"BTCUSDT": "5"}, "max_order_notional": "1000000", "max_price_deviation": "0.10"},
    )


DIRECTIVES = {
    "scale_in": dict(scope="MODIFY_EXISTING", plans=("TPL_1",), size_directive={"target_position_size": "1.5"}),
    "scale_in_with_stop": dict(scope="MODIFY_EXISTING", plans=("TPL_1", "TPL_2"),
                               size_directive={"target_position_size": "1.5"},
                               exit_directive={"stop_loss_tolerance": "0.01"}),
    "scale_out": dict(scope="MODIFY_EXISTING", plans=("TPL_3",), size_directive={"target_position_size": "100"}),
    "cover_short": dict(scope="MODIFY_EXISTING", plans=("TPL_2",), size_directive={"target_position_size": "7.5"}),
    "limit_scale_in": dict(scope="MODIFY_EXISTING", plans=("TPL_1",), size_directive={"target_position_size": "2"},
                           entry_directive={"order_type": "LIMIT", "limit_price": "101000"}),
    "trailing_stop": dict(scope="MODIFY_EXISTING", plans=("TPL_1", "TPL_2"),
                          exit_directive={"stop_loss_tolerance": "0.01"}),
    "new_stop_and_tp": dict(scope="MODIFY_EXISTING", plans=("TPL_3",),
                            exit_directive={"stop_loss_price": "140", "take_profit_price": "165"}),
    "target_zero": dict(scope="MODIFY_EXISTING", plans=("TPL_2",), size_directive={"target_position_size": "0"}),
    "flatten": dict(scope="CLOSE_EXISTING", plans=("TPL_1", "TPL_2", "TPL_3"),
                    execution_directive={"max_total_slippage_pct": "0.05"}),
    "new_trade": dict(scope="NEW_TRADE", plans=(), entry_directive={"symbol": "SOLUSDT", "direction": "SELL"},
                      size_directive={"target_position_size": "30"}, exit_directive={"stop_loss_tolerance": "0.05"}),
}


def make(name: str, directive_id: str = "STR_I") -> StrategyDirective:
    spec = dict(DIRECTIVES[name])
    scope, plans = spec.pop("scope"), spec.pop("plans")
    return directive(scope, *plans, directive_id=directive_id, **spec)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_second_translation_after_fills_is_empty(name: str) -> None:
    s = base()
    d = make(name)
    first = run(d, s)
    assert first.ok and first.commands, (first.errors, first.warnings)
    after = apply_batch(s, first)
    second = run(d, after)
    assert second.ok and second.commands == [], second.to_json()
    # and a third time, with a different directive id, still nothing (the target is absolute)
    assert run(make(name, "STR_OTHER"), after).commands == [] or name == "new_trade"


@pytest.mark.parametrize("name", ["scale_in", "scale_out", "cover_short", "limit_scale_in"])
def test_same_target_while_the_first_order_is_still_working_is_empty(name: str) -> None:
    s = base()
    d = make(name)
    first = run(d, s)
    working = apply_batch(s, first, fill=False)
    (t,) = trades(first)
    assert [o.order_id for o in open_orders(working, t.plan_id) if o.order_id == t.client_order_id]
    second = run(make(name, "STR_AGAIN"), working)
    assert second.ok and second.commands == []
    assert any("already at target" in w for w in second.warnings)


def test_new_trade_already_opened_by_this_directive_sends_nothing() -> None:
    s = base()
    d = make("new_trade")
    after = apply_batch(s, run(d, s))
    pid = new_plan_id("STR_I")
    assert after.plan(pid) is not None and after.plan(pid).net_position == D(-30)  # type: ignore[union-attr]
    again = run(d, after)
    assert again.ok and again.commands == [] and pid in again.warnings[0]


def test_scale_in_after_partial_fill_buys_only_the_rest() -> None:
    s = base()
    d = make("scale_in")
    first = run(d, s)
    (t,) = trades(first)
    partial = s.model_copy(deep=True)
    p = partial.plan("TPL_1")
    assert p is not None
    p.net_position = D("1.2")  # 0.2 of the 0.5 filled, the rest expired
    second = run(d, partial)
    (t2,) = trades(second)
    assert t2.quantity == D("0.3") and t2.client_order_id == t.client_order_id


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_same_inputs_give_identical_json_and_digest(name: str) -> None:
    a = translate(make(name), base())
    b = translate(make(name), base())  # separately built inputs
    c = translate(StrategyDirective.model_validate_json(make(name).model_dump_json()),
                  LedgerState.model_validate_json(base().model_dump_json()))
    assert a.to_json() == b.to_json() == c.to_json()
    assert a.digest() == b.digest() == c.digest()


def test_commands_follow_the_directive_plan_order_not_the_ledger_order() -> None:
    s = base()
    reversed_state = s.model_copy(update={"plans": list(reversed(s.plans))})
    d = make("flatten")
    assert translate(d, s).to_json() == translate(d, reversed_state).to_json()
    order_of = [c.plan_id for c in translate(d, s).commands]
    assert sorted(set(order_of), key=order_of.index) == ["TPL_1", "TPL_2", "TPL_3"]
    d2 = directive("CLOSE_EXISTING", "TPL_3", "TPL_1", "TPL_2", directive_id="STR_I")
    order2 = [c.plan_id for c in translate(d2, s).commands]
    assert sorted(set(order2), key=order2.index) == ["TPL_3", "TPL_1", "TPL_2"]


def test_missing_directive_id_is_derived_from_the_content() -> None:
    d1 = directive("CLOSE_EXISTING", "TPL_1", directive_id=None)
    d2 = directive("CLOSE_EXISTING", "TPL_1", directive_id=None)
    d3 = directive("CLOSE_EXISTING", "TPL_2", directive_id=None)
    assert directive_id_of(d1) == directive_id_of(d2) != directive_id_of(d3)
    assert directive_id_of(d1).startswith("STR_")
    assert translate(d1, base()).to_json() == translate(d2, base()).to_json()


def test_client_order_ids_are_deterministic_per_directive_and_differ_between_directives() -> None:
    a = [c for c in translate(make("flatten", "STR_A"), base()).commands if isinstance(c, ExecuteTrade)]
    a2 = [c for c in translate(make("flatten", "STR_A"), base()).commands if isinstance(c, ExecuteTrade)]
    b = [c for c in translate(make("flatten", "STR_B"), base()).commands if isinstance(c, ExecuteTrade)]
    assert [c.client_order_id for c in a] == [c.client_order_id for c in a2]
    assert not {c.client_order_id for c in a} & {c.client_order_id for c in b}


def test_plan_versions_recorded_for_the_targets() -> None:
    s = base()
    s.plans[0].version = 7
    batch = translate(make("scale_in_with_stop"), s)
    assert batch.plan_versions == {"TPL_1": 7, "TPL_2": 1}
    assert "plan_versions" not in batch.to_dict()


@pytest.mark.parametrize("name", sorted(DIRECTIVES))
def test_commands_equal_their_validated_form(name: str) -> None:
    """The worker builds cancels without re-validation (speed): each command must be exactly what validating its
    own JSON gives, fields-set included, and behave like a normal frozen model."""
    batch = translate(make(name), base())
    assert batch.commands
    for c in batch.commands:
        again = type(c).model_validate_json(c.model_dump_json())
        assert again == c and again.__dict__ == c.__dict__ and list(again.__dict__) == list(c.__dict__)
        assert repr(again) == repr(c) and hash(again) == hash(c)
        if isinstance(c, CancelOrder):
            direct = CancelOrder(seq=c.seq, plan_id=c.plan_id, symbol=c.symbol, order_id=c.order_id)
            assert direct == c and direct.model_fields_set == c.model_fields_set
        with pytest.raises(ValidationError):
            c.seq = 99  # type: ignore[misc]
        copied = c.model_copy(update={"seq": 99})
        assert copied.seq == 99 and c.seq != 99 and "seq" in c.model_fields_set
    rebuilt = ExecutionBatch.model_validate_json(batch.to_json())
    assert rebuilt.to_json() == batch.to_json() and rebuilt.commands == batch.commands
