"""Alerts in the console: an UNPROTECTED plan and a stop fill each raise one alert (toast, bell, header count),
acknowledged with `a`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.tui.conftest import SIZE, Desk, ready, until
from tui.alerts import AlertKind
from tui.screenshots import FROZEN


async def test_unprotected_and_stop_fill_raise_alerts_and_a_acknowledges(desk: Desk) -> None:
    rang: list[int] = []
    desk.app.bell = lambda: rang.append(1)  # type: ignore[method-assign]
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        # the demo's TPL_4 holds 0.25 BTC with no stop: UNPROTECTED, alerted once (not on every refresh)
        await until(pilot, lambda: any(a.kind is AlertKind.UNPROTECTED and a.subject == "TPL_4"
                                       for a in desk.app.alerts.active()), what="the UNPROTECTED alert")
        assert len(rang) == 1
        await pilot.pause(0.3)
        assert len(rang) == 1
        assert "alert" in desk.app.alerts.header_text()
        desk.engine.set_mark("BTCUSDT", D("97000"), FROZEN)  # TPL_1's stop (98,000) triggers and fills
        await until(pilot, lambda: any(a.kind is AlertKind.STOP_FILLED and a.subject == "TPL_1"
                                       for a in desk.app.alerts.active()), what="the stop-fill alert")
        assert len(rang) >= 2
        await pilot.press("a")
        await until(pilot, lambda: not desk.app.alerts.active(), what="acknowledged")
        assert desk.app.alerts.header_text() == ""


async def test_the_bell_can_be_silenced(desk: Desk) -> None:
    rang: list[int] = []
    desk.app.bell = lambda: rang.append(1)  # type: ignore[method-assign]
    desk.app.alerts.bell = False
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await until(pilot, lambda: bool(desk.app.alerts.active()), what="an alert")
        assert rang == []
