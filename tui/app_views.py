"""The console's desk views (issue 11 items 3 and 5): the exposure & P&L pane (`e` toggles it, `E` opens every
symbol and every plan's realised P&L) and the foreign orders screen (`o`).

Cost under a busy feed: the exposure sums are kept incrementally (tui.exposure.ExposureBook: O(changed rows) per
poll, O(symbols) per render), the pane re-renders at most every RENDER_INTERVAL seconds and only when something
moved, and realised P&L is re-read from the ledger (one indexed read, tui.pnl.read_plan_pnl) at most every
PNL_INTERVAL seconds and only after a plan changed. Every read runs in a named worker."""

from __future__ import annotations

import time
from typing import Any

from tui.bridge_view import Changes
from tui.exposure import ExposureBook
from tui.pnl import PlanPnL, RealisedBook
from tui.widgets.exposure_pane import ExposurePane

RENDER_INTERVAL = 0.5
PNL_INTERVAL = 1.0


class DeskViewsMixin:
    """Needs the app's bridge, clock, desk_ready, _await and the composed ExposurePane (#exposure)."""

    _expo: ExposureBook
    _realised: RealisedBook
    _expo_choice: bool | None = None  # the operator's `e` (None: shown when it fits)
    _expo_rendered = 0.0
    _pnl_asked = 0.0
    _pnl_dirty = True
    _pnl_busy = False
    render_interval = RENDER_INTERVAL
    pnl_interval = PNL_INTERVAL

    def views_mount(self) -> None:
        self._expo = ExposureBook()
        self._realised = RealisedBook(self.clock)  # type: ignore[attr-defined]
        self._pane = self.query_one(ExposurePane)  # type: ignore[attr-defined]
        self._foreign_seen_at: Any = None
        self.views_resize()

    def exposure_fits(self) -> bool:
        """Shown by default only where it does not squeeze the rest: 112+ columns and 35+ lines. It sits above
        the activity log (never over the plans table); on 80x24 the log's column is 40 wide and 10 high, so it
        starts hidden there and `e` shows it in place of the log (app.tcss)."""
        w, h = self.size  # type: ignore[attr-defined]
        return bool(w >= 112 and h >= 35)

    def views_resize(self) -> None:
        self._fit_pane()
        self.call_after_refresh(self._fit_pane)  # type: ignore[attr-defined]  # (the app's size lags its Resize)

    def _fit_pane(self) -> None:
        pane = getattr(self, "_pane", None)
        if pane is not None:
            self._show_pane(self.exposure_fits() if self._expo_choice is None else self._expo_choice)

    def _show_pane(self, shown: bool) -> None:
        """Show or hide the pane; on a short terminal (under 35 lines) it takes the activity log's place."""
        self._pane.display = shown
        short = self.size.height < 35  # type: ignore[attr-defined]
        self.set_class(shown and short, "-exposure-over-log")  # type: ignore[attr-defined]

    def views_poll(self, ch: Changes) -> None:
        """From the app's poll: fold the drain into the sums; re-render and re-read P&L when due."""
        expo = self._expo
        expo.apply(ch.rows, ch.removed, ch.marks)
        if ch.rows or ch.removed:
            self._pnl_dirty = True
        now = time.monotonic()
        if (self._pnl_dirty and not self._pnl_busy and self.desk_ready  # type: ignore[attr-defined]
                and now - self._pnl_asked >= self.pnl_interval):
            self._pnl_dirty, self._pnl_busy, self._pnl_asked = False, True, now
            self._await(self.bridge.plan_pnl(), "pnl", self._pnl_read)  # type: ignore[attr-defined]
        if self._pane.display and expo.changed and now - self._expo_rendered >= self.render_interval:
            self._render_exposure(now)

    def _pnl_read(self, pnl: dict[str, PlanPnL]) -> None:
        self._pnl_busy = False
        self._realised.update(pnl)
        self._expo.changed = True
        if self._pane.display:  # (at most once per pnl_interval)
            self._render_exposure(time.monotonic())

    def _render_exposure(self, now: float) -> None:
        self._expo_rendered = now
        symbols, totals = self._expo.summary()
        self._pane.show(symbols, totals, self._realised)

    def on_exposure_pane_resized(self, _event: Any) -> None:
        """The pane above the activity log grew or shrank: keep the log's newest lines in view."""
        self._logw.scroll_end(animate=False)  # type: ignore[attr-defined]

    def exposure_symbols(self) -> set[str]:
        """Symbols with ACTIVE plans holding a position (their marks must be fresh)."""
        return self._expo.symbols()

    # ---------------------------------------------------------------------------------------------- actions

    def action_toggle_exposure(self) -> None:
        self._expo_choice = not self._pane.display
        self._show_pane(self._expo_choice)
        if self._expo_choice:
            self._render_exposure(time.monotonic())

    def action_exposure_screen(self) -> None:
        from tui.screens.exposure_screen import ExposureScreen

        symbols, totals = self._expo.summary()
        self._expo.changed = True  # the pane's next refresh still happens
        self.push_screen(ExposureScreen(symbols, totals, self._realised))  # type: ignore[attr-defined]

    def action_foreign_orders(self) -> None:
        """List the venue's open orders that are not ours, in a worker; the screen opens at once and fills in."""
        from tui.foreign import FirstSeen
        from tui.screens.foreign_orders import ForeignOrdersScreen

        screen = self.screen  # type: ignore[attr-defined]
        if not isinstance(screen, ForeignOrdersScreen):
            screen = ForeignOrdersScreen()
            self.push_screen(screen)  # type: ignore[attr-defined]
        if self._foreign_seen_at is None:
            self._foreign_seen_at = FirstSeen()
        seen, fut, clock = self._foreign_seen_at, self.bridge.foreign_orders(), self.clock  # type: ignore[attr-defined]

        async def listing() -> None:
            import asyncio

            try:
                got = await asyncio.wrap_future(fut)
            except Exception as exc:
                if screen.is_attached:
                    screen.failed(f"{exc.__class__.__name__}: {exc}")
                raise  # and the app's one failure handler logs it
            now = clock()
            ages = seen.stamp(got.orders, now)
            if screen.is_attached:
                screen.show(got, ages, now)

        self.run_worker(listing, name="foreign-orders", group="foreign-orders",  # type: ignore[attr-defined]
                        exclusive=True, exit_on_error=False)

    def on_foreign_orders_screen_reload(self, _event: Any) -> None:
        self.action_foreign_orders()
