"""UNPROTECTED alarms (toast + bell) wait for the state to last when something is working on the plan: the row says
UNPROTECTED at once, the alarm only if it is still so after the grace. A flatten's cancelled stop before its close
fills, a stop the supervisor is resizing: no alarm. A plan nothing works on, one still uncovered after the grace,
and one a failed flatten leaves without a stop: alarmed."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from core.models import PlanStatus, Side
from tests.tui.conftest import SIZE, build_desk, preview_screen, ready, select, sent, until
from tui.alerts import AlertBook, AlertKind
from tui.app_alerts import SEND_HOLD_LIMIT, AlertsMixin
from tui.bridge_view import Changes, LogEvent, PlanRow
from tui.screens.preview import PreviewScreen
from tui.widgets.plans_cells import AT
from tui.widgets.plans_table import PlansTable, cells_of

# ------------------------------------------------------------------------------------------------ the rules, alone


class Host(AlertsMixin):
    """The mixin with what it needs from the app: a clock for the grace, the sends in progress, toasts, a bell."""

    def __init__(self) -> None:
        self.alerts = AlertBook()
        self.stale_after = 5.0
        self._sending: dict[str, Any] = {}
        self.t = 0.0
        self.alert_clock = lambda: self.t
        self.toasts: list[str] = []
        self.rang = 0
        self.bridge = SimpleNamespace(mark_times=dict)

    def notify(self, text: str, **_: Any) -> None:
        self.toasts.append(text)

    def bell(self) -> None:
        self.rang += 1

    def drain(self, *rows: PlanRow, events: tuple[LogEvent, ...] = ()) -> None:
        self.watch_alerts(Changes(rows=list(rows), events=list(events)), [], 0.0)

    def sending(self, did: str, *plan_ids: str) -> None:
        batch = SimpleNamespace(plan_versions=dict.fromkeys(plan_ids, 1), commands=[])
        self._sending[did] = SimpleNamespace(directive=SimpleNamespace(target_plan_ids=list(plan_ids)), batch=batch)


def row(pid: str = "TPL_1", *, stop: str | None = None, why: str | None = "no stop for a position of 1",
        net: str = "1") -> PlanRow:
    return PlanRow(plan_id=pid, symbol="BTCUSDT", side=Side.BUY, net=D(net), avg_entry=D(100), mark=D(100),
                   upnl=D(0), stop=None if stop is None else D(stop), take_profit=None, open_orders=1,
                   status=PlanStatus.ACTIVE, version=1, unprotected=why)


PROTECTED = row(why=None, stop="95")
SHORT_STOP = row(stop="95", why="stop covers 0.5 of a position of 1")


def test_no_stop_and_nothing_working_on_it_alarms_at_once() -> None:
    h = Host()
    h.drain(row())
    assert h.toasts == ["TPL_1 UNPROTECTED: no stop for a position of 1"] and h.rang == 1
    h.drain(row())
    assert h.rang == 1  # once, not on every drain


def test_a_stop_being_resized_alarms_only_if_it_lasts_past_the_grace() -> None:
    h = Host()
    h.drain(SHORT_STOP)  # an entry filled; the supervisor is growing the stop
    h.t = 1.0
    h.drain()
    assert h.toasts == [] and h.rang == 0 and not h.alerts.active()
    h.drain(PROTECTED)  # it did: no alarm ever
    h.t = 5.0
    h.drain()
    assert h.toasts == [] and h.rang == 0
    h.drain(SHORT_STOP)  # again, and this time it stays short
    h.t = 6.4
    h.drain()
    assert h.rang == 0
    h.t = 6.6
    h.drain()
    assert h.toasts == ["TPL_1 UNPROTECTED: stop covers 0.5 of a position of 1"] and h.rang == 1


def test_a_send_holds_the_alarm_and_the_grace_counts_from_its_end() -> None:
    h = Host()
    h.sending("STR_1", "TPL_1")
    h.drain(row())  # the flatten cancelled the stop; its close is in flight
    for h.t in (1.0, 2.0, 4.0):
        h.drain()
    assert h.rang == 0
    h._sending.clear()  # the send is over and the plan is still uncovered
    h.t = 5.0
    h.drain()
    assert h.rang == 0
    h.t = 5.6
    h.drain()
    assert h.rang == 1 and h.alerts.holds(AlertKind.UNPROTECTED, "TPL_1")


def test_a_send_that_never_ends_holds_the_alarm_only_so_long() -> None:
    h = Host()
    h.sending("STR_1", "TPL_1")
    h.drain(row())
    h.t = SEND_HOLD_LIMIT - 0.1
    h.drain()
    assert h.rang == 0
    h.t = SEND_HOLD_LIMIT + 2.0
    h.drain()
    assert h.rang == 1


def test_the_supervisors_word_and_a_failed_flattens_report_alarm_at_once() -> None:
    h = Host()
    h.drain(SHORT_STOP)
    h.drain(events=(LogEvent(0.0, "error", "TPL_1 UNPROTECTED: stop covers 0.5 of a position of 1"),))
    assert h.rang == 1
    h.sending("STR_2", "TPL_2")
    h.drain(row("TPL_2"))
    assert h.rang == 1
    h.alarm_unprotected({"TPL_2": "no stop for a position of 1; stop not re-placed: FAILED"}, 0.0)
    assert h.rang == 2 and h.toasts[-1].startswith("TPL_2 UNPROTECTED: no stop")


def test_a_held_plan_that_closes_or_goes_is_forgotten() -> None:
    h = Host()
    h.sending("STR_1", "TPL_1", "TPL_2")
    h.drain(row("TPL_1"), row("TPL_2"))
    h.drain(row("TPL_1", net="0", why=None))
    h.watch_alerts(Changes(removed=["TPL_2"]), [], 0.0)
    h._sending.clear()
    h.t = 10.0
    h.drain()
    assert h.rang == 0 and not h._held


# ------------------------------------------------------------------------------------------------ in the console


def unprotected_alarms(app: Any, pid: str) -> list[Any]:
    return [a for a in app.alerts.history if a.kind is AlertKind.UNPROTECTED and a.subject == pid]


async def test_a_flatten_in_flight_shows_unprotected_on_the_row_but_does_not_alarm(tmp_path: Path) -> None:
    desk = build_desk(tmp_path, gated=True)
    app, rang, toasts = desk.app, [], []
    app.bell = lambda: rang.append(1)  # type: ignore[method-assign]
    notify = app.notify
    app.notify = lambda message, **kw: (toasts.append(str(message)), notify(message, **kw))[1]  # type: ignore
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await until(pilot, lambda: unprotected_alarms(app, "TPL_4"), what="TPL_4's alarm (it has no stop)")
            rang.clear()
            await select(pilot, "TPL_1")
            await pilot.press("c")
            screen: PreviewScreen = await preview_screen(pilot)
            desk.connector.gate.clear()  # the close waits at the venue; the stop's cancel goes through
            await pilot.press("y")
            table = app.query_one(PlansTable)
            await until(pilot, lambda: (r := table.row_data("TPL_1")) is not None and r.unprotected is not None,
                        what="TPL_1's row to say UNPROTECTED")
            # at once, in the row's data (the table under the preview repaints it when the preview closes)
            assert cells_of(table.row_data("TPL_1"))[AT["status"]][0] == "UNPROTECTED"
            await pilot.pause(app.unprotected_grace + 0.5)  # longer than the grace: the send still works on it
            assert not unprotected_alarms(app, "TPL_1") and rang == []
            desk.connector.gate.set()
            await sent(pilot, screen)
            await until(pilot, lambda: table.row_data("TPL_1").status is PlanStatus.CLOSED, what="TPL_1 closed")
            await pilot.pause(app.unprotected_grace + 0.3)
            assert not unprotected_alarms(app, "TPL_1") and rang == []
            assert not any("TPL_1 UNPROTECTED" in t for t in toasts)
    finally:
        desk.stop()


async def test_a_failed_flatten_that_leaves_the_plan_without_a_stop_alarms(tmp_path: Path) -> None:
    desk = build_desk(tmp_path)
    app, rang = desk.app, []
    app.bell = lambda: rang.append(1)  # type: ignore[method-assign]
    try:
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            await until(pilot, lambda: unprotected_alarms(app, "TPL_4"), what="TPL_4's alarm")
            rang.clear()
            handler = desk.bridge.handler
            handler.flatten_rounds, handler.flatten_deadline = 1, 3.0
            await select(pilot, "TPL_1")
            await pilot.press("c")
            screen: PreviewScreen = await preview_screen(pilot)
            # every new order refused (503): the close fails, and so does putting the cancelled stop back
            desk.connector.faults.fail_ratio(1.0, seed=1, kinds=("unavailable",), ops=("place",))
            await pilot.press("y")
            await sent(pilot, screen, timeout=20)
            assert screen.report is not None and "TPL_1" in screen.report.unprotected
            await until(pilot, lambda: bool(unprotected_alarms(app, "TPL_1")), what="TPL_1's alarm")
            assert rang and unprotected_alarms(app, "TPL_1")[0].active
    finally:
        desk.connector.faults.fail_ratio(0.0, seed=1)
        desk.stop()
