"""Snapshots of the desk views (issue 11 items 3 and 5): the foreign orders screen (`o`), the exposure & P&L screen
(`E`) after a stop fill realised a loss, and the exposure pane asked for (`e`) on a small terminal. The main screen
with the pane is tests/tui/test_snapshots.py's 01-main. Update after an intended change:
`pytest tests/tui/test_snapshots_desk_views.py --snapshot-update`, then look at the pictures."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tui.screenshots import FROZEN, Desk, Pilot, Scene, run_scene, screen_of, until


async def _foreign(pilot: Pilot, desk: Desk) -> None:
    from core.connector import OrderRequest
    from core.models import OrderType, Side, TimeInForce
    from tui.screens.foreign_orders import ForeignOrdersScreen

    desk.engine.submit(OrderRequest("ETHUSDT", Side.BUY, OrderType.LIMIT, Decimal("1.5"), "manual-1",
                                    price=Decimal("3000"), time_in_force=TimeInForce.GTC), FROZEN)
    desk.engine.submit(OrderRequest("BTCUSDT", Side.SELL, OrderType.STOP_MARKET, Decimal("0.1"), "other-desk-7",
                                    stop_price=Decimal("95000")), FROZEN)
    await pilot.press("o")
    screen = await screen_of(pilot, ForeignOrdersScreen)
    await until(pilot, lambda: screen.listing is not None, what="the listing")


async def _exposure(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.exposure_screen import ExposureScreen

    app = pilot.app
    app.pnl_interval = 0.0
    desk.engine.set_mark("BTCUSDT", Decimal("97000"), FROZEN)  # TPL_1's stop fills: a realised loss

    await until(pilot, lambda: (p := desk.ledger.get_plan("TPL_1")).net_position == 0 and not p.open_orders,
                what="the stop fill and the take profit it orphaned cancelled")

    def realised() -> bool:
        app.poll()
        return bool(app._realised.today("TPL_1")[0] < 0)

    await until(pilot, realised, what="realised P&L")
    await pilot.pause(0.2)
    app.poll()  # everything the fill caused is in the activity log before the screen opens
    await pilot.press("E")
    await screen_of(pilot, ExposureScreen)


async def _pane_small(pilot: Pilot, desk: Desk) -> None:
    pilot.app.clear_notifications()  # (the UNPROTECTED toast would cover the pane in the picture)
    await pilot.press("e")
    await pilot.pause()


SCENES = [
    (Scene("12-foreign-orders", "o: orders at the venue not ours, read-only", _foreign), [(160, 50), (80, 24)]),
    (Scene("13-exposure-pnl", "E: exposure per symbol, realised P&L per plan", _exposure), [(160, 50), (80, 24)]),
    (Scene("14-exposure-pane-small", "e on 80x24: the pane shown on request", _pane_small), [(80, 24)]),
]
CASES = [(scene, size) for scene, sizes in SCENES for size in sizes]


@pytest.mark.parametrize(("scene", "size"), CASES, ids=[f"{s.name}-{w}x{h}" for s, (w, h) in CASES])
def test_screen(scene: Scene, size: tuple[int, int], snap_compare: Any, tmp_path: Path) -> None:
    assert run_scene(scene, tmp_path, compare=snap_compare, size=size)
