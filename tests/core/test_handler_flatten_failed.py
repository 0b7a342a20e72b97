"""A flatten that cannot close a plan re-places the stop it cancelled (same stop price, the current position), and
names the plan UNPROTECTED in the report if even that fails; an IOC that expired unfilled is not a success."""

from __future__ import annotations

import time
from decimal import Decimal

from core.connector import OrderRequest, VenueOrder
from core.models import OrderRole, OrderType, TimeInForce
from core.outcomes import OutcomeStatus
from tests.core.test_handler_kit import BTC, directive, make_desk, open_plan

D = Decimal


async def test_every_order_refused_503_the_stop_cannot_come_back_and_the_plan_is_named_unprotected() -> None:
    desk = await make_desk(flatten_rounds=2, flatten_deadline=5.0)
    await open_plan(desk, "TPL_1", stop="0.02")
    await open_plan(desk, "TPL_2", stop="0.02", size="0.5")
    desk.conn.faults.fail_ratio(1.0, seed=1, kinds=("unavailable",), ops=("place",))  # 503 to every new order
    report = await desk.send(directive("STR_PANIC", "CLOSE_EXISTING", "TPL_1", "TPL_2"), halt=True)
    assert not report.ok
    assert sorted(s.split(":")[0] for s in report.still_open) == ["TPL_1", "TPL_2"]
    assert set(report.unprotected) == {"TPL_1", "TPL_2"}
    assert report.unprotected["TPL_1"].startswith("no stop for a position of 1")
    assert "stop not re-placed" in report.unprotected["TPL_1"]
    assert any(e.kind == "unprotected" for e in desk.journal.entries())
    assert report.to_dict()["unprotected"] == report.unprotected


async def test_a_close_that_cannot_fill_gets_the_cancelled_stop_back_and_the_expired_ioc_is_not_a_success() -> None:
    desk = await make_desk(flatten_rounds=2, flatten_deadline=5.0)
    await open_plan(desk, "TPL_1", stop="0.05", size="1")  # stop at 95,000
    (stop,) = desk.open("TPL_1", OrderRole.STOP_LOSS)
    d = directive("STR_PANIC", "CLOSE_EXISTING", "TPL_1", execution_directive={"max_total_slippage_pct": "0.01"})
    batch = desk.preview(d)  # IOC sell at 99,000 (1 % under the mark 100,000)
    place = desk.conn.place_order

    async def falling(req: OrderRequest) -> VenueOrder:  # a falling market: 1,000 lower at every IOC close
        if req.time_in_force is TimeInForce.IOC:
            desk.engine.set_mark(BTC, desk.engine.markets[BTC].mark_price - 1000, time.time())
        return await place(req)

    desk.conn.place_order = falling  # type: ignore[method-assign]
    desk.engine.set_mark(BTC, D("98000"), time.time())  # the venue falls; the desk has not seen it yet
    report = await desk.send(d, batch=batch)
    closes = [o for o in report.outcomes if o.action == "EXECUTE_TRADE" and "re-placed" not in o.detail]
    assert closes and all(o.status is OutcomeStatus.FAILED and "EXPIRED, unfilled" in o.detail for o in closes)
    assert not closes[-1].superseded and closes[-1] in report.unresolved()  # the last close failed: it shows
    assert [s.split(":")[0] for s in report.still_open] == ["TPL_1"]
    assert report.unprotected == {}
    (again,) = desk.open("TPL_1", OrderRole.STOP_LOSS)
    assert (again.stop_price, again.quantity, again.type) == (stop.stop_price, D(1), OrderType.STOP_MARKET)
    assert again.order_id != stop.order_id
    assert any("stop 95000 re-placed for 1" in n for n in report.notes), report.notes
    assert not report.ok
