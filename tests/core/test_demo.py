"""core.demo: the demo desk is realistic (five plans or more, three symbols, long and short, stops, take profits, a
ladder of working limit entries), opened through the real handler so that the ledger and the venue agree."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from connectors.paper import PaperConnector
from core.demo import DEMO_PLANS, demo_plans, seed_demo_desk
from core.models import OrderRole, OrderType, PlanStatus, Side
from tests.core.test_handler_kit import assert_consistent, make_desk

D = Decimal


async def test_the_demo_desk_is_realistic_and_the_ledger_matches_the_venue() -> None:
    desk = await make_desk()
    ids = await seed_demo_desk(desk.handler)
    plans = [desk.plan(pid) for pid in ids]
    assert len(plans) >= 5
    assert len({p.symbol for p in plans}) == 3
    assert {p.direction for p in plans} == {Side.BUY, Side.SELL}
    assert all(p.status is PlanStatus.ACTIVE and p.net_position * p.direction.sign > 0 for p in plans)
    roles = [o.role for p in plans for o in p.open_orders]
    assert OrderRole.STOP_LOSS in roles and OrderRole.TAKE_PROFIT in roles
    ladder = [o for p in plans for o in p.open_orders if o.role is OrderRole.ENTRY]
    assert len(ladder) >= 3 and {o.type for o in ladder} == {OrderType.LIMIT}
    for p in plans:  # protective orders never exceed the position
        for o in p.open_orders:
            if o.role.is_protective:
                assert o.remaining <= abs(p.net_position), (p.plan_id, o)
    assert_consistent(desk)


async def test_seeding_twice_adds_nothing() -> None:
    desk = await make_desk()
    await seed_demo_desk(desk.handler)
    log = list(desk.engine.order_log)
    assert await seed_demo_desk(desk.handler) == [p[0] for p in DEMO_PLANS]
    assert desk.engine.order_log == log


async def test_more_plans_repeat_the_templates_under_new_ids() -> None:
    assert [p[0] for p in demo_plans(8)] == [f"TPL_{i}" for i in range(1, 9)]
    assert demo_plans(8)[6][1:] == DEMO_PLANS[0][1:]
    desk = await make_desk()
    ids = await seed_demo_desk(desk.handler, plans=14)
    assert len(ids) == 14 and len(desk.ledger.plan_ids(PlanStatus.ACTIVE)) == 14
    assert desk.plan("TPL_13").net_position == desk.plan("TPL_1").net_position
    assert_consistent(desk)


async def test_seeded_on_a_stored_paper_account_the_next_process_sees_the_same_venue(tmp_path: Path) -> None:
    state = tmp_path / "desk.sqlite.paper.json"
    conn = PaperConnector.open(state)
    desk = await make_desk(tmp_path / "desk.sqlite", conn=conn)
    await seed_demo_desk(desk.handler, plans=3)
    await conn.close()
    again = PaperConnector.open(state)
    assert again.engine.positions() == conn.engine.positions()
    assert {v.client_order_id for v in again.engine.open_orders()} == {
        o.client_order_id for p in desk.ledger.plans() for o in p.open_orders}
    assert again.engine.positions()["BTCUSDT"] == D("1.0")
