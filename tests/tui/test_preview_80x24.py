"""A preview's confirm line and its DONE line stay readable on a small terminal. At 80x24 (and on any screen a flatten
of many plans fills) an alert's toast covered the confirm line ("send 21 commands and HAL…") and the report: on a
preview the toasts wait (its header still counts the alert; the desk shows the toast once the preview is closed,
while it is within its time). And a flatten done at 80x24 lost its DONE line under the report."""

from __future__ import annotations

import pytest
from textual.widgets._toast import Toast, ToastRack

from tests.tui.conftest import Desk, preview_screen, ready, until
from tui.screens.preview import PreviewScreen


def in_dialog(screen: PreviewScreen, selector: str) -> tuple[bool, object, object]:
    """Is the widget inside the preview dialog's content area? (and the two regions, for the message)"""
    box = screen.query_one(".preview-box").content_region
    region = screen.query_one(selector).region
    return box.contains_region(region), box, region


def toast_texts(screen: object) -> list[str]:
    """The toasts drawn on this screen."""
    racks = list(screen.query(ToastRack))  # type: ignore[attr-defined]
    return [str(t.render()) for rack in racks if rack.display for t in rack.query(Toast)]


async def test_an_alert_during_a_preview_waits_for_it_to_close(desk: Desk) -> None:
    async with desk.app.run_test(size=(80, 24), notifications=True) as pilot:
        await ready(pilot)
        await pilot.press("F")
        screen = await preview_screen(pilot)
        desk.app.notify("TPL_9 UNPROTECTED: no stop for a position of 1", title="UNPROTECTED", severity="error",
                        timeout=8)
        await pilot.pause(0.2)
        assert toast_texts(screen) == []  # nothing drawn over the confirm line
        assert "send 21 commands and HALT the desk" in str(screen.query_one("#preview-status").render())
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(desk.app.screen, PreviewScreen), what="the preview closed")
        await until(pilot, lambda: any("TPL_9 UNPROTECTED" in t for t in toast_texts(desk.app.screen)), 2,
                    "the toast on the desk")


async def test_a_flatten_done_at_80x24_keeps_its_done_line_on_screen(desk: Desk) -> None:
    """The report (the desk HALTED line) above the status line took the last row at 80x24: the plans table gives
    way (it scrolls) so that the DONE line stays inside the dialog."""
    from tests.tui.conftest import sent
    from tui.screens.preview import PreviewState

    async with desk.app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        await pilot.press("F")
        screen = await preview_screen(pilot)
        await pilot.press("y")
        await sent(pilot, screen)
        assert screen.state is PreviewState.DONE
        await pilot.pause(0.2)
        assert "DONE" in str(screen.query_one("#preview-status").render())
        inside, *regions = in_dialog(screen, "#preview-status")
        assert inside, regions
        assert screen.query_one("#preview-report").display and in_dialog(screen, "#preview-report")[0]


async def test_many_warnings_at_80x24_leave_the_confirm_line_on_screen(desk: Desk) -> None:
    """The notes (warnings, errors) take what is left once the tables have their least and the status line its
    own: twenty warnings at 80x24 pushed the confirm line off the dialog."""
    from dataclasses import replace

    from core.directives import Scope, StrategyDirective

    async with desk.app.run_test(size=(80, 24)) as pilot:
        await ready(pilot)
        directive = StrategyDirective(directive_id="STR_W", scope=Scope.CLOSE_EXISTING,
                                      target_plan_ids=desk.bridge.active_plan_ids())
        preview = desk.bridge.preview(directive).result(timeout=5)
        assert preview.batch.ok
        desk.bridge.preview_painted()
        warned = replace(preview, batch=preview.batch.model_copy(
            update={"warnings": [f"TPL_{i}: dust remains: 0.0001 BTCUSDT is finer than the step size" for i in
                                 range(20)]}))
        desk.app.push_screen(PreviewScreen(warned, directive, title="FLATTEN ALL", halt_desk=True))
        screen = await preview_screen(pilot)
        await pilot.pause(0.2)
        assert "send" in str(screen.query_one("#preview-status").render())
        inside, *regions = in_dialog(screen, "#preview-status")
        assert inside, regions
        notes = screen.query_one("#preview-notes")
        assert notes.display and notes.region.height >= 1 and in_dialog(screen, "#preview-notes")[0]


def shown_lines(screen: PreviewScreen, selector: str) -> list[str]:
    """The lines of a widget as painted (what is cut by its height is not there)."""
    w = screen.query_one(selector)
    return ["".join(seg.text for seg in strip).rstrip() for strip in w.render_lines(w.region.reset_offset)]


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_notes_cut_by_the_dialog_say_how_many_are_not_shown(desk: Desk, size: tuple[int, int]) -> None:
    """Twenty warnings do not fit at 80x24 (nor in the notes' twelve lines at 160x50): the last line shown says how
    many are cut, of which kind, and where all of them are (the journal keeps the whole batch)."""
    from dataclasses import replace

    from core.directives import Scope, StrategyDirective

    async with desk.app.run_test(size=size) as pilot:
        await ready(pilot)
        directive = StrategyDirective(directive_id=f"STR_N{size[0]}", scope=Scope.CLOSE_EXISTING,
                                      target_plan_ids=desk.bridge.active_plan_ids())
        preview = desk.bridge.preview(directive).result(timeout=5)
        desk.bridge.preview_painted()
        warned = replace(preview, batch=preview.batch.model_copy(update={"warnings": [
            f"TPL_{i}: dust remains: 0.0001 BTCUSDT is finer than the step size" for i in range(20)]}))
        desk.app.push_screen(PreviewScreen(warned, directive, title="FLATTEN ALL"))
        screen = await preview_screen(pilot)
        await pilot.pause(0.2)
        lines = [line for line in shown_lines(screen, "#preview-notes") if line.strip()]
        warnings_shown = [line for line in lines if "warning: TPL_" in line]
        assert 1 <= len(warnings_shown) < 20, lines
        last = " ".join(lines[lines.index(warnings_shown[-1]) + 1:])  # (wrapped at 80 columns)
        assert f"{20 - len(warnings_shown)} more not shown" in last, lines
        where = f"plandesk journal --db {desk.bridge.db} --json --directive STR_N{size[0]}"
        assert "20 warnings" in last and where.replace(" ", "") in last.replace(" ", ""), last  # (wrapped anywhere)
        assert in_dialog(screen, "#preview-status")[0]
