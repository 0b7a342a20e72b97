"""The screenshots' scenes of the operator's wider day (issue 11): many plans marked and one directive over them,
alerts, the journal, the desk views (foreign orders, exposure and P&L) and the order actions (cancel one order,
loosen a stop, the desk state). `python -m tui.screenshots` pictures them after tui.screenshots.SCENES; the snapshot
tests tests/tui/test_snapshots_many.py, test_snapshots_desk_views.py and test_order_snapshots.py run the same
scenes. Each entry is a Scene and the terminal sizes it is pictured at."""

from __future__ import annotations

from decimal import Decimal

from tui.screenshots import (
    FROZEN,
    Desk,
    Pilot,
    Scene,
    form_preview,
    preview_screen,
    screen_of,
    select,
    sent,
    settle,
    stop_fill,
    until,
)

Size = tuple[int, int]


# ------------------------------------------------------------------------------------------------ many plans


async def _marked(pilot: Pilot, desk: Desk) -> None:
    """`/ eth` shows the ETH plans, `*` marks every plan shown, `>` sorts by uPnL: marks and sort in the header."""
    await pilot.press("slash", "e", "t", "h", "enter", "asterisk", "greater_than_sign")
    await pilot.pause(0.1)


async def _many_stop(pilot: Pilot, desk: Desk) -> None:
    """Three plans marked with space, `t` takes one tolerance for all of them, the one preview it gives."""
    from tui.screens.many_inputs import ManyStopScreen

    await select(pilot, "TPL_1")
    await pilot.press("space", "down", "space", "down", "down", "down", "space")  # TPL_1, TPL_2, TPL_5
    await pilot.press("t")
    await screen_of(pilot, ManyStopScreen)
    await pilot.press("1", "percent_sign", "enter")
    await preview_screen(pilot)


async def _many_stop_form(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.many_inputs import ManyStopScreen

    await select(pilot, "TPL_1")
    await pilot.press("space", "down", "space")
    await pilot.press("t")
    await screen_of(pilot, ManyStopScreen)
    await pilot.press("1", "percent_sign")
    await pilot.pause()


async def _alerts(pilot: Pilot, desk: Desk) -> None:
    """The market falls through TPL_1's stop: the stop fill raises an alert (toast, row mark, header count) beside
    TPL_4's UNPROTECTED one."""
    from tui.alerts import AlertKind

    app = pilot.app
    app.pnl_interval = 0.0  # (the realised P&L is read on every poll, not on its timer)

    def alerted(kind: AlertKind, subject: str) -> bool:
        app.poll()  # (the pictures' desk has no poll timer)
        return any(a.kind is kind and a.subject == subject for a in app.alerts.active())

    await until(pilot, lambda: alerted(AlertKind.UNPROTECTED, "TPL_4"), what="the UNPROTECTED alert")
    await stop_fill(pilot, desk)
    await until(pilot, lambda: alerted(AlertKind.STOP_FILLED, "TPL_1"), what="the stop-fill alert")

    def realised() -> bool:  # the stop's loss (1 BTC, 100,000 -> 97,000) is in the exposure pane's day total
        app.poll()
        return bool(app._realised.today("TPL_1")[0] < -1000)

    await until(pilot, realised, what="the stop fill's realised P&L")
    await settle(pilot)
    await select(pilot, "TPL_1")
    await settle(pilot)


async def _journal(pilot: Pilot, desk: Desk) -> None:
    """A stop tightened on TPL_1 and sent; `j` on its row: the journal filtered to TPL_1."""
    from tui.screens.action_inputs import StopScreen
    from tui.screens.journal_screen import JournalScreen
    from tui.widgets.activity import ActivityLog

    screen = await form_preview(pilot, "TPL_1", "t", StopScreen, "99000")
    await pilot.press("y")
    await sent(pilot, screen)
    await pilot.press("escape")
    await until(pilot, lambda: not isinstance(pilot.app.screen, type(screen)), what="the preview closed")
    await settle(pilot)
    # the send's report line and its outcome lines reach the log in either order (both are right): the picture is
    # of the journal, so the log behind it starts empty
    pilot.app.query_one(ActivityLog).clear()
    await pilot.press("j")
    await screen_of(pilot, JournalScreen)
    await settle(pilot)


MANY: list[tuple[Scene, list[Size]]] = [
    (Scene("15-marked-filtered", "/ eth, * marks the plans shown, > sorts by uPnL", _marked), [(160, 50), (80, 24)]),
    (Scene("16-many-stop-input", "t over 2 marked plans: one tolerance for each", _many_stop_form), [(80, 24)]),
    (Scene("17-many-stop-preview", "t 1 % over 3 marked plans: one preview, one confirmation", _many_stop),
     [(160, 50), (80, 24)]),
    (Scene("18-alerts", "a stop fill and an UNPROTECTED plan: toast, row marks, header count", _alerts),
     [(160, 50), (80, 24)]),
    (Scene("19-journal", "j on a plan's row: its journal entries (who, when, batch hash, outcome)", _journal),
     [(160, 50), (80, 24)]),
]


# ------------------------------------------------------------------------------------------------ desk views


async def _foreign(pilot: Pilot, desk: Desk) -> None:
    from core.connector import OrderRequest
    from core.models import OrderType, Side, TimeInForce
    from tui.screens.foreign_orders import ForeignOrdersScreen

    desk.engine.submit(OrderRequest("ETHUSDT", Side.BUY, OrderType.LIMIT, Decimal("1.5"), "manual-1",
                                    price=Decimal("3000"), time_in_force=TimeInForce.GTC), FROZEN)
    desk.engine.submit(OrderRequest("BTCUSDT", Side.SELL, OrderType.STOP_MARKET, Decimal("0.1"), "other-desk-7",
                                    stop_price=Decimal("95000")), FROZEN)
    await settle(pilot)
    await pilot.press("o")
    screen = await screen_of(pilot, ForeignOrdersScreen)
    await until(pilot, lambda: screen.listing is not None, what="the listing")
    await settle(pilot)


async def _exposure(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.exposure_screen import ExposureScreen

    app = pilot.app
    app.pnl_interval = 0.0
    await stop_fill(pilot, desk)  # a realised loss

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


DESK_VIEWS: list[tuple[Scene, list[Size]]] = [
    (Scene("12-foreign-orders", "o: orders at the venue not ours, read-only", _foreign), [(160, 50), (80, 24)]),
    (Scene("13-exposure-pnl", "E: exposure per symbol, realised P&L per plan", _exposure), [(160, 50), (80, 24)]),
    (Scene("14-exposure-pane-small", "e on 80x24: the pane shown on request", _pane_small), [(80, 24)]),
]


# ------------------------------------------------------------------------------------------------ order actions


async def _picker(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.order_picker import OrderPickerScreen

    await select(pilot, "TPL_3")
    await settle(pilot)
    await pilot.press("x")
    await screen_of(pilot, OrderPickerScreen)
    await settle(pilot)


async def _loosen(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.action_inputs import StopScreen
    from tui.screens.loosen_confirm import LoosenConfirmScreen

    await form_preview(pilot, "TPL_1", "t", StopScreen, "97000", readable=False)
    await pilot.press("L")
    await screen_of(pilot, LoosenConfirmScreen)


async def _desk_state(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.desk_state import DeskStateScreen

    await settle(pilot)
    await pilot.press("h")
    await screen_of(pilot, DeskStateScreen)
    await settle(pilot)


ORDER_ACTIONS: list[tuple[Scene, list[Size]]] = [
    (Scene("20-order-picker", "x: choose one order of a plan to cancel", _picker), [(120, 35), (80, 24)]),
    (Scene("21-loosen-confirm", "L on a preview refused as looser: the second confirmation", _loosen), [(80, 24)]),
    (Scene("22-desk-state", "h: the desk state dialog", _desk_state), [(80, 24)]),
]

#: every scene of this module, in picture order
WIDER_DAY: list[tuple[Scene, list[Size]]] = DESK_VIEWS + MANY + ORDER_ACTIONS


def cases(scenes: list[tuple[Scene, list[Size]]]) -> list[tuple[Scene, Size]]:
    return [(scene, size) for scene, sizes in scenes for size in sizes]
