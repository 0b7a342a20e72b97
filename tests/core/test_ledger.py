"""StrategyLedger: snapshot round trip, fills arithmetic, transitions, write-ahead, versions, threads, persistence."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.ledger import Ledger, LedgerError
from core.ledger_math import Position, apply_fill_to_position
from core.models import (
    DeskState,
    DeskStatus,
    ExecutionGroup,
    Fill,
    GroupStatus,
    InvalidTransition,
    LedgerState,
    MarketRules,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    PlanStatus,
    RiskLimits,
    Side,
    TradePlan,
)

D = Decimal

RICH_STATE = {
    "markets": {
        "BTCUSDT": {"mark_price": "102000", "tick_size": "0.01", "step_size": "0.00001", "min_notional": "5"},
        "ETHUSDT": {"mark_price": "3500.50", "tick_size": "0.01", "step_size": "0.0001", "min_notional": "10"},
    },
    "plans": [
        {
            "plan_id": "TPL_1", "symbol": "BTCUSDT", "direction": "BUY", "status": "ACTIVE",
            "net_position": "1.0", "avg_entry_price": "95000", "realized_pnl": "12.50", "version": 7,
            "orders": [
                {"order_id": "ORD_1", "role": "STOP_LOSS", "side": "SELL", "type": "STOP_MARKET", "quantity": "1.0",
                 "stop_price": "100000", "status": "OPEN", "client_order_id": "pd-a", "reduce_only": True,
                 "group_id": "EXG_1"},
                {"order_id": "ORD_2", "role": "ENTRY", "side": "BUY", "type": "LIMIT", "quantity": "1.00000",
                 "price": "94000.00", "status": "FILLED", "filled_quantity": "1.00000", "time_in_force": "GTC",
                 "group_id": "EXG_1"},
                {"order_id": "ORD_3", "role": "ENTRY", "side": "BUY", "type": "MARKET", "quantity": "0.5",
                 "status": "REJECTED", "reason": "insufficient balance"},
            ],
            "groups": [{"group_id": "EXG_1", "directive_id": "STR_1", "status": "PARTIAL",
                        "order_ids": ["ORD_2", "ORD_1"]}],
            "fills": [{"fill_id": "FIL_1", "order_id": "ORD_2", "side": "BUY", "price": "95000", "quantity": "1.0",
                       "fee": "0.95", "time": "2025-01-01T00:00:00+00:00"}],
        },
        {
            "plan_id": "TPL_2", "symbol": "ETHUSDT", "direction": "SELL", "status": "CLOSED",
            "net_position": "0", "avg_entry_price": "0", "realized_pnl": "-3.2",
            "orders": [
                {"order_id": "ORD_9", "role": "EXIT", "side": "BUY", "type": "LIMIT", "quantity": "2",
                 "price": "3400", "status": "CANCELLED", "filled_quantity": "0.5", "client_order_id": "pd-b",
                 "time_in_force": "IOC", "reduce_only": True},
            ],
        },
        {"plan_id": "TPL_3", "symbol": "ETHUSDT", "direction": "SELL", "net_position": "-0.25",
         "avg_entry_price": "3600.1"},
    ],
    "desk": {"state": "HALTED"},
    "limits": {"max_position": {"BTCUSDT": "5", "ETHUSDT": "100.0"}, "max_order_notional": "1000000",
               "max_price_deviation": "0.10"},
}


def rich_state() -> LedgerState:
    return LedgerState.model_validate(RICH_STATE)


def dump(state: LedgerState) -> str:
    return json.dumps(state.model_dump(mode="json"), sort_keys=False)


@pytest.fixture
def ledger() -> Iterator[Ledger]:
    led = Ledger(":memory:")
    led.set_market("BTCUSDT", MarketRules(mark_price=D("100"), tick_size=D("0.01"), step_size=D("0.001")))
    yield led
    led.close()


def order(oid: str, side: Side = Side.BUY, qty: str = "1", *, role: OrderRole = OrderRole.ENTRY,
          status: OrderStatus = OrderStatus.PENDING, coid: str | None = None, group: str | None = None) -> Order:
    return Order(order_id=oid, role=role, side=side, type=OrderType.MARKET, quantity=D(qty), status=status,
                 client_order_id=coid if coid is not None else f"pd-{oid}", group_id=group)


def fill(fid: str, oid: str, side: Side, qty: str, price: str, fee: str = "0") -> Fill:
    return Fill(fill_id=fid, order_id=oid, side=side, quantity=D(qty), price=D(price), fee=D(fee))


def trade(led: Ledger, plan_id: str, oid: str, side: Side, qty: str, price: str, fee: str = "0") -> TradePlan:
    """write_ahead a market order and fill it completely."""
    led.write_ahead(plan_id, order(oid, side, qty))
    return led.apply_fill(oid, fill(f"F_{oid}", oid, side, qty, price, fee))


# -- snapshot -------------------------------------------------------------------------------------------------------


def test_round_trip_export_import_export_is_identical(ledger: Ledger) -> None:
    original = rich_state()
    ledger.import_snapshot(original)
    first = dump(ledger.export_snapshot())
    assert first == dump(original)  # nothing lost or reformatted: "1.00000" stays "1.00000"
    other = Ledger(":memory:")
    other.import_snapshot(LedgerState.model_validate_json(first))
    assert dump(other.export_snapshot()) == first
    exported = other.export_snapshot()
    assert exported.desk.state is DeskStatus.HALTED
    assert exported.limits.max_position == {"BTCUSDT": D("5"), "ETHUSDT": D("100.0")}
    closed = exported.plan("TPL_2")
    assert closed is not None and closed.status is PlanStatus.CLOSED
    assert [o.status for o in closed.orders] == [OrderStatus.CANCELLED]
    assert exported.plan("TPL_1").groups[0].order_ids == ["ORD_2", "ORD_1"]  # type: ignore[union-attr]
    assert str(exported.plan("TPL_1").orders[1].price) == "94000.00"  # type: ignore[union-attr]


def test_import_replaces_everything_but_keeps_journal_and_sent(ledger: Ledger) -> None:
    ledger.create_plan("TPL_OLD", "BTCUSDT", Side.BUY)
    ledger.mark_sent("STR_OLD", "abc")
    ledger.import_snapshot(rich_state())
    assert ledger.plan_ids() == ["TPL_1", "TPL_2", "TPL_3"]
    assert set(ledger.markets()) == {"BTCUSDT", "ETHUSDT"}
    assert ledger.was_sent("STR_OLD")
    ledger.import_snapshot(LedgerState())
    assert ledger.plan_ids() == [] and ledger.markets() == {} and ledger.desk() is DeskStatus.ACTIVE
    assert ledger.limits() == RiskLimits()


def test_import_refuses_wrong_sign_and_duplicates(ledger: Ledger) -> None:
    bad = LedgerState(plans=[TradePlan(plan_id="TPL_X", symbol="BTCUSDT", direction=Side.BUY, net_position=D(-1))])
    with pytest.raises(LedgerError, match="TPL_X.*wrong sign"):
        ledger.import_snapshot(bad)
    o = order("ORD_1", coid="pd-same")
    dup = LedgerState(plans=[
        TradePlan(plan_id="A", symbol="X", direction=Side.BUY, orders=[o]),
        TradePlan(plan_id="B", symbol="X", direction=Side.BUY, orders=[o]),
    ])
    with pytest.raises(LedgerError, match="duplicate order_id 'ORD_1'.*duplicate client_order_id 'pd-same'"):
        ledger.import_snapshot(dup)
    assert ledger.plan_ids() == []  # nothing half-imported


def test_orders_without_client_order_id_keep_none(ledger: Ledger) -> None:
    state = LedgerState.model_validate({"plans": [{"plan_id": "P", "symbol": "BTCUSDT", "direction": "BUY", "orders": [
        {"order_id": "O1", "role": "ENTRY", "side": "BUY", "type": "MARKET", "quantity": "1"},
        {"order_id": "O2", "role": "ENTRY", "side": "BUY", "type": "MARKET", "quantity": "1"}]}]})
    ledger.import_snapshot(state)
    assert [o.client_order_id for o in ledger.get_plan("P").orders] == [None, None]  # type: ignore[union-attr]


def test_state_subset_and_unknown_ids(ledger: Ledger) -> None:
    ledger.import_snapshot(rich_state())
    s = ledger.state(["TPL_3", "NOPE", "TPL_1"])
    assert [p.plan_id for p in s.plans] == ["TPL_1", "TPL_3"]
    assert s.desk.state is DeskStatus.HALTED and "ETHUSDT" in s.markets and s.limits.max_order_notional == D(1000000)
    assert len(s.plan("TPL_1").orders) == 3 and s.plan("TPL_1").fills == []  # type: ignore[union-attr]
    assert ledger.state(["TPL_1"], fills=True).plans[0].fills[0].fill_id == "FIL_1"
    assert ledger.state([]).plans == []
    assert [p.plan_id for p in ledger.state().plans] == ["TPL_1", "TPL_2", "TPL_3"]


def test_state_cache_follows_changes_and_returns_independent_copies(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    a, b = Ledger(path), Ledger(path)
    a.import_snapshot(rich_state())
    s1 = b.state()
    s1.plans[0].orders[0].quantity = D(999)  # a caller scribbling on its copy
    s1.plans[0].groups[0].order_ids.append("X")
    assert b.state().plans[0].orders[0].quantity == D("1.0")
    assert b.state().plans[0].groups[0].order_ids == ["ORD_2", "ORD_1"]
    a.update_order("ORD_1", stop_price=D("99000"))  # written through another connection
    assert b.state().plans[0].orders[0].stop_price == D("99000")
    # a re-import with identical versions but different content must not be served from the cache
    changed = rich_state()
    changed.plans[0].orders[0].stop_price = D("12345")
    a.import_snapshot(changed)
    assert b.state().plans[0].orders[0].stop_price == D("12345")
    a.close()
    b.close()


# -- plans, versions ------------------------------------------------------------------------------------------------


def test_create_plan(ledger: Ledger) -> None:
    p = ledger.create_plan("TPL_1", "BTCUSDT", Side.SELL)
    assert (p.status, p.net_position, p.version, p.direction) == (PlanStatus.ACTIVE, D(0), 1, Side.SELL)
    assert ledger.get_plan("TPL_1") == p
    with pytest.raises(LedgerError, match="TPL_1 already exists"):
        ledger.create_plan("TPL_1", "BTCUSDT", Side.BUY)
    with pytest.raises(LedgerError, match="symbol"):
        ledger.create_plan("TPL_2", "", Side.BUY)
    assert ledger.get_plan("nope") is None


def test_versions_bump_on_plan_changes_only(ledger: Ledger) -> None:
    def v() -> int:
        return ledger.plan_versions(["P"])["P"]

    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    assert v() == 1
    ledger.add_group("P", ExecutionGroup(group_id="G", directive_id="STR_1"))
    assert v() == 2
    ledger.write_ahead("P", order("O1", group="G"))
    assert v() == 3
    ledger.update_order("O1", status=OrderStatus.OPEN)
    assert v() == 4
    ledger.update_order("O1", status=OrderStatus.OPEN)  # same status: no change, no bump
    ledger.update_order("O1")
    assert v() == 4
    ledger.set_group_status("G", GroupStatus.ACTIVE)
    ledger.set_group_status("G", GroupStatus.ACTIVE)
    assert v() == 5
    ledger.set_mark("BTCUSDT", D("101"))
    ledger.set_market("ETHUSDT", MarketRules(mark_price=D(1), tick_size=D(1), step_size=D(1)))
    ledger.set_desk(DeskStatus.HALTED)
    ledger.set_limits(RiskLimits(max_order_notional=D(5)))
    assert v() == 5
    ledger.apply_fill("O1", fill("F1", "O1", Side.BUY, "1", "100"))
    assert v() == 6  # one fill, one bump
    ledger.apply_fill("O1", fill("F1", "O1", Side.BUY, "1", "100"))
    assert v() == 6
    assert ledger.plan_versions(["P", "unknown"]) == {"P": 6}
    assert ledger.markets()["BTCUSDT"].mark_price == D("101")
    ledger.create_plan("A", "BTCUSDT", Side.SELL)  # every plan, in ledger order, as plan_ids() lists them
    assert ledger.all_plan_versions() == {"P": 6, "A": 1}
    assert list(ledger.all_plan_versions()) == ledger.plan_ids()


def test_close_if_flat_and_reopen(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    ledger.write_ahead("P", order("O1"))
    assert ledger.close_if_flat("P") is False  # an open (PENDING) order
    ledger.update_order("O1", status=OrderStatus.REJECTED, reason="no")
    assert ledger.close_if_flat("P") is True
    assert ledger.get_plan("P").status is PlanStatus.CLOSED  # type: ignore[union-attr]
    assert ledger.plan_ids(PlanStatus.CLOSED) == ["P"] and ledger.plan_ids(PlanStatus.ACTIVE) == []
    v = ledger.plan_versions(["P"])["P"]
    assert ledger.close_if_flat("P") is True and ledger.plan_versions(["P"])["P"] == v
    ledger.reopen("P")
    assert ledger.get_plan("P").status is PlanStatus.ACTIVE  # type: ignore[union-attr]
    assert ledger.plan_versions(["P"])["P"] == v + 1
    with pytest.raises(LedgerError, match="unknown plan Q"):
        ledger.reopen("Q")


# -- orders ---------------------------------------------------------------------------------------------------------


def test_write_ahead_refuses_duplicates_and_appends_to_group(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    ledger.create_plan("Q", "BTCUSDT", Side.BUY)
    ledger.add_group("P", ExecutionGroup(group_id="G", directive_id="STR_1", order_ids=["OLD"]))
    ledger.write_ahead("P", order("O1", coid="pd-1", group="G"))
    with pytest.raises(LedgerError, match="order O1 already exists"):
        ledger.write_ahead("P", order("O1", coid="pd-other"))
    with pytest.raises(LedgerError, match="client_order_id pd-1 is already used by order O1"):
        ledger.write_ahead("Q", order("O2", coid="pd-1"))
    with pytest.raises(LedgerError, match="unknown plan Z"):
        ledger.write_ahead("Z", order("O3"))
    with pytest.raises(LedgerError, match="group G belongs to plan P, not Q"):
        ledger.write_ahead("Q", order("O4", group="G"))
    with pytest.raises(LedgerError, match="unknown group NOPE"):
        ledger.write_ahead("P", order("O5", group="NOPE"))
    with pytest.raises(LedgerError, match="group G already exists"):
        ledger.add_group("Q", ExecutionGroup(group_id="G", directive_id="STR_2"))
    assert ledger.get_group("G") == ("P", ExecutionGroup(group_id="G", directive_id="STR_1", order_ids=["OLD", "O1"]))
    assert [o.order_id for o in ledger.get_plan("P").orders] == ["O1"]  # type: ignore[union-attr]
    assert ledger.get_plan("Q").orders == []  # type: ignore[union-attr]
    assert ledger.find_order("pd-1") == ("P", order("O1", coid="pd-1", group="G"))
    assert ledger.find_order("pd-none") is None and ledger.get_order("none") is None


def test_update_order_transitions_and_validation(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    ledger.write_ahead("P", order("O1", qty="2"))
    ledger.write_ahead("P", order("O2"))
    new = ledger.update_order("O1", status=OrderStatus.OPEN, price=D("99.5"), quantity=D("3"), client_order_id="pd-r")
    assert (new.status, new.price, new.quantity, new.client_order_id) == (OrderStatus.OPEN, D("99.5"), D(3), "pd-r")
    assert ledger.find_order("pd-r") == ("P", new) and ledger.find_order("pd-O1") is None
    ledger.update_order("O1", status=OrderStatus.CANCELLED, reason="operator")
    with pytest.raises(InvalidTransition):
        ledger.update_order("O1", status=OrderStatus.OPEN)
    with pytest.raises(InvalidTransition, match="from CANCELLED to FILLED"):
        ledger.update_order("O1", status=OrderStatus.FILLED)
    assert ledger.get_order("O1")[1].status is OrderStatus.CANCELLED  # type: ignore[index]
    with pytest.raises(LedgerError, match="filled_quantity must not exceed quantity"):
        ledger.update_order("O2", filled_quantity=D("5"))
    with pytest.raises(LedgerError, match="quantity"):
        ledger.update_order("O2", quantity=D("0"))
    with pytest.raises(LedgerError, match="pd-r is already used by order O1"):
        ledger.update_order("O2", client_order_id="pd-r")
    with pytest.raises(LedgerError, match="unknown order NOPE"):
        ledger.update_order("NOPE", status=OrderStatus.OPEN)
    assert ledger.get_order("O2") == ("P", order("O2"))  # refused updates changed nothing


def test_get_open_plan_reads_the_open_orders_and_groups_only(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    ledger.add_group("P", ExecutionGroup(group_id="G", directive_id="STR_1"))
    trade(ledger, "P", "E1", Side.BUY, "2", "100")  # a filled entry and its fill: history
    ledger.write_ahead("P", order("S1", Side.SELL, "2", role=OrderRole.STOP_LOSS, group="G"))
    ledger.update_order("S1", status=OrderStatus.CANCELLED, reason="resized")  # a replaced stop: history
    ledger.write_ahead("P", order("S2", Side.SELL, "2", role=OrderRole.STOP_LOSS, group="G"))
    ledger.update_order("S2", status=OrderStatus.OPEN)
    ledger.write_ahead("P", order("T1", Side.SELL, "2", role=OrderRole.TAKE_PROFIT, group="G"))  # PENDING: open
    full = ledger.get_plan("P")
    live = ledger.get_open_plan("P")
    assert full is not None and live is not None
    assert [o.order_id for o in live.orders] == ["S2", "T1"] == [o.order_id for o in full.open_orders]
    assert live.open_orders == full.open_orders and live.groups == full.groups and live.fills == []
    assert (live.net_position, live.avg_entry_price, live.version) == (D(2), D(100), full.version)
    assert ledger.get_open_plan("NOPE") is None


def test_state_live_only_gives_each_plan_its_live_orders_from_the_cache_and_from_the_database(
        ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    ledger.add_group("P", ExecutionGroup(group_id="G", directive_id="STR_1"))
    trade(ledger, "P", "E1", Side.BUY, "2", "100")
    ledger.write_ahead("P", order("S1", Side.SELL, "2", role=OrderRole.STOP_LOSS, group="G"))
    ledger.update_order("S1", status=OrderStatus.CANCELLED, reason="resized")
    ledger.write_ahead("P", order("S2", Side.SELL, "2", role=OrderRole.STOP_LOSS, group="G"))
    ledger.update_order("S2", status=OrderStatus.OPEN)
    full = ledger.state(["P"]).plans[0]
    assert [o.order_id for o in full.orders] == ["E1", "S1", "S2"]
    for _ in range(2):  # the first read fills the per-version cache, the second reads from it
        [live] = ledger.state(["P"], live_only=True).plans
        assert [o.order_id for o in live.orders] == ["S2"] and live.open_orders == full.open_orders
        assert (live.version, live.net_position, live.groups) == (full.version, full.net_position, full.groups)
    with ledger.transaction():  # inside a write transaction the cache is not used
        [live] = ledger.state(["P"], live_only=True).plans
    assert [o.order_id for o in live.orders] == ["S2"]
    assert [o.order_id for o in ledger.state(["P"]).plans[0].orders] == ["E1", "S1", "S2"]  # the cache is whole


def test_orders_with_status(ledger: Ledger) -> None:
    ledger.import_snapshot(rich_state())
    got = ledger.orders_with_status([OrderStatus.OPEN, OrderStatus.CANCELLED])
    assert [(p, s, o.order_id) for p, s, o in got] == [("TPL_1", "BTCUSDT", "ORD_1"), ("TPL_2", "ETHUSDT", "ORD_9")]
    assert ledger.orders_with_status([]) == []
    assert [o.order_id for _, _, o in ledger.open_orders()] == ["ORD_1"]


# -- fills ----------------------------------------------------------------------------------------------------------


def test_fills_scale_in_partial_reduce_and_close(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    ledger.write_ahead("P", order("O1", qty="2"))
    p = ledger.apply_fill("O1", fill("F1", "O1", Side.BUY, "1", "100"))
    assert ledger.get_order("O1")[1].status is OrderStatus.PARTIALLY_FILLED  # type: ignore[index]
    p = ledger.apply_fill("O1", fill("F2", "O1", Side.BUY, "1", "110", fee="0.2"))
    assert ledger.get_order("O1")[1].status is OrderStatus.FILLED  # type: ignore[index]
    assert (p.net_position, p.avg_entry_price, p.realized_pnl) == (D(2), D(105), D("-0.2"))
    p = trade(ledger, "P", "X1", Side.SELL, "0.5", "120", fee="0.1")
    assert (p.net_position, p.avg_entry_price) == (D("1.5"), D(105))  # avg unchanged on a reduction
    assert p.realized_pnl == D("-0.2") + D("7.5") - D("0.1")
    assert p.status is PlanStatus.ACTIVE
    p = trade(ledger, "P", "X2", Side.SELL, "1.5", "90")
    assert (p.net_position, p.avg_entry_price, p.status) == (D(0), D(0), PlanStatus.CLOSED)
    assert p.realized_pnl == D("7.2") - D("22.5")
    assert [f.fill_id for f in p.fills] == ["F1", "F2", "F_X1", "F_X2"]


def test_fill_is_idempotent_on_fill_id(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    ledger.write_ahead("P", order("O1", qty="2"))
    once = ledger.apply_fill("O1", fill("F1", "O1", Side.BUY, "1", "100"))
    again = ledger.apply_fill("O1", fill("F1", "O1", Side.BUY, "1", "100"))
    assert again == once and again.net_position == 1
    assert ledger.get_order("O1")[1].filled_quantity == 1  # type: ignore[index]


def test_fills_short_plan(ledger: Ledger) -> None:
    ledger.create_plan("S", "BTCUSDT", Side.SELL)
    p = trade(ledger, "S", "O1", Side.SELL, "2", "100")
    assert (p.net_position, p.avg_entry_price) == (D(-2), D(100))
    p = trade(ledger, "S", "O2", Side.SELL, "2", "110")
    assert (p.net_position, p.avg_entry_price) == (D(-4), D(105))
    p = trade(ledger, "S", "O3", Side.BUY, "1", "95")
    assert (p.net_position, p.avg_entry_price, p.realized_pnl) == (D(-3), D(105), D(10))
    p = trade(ledger, "S", "O4", Side.BUY, "3", "115")
    assert (p.net_position, p.realized_pnl, p.status) == (D(0), D(-20), PlanStatus.CLOSED)


def test_sign_flip_is_recorded_as_truth(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    trade(ledger, "P", "O1", Side.BUY, "1", "100")
    p = trade(ledger, "P", "O2", Side.SELL, "1.5", "110")
    assert (p.net_position, p.avg_entry_price, p.realized_pnl, p.status) == (D("-0.5"), D(110), D(10), "ACTIVE")
    p = trade(ledger, "P", "O3", Side.BUY, "0.5", "100")  # buying back the overshoot: +5 on the short part
    assert (p.net_position, p.avg_entry_price, p.realized_pnl, p.status) == (D(0), D(0), D(15), PlanStatus.CLOSED)


def test_fill_status_paths_and_venue_truth(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    ledger.write_ahead("P", order("O1"))  # PENDING straight to FILLED
    ledger.apply_fill("O1", fill("F1", "O1", Side.BUY, "1", "100"))
    assert ledger.get_order("O1")[1].status is OrderStatus.FILLED  # type: ignore[index]
    ledger.write_ahead("P", order("O2", qty="2", status=OrderStatus.UNKNOWN))  # UNKNOWN -> PARTIALLY_FILLED
    ledger.apply_fill("O2", fill("F2", "O2", Side.BUY, "1", "100"))
    assert ledger.get_order("O2")[1].status is OrderStatus.PARTIALLY_FILLED  # type: ignore[index]
    ledger.update_order("O2", status=OrderStatus.CANCELLED)
    ledger.apply_fill("O2", fill("F3", "O2", Side.BUY, "0.5", "100"))  # a late fill of a cancelled order still counts
    o2 = ledger.get_order("O2")[1]  # type: ignore[index]
    assert (o2.status, o2.filled_quantity) == (OrderStatus.CANCELLED, D("1.5"))
    ledger.write_ahead("P", order("O3", qty="1", status=OrderStatus.OPEN))
    ledger.apply_fill("O3", fill("F4", "O3", Side.BUY, "1.2", "100"))  # overfill: the quantity follows the truth
    o3 = ledger.get_order("O3")[1]  # type: ignore[index]
    assert (o3.status, o3.quantity, o3.filled_quantity) == (OrderStatus.FILLED, D("1.2"), D("1.2"))
    assert ledger.get_plan("P").net_position == D("3.7")  # type: ignore[union-attr]
    with pytest.raises(LedgerError, match="does not match the side"):
        ledger.apply_fill("O3", fill("F5", "O3", Side.SELL, "1", "100"))
    with pytest.raises(LedgerError, match="unknown order NOPE"):
        ledger.apply_fill("NOPE", fill("F6", "NOPE", Side.SELL, "1", "100"))
    with pytest.raises(LedgerError, match="greater than 0"):
        ledger.apply_fill("O3", fill("F7", "O3", Side.BUY, "0", "100"))


def test_flat_plan_with_open_stop_stays_active(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    trade(ledger, "P", "O1", Side.BUY, "1", "100")
    ledger.write_ahead("P", order("SL", Side.SELL, "1", role=OrderRole.STOP_LOSS, status=OrderStatus.OPEN))
    p = trade(ledger, "P", "O2", Side.SELL, "1", "101")
    assert (p.net_position, p.status) == (D(0), PlanStatus.ACTIVE)
    ledger.update_order("SL", status=OrderStatus.CANCELLED)
    assert ledger.close_if_flat("P") is True


def test_repeating_average_stays_importable(ledger: Ledger) -> None:
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    trade(ledger, "P", "O1", Side.BUY, "1", "100")
    p = trade(ledger, "P", "O2", Side.BUY, "2", "101")
    assert p.avg_entry_price == D("100.666666666666666667")  # 18 places at most, what Dec accepts back
    trade(ledger, "P", "O3", Side.SELL, "0.333", "100.1")
    text = dump(ledger.export_snapshot())
    other = Ledger(":memory:")
    other.import_snapshot(LedgerState.model_validate_json(text))
    assert dump(other.export_snapshot()) == text


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 500), st.integers(1, 10000),
                          st.integers(0, 50)), min_size=1, max_size=25))
def test_fill_math_conserves_cash(fills: list[tuple[Side, int, int, int]]) -> None:
    """Whatever the sequence (flips included): realized - net x avg == -sum(signed qty x price) - fees."""
    pos = Position(D(0), D(0), D(0))
    cash = D(0)
    for side, q, px, fee in fills:
        qty, price, f = D(q) / 100, D(px) / 10, D(fee) / 100
        pos = apply_fill_to_position(pos, side, qty, price, f)
        cash -= qty * price * side.sign + f
    assert pos.net == sum((D(q) / 100 * s.sign for s, q, _, _ in fills), D(0))
    assert abs((pos.realized - pos.net * pos.avg) - cash) < D("1e-9")
    assert (pos.avg == 0) == (pos.net == 0)


# -- markets, desk, limits, sent directives -------------------------------------------------------------------------


def test_markets_desk_limits(ledger: Ledger) -> None:
    assert ledger.desk() is DeskStatus.ACTIVE and ledger.limits() == RiskLimits()
    ledger.set_desk(DeskStatus.HALTED)
    assert ledger.desk() is DeskStatus.HALTED and ledger.state().desk == DeskState(state=DeskStatus.HALTED)
    limits = RiskLimits(max_position={"BTCUSDT": D("5.0")}, max_price_deviation=D("0.1"))
    ledger.set_limits(limits)
    assert ledger.limits() == limits and str(ledger.limits().max_position["BTCUSDT"]) == "5.0"
    with pytest.raises(LedgerError, match="unknown market DOGE"):
        ledger.set_mark("DOGE", D(1))
    with pytest.raises(LedgerError, match="greater than 0"):
        ledger.set_mark("BTCUSDT", D(0))
    ledger.set_market("BTCUSDT", MarketRules(mark_price=D("7"), tick_size=D("0.1"), step_size=D("1")))
    assert ledger.markets()["BTCUSDT"].tick_size == D("0.1")


def test_mark_sent_is_an_atomic_claim(ledger: Ledger) -> None:
    assert not ledger.was_sent("STR_1") and ledger.sent_digest("STR_1") is None
    ledger.mark_sent("STR_1", "d1")
    assert ledger.was_sent("STR_1") and ledger.sent_digest("STR_1") == "d1"
    with pytest.raises(LedgerError, match="STR_1 was already sent"):
        ledger.mark_sent("STR_1", "d2")
    wins: list[int] = []
    errors: list[Exception] = []

    def claim(i: int) -> None:
        try:
            ledger.mark_sent("STR_RACE", f"d{i}")
            wins.append(i)
        except LedgerError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 1 and len(errors) == 7


# -- threads, persistence, timing -----------------------------------------------------------------------------------


def test_threads_writing_concurrently(tmp_path: Path) -> None:
    led = Ledger(tmp_path / "t.db", synchronous="NORMAL")
    led.create_plan("SHARED", "BTCUSDT", Side.BUY)
    n_threads, per_thread = 6, 15
    failures: list[BaseException] = []

    def work(t: int) -> None:
        try:
            led.create_plan(f"P{t}", "BTCUSDT", Side.BUY)
            for i in range(per_thread):
                trade(led, f"P{t}", f"O{t}_{i}", Side.BUY, "1", "100")
                trade(led, "SHARED", f"S{t}_{i}", Side.BUY, "0.1", "100")
                led.state([f"P{t}", "SHARED"])
        except BaseException as exc:  # pragma: no cover - reported below
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    shared = led.get_plan("SHARED")
    assert shared is not None
    assert shared.net_position == D("0.1") * n_threads * per_thread
    assert shared.version == 1 + 2 * n_threads * per_thread  # write_ahead + fill, no lost update
    for k in range(n_threads):
        p = led.get_plan(f"P{k}")
        assert p is not None and p.net_position == per_thread and p.version == 1 + 2 * per_thread
    led.close()


def test_persistence_close_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "ledger.db"
    led = Ledger(path)
    led.import_snapshot(rich_state())
    trade(led, "TPL_1", "ORD_NEW", Side.BUY, "0.5", "96000")
    led.mark_sent("STR_9", "digest")
    before = dump(led.export_snapshot())
    led.close()
    with pytest.raises(LedgerError, match="closed"):
        led.plans()
    again = Ledger(str(path))
    assert dump(again.export_snapshot()) == before
    assert again.was_sent("STR_9")
    assert again._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    again.close()
    raw = sqlite3.connect(path)
    assert raw.execute("SELECT net_position FROM plans WHERE plan_id = 'TPL_1'").fetchone()[0] == "1.5"
    raw.close()


def test_not_a_ledger_file_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LedgerError, match="not a SQLite database"):
        Ledger(junk)


def test_state_timing_1000_plans_x_20_orders(capsys: pytest.CaptureFixture[str]) -> None:
    plans = []
    for p in range(1000):
        orders = [
            Order.model_construct(
                order_id=f"ORD_{p}_{j}", role=OrderRole.STOP_LOSS, side=Side.SELL, type=OrderType.STOP_MARKET,
                quantity=D("1.0"), stop_price=D("100000"), status=OrderStatus.OPEN if j % 2 else OrderStatus.FILLED,
                filled_quantity=D(0) if j % 2 else D("1.0"), client_order_id=f"pd-{p}-{j}",
            )
            for j in range(20)
        ]
        plans.append(TradePlan.model_construct(plan_id=f"TPL_{p}", symbol="BTCUSDT", direction=Side.BUY,
                                               net_position=D("1.0"), avg_entry_price=D("95000"), orders=orders))
    led = Ledger(":memory:")
    led.import_snapshot(LedgerState.model_construct(markets={}, plans=plans, desk=DeskState(), limits=RiskLimits()))
    timings = []
    for _ in range(4):
        t0 = time.perf_counter()
        state = led.state()
        timings.append((time.perf_counter() - t0) * 1000)
    assert len(state.plans) == 1000 and sum(len(p.orders) for p in state.plans) == 20000
    trade(led, "TPL_5", "NEW", Side.BUY, "1", "100")
    t0 = time.perf_counter()
    led.state()
    after_write = (time.perf_counter() - t0) * 1000
    with capsys.disabled():
        print(f"\nstate() 1000 plans x 20 orders: first {timings[0]:.1f} ms, then "
              f"{', '.join(f'{t:.1f}' for t in timings[1:])} ms; after one write {after_write:.1f} ms")
    led.close()
