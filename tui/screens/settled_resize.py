"""A screen that is not laid out, nor painted, twice when it is shown.

Textual lays a screen out when it is shown (ScreenResume), then posts the screen a Resize to the size it has just
laid out (the screen is among the widgets "shown" by that first layout), and on that Resize lays out the screen and
every screen beneath it once more. For a flatten preview of 2,000 plans over the 2,000-row desk that second pass was
~15-30 ms of the key press to the preview painted, and it changes nothing: the sizes are the ones just laid out. A
Resize to the size every one of those screens is laid out at already is dropped here; any other (the terminal was
resized) goes to Textual as before. (The app sets no breakpoints, the rest of Screen._on_resize: with breakpoints
this would have to apply them; see test_settled_resize.)

The first layout of a newly shown screen is always followed by a second: it gives each new widget its size, that
sets the widget's virtual size (a reactive that asks for a layout), and the widgets then ask the screen for one. The
first layout's picture was painted (~12-18 ms for a flatten preview at 160x50), then painted over in full a frame
later, and once more for the repaint ScreenResume asks for before its layout. When a widget has asked for the layout
that follows, the first picture is not painted (the compositor keeps the whole screen marked dirty), and the paint
after that layout, full, stands for the repaint too: the screen is painted once, in full, when its layout settles."""

from __future__ import annotations

from textual import events
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget


class SettledResize(Screen):  # type: ignore[type-arg]
    """Mix in before the Screen class: `class X(SettledResize, ModalScreen[T])`. (Textual calls the Resize handler
    of every class in the MRO: this one stops the walk before Screen's for a settled size, and otherwise leaves the
    event to it.)"""

    _first_paint_pending = True
    _first_picture_held = False

    def _compositor_refresh(self) -> None:
        if self._first_paint_pending and self.is_current:
            if not self._first_picture_held and self._layout_follows():
                self._first_picture_held = True
                return  # (the first layout's picture: the layout already asked for paints it, in full)
            self._first_paint_pending = False
            if self._compositor.size.region in self._compositor._dirty_regions:
                self._repaint_required = False  # a repaint asked before this full paint (ScreenResume's) is this one
        super()._compositor_refresh()

    async def _on_idle(self, event: events.Idle) -> None:
        """(Before Screen's.) The first picture held, and the layout that follows it asked for by every widget that
        will (none has one left to post): lay out and paint now, not at the update timer's next tick (up to a
        frame, 1/60 s, later)."""
        if (self._first_picture_held and self._first_paint_pending and self._layout_required and self.is_current
                and not self.app._batch_count and not self._layout_follows()):
            self._on_timer_update()

    def _layout_follows(self) -> bool:
        """A widget of this screen has asked for a layout it has not posted yet (it does at its next idle)."""
        return any(w._layout_required for w in self.walk_children(Widget))

    def _on_resize(self, event: events.Resize) -> None:
        if self._settled_at(event.size):
            event.stop()
            event.prevent_default()  # Screen._on_resize is not called

    def _settled_at(self, size: Size) -> bool:
        """This screen and the screens beneath it are laid out at `size` already (and no breakpoint depends on
        it)."""
        app = self.app
        if app.HORIZONTAL_BREAKPOINTS or app.VERTICAL_BREAKPOINTS or self.HORIZONTAL_BREAKPOINTS \
                or self.VERTICAL_BREAKPOINTS:
            return False
        return (self.is_attached and self._compositor.size == size
                and all(s._compositor.size == size for s in app._background_screens))
