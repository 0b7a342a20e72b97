"""The long/short matrix of DESIGN.md section 2: entry, scale in, scale out / cover, full close; stops, take profit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from core.batch import client_order_id
from core.models import OrderRole, OrderType, Side, TimeInForce
from core.worker import new_plan_id
from tests.core.conftest import D, apply_batch, cancels, directive, modifies, order, plan, run, state, trades


@dataclass(frozen=True)
class Leg:
    name: str
    symbol: str
    direction: Side
    mark: Decimal

    @property
    def sign(self) -> int:
        return self.direction.sign

    @property
    def close(self) -> Side:
        return self.direction.opposite

    def net(self, magnitude: str) -> str:
        return magnitude if self.sign > 0 else "-" + magnitude

    def away(self, frac: str) -> str:
        """A price on the protective side of the mark (below for a long, above for a short)."""
        return str(self.mark * (1 - self.sign * Decimal(frac)))

    def toward(self, frac: str) -> str:
        """A price on the profit side of the mark (above for a long, below for a short)."""
        return str(self.mark * (1 + self.sign * Decimal(frac)))


LONG = Leg("long", "BTCUSDT", Side.BUY, D("102000"))
SHORT = Leg("short", "ETHUSDT", Side.SELL, D("3500"))
LEGS = pytest.mark.parametrize("leg", [LONG, SHORT], ids=lambda leg: leg.name)


def one(leg: Leg, magnitude: str, *orders: dict[str, object]):  # type: ignore[no-untyped-def]
    return state(plan("P", leg.net(magnitude), symbol=leg.symbol, direction=leg.direction.value,
                      orders=list(orders)))  # type: ignore[arg-type]


def stop_order(leg: Leg, qty: str, frac: str = "0.05", oid: str = "SL") -> dict[str, object]:
    return order(oid, "STOP_LOSS", leg.close.value, qty, stop=leg.away(frac))


def size(target: str, **entry: object) -> dict[str, object]:
    parts: dict[str, object] = {"size_directive": {"target_position_size": target}}
    if entry:
        parts["entry_directive"] = entry
    return parts


@LEGS
def test_entry_new_trade_opens_a_plan_with_market_entry_and_stop(leg: Leg) -> None:
    d = directive("NEW_TRADE", directive_id="STR_NEW",
                  entry_directive={"symbol": leg.symbol, "direction": leg.direction.value},
                  size_directive={"target_position_size": "2"}, exit_directive={"stop_loss_tolerance": "0.02"})
    batch = run(d, state())
    pid = new_plan_id("STR_NEW")
    assert pid.startswith("TPL_") and batch.plan_versions == {}
    entry, stop = trades(batch)
    assert (entry.plan_id, entry.side, entry.quantity, entry.order_type, entry.role, entry.reduce_only) == (
        pid, leg.direction, D(2), OrderType.MARKET, OrderRole.ENTRY, False)
    assert entry.client_order_id == client_order_id("STR_NEW", pid, "size")
    assert (stop.side, stop.quantity, stop.order_type, stop.role, stop.reduce_only) == (
        leg.close, D(2), OrderType.STOP_MARKET, OrderRole.STOP_LOSS, True)
    assert stop.stop_price == leg.mark * (1 - leg.sign * D("0.02"))
    after = apply_batch(state(), batch)
    assert after.plan(pid) is not None and after.plan(pid).net_position == leg.sign * 2  # type: ignore[union-attr]


@LEGS
def test_entry_new_trade_limit_order_is_gtc_at_the_price(leg: Leg) -> None:
    px = leg.away("0.01")
    d = directive("NEW_TRADE", entry_directive={"symbol": leg.symbol, "direction": leg.direction.value,
                                                "order_type": "LIMIT", "limit_price": px},
                  size_directive={"target_position_size": "1"})
    (t,) = trades(run(d, state()))
    assert (t.order_type, t.price, t.time_in_force, t.side) == (OrderType.LIMIT, D(px), TimeInForce.GTC, leg.direction)


@LEGS
def test_scale_in_buys_the_difference_and_grows_the_stop(leg: Leg) -> None:
    s = one(leg, "10", stop_order(leg, "10"))
    batch = run(directive("MODIFY_EXISTING", "P", **size("15")), s)
    (t,) = trades(batch)
    assert (t.side, t.quantity, t.role, t.reduce_only) == (leg.direction, D(5), OrderRole.ENTRY, False)
    assert [(m.order_id, m.quantity, m.stop_price) for m in modifies(batch)] == [("SL", D(15), None)]
    assert [c.action.value for c in batch.commands] == ["EXECUTE_TRADE", "MODIFY_ORDER"]


@LEGS
def test_scale_out_or_cover_reduces_and_shrinks_the_stop(leg: Leg) -> None:
    s = one(leg, "10", stop_order(leg, "10"), order("TP", "TAKE_PROFIT", leg.close.value, "4", price=leg.toward("0.1")))
    batch = run(directive("MODIFY_EXISTING", "P", **size("2.5")), s)
    (t,) = trades(batch)
    assert (t.side, t.quantity, t.role, t.reduce_only) == (leg.close, D("7.5"), OrderRole.EXIT, True)
    assert [(m.order_id, m.quantity) for m in modifies(batch)] == [("SL", D("2.5")), ("TP", D(1))]
    after = apply_batch(s, batch)
    p = after.plan("P")
    assert p is not None and p.net_position == leg.sign * D("2.5")


@LEGS
@pytest.mark.parametrize("how", ["target_0", "close_existing"])
def test_full_close_cancels_everything_and_closes_reduce_only(leg: Leg, how: str) -> None:
    s = one(leg, "3", stop_order(leg, "3"), order("E1", "ENTRY", leg.direction.value, "1", price=leg.away("0.02")),
            order("X1", "EXIT", leg.close.value, "1", price=leg.toward("0.02")))
    if how == "target_0":
        d = directive("MODIFY_EXISTING", "P", directive_id="STR_C", **size("0"))
    else:
        d = directive("CLOSE_EXISTING", "P", directive_id="STR_C")
    batch = run(d, s)
    assert [c.order_id for c in cancels(batch)] == ["SL", "E1", "X1"]
    (t,) = trades(batch)
    assert (t.side, t.quantity, t.order_type, t.role, t.reduce_only) == (leg.close, D(3), OrderType.MARKET,
                                                                         OrderRole.EXIT, True)
    after = apply_batch(s, batch)
    assert after.plan("P").net_position == 0 and after.plan("P").open_orders == []  # type: ignore[union-attr]


@LEGS
def test_target_zero_is_exactly_close_existing(leg: Leg) -> None:
    s = one(leg, "3", stop_order(leg, "3"), order("E1", "ENTRY", leg.direction.value, "1", price=leg.away("0.02")))
    ex = {"max_total_slippage_pct": "0.02"}
    a = run(directive("MODIFY_EXISTING", "P", directive_id="STR_C", execution_directive=ex, **size("0")), s)
    b = run(directive("CLOSE_EXISTING", "P", directive_id="STR_C", execution_directive=ex), s)
    assert a.to_dict()["commands"] == b.to_dict()["commands"] and a.commands


@LEGS
def test_stop_placed_when_the_plan_has_none(leg: Leg) -> None:
    batch = run(directive("MODIFY_EXISTING", "P", exit_directive={"stop_loss_price": leg.away("0.03")}),
                one(leg, "4"))
    (t,) = trades(batch)
    assert (t.side, t.order_type, t.quantity, t.stop_price, t.reduce_only, t.role) == (
        leg.close, OrderType.STOP_MARKET, D(4), D(leg.away("0.03")), True, OrderRole.STOP_LOSS)


@LEGS
def test_stop_tighten_is_a_modify_and_equal_stop_is_nothing(leg: Leg) -> None:
    s = one(leg, "4", stop_order(leg, "4", "0.05"))
    batch = run(directive("MODIFY_EXISTING", "P", exit_directive={"stop_loss_price": leg.away("0.02")}), s)
    assert [(m.order_id, m.stop_price, m.quantity, m.price) for m in modifies(batch)] == [
        ("SL", D(leg.away("0.02")), None, None)]
    same = run(directive("MODIFY_EXISTING", "P", exit_directive={"stop_loss_price": leg.away("0.05")}), s)
    assert same.ok and same.commands == []


@LEGS
def test_stop_loosen_refused_unless_allowed(leg: Leg) -> None:
    s = one(leg, "4", stop_order(leg, "4", "0.02"))
    refused = run(directive("MODIFY_EXISTING", "P", exit_directive={"stop_loss_price": leg.away("0.05")}), s)
    assert refused.commands == [] and len(refused.errors) == 1
    err = refused.errors[0]
    assert err.startswith("P: exit_directive.stop_loss_price") and "looser" in err and "allow_loosen" in err
    allowed = run(directive("MODIFY_EXISTING", "P", exit_directive={"stop_loss_price": leg.away("0.05"),
                                                                     "allow_loosen": True}), s)
    assert [m.stop_price for m in modifies(allowed)] == [D(leg.away("0.05"))]


@LEGS
@pytest.mark.parametrize("frac", ["-0.01", "0"])
def test_stop_on_the_wrong_side_of_the_mark_refused(leg: Leg, frac: str) -> None:
    s = one(leg, "4", stop_order(leg, "4"))
    batch = run(directive("MODIFY_EXISTING", "P", exit_directive={"stop_loss_price": leg.away(frac),
                                                                   "allow_loosen": True}), s)
    assert batch.commands == [] and len(batch.errors) == 1
    assert "P: exit_directive.stop_loss_price" in batch.errors[0] and "wrong side" in batch.errors[0]
    assert str(leg.mark) in batch.errors[0]


@LEGS
def test_stop_limit_keeps_its_limit_offset(leg: Leg) -> None:
    stop, px = leg.away("0.05"), leg.away("0.06")
    s = one(leg, "4", order("SL", "STOP_LOSS", leg.close.value, "4", type="STOP_LIMIT", stop=stop, price=px))
    batch = run(directive("MODIFY_EXISTING", "P", exit_directive={"stop_loss_price": leg.away("0.04")}), s)
    (m,) = modifies(batch)
    assert m.stop_price == D(leg.away("0.04"))
    assert m.price == D(leg.away("0.04")) + (D(px) - D(stop))


@LEGS
def test_take_profit_placed_moved_and_wrong_side_refused(leg: Leg) -> None:
    tp = leg.toward("0.1")
    placed = run(directive("MODIFY_EXISTING", "P", exit_directive={"take_profit_price": tp}), one(leg, "4"))
    (t,) = trades(placed)
    assert (t.side, t.order_type, t.price, t.time_in_force, t.quantity, t.reduce_only, t.role) == (
        leg.close, OrderType.LIMIT, D(tp), TimeInForce.GTC, D(4), True, OrderRole.TAKE_PROFIT)
    s = one(leg, "4", order("TP", "TAKE_PROFIT", leg.close.value, "4", price=leg.toward("0.2")))
    moved = run(directive("MODIFY_EXISTING", "P", exit_directive={"take_profit_price": tp}), s)
    assert [(m.order_id, m.price, m.stop_price, m.quantity) for m in modifies(moved)] == [("TP", D(tp), None, None)]
    wrong = run(directive("MODIFY_EXISTING", "P", exit_directive={"take_profit_price": leg.away("0.01")}), s)
    assert wrong.commands == [] and "P: exit_directive.take_profit_price" in wrong.errors[0]
    assert "wrong side" in wrong.errors[0]


@LEGS
def test_scale_with_stop_change_in_one_directive(leg: Leg) -> None:
    s = one(leg, "10", stop_order(leg, "10", "0.05"))
    batch = run(directive("MODIFY_EXISTING", "P", exit_directive={"stop_loss_tolerance": "0.01"}, **size("5")), s)
    (t,) = trades(batch)
    assert (t.side, t.quantity) == (leg.close, D(5))
    (m,) = modifies(batch)
    assert m.quantity == D(5) and m.stop_price == leg.mark * (1 - leg.sign * D("0.01"))


@LEGS
def test_working_orders_count_toward_the_target(leg: Leg) -> None:
    working = order("E1", "ENTRY", leg.direction.value, "5", price=leg.away("0.01"))
    s = one(leg, "10", working)
    same = run(directive("MODIFY_EXISTING", "P", **size("15")), s)
    assert same.ok and same.commands == [] and "already at target" in same.warnings[0]
    more = run(directive("MODIFY_EXISTING", "P", **size("20")), s)
    assert [c.order_id for c in cancels(more)] == ["E1"]
    (t,) = trades(more)
    assert (t.side, t.quantity) == (leg.direction, D(10))  # target - net, not target - net - working
    less = run(directive("MODIFY_EXISTING", "P", **size("10")), s)
    assert [c.order_id for c in cancels(less)] == ["E1"] and trades(less) == []  # cancelling lands on target


@LEGS
def test_scale_out_with_limit_order_type(leg: Leg) -> None:
    px = leg.toward("0.01")
    batch = run(directive("MODIFY_EXISTING", "P", **size("4", order_type="LIMIT", limit_price=px)), one(leg, "10"))
    (t,) = trades(batch)
    assert (t.side, t.quantity, t.order_type, t.price, t.time_in_force, t.reduce_only) == (
        leg.close, D(6), OrderType.LIMIT, D(px), TimeInForce.GTC, True)


@LEGS
def test_reprice_working_limit_entries(leg: Leg) -> None:
    s = one(leg, "10", order("E1", "ENTRY", leg.direction.value, "5", price=leg.away("0.02")),
            order("E2", "ENTRY", leg.direction.value, "5", price=leg.away("0.01")))
    px = leg.away("0.01")
    batch = run(directive("MODIFY_EXISTING", "P", entry_directive={"order_type": "LIMIT", "limit_price": px}), s)
    assert [(m.order_id, m.price) for m in modifies(batch)] == [("E1", D(px))]
