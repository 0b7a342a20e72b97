"""Domain models, the order status transition table, and the Decimal helpers they rest on."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.batch import (
    CancelOrder,
    CommandAction,
    ExecuteTrade,
    ExecutionBatch,
    client_order_id,
    replacement_client_order_id,
)
from core.decimals import dec_str, is_multiple, parse_decimal, plain, round_down_to, round_to_tick
from core.directives import Scope
from core.models import (
    ORDER_TRANSITIONS,
    InvalidTransition,
    LedgerState,
    MarketRules,
    Order,
    OrderStatus,
    RiskLimits,
    Side,
    TradePlan,
    can_transition,
    transition,
)
from tests.core.conftest import COID_RE, order, plan

D = Decimal

SNAPSHOT = """{"markets": {"BTCUSDT": {"mark_price": "102000", "tick_size": "0.01", "step_size": "0.00001",
 "min_notional": "5"}},
 "plans": [{"plan_id": "TPL_1", "symbol": "BTCUSDT", "direction": "BUY", "status": "ACTIVE",
            "net_position": "1.0", "avg_entry_price": "95000",
            "orders": [{"order_id": "ORD_1", "role": "STOP_LOSS", "side": "SELL", "type": "STOP_MARKET",
                        "quantity": "1.0", "stop_price": "100000", "status": "OPEN"}]}],
 "desk": {"state": "ACTIVE"},
 "limits": {"max_position": {"BTCUSDT": "5"}, "max_order_notional": "1000000", "max_price_deviation": "0.10"}}"""


# ---- decimals ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "want"), [
    ("1.5", D("1.5")), (2, D(2)), (0.1, D("0.1")), (" 3 ", D(3)), (D("0.00001"), D("0.00001")), ("1e3", D(1000)),
])
def test_parse_decimal_accepts(raw: object, want: Decimal) -> None:
    assert parse_decimal(raw) == want


@pytest.mark.parametrize(("raw", "msg"), [
    ("NaN", "not a number"), ("Infinity", "not a number"), (float("nan"), "finite"), (float("inf"), "finite"),
    ("1e400", "out of range"), ("1e15", "out of range"), ("abc", "not a number"), ("", "required"),
    ("+0.5", "sign"), ("-1", "sign"), ("0.00_2", "underscore"), ("1_000", "underscore"), ("0,5", "comma"),
    (Decimal("1e1000000"), "out of range"),
    (True, "boolean"), (None, "NoneType"), ([1], "list"), ("1e-19", "decimal places"),
])
def test_parse_decimal_refuses(raw: object, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        parse_decimal(raw)


def test_formatting_is_plain_never_scientific() -> None:
    assert dec_str(D("1E+2")) == "100" and dec_str(D("0.00000001")) == "0.00000001"
    assert plain(D("0.50000")) == D("0.5") and str(plain(D("1E+2"))) == "100" and str(plain(D("-0.000"))) == "0"


def test_rounding_directions() -> None:
    assert round_down_to(D("1.23456789"), D("0.001")) == D("1.234")
    assert round_down_to(D("0.0009"), D("0.001")) == 0
    assert round_to_tick(D("100.005"), D("0.01"), up=True) == D("100.01")
    assert round_to_tick(D("100.005"), D("0.01"), up=False) == D("100")
    assert round_to_tick(D("100.00"), D("0.01"), up=True) == D("100")
    assert round_to_tick(D("3547.95"), D("0.05"), up=True) == D("3547.95")
    assert is_multiple(D("100.05"), D("0.05")) and not is_multiple(D("100.051"), D("0.05"))


# ---- the snapshot ------------------------------------------------------------------------------------------------

def test_design_snapshot_parses_and_round_trips() -> None:
    s = LedgerState.model_validate_json(SNAPSHOT)
    assert s.plans[0].orders[0].status is OrderStatus.OPEN and s.plans[0].net_position == D("1.0")
    again = LedgerState.model_validate_json(s.model_dump_json())
    assert again == s and again.model_dump_json() == s.model_dump_json()
    dumped = json.loads(s.model_dump_json())
    assert dumped["plans"][0]["net_position"] == "1.0" and dumped["markets"]["BTCUSDT"]["min_notional"] == "5"


def test_desk_and_limits_are_optional() -> None:
    s = LedgerState.model_validate({"markets": {}, "plans": []})
    assert s.desk.state == "ACTIVE" and s.limits == RiskLimits()


@pytest.mark.parametrize("mutate", [
    lambda d: d["plans"][0].update(extra_field=1),
    lambda d: d["plans"][0]["orders"][0].update(quantity="0"),
    lambda d: d["plans"][0]["orders"][0].update(quantity="NaN"),
    lambda d: d["plans"][0]["orders"][0].update(filled_quantity="2"),
    lambda d: d["plans"][0]["orders"][0].update(filled_quantity="-1"),
    lambda d: d["plans"][0]["orders"][0].update(stop_price="0"),
    lambda d: d["plans"][0]["orders"][0].update(status="DONE"),
    lambda d: d["plans"][0]["orders"].append(dict(d["plans"][0]["orders"][0])),
    lambda d: d["plans"].append(dict(d["plans"][0])),
    lambda d: d["plans"][0].update(direction="LONG"),
    lambda d: d["markets"]["BTCUSDT"].update(tick_size="0"),
    lambda d: d["markets"]["BTCUSDT"].update(min_notional="-1"),
    lambda d: d["limits"].update(max_order_notional="0"),
    lambda d: d["limits"]["max_position"].update(BTCUSDT="-1"),
    lambda d: d["desk"].update(state="PAUSED"),
])
def test_snapshot_refuses_bad_values(mutate: object) -> None:
    data = json.loads(SNAPSHOT)
    mutate(data)  # type: ignore[operator]
    with pytest.raises(ValidationError):
        LedgerState.model_validate(data)


def test_sign_errors_name_the_plan() -> None:
    s = LedgerState.model_validate({"plans": [plan("TPL_W", "-1", direction="BUY"), plan("TPL_OK", "-1")]})
    (err,) = s.sign_errors()
    assert err.startswith("plans[TPL_W].net_position") and "wrong sign" in err


def test_open_orders_and_remaining() -> None:
    p = TradePlan.model_validate(plan("P", "1", orders=[
        order("A", "ENTRY", "BUY", "1", price="1", status="PARTIALLY_FILLED", filled="0.4"),
        order("B", "ENTRY", "BUY", "1", price="1", status="FILLED", filled="1"),
        order("C", "ENTRY", "BUY", "1", price="1", status="PENDING"),
        order("D", "ENTRY", "BUY", "1", price="1", status="UNKNOWN"),
        order("E", "ENTRY", "BUY", "1", price="1", status="CANCELLED"),
    ]))
    assert [o.order_id for o in p.open_orders] == ["A", "C", "D"]
    assert p.open_orders[0].remaining == D("0.6")
    assert LedgerState(plans=[p]).plan("P") is p and LedgerState(plans=[p]).plan("Q") is None


def test_side_helpers() -> None:
    assert Side.BUY.opposite is Side.SELL and Side.SELL.opposite is Side.BUY
    assert Side.BUY.sign == 1 and Side.SELL.sign == -1


def test_market_rules_positive() -> None:
    with pytest.raises(ValidationError):
        MarketRules.model_validate({"mark_price": "0", "tick_size": "0.01", "step_size": "1"})
    assert MarketRules.model_validate({"mark_price": 1, "tick_size": 1, "step_size": 1}).min_notional == 0


# ---- the transition table ------------------------------------------------------------------------------------

def test_every_status_is_in_the_table_and_final_states_have_no_way_out() -> None:
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    for st in OrderStatus:
        assert st.is_open != st.is_final  # every status is either still working (or not proven gone) or final
        if st.is_final:
            assert ORDER_TRANSITIONS[st] == frozenset()
            assert not st.is_open


@pytest.mark.parametrize(("a", "b", "ok"), [
    ("PENDING", "OPEN", True), ("PENDING", "FILLED", True), ("PENDING", "UNKNOWN", True),
    ("OPEN", "PARTIALLY_FILLED", True), ("PARTIALLY_FILLED", "PARTIALLY_FILLED", True),
    ("PARTIALLY_FILLED", "FILLED", True), ("UNKNOWN", "CANCELLED", True), ("OPEN", "OPEN", True),
    ("FILLED", "CANCELLED", False), ("CANCELLED", "OPEN", False), ("OPEN", "PENDING", False),
    ("OPEN", "REJECTED", False), ("UNKNOWN", "PENDING", False), ("EXPIRED", "FILLED", False),
])
def test_transitions(a: str, b: str, ok: bool) -> None:
    cur, new = OrderStatus(a), OrderStatus(b)
    assert can_transition(cur, new) is ok
    if ok:
        assert transition(cur, new) is new
    else:
        with pytest.raises(InvalidTransition, match=f"from {a} to {b}"):
            transition(cur, new)


# ---- batch and ids -----------------------------------------------------------------------------------------------

def test_client_order_ids_fit_binance_and_are_stable() -> None:
    a = client_order_id("STR_1", "TPL_1", "size")
    assert a == client_order_id("STR_1", "TPL_1", "size") and len(a) == 32 and COID_RE.match(a)
    assert a != client_order_id("STR_1", "TPL_1", "stop") != client_order_id("STR_2", "TPL_1", "stop")
    # parts are separated: ("ab", "c") and ("a", "bc") do not collide
    assert client_order_id("S", "ab", "c") != client_order_id("S", "a", "bc")
    r0, r1 = replacement_client_order_id("STR_1", "ORD_1"), replacement_client_order_id("STR_1", "ORD_1", 1)
    assert r0 != r1 and len(r0) <= 36 and COID_RE.match(r0)


def test_batch_json_and_digest() -> None:
    b = ExecutionBatch(directive_id="STR_1", scope=Scope.CLOSE_EXISTING,
                       commands=[CancelOrder(seq=1, plan_id="P", symbol="BTCUSDT", order_id="O")],
                       plan_versions={"P": 3})
    assert b.to_dict() == {"directive_id": "STR_1", "scope": "CLOSE_EXISTING", "commands": [
        {"seq": 1, "action": "CANCEL_ORDER", "plan_id": "P", "symbol": "BTCUSDT", "order_id": "O"}],
        "warnings": [], "errors": []}
    again = ExecutionBatch.model_validate_json(b.to_json())
    assert again.to_json() == b.to_json() and again.digest() == b.digest()
    assert b.digest() != ExecutionBatch(directive_id="STR_2", scope=Scope.CLOSE_EXISTING).digest()
    assert b.ok and b.count(CommandAction.CANCEL_ORDER) == 1


def test_batch_notional() -> None:
    t = ExecuteTrade(seq=1, plan_id="P", symbol="BTCUSDT", side=Side.SELL, order_type="MARKET",  # type: ignore[arg-type]
                     quantity=D(2), role="EXIT", client_order_id="pd-1")  # type: ignore[arg-type]
    b = ExecutionBatch(directive_id="S", scope=Scope.CLOSE_EXISTING, commands=[t])
    assert b.notional({"BTCUSDT": D(100)}) == D(200)


def test_commands_are_frozen() -> None:
    c = CancelOrder(seq=1, plan_id="P", symbol="S", order_id="O")
    with pytest.raises(ValidationError):
        c.seq = 2  # type: ignore[misc]


def test_order_defaults() -> None:
    o = Order.model_validate(order("O", "STOP_LOSS", "SELL", "1", stop="1"))
    assert o.status is OrderStatus.OPEN and o.filled_quantity == 0 and o.reduce_only and o.is_open
