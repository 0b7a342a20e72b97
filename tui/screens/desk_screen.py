"""The desk's own screen: the plans, the detail and the activity log (PlanDeskApp composes into it).

While a preview is on its way (PlanDeskApp.hold_for_preview: from the key that asks for it until it is painted, it
fails, or PREVIEW_LOG_HOLD passes) the desk is not painted. The preview covers it within the ~100-250 ms it takes to
build, and a paint of the 2,000-row desk in that time (the form that asked for the preview has just closed, the
table takes the focus back) took the interpreter from the preview's translation on the preview thread: ~20-25 ms of
a stop tighten over 2,000 plans. The terminal keeps the picture it has (the form) until the preview replaces it.
What was not painted stays marked dirty, and the end of the hold paints it (end_preview_hold) if the desk is still
on top."""

from __future__ import annotations

from typing import Protocol

from textual.screen import Screen


class _HoldsPolls(Protocol):
    def polls_held(self) -> bool: ...


class DeskScreen(Screen[None]):
    def _compositor_refresh(self) -> None:
        app: _HoldsPolls = self.app  # type: ignore[assignment]
        if self.is_current and app.polls_held():
            return  # (the compositor keeps the dirty regions: the paint after the hold has them)
        super()._compositor_refresh()
