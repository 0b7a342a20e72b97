"""The foreign orders screen (`o`): orders at the venue that are not ours, listed from a worker, read-only."""

from __future__ import annotations

from decimal import Decimal as D

from core.connector import OrderRequest
from core.models import OrderType, Side, TimeInForce
from tests.tui.conftest import SIZE, Desk, ready, screen_of, until
from tui.screens.foreign_orders import ForeignOrdersScreen
from tui.screenshots import FROZEN


async def test_a_manual_order_at_the_venue_is_listed_and_never_cancelled(desk: Desk) -> None:
    app = desk.app
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        # someone places an order directly at the venue (another desk, a manual one)
        desk.engine.submit(OrderRequest("ETHUSDT", Side.BUY, OrderType.LIMIT, D("1.5"), "manual-1",
                                        price=D("3000"), time_in_force=TimeInForce.GTC), FROZEN)
        await pilot.press("o")
        screen = await screen_of(pilot, ForeignOrdersScreen)
        await until(pilot, lambda: screen.listing is not None, what="the listing")
        table = screen.query_one("#foreign-table")
        assert table.row_count == 1
        cells = [str(c) for c in table.get_row_at(0)]
        assert cells[:4] == ["ETHUSDT", "BUY", "LIMIT", "1.5"] and cells[5] == "3,000" and "manual-1" in cells
        assert screen.listing.venue_open > 1  # the demo's own orders are at the venue too, not listed
        # read-only: the screen's keys are close and reload, nothing that acts on an order
        assert {b.action for b in ForeignOrdersScreen.BINDINGS} == {"close", "reload"}  # type: ignore[union-attr]
        await pilot.press("c")
        await pilot.pause(0.2)
        assert app.screen is screen
        await pilot.press("r")
        await until(pilot, lambda: "1 foreign order of" in str(screen.query_one("#foreign-count").render()),
                    what="reloaded")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ForeignOrdersScreen), what="closed")
    assert [o.client_order_id for o in desk.venue_open("ETHUSDT") if o.client_order_id == "manual-1"]
