"""Each kind of alert raises a toast, the bell and (where there is a plan) a marked row: a rejected order (a paper
venue refusal), stale data (marks older than the limit), a lost venue (an outage). The stop fill's alert is in
test_alerts_console.py, its marked row in test_exposure_pane.py."""

from __future__ import annotations

from rich.style import Style

from tests.tui.conftest import SIZE, Desk, preview_screen, ready, select, sent, until
from tests.tui.test_actions import type_in
from tui.alerts import AlertKind
from tui.screens.action_inputs import StopScreen
from tui.screenshots import FROZEN
from tui.widgets.plans_table import PlansTable


def marked(app: object, plan_id: str) -> bool:
    table = app.query_one(PlansTable)  # type: ignore[attr-defined]
    return table._get_row_style(table.get_row_index(plan_id), Style()).bgcolor is not None


def kinds(app: object) -> set[tuple[AlertKind, str]]:
    return {(a.kind, a.subject) for a in app.alerts.active()}  # type: ignore[attr-defined]


async def test_unprotected_and_a_rejected_order_mark_their_rows(desk: Desk) -> None:
    app, rang = desk.app, []
    app.bell = lambda: rang.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await until(pilot, lambda: (AlertKind.UNPROTECTED, "TPL_4") in kinds(app), what="UNPROTECTED")
        assert marked(app, "TPL_4") and not marked(app, "TPL_2")
        await pilot.press("a")  # acknowledged: the marks go
        await until(pilot, lambda: not marked(app, "TPL_4"), what="unmarked")
        rang.clear()
        desk.connector.faults.inject("reject", op="place")  # the venue refuses TPL_4's new stop
        await select(pilot, "TPL_4")
        await pilot.press("t")
        await until(pilot, lambda: isinstance(app.screen, StopScreen))
        await type_in(pilot, "1%")
        await pilot.press("enter")
        screen = await preview_screen(pilot)
        await pilot.press("y")
        await sent(pilot, screen)
        await pilot.press("escape")
        await until(pilot, lambda: (AlertKind.ORDER_REJECTED, "TPL_4") in kinds(app), what="the rejection")
        assert rang and marked(app, "TPL_4")


async def test_a_lost_venue_and_stale_marks_alert(desk: Desk) -> None:
    app, rang = desk.app, []
    app.bell = lambda: rang.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("a")
        rang.clear()
        desk.connector.faults.outage = True
        await until(pilot, lambda: (AlertKind.VENUE_LOST, "venue") in kinds(app), what="venue lost")
        assert len(rang) == 1 and "alert" in app.alerts.header_text()
        desk.connector.faults.outage = False
        await until(pilot, lambda: (AlertKind.VENUE_LOST, "venue") not in kinds(app), what="venue back")
        assert not marked(app, "TPL_1")
        app.clock = lambda: FROZEN + 60  # a minute on, no new mark: every symbol held is stale
        await until(pilot, lambda: {s for k, s in kinds(app) if k is AlertKind.STALE_DATA}
                    == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}, what="stale marks")
        assert len(rang) == 2  # one bell for the three
        assert marked(app, "TPL_1") and marked(app, "TPL_4")  # every row of a stale symbol
        app.clock = lambda: FROZEN
        await until(pilot, lambda: not kinds(app), what="fresh again")
