"""tui.screens.settled_resize: a preview is not laid out a second time (with the desk beneath it) for the Resize
Textual posts it to the size it has just been laid out at; a real resize of the terminal still lays out both."""

from __future__ import annotations

from typing import Any

from textual.screen import Screen

from tests.tui.conftest import SIZE, Desk, preview_screen, ready, select, until
from tui.screens.preview import PreviewScreen


async def test_a_preview_is_laid_out_once_at_its_size_and_the_desk_beneath_is_not(desk: Desk, monkeypatch: Any) -> None:
    resized: list[str] = []
    real = Screen._screen_resized

    def record(self: Screen, size: Any) -> None:  # type: ignore[type-arg]
        resized.append(type(self).__name__)
        real(self, size)

    monkeypatch.setattr(Screen, "_screen_resized", record)
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_2")
        resized.clear()
        await pilot.press("c")
        screen = await preview_screen(pilot)
        await until(pilot, lambda: screen.confirm_ready, what="the preview painted")
        assert resized == []  # (without SettledResize: ["PreviewScreen", "Screen"])
        assert screen.size == SIZE and desk.app.screen_stack[0].size == SIZE


async def test_a_real_resize_under_a_preview_lays_out_the_preview_and_the_desk(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_2")
        await pilot.press("c")
        screen = await preview_screen(pilot)
        small = (SIZE[0] - 30, SIZE[1] - 10)
        await pilot.resize_terminal(*small)
        await until(pilot, lambda: tuple(screen.size) == small, what="the preview at the new size")
        box = screen.query_one(".preview-box")
        assert box.size.width <= small[0]
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(desk.app.screen, PreviewScreen), what="the preview closed")
        await pilot.pause(0.1)
        assert tuple(desk.app.screen.size) == small


async def test_a_shown_preview_is_painted_once_in_full_not_before_and_after_its_second_layout(
        desk: Desk, monkeypatch: Any) -> None:
    """The first layout of a shown screen is followed by a second (each new widget's virtual size asks for it):
    only that second one paints, and it paints the whole screen."""
    from textual._compositor import Compositor, LayoutUpdate
    from textual.app import App

    full: list[str] = []
    shown: list[Any] = []
    at_painted: list[int] = []
    real_full, real_display, real_shown = Compositor.render_full_update, App._display, PreviewScreen._shown

    def count_full(self: Compositor, simplify: bool = False) -> Any:
        full.append("full")
        return real_full(self, simplify=simplify)

    def display(self: App[Any], screen: Any, renderable: Any) -> None:
        if isinstance(screen, PreviewScreen):
            shown.append(renderable)
        real_display(self, screen, renderable)

    def painted(self: PreviewScreen) -> None:
        at_painted.append(len(full))
        real_shown(self)

    monkeypatch.setattr(Compositor, "render_full_update", count_full)
    monkeypatch.setattr(PreviewScreen, "_shown", painted)
    monkeypatch.setattr(App, "_display", display)
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_2")
        await pilot.pause(0.2)
        full.clear()
        await pilot.press("c")
        screen = await preview_screen(pilot)
        await until(pilot, lambda: bool(at_painted), what="the preview painted")
        assert at_painted == [1]  # full renders until then (without the change: 2, the first layout's and a repaint)
        assert isinstance(shown[0], LayoutUpdate) and shown[0].region == screen.region
        assert "PREVIEW" in "".join(seg.text for strip in shown[0].strips for seg in strip)


async def test_the_settled_layout_of_a_shown_preview_does_not_wait_for_the_next_frame(desk: Desk,
                                                                                    monkeypatch: Any) -> None:
    """Once every new widget has asked for the layout that follows the first, it is done at the screen's next
    idle, not at the update timer's next tick (set here to 2 s, so that waiting for it shows). The wait polls with
    asyncio.sleep: pilot.pause() forces a screen's pending updates, which would hide the timer's."""
    import asyncio
    import time

    import textual.screen

    painted: list[float] = []
    real_shown = PreviewScreen._shown

    def shown(self: PreviewScreen) -> None:
        painted.append(time.monotonic())
        real_shown(self)

    monkeypatch.setattr(PreviewScreen, "_shown", shown)
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_2")
        monkeypatch.setattr(textual.screen, "UPDATE_PERIOD", 2.0)  # the preview's timer is made with it
        t = time.monotonic()
        await pilot.press("c")
        while not painted and time.monotonic() - t < 5:
            await asyncio.sleep(0.01)
        assert painted and painted[0] - t < 1.0  # (without the change: ~2 s, the timer's first tick)
