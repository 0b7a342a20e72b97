"""Group commits keep the write-ahead rule (an order is on disk before its request leaves), and the venue's fees reach
the ledger: a paper flatten's realised P&L is the gross less 0.1 % of every fill's notional, exactly, per plan and
netted, and realized_since sums the P&L of the fills from a moment on."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine
from core.connector import OrderRequest, VenueOrder
from core.ledger import Ledger, LedgerError
from core.ledger_group import CommitGroup
from core.models import Order, OrderRole, OrderStatus, OrderType, PlanStatus, Side
from core.reconcile import apply_venue_order
from tests.core.test_handler_kit import BTC, Desk, assert_consistent, directive, make_desk, open_plan

D = Decimal
ETH = "ETHUSDT"
RATE = D("0.001")  # the paper venue's fee


def pending(coid: str, qty: str = "1") -> Order:
    return Order(order_id="ORD_" + coid, client_order_id=coid, role=OrderRole.ENTRY, side=Side.BUY,
                 type=OrderType.MARKET, quantity=D(qty), status=OrderStatus.PENDING)


def on_disk(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    """What another process would read: a separate connection sees committed data only."""
    with sqlite3.connect(db) as c:
        return c.execute(sql, args).fetchall()


async def test_one_commit_for_the_writes_of_one_turn_and_a_failing_write_fails_alone(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.create_plan("TPL_1", BTC, Side.BUY)
    ledger.write_ahead("TPL_1", pending("c-0"))
    group = CommitGroup(ledger)

    async def write(coid: str) -> None:
        await group.run(lambda: ledger.write_ahead("TPL_1", pending(coid)))
        # returned: committed, so another connection sees it
        assert on_disk(Path(ledger.path), "SELECT status FROM orders WHERE client_order_id = ?", coid) == [
            ("PENDING",)]

    results = await asyncio.gather(write("c-1"), write("c-0"), write("c-2"), return_exceptions=True)
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], LedgerError) and "already exists" in str(results[1])
    assert (group.commits, group.writes) == (1, 3)
    assert sorted(r[0] for r in on_disk(Path(ledger.path), "SELECT client_order_id FROM orders")) == [
        "c-0", "c-1", "c-2"]
    ledger.close()


class CheckingConnector(PaperConnector):
    """Checks, as each new order arrives at the venue, that its write-ahead is already committed to the file."""

    db: Path
    checked = 0

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        rows = on_disk(self.db, "SELECT o.status, i.owner FROM orders o JOIN inflight i USING (client_order_id) "
                                "WHERE o.client_order_id = ?", request.client_order_id)
        assert len(rows) == 1 and rows[0][0] in ("PENDING", "UNKNOWN"), (request.client_order_id, rows)
        self.checked += 1
        return await super().place_order(request)


async def test_every_write_ahead_is_on_disk_before_its_order_leaves(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    conn = CheckingConnector(PaperEngine(DEFAULT_MARKETS()))
    conn.db = db
    desk = await make_desk(db, conn=conn)
    for i in range(6):
        await open_plan(desk, f"TPL_{i}", BTC if i % 2 else ETH, Side.BUY if i % 2 else Side.SELL,
                        "0.01" if i % 2 else "0.5")
    opened = conn.checked
    report = await desk.send(directive("STR_FLAT", "CLOSE_EXISTING", *desk.ledger.plan_ids(PlanStatus.ACTIVE)),
                             halt=True)
    assert report.ok, report.summary()
    assert conn.checked - opened == 6  # every close was checked at the venue
    assert desk.handler.ops.commits.commits < desk.handler.ops.commits.writes  # and they did share commits
    assert_consistent(desk)
    desk.ledger.close()


def gross_less_fees(desk: Desk, plan_id: str) -> tuple[Decimal, Decimal]:
    """(sells - buys - 0.1 % of every fill's notional, the fees recorded) over a flat plan's fills."""
    plan = desk.ledger.state([plan_id], fills=True).plans[0]
    gross = sum(((f.price * f.quantity) * (1 if f.side is Side.SELL else -1) for f in plan.fills), D(0))
    fees = sum((f.fee for f in plan.fills), D(0))
    return gross - sum((f.price * f.quantity * RATE for f in plan.fills), D(0)), fees


async def test_a_paper_flatten_leaves_realised_equal_to_gross_less_the_venue_fee_exactly() -> None:
    desk = await make_desk()
    t0 = time.time()
    await open_plan(desk, "TPL_L", BTC, Side.BUY, "0.02", tp="110000")
    await open_plan(desk, "TPL_S", ETH, Side.SELL, "1.5")
    desk.set_mark(BTC, "101234.5")
    desk.set_mark(ETH, "3321.7")
    report = await desk.send(directive("STR_FLAT", "CLOSE_EXISTING", "TPL_L", "TPL_S"), halt=True)
    assert report.ok, report.summary()
    venue_fees = sum((t.fee for t in desk.engine.trades()), D(0))
    recorded = D(0)
    for pid in ("TPL_L", "TPL_S"):
        plan = desk.plan(pid)
        expected, fees = gross_less_fees(desk, pid)
        assert plan.net_position == 0 and plan.status is PlanStatus.CLOSED
        assert fees > 0 and plan.realized_pnl == expected  # exact, Decimal
        recorded += fees
        # realised since before the plan opened: all of it; since now: nothing
        assert desk.ledger.realized_since(t0, [pid]) == {pid: plan.realized_pnl}
        assert desk.ledger.realized_since(time.time() + 1, [pid]) == {pid: D(0)}
    assert recorded == venue_fees
    assert desk.ledger.realized() == {"TPL_L": desk.plan("TPL_L").realized_pnl,
                                      "TPL_S": desk.plan("TPL_S").realized_pnl}


async def test_a_netted_flatten_allocates_the_close_fee_exactly() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_A", BTC, Side.BUY, "0.003", stop=None)
    await open_plan(desk, "TPL_B", BTC, Side.BUY, "0.002", stop=None)
    await open_plan(desk, "TPL_C", BTC, Side.SELL, "0.001", stop=None)
    desk.set_mark(BTC, "101000")
    trades_before = len(desk.engine.trades())
    fees_before = {p.plan_id: sum((f.fee for f in p.fills), D(0)) for p in desk.ledger.state(fills=True).plans}
    desk.handler.netting = True
    report = await desk.send(directive("STR_NET", "CLOSE_EXISTING", "TPL_A", "TPL_B", "TPL_C"), halt=True)
    assert report.ok, report.summary()
    (close,) = desk.engine.trades()[trades_before:]
    assert close.quantity == D("0.004") and close.fee == close.price * close.quantity * RATE
    plans = {p.plan_id: p for p in desk.ledger.state(fills=True).plans}
    assert all(p.net_position == 0 and p.status is PlanStatus.CLOSED for p in plans.values())
    # the venue's fees, all of them, are in the plans' fills, no more and no less
    assert sum((f.fee for p in plans.values() for f in p.fills), D(0)) == sum(
        (t.fee for t in desk.engine.trades()), D(0))
    # the one close's fee is shared out exactly: the plans' fees grew by it, no plan's by a negative amount
    grew = {pid: sum((f.fee for f in p.fills), D(0)) - fees_before[pid] for pid, p in plans.items()}
    assert sum(grew.values(), D(0)) == close.fee and all(g >= 0 for g in grew.values())
    assert grew["TPL_A"] > 0 and grew["TPL_B"] > 0
    # desk total: realised = what the venue booked, exactly (internal transfers cancel across plans)
    booked = sum(((t.price * t.quantity) * (1 if t.side is Side.SELL else -1) - t.fee
                  for t in desk.engine.trades()), D(0))
    assert sum((p.realized_pnl for p in plans.values()), D(0)) == booked
    assert_consistent(desk)


def test_a_fee_reported_after_its_fill_is_added_to_the_fill_and_the_plan() -> None:
    ledger = Ledger(":memory:")
    ledger.create_plan("TPL_1", BTC, Side.BUY)
    ledger.write_ahead("TPL_1", pending("c-1", "2"))
    order = ledger.get_order("ORD_c-1")
    assert order is not None
    answer = VenueOrder(symbol=BTC, client_order_id="c-1", side=Side.BUY, order_type=OrderType.MARKET,
                        quantity=D(2), status=OrderStatus.FILLED, filled_quantity=D(2), avg_fill_price=D(100))
    apply_venue_order(ledger, "TPL_1", order[1], answer)  # a lookup: no commission in it
    plan = ledger.state(["TPL_1"], fills=True).plans[0]
    assert plan.realized_pnl == 0 and plan.fills[0].fee == 0
    later = VenueOrder(**{**answer.__dict__, "fee": D("0.2")})  # the stream's report of the same order
    apply_venue_order(ledger, "TPL_1", order[1], later)
    apply_venue_order(ledger, "TPL_1", order[1], later)  # twice: once
    plan = ledger.state(["TPL_1"], fills=True).plans[0]
    assert plan.realized_pnl == D("-0.2") and [f.fee for f in plan.fills] == [D("0.2")]
    assert ledger.realized_since(0) == {"TPL_1": D("-0.2")}


def test_a_partly_filled_order_records_each_fill_with_its_own_fee() -> None:
    ledger = Ledger(":memory:")
    ledger.create_plan("TPL_1", BTC, Side.BUY)
    ledger.write_ahead("TPL_1", pending("c-1", "3"))
    base = dict(symbol=BTC, client_order_id="c-1", side=Side.BUY, order_type=OrderType.LIMIT, quantity=D(3))
    steps = [(OrderStatus.PARTIALLY_FILLED, "1", "100", "0.1"), (OrderStatus.FILLED, "3", "101", "0.403")]
    for status, filled, avg, fee in steps:
        found = ledger.get_order("ORD_c-1")
        assert found is not None
        apply_venue_order(ledger, "TPL_1", found[1], VenueOrder(**base, status=status, filled_quantity=D(filled),
                                                                 avg_fill_price=D(avg), fee=D(fee)))
    plan = ledger.state(["TPL_1"], fills=True).plans[0]
    assert [(f.quantity, f.price, f.fee) for f in plan.fills] == [(D(1), D(100), D("0.1")),
                                                                 (D(2), D("101.5"), D("0.303"))]
    assert plan.realized_pnl == D("-0.403") and plan.orders[0].status is OrderStatus.FILLED


@pytest.mark.parametrize("bad", ["unknown plan", "unknown group"])
def test_a_refused_write_ahead_writes_nothing_even_inside_a_transaction(bad: str) -> None:
    ledger = Ledger(":memory:")
    ledger.create_plan("TPL_1", BTC, Side.BUY)
    version = ledger.plan_versions(["TPL_1"])["TPL_1"]
    order = pending("c-1") if bad == "unknown plan" else pending("c-1").model_copy(update={"group_id": "EXG_x"})
    with ledger.transaction():
        with pytest.raises(LedgerError, match=bad):
            ledger.write_ahead("TPL_X" if bad == "unknown plan" else "TPL_1", order)
    assert ledger.find_order("c-1") is None and ledger.plan_versions(["TPL_1"])["TPL_1"] == version
