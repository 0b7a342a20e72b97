"""A netted flatten through the real handler on the paper venue: one close per symbol for the net, long and short
plans offset internally at the mark, every plan flat, the venue's fill and fee allocated back per plan exactly."""

from __future__ import annotations

from decimal import Decimal

from core.models import PlanStatus, Side
from tests.core.test_handler_kit import assert_consistent, directive, make_desk, open_plan

D = Decimal
BTC, ETH = "BTCUSDT", "ETHUSDT"


async def test_one_close_per_symbol_and_exact_allocation() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_A", BTC, Side.BUY, "0.003", stop=None)
    await open_plan(desk, "TPL_B", BTC, Side.BUY, "0.002", stop=None)
    await open_plan(desk, "TPL_C", BTC, Side.SELL, "0.004", stop=None)
    await open_plan(desk, "TPL_D", ETH, Side.BUY, "0.5", stop=None)
    await open_plan(desk, "TPL_E", ETH, Side.BUY, "0.3", stop=None)
    await open_plan(desk, "TPL_F", ETH, Side.SELL, "0.8", stop=None)  # ETH offsets exactly: nothing goes to the venue
    desk.set_mark(BTC, "101000")  # the close fills away from the marks the plans were opened at
    realized_before = sum((p.realized_pnl for p in desk.ledger.plans()), D(0))
    trades_before = len(desk.engine.trades())
    sent_before = len(desk.sent())
    desk.handler.netting = True
    ids = desk.ledger.plan_ids(PlanStatus.ACTIVE)
    report = await desk.send(directive("STR_NET", "CLOSE_EXISTING", *ids), halt=True)
    assert report.ok, report.summary()
    new = desk.sent()[sent_before:]
    closes = [t for t in desk.engine.trades()[trades_before:]]
    assert len(closes) == 1 and closes[0].symbol == BTC and closes[0].quantity == D("0.001")  # the net only
    assert len(new) == 1  # one order to the venue (the stops went with cancel-all)
    assert all(p.net_position == 0 and p.status is PlanStatus.CLOSED for p in desk.ledger.plans())
    assert desk.engine.positions()[BTC] == 0 and desk.engine.positions()[ETH] == 0
    assert_consistent(desk)
    # the desk's realized P&L moved by exactly what the venue booked: the close's proceeds against the plans'
    # entries, less its fee (internal transfers net to zero across plans)
    plans = {p.plan_id: p for p in desk.ledger.state(fills=True).plans}
    fee = closes[0].fee
    fee_lines = [f.fee for p in plans.values() for f in p.fills if f.fill_id.startswith("NET.")]
    assert sum(fee_lines, D(0)) == 0  # fee shares moved from the carrier to the plans, none created
    realized_after = sum((p.realized_pnl for p in plans.values()), D(0))
    assert realized_after != realized_before
    assert any("netted BTCUSDT" in n for n in report.notes) and any("netted ETHUSDT" in n for n in report.notes)
    assert fee > 0


async def test_netting_off_sends_one_close_per_plan() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_A", BTC, Side.BUY, "0.003", stop=None)
    await open_plan(desk, "TPL_B", BTC, Side.BUY, "0.002", stop=None)
    trades_before = len(desk.engine.trades())
    ids = desk.ledger.plan_ids(PlanStatus.ACTIVE)
    report = await desk.send(directive("STR_PER_PLAN", "CLOSE_EXISTING", *ids), halt=True)
    assert report.ok
    assert len(desk.engine.trades()[trades_before:]) == 2


async def test_the_carriers_close_is_allocated_back_at_its_price_with_each_plans_fee_share() -> None:
    from connectors.paper import DEFAULT_MARKETS, PaperConfig, PaperConnector, PaperEngine

    conn = PaperConnector(PaperEngine(DEFAULT_MARKETS(), PaperConfig(slippage=D("0.001"))))
    desk = await make_desk(conn=conn)
    sol = "SOLUSDT"
    await open_plan(desk, "TPL_BIG", sol, Side.BUY, "10", stop=None)
    await open_plan(desk, "TPL_SMALL", sol, Side.BUY, "5", stop=None)
    desk.set_mark(sol, "160")
    before = {p.plan_id: p for p in desk.ledger.plans()}
    trades_before = len(desk.engine.trades())
    desk.handler.netting = True
    report = await desk.send(directive("STR_NET2", "CLOSE_EXISTING", "TPL_BIG", "TPL_SMALL"), halt=True)
    assert report.ok, report.summary()
    (close,) = desk.engine.trades()[trades_before:]
    assert close.quantity == D("15") and close.price != D("160")  # one close, away from the mark
    after = {p.plan_id: p for p in desk.ledger.state(fills=True).plans}
    # the fee as the ledger booked the close (the ledger's own record of the venue fill)
    fee = sum((f.fee for f in after["TPL_BIG"].fills if f.side is Side.SELL and not f.fill_id.startswith("NET.")),
              D(0))
    for pid, qty in (("TPL_BIG", D("10")), ("TPL_SMALL", D("5"))):
        share = fee * qty / 15
        expected = (close.price - before[pid].avg_entry_price) * qty - share
        got = after[pid].realized_pnl - before[pid].realized_pnl
        assert abs(got - expected) <= D("0.00000002"), (pid, got, expected)
        assert after[pid].net_position == 0
    total = sum((after[p].realized_pnl - before[p].realized_pnl for p in after), D(0))
    # exact up to the ledger's precision (the hand-over makes the carrier's average entry a repeating decimal)
    assert abs(total - ((close.price * 15 - sum((before[p].avg_entry_price * q for p, q in
                                             (("TPL_BIG", 10), ("TPL_SMALL", 5))), D(0))) - fee)) < D("1e-12")
    assert_consistent(desk)


async def test_a_netting_failure_rolls_back_and_the_flatten_goes_per_plan() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_A", BTC, Side.BUY, "0.003", stop=None)
    await open_plan(desk, "TPL_B", BTC, Side.BUY, "0.002", stop=None)
    # a client order id the hand-over needs is already taken: the netting transaction fails as a whole
    from core import handler_netting

    taken = handler_netting._coid("STR_FAIL", "TPL_B", "handover")
    desk.ledger.create_plan("TPL_X", BTC, Side.BUY)
    from core.models import Order, OrderRole, OrderStatus, OrderType

    desk.ledger.write_ahead("TPL_X", Order(order_id="ORD_X", client_order_id=taken, role=OrderRole.ENTRY,
                                           side=Side.BUY, type=OrderType.MARKET, quantity=D("1"),
                                           status=OrderStatus.REJECTED))
    desk.handler.netting = True
    trades_before = len(desk.engine.trades())
    report = await desk.send(directive("STR_FAIL", "CLOSE_EXISTING", "TPL_A", "TPL_B"), halt=True)
    assert report.ok, report.summary()
    assert any(n.startswith("netting not used") for n in report.notes)
    assert len(desk.engine.trades()[trades_before:]) == 2  # per plan
    assert all(desk.plan(p).net_position == 0 for p in ("TPL_A", "TPL_B"))
    assert_consistent(desk)
