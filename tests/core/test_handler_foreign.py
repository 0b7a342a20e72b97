"""A flatten never cancels an order it does not own: cancel-all is used only when every order open at the venue on
that symbol belongs to the batch."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.connector import OrderRequest
from core.models import OrderType, Side, TimeInForce
from tests.core.test_handler_kit import BTC, directive, make_desk, open_plan


async def test_flatten_leaves_a_foreign_order_at_the_venue_alone() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_1", tp="110000")
    await open_plan(desk, "TPL_2", size="0.5", tp="120000")
    # an order placed at the venue by someone else (another desk, a manual order)
    await desk.conn.place_order(OrderRequest(symbol=BTC, side=Side.BUY, order_type=OrderType.LIMIT,
                                             quantity=Decimal("0.01"), price=Decimal("90000"),
                                             client_order_id="manual-order-1", time_in_force=TimeInForce.GTC))
    report = await desk.send(directive("STR_FLAT", "CLOSE_EXISTING", "TPL_1", "TPL_2"), halt=True)
    assert report.ok, report.summary()
    assert any("not this batch's" in n for n in report.notes)
    assert [o.client_order_id for o in desk.venue_open(BTC)] == ["manual-order-1"]
    for pid in ("TPL_1", "TPL_2"):
        plan = desk.plan(pid)
        assert plan.net_position == 0 and not plan.open_orders


async def test_flatten_uses_cancel_all_when_it_owns_every_order() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_1", tp="110000")
    await open_plan(desk, "TPL_2", size="0.5", tp="120000")
    calls: list[str] = []
    original = desk.conn.cancel_all

    async def spy(symbol: str):  # type: ignore[no-untyped-def]
        calls.append(symbol)
        return await original(symbol)

    desk.conn.cancel_all = spy  # type: ignore[method-assign]
    report = await desk.send(directive("STR_FLAT", "CLOSE_EXISTING", "TPL_1", "TPL_2"), halt=True)
    assert report.ok, report.summary()
    assert calls == [BTC]
    assert desk.venue_open(BTC) == []


async def test_once_a_foreign_order_was_seen_on_a_symbol_cancel_all_is_not_used_there_again() -> None:
    """Issue 13 item 5: a foreign order placed between our listing and our cancel-all would be cancelled by it.
    Where a foreign order was ever seen on the symbol, ours are cancelled one by one."""
    desk = await make_desk()
    for pid in ("TPL_1", "TPL_2"):
        await open_plan(desk, pid, size="0.5", tp="110000")
    manual = OrderRequest(symbol=BTC, side=Side.BUY, order_type=OrderType.LIMIT, quantity=Decimal("0.01"),
                          price=Decimal("90000"), client_order_id="manual-order-1", time_in_force=TimeInForce.GTC)
    await desk.conn.place_order(manual)
    report = await desk.send(directive("STR_F1", "CLOSE_EXISTING", "TPL_1", "TPL_2"))
    assert report.ok and any("not this batch's" in n for n in report.notes)
    await desk.conn.cancel_order(BTC, "manual-order-1")  # its owner takes it away
    for pid in ("TPL_3", "TPL_4"):
        await open_plan(desk, pid, size="0.5", tp="110000")
    original = desk.conn.cancel_all

    async def racing(symbol: str):  # type: ignore[no-untyped-def]
        # the other desk places a new order after our listing, just before our cancel-all reaches the venue
        desk.engine.submit(OrderRequest(symbol=BTC, side=Side.BUY, order_type=OrderType.LIMIT,
                                        quantity=Decimal("0.01"), price=Decimal("90000"),
                                        client_order_id="manual-order-2", time_in_force=TimeInForce.GTC), 0.0)
        return await original(symbol)

    desk.conn.cancel_all = racing  # type: ignore[method-assign]
    report = await desk.send(directive("STR_F2", "CLOSE_EXISTING", "TPL_3", "TPL_4"))
    assert report.ok, report.summary()
    assert [o.client_order_id for o in desk.venue_open(BTC)] == []  # (nothing raced: cancel-all was not used)
    assert not desk.engine.order_record(BTC, "manual-order-2")
    assert any("foreign order" in n and "one by one" in n for n in report.notes), report.notes


async def test_a_listing_older_than_one_round_trip_does_not_vouch_for_a_cancel_all(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import core.handler_cancel_all as module

    desk = await make_desk()
    await open_plan(desk, "TPL_1", tp="110000")
    await open_plan(desk, "TPL_2", size="0.5", tp="120000")
    ticks = iter([100.0, 100.001, 105.0])  # asked, listed (a 1 ms round trip), then 5 s later at the cancel-all

    class Clock:
        @staticmethod
        def monotonic() -> float:
            return next(ticks, 105.0)

    monkeypatch.setattr(module, "time", Clock)
    calls: list[str] = []
    original = desk.conn.cancel_all

    async def spy(symbol: str):  # type: ignore[no-untyped-def]
        calls.append(symbol)
        return await original(symbol)

    desk.conn.cancel_all = spy  # type: ignore[method-assign]
    report = await desk.send(directive("STR_FLAT", "CLOSE_EXISTING", "TPL_1", "TPL_2"), halt=True)
    assert report.ok, report.summary()
    assert calls == [] and any("older than one round trip" in n for n in report.notes), report.notes
    assert desk.venue_open(BTC) == []
