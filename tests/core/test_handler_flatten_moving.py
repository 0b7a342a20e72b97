"""A flatten is never refused for staleness (DESIGN §3): a plan that changed between the preview and the send is
re-translated from the confirmed state, every plan ends flat, and the report says what differed."""

from __future__ import annotations

from decimal import Decimal

from core.models import OrderRole, PlanStatus, Side
from core.reconcile import sync
from tests.core.test_handler_kit import BTC, assert_consistent, directive, make_desk, open_plan, size_to

D = Decimal


async def test_a_ladder_fill_between_preview_and_send_does_not_stop_the_flatten() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_1", stop="0.10")
    await open_plan(desk, "TPL_2", stop="0.10")
    await open_plan(desk, "TPL_3", symbol="ETHUSDT", side=Side.SELL, size="2", stop="0.10")
    report = await desk.send(size_to("STR_LADDER", "TPL_1", "2", entry_directive={"order_type": "LIMIT",
                                                                                 "limit_price": "95000"}))
    assert report.ok, report.summary()
    assert [o.remaining for o in desk.open("TPL_1", OrderRole.ENTRY)] == [D(1)]
    flatten = directive("STR_PANIC", "CLOSE_EXISTING", "TPL_1", "TPL_2", "TPL_3",
                        execution_directive={"max_total_slippage_pct": "0.02"})
    batch = desk.preview(flatten)
    desk.set_mark(BTC, "94990")  # the resting ladder entry fills before the operator presses y
    await sync(desk.ledger, desk.conn)
    assert desk.plan("TPL_1").net_position == D(2)
    report = await desk.send(flatten, halt=True, batch=batch)
    assert report.refused is None, report.refused
    assert report.ok, report.summary()
    for pid in ("TPL_1", "TPL_2", "TPL_3"):
        p = desk.plan(pid)
        assert (p.net_position, p.open_orders, p.status) == (0, [], PlanStatus.CLOSED), pid
    assert len(report.differences) == 1 and report.differences[0].startswith("TPL_1: position 1 -> 2"), \
        report.differences
    assert "orders gone" in report.differences[0]  # the filled ladder entry is no longer there to cancel
    assert any(e.kind == "retranslated" for e in desk.journal.entries())
    assert_consistent(desk)


async def test_a_stale_modify_is_still_refused_as_a_stale_preview() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_1", stop="0.10")
    d = size_to("STR_UP", "TPL_1", "2")
    batch = desk.preview(d)
    await desk.send(size_to("STR_OTHER", "TPL_1", "1.5"))
    report = await desk.send(d, batch=batch)
    assert report.refused is not None and report.refused.startswith("stale preview")
    assert desk.plan("TPL_1").net_position == D("1.5")
