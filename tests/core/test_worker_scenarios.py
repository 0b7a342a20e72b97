"""The seed document's four scenarios, with absolute sizes (DESIGN.md sections 2 and 5)."""

from __future__ import annotations

import json

from core.batch import client_order_id
from core.models import LedgerState, OrderRole, OrderType, Side, TimeInForce
from tests.core.conftest import SOL, D, apply_batch, cancels, directive, modifies, order, plan, run, state, trades

SEED_LIMITS = {"max_position": {"BTCUSDT": "5"}, "max_order_notional": "1000000", "max_price_deviation": "0.10"}


def seed_state(net: str = "1.0", stop_qty: str = "1.0") -> LedgerState:
    return state(
        plan("TPL_1", net, orders=[order("ORD_1", "STOP_LOSS", "SELL", stop_qty, stop="100000")]),
        limits=SEED_LIMITS,
    )


def test_scenario_1_trailing_stop_to_one_percent_is_one_modify_of_the_stop() -> None:
    d = directive("MODIFY_EXISTING", "TPL_1", directive_id="STR_TRAIL", exit_directive={"stop_loss_tolerance": "0.01"})
    batch = run(d, seed_state())
    assert batch.to_dict() == {
        "directive_id": "STR_TRAIL",
        "scope": "MODIFY_EXISTING",
        "commands": [
            {"seq": 1, "action": "MODIFY_ORDER", "plan_id": "TPL_1", "symbol": "BTCUSDT", "order_id": "ORD_1",
             "quantity": None, "price": None, "stop_price": "100980"},
        ],
        "warnings": [],
        "errors": [],
    }


def test_scenario_1_short_trailing_stop_rounds_away_from_the_mark() -> None:
    s = state(plan("TPL_S", "-2", symbol="ETHUSDT",
                   orders=[order("ORD_S", "STOP_LOSS", "BUY", "2", stop="3700")]))
    # 3500 * 1.0137 = 3547.95 exactly; 1.01371 gives 3547.985 -> rounded up (away from the mark) to 3547.99
    batch = run(directive("MODIFY_EXISTING", "TPL_S", exit_directive={"stop_loss_tolerance": "0.01371"}), s)
    assert [(m.order_id, m.stop_price, m.quantity) for m in modifies(batch)] == [("ORD_S", D("3547.99"), None)]


def test_scenario_2_scale_in_from_1_to_1_5_exact_batch_json() -> None:
    d = directive("MODIFY_EXISTING", "TPL_1", directive_id="STR_7",
                  size_directive={"target_position_size": "1.5"}, entry_directive={"order_type": "MARKET"})
    batch = run(d, seed_state())
    coid = client_order_id("STR_7", "TPL_1", "size")
    expected = {
        "directive_id": "STR_7",
        "scope": "MODIFY_EXISTING",
        "commands": [
            {"seq": 1, "action": "EXECUTE_TRADE", "plan_id": "TPL_1", "symbol": "BTCUSDT", "side": "BUY",
             "order_type": "MARKET", "quantity": "0.5", "price": None, "stop_price": None, "time_in_force": None,
             "reduce_only": False, "role": "ENTRY", "client_order_id": coid},
            {"seq": 2, "action": "MODIFY_ORDER", "plan_id": "TPL_1", "symbol": "BTCUSDT", "order_id": "ORD_1",
             "quantity": "1.5", "price": None, "stop_price": None},
        ],
        "warnings": [],
        "errors": [],
    }
    assert batch.to_dict() == expected
    # the JSON text is the contract of DESIGN.md section 5: same keys, same order, decimals as strings
    assert json.loads(batch.to_json()) == expected
    assert list(json.loads(batch.to_json())["commands"][0]) == list(expected["commands"][0])  # type: ignore[index]
    assert '"quantity": "0.5"' in batch.to_json()
    assert "plan_versions" not in batch.to_json()
    assert coid.startswith("pd-") and len(coid) <= 36


def test_scenario_2_scale_in_after_fill_lands_at_1_5_with_the_stop_following() -> None:
    s = seed_state()
    d = directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "1.5"})
    after = apply_batch(s, run(d, s))
    p = after.plan("TPL_1")
    assert p is not None and p.net_position == D("1.5")
    assert [(o.order_id, o.remaining) for o in p.open_orders] == [("ORD_1", D("1.5"))]


def test_scenario_3_partial_take_profit_from_1_5_to_0_75() -> None:
    d = directive("MODIFY_EXISTING", "TPL_1", directive_id="STR_TP",
                  size_directive={"target_position_size": "0.75"}, entry_directive={"order_type": "MARKET"})
    batch = run(d, seed_state("1.5", "1.5"))
    assert batch.to_dict()["commands"] == [
        {"seq": 1, "action": "EXECUTE_TRADE", "plan_id": "TPL_1", "symbol": "BTCUSDT", "side": "SELL",
         "order_type": "MARKET", "quantity": "0.75", "price": None, "stop_price": None, "time_in_force": None,
         "reduce_only": True, "role": "EXIT", "client_order_id": client_order_id("STR_TP", "TPL_1", "size")},
        {"seq": 2, "action": "MODIFY_ORDER", "plan_id": "TPL_1", "symbol": "BTCUSDT", "order_id": "ORD_1",
         "quantity": "0.75", "price": None, "stop_price": None},
    ]
    assert batch.warnings == [] and batch.errors == []


def three_plans(desk: str = "ACTIVE") -> LedgerState:
    return state(
        plan("TPL_1", "1.0", orders=[order("ORD_1", "STOP_LOSS", "SELL", "1.0", stop="100000")]),
        plan("TPL_2", "-20", symbol="ETHUSDT", orders=[
            order("ORD_2", "STOP_LOSS", "BUY", "20", stop="3700"),
            order("ORD_3", "ENTRY", "SELL", "5", price="3600"),
        ]),
        plan("TPL_3", "400", symbol="SOLUSDT", orders=[
            order("ORD_4", "TAKE_PROFIT", "SELL", "400", price="170"),
            order("ORD_5", "ENTRY", "BUY", "10", price="140", status="PARTIALLY_FILLED", filled="4"),
            order("ORD_6", "ENTRY", "BUY", "10", price="139", status="FILLED", filled="10"),
        ]),
        limits=SEED_LIMITS, desk=desk,
    )


def test_scenario_4_emergency_flatten_with_slippage_cap_is_limit_ioc_inside_the_cap() -> None:
    d = directive("CLOSE_EXISTING", "TPL_1", "TPL_2", "TPL_3", directive_id="STR_PANIC",
                  execution_directive={"execution_urgency": "1.0", "max_total_slippage_pct": "0.05"})
    batch = run(d, three_plans())
    assert batch.ok and batch.warnings == []
    rows = [(c.seq, c.action.value, c.plan_id, getattr(c, "order_id", None)) for c in batch.commands]
    assert rows == [
        (1, "CANCEL_ORDER", "TPL_1", "ORD_1"),
        (2, "EXECUTE_TRADE", "TPL_1", None),
        (3, "CANCEL_ORDER", "TPL_2", "ORD_2"),
        (4, "CANCEL_ORDER", "TPL_2", "ORD_3"),
        (5, "EXECUTE_TRADE", "TPL_2", None),
        (6, "CANCEL_ORDER", "TPL_3", "ORD_4"),
        (7, "CANCEL_ORDER", "TPL_3", "ORD_5"),  # the FILLED ORD_6 is not cancelled
        (8, "EXECUTE_TRADE", "TPL_3", None),
    ]
    closes = {t.plan_id: t for t in trades(batch)}
    expect = {  # side, qty, price: sell at >= mark*(1-0.05), buy at <= mark*(1+0.05)
        "TPL_1": (Side.SELL, D("1"), D("96900")),
        "TPL_2": (Side.BUY, D("20"), D("3675")),
        "TPL_3": (Side.SELL, D("400"), D("142.5")),
    }
    for pid, (side, qty, px) in expect.items():
        t = closes[pid]
        assert (t.side, t.quantity, t.price) == (side, qty, px)
        assert t.order_type is OrderType.LIMIT and t.time_in_force is TimeInForce.IOC
        assert t.reduce_only and t.role is OrderRole.EXIT and t.stop_price is None


def test_scenario_4_flatten_without_slippage_cap_is_market() -> None:
    batch = run(directive("CLOSE_EXISTING", "TPL_1", "TPL_2", "TPL_3"), three_plans())
    assert len(cancels(batch)) == 5
    for t in trades(batch):
        assert t.order_type is OrderType.MARKET and t.price is None and t.time_in_force is None and t.reduce_only


def test_scenario_4_flatten_cap_rounds_inside_the_cap() -> None:
    # mark 150.07, cap 3 %: sell floor 145.5679 -> 145.57 (up), buy ceiling 154.5721 -> 154.57 (down)
    markets = {"SOLUSDT": {**SOL, "mark_price": "150.07"}}
    s = state(plan("L", "10", symbol="SOLUSDT"), plan("S", "-10", symbol="SOLUSDT"), markets=markets)
    batch = run(directive("CLOSE_EXISTING", "L", "S", execution_directive={"max_total_slippage_pct": "0.03"}), s)
    assert [(t.plan_id, t.side, t.price) for t in trades(batch)] == [
        ("L", Side.SELL, D("145.57")), ("S", Side.BUY, D("154.57"))]



def test_scenario_4_flatten_passes_while_halted_and_after_fills_is_empty() -> None:
    s = three_plans(desk="HALTED")
    d = directive("CLOSE_EXISTING", "TPL_1", "TPL_2", "TPL_3")
    batch = run(d, s)
    assert batch.ok and len(batch.commands) == 8
    after = apply_batch(s, batch)
    assert all(p.net_position == 0 and not p.open_orders for p in after.plans)
    again = run(d, after)
    assert again.ok and again.commands == []
    assert len(again.warnings) == 3 and all("already flat" in w for w in again.warnings)
