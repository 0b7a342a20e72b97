"""The console's alerts (issue 11 item 4): a stop fill, a rejected order, an UNPROTECTED plan, stale data (a symbol's
mark older than the staleness limit) and a lost venue each raise an alert once: a toast, the terminal bell (unless
the config silences it), a count in the header until the operator acknowledges them (`a`), and, where there is a
plan, a marked row (the plan's row; for stale data every row of the symbol). Bookkeeping is tui.alerts.AlertBook.

Where each comes from (all pulled from the bridge's drain, never from the venue directly):
- stop fill: a fill event of a STOP_LOSS order ("fill TPL_1 STOP_LOSS SELL ...");
- rejected order: an outcome of our own send that ended REJECTED, or the supervisor's word that an order of a plan
  was REJECTED at the venue;
- UNPROTECTED: a plan row with a position that its stops do not cover;
- stale data: the bridge's mark times (`mark_times()`, per symbol) for the symbols with active plans;
- venue lost: the connector's health not ok, or the venue's event stream ended."""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.outcomes import CommandOutcome
from tui.alerts import AlertBook, AlertKind
from tui.bridge_view import Changes, PlanRow

_PLAN = re.compile(r"\b(TPL_[A-Za-z0-9_.:-]+)")
_STREAM_LOST = re.compile(r"venue event stream|stream (lost|failed|ended)")
MAX_TOASTS = 3  # per drain: a burst (a flatten's rejections, every symbol stale at once) ends in one summary toast


class AlertsMixin:
    alerts: AlertBook
    stale_after: float
    _new_alerts: list[tuple[AlertKind, str]] | None = None

    # notify() and bell() are the App's (this mixin comes before App in PlanDeskApp's bases: no stubs here, they
    # would shadow the real ones)

    def _alert(self, kind: AlertKind, subject: str, text: str, now: float) -> None:
        _alert, new = self.alerts.raise_(kind, subject, text, now)
        if new:
            if self._new_alerts is None:
                self._new_alerts = []
            self._new_alerts.append((kind, text))

    def _flush_alerts(self) -> None:
        """Toast what was raised in this drain (a few, then one summary) and ring the bell once."""
        new, self._new_alerts = self._new_alerts or [], None
        if not new:
            return
        for kind, text in new[:MAX_TOASTS]:
            self.notify(text, title=str(kind).upper(), severity="error", timeout=8,  # type: ignore[attr-defined]
                        markup=False)
        if len(new) > MAX_TOASTS:
            self.notify(f"and {len(new) - MAX_TOASTS} more alerts", title="ALERTS",  # type: ignore[attr-defined]
                        severity="error", timeout=8, markup=False)
        if self.alerts.ring(True):
            self.bell()  # type: ignore[attr-defined]

    def watch_alerts(self, ch: Changes, outcomes: Iterable[tuple[str, CommandOutcome]], now: float,
                     symbols: Iterable[str] = ()) -> None:
        """Raise and resolve alerts from one drain of the bridge's changes; `symbols` are those with active plans
        (whose marks must be fresh)."""
        for row in ch.rows:
            self._watch_row(row, now)
        for ev in ch.events:
            m = _PLAN.search(ev.text)
            if ev.level == "fill" and "STOP_LOSS" in ev.text:
                self._alert(AlertKind.STOP_FILLED, m.group(1) if m else "stop", ev.text, now)
            elif ev.level in ("warn", "error") and m and " REJECTED" in ev.text:
                self._alert(AlertKind.ORDER_REJECTED, m.group(1), ev.text, now)
            elif ev.level in ("warn", "error") and _STREAM_LOST.search(ev.text):
                self._alert(AlertKind.VENUE_LOST, "venue", ev.text, now)
        for _directive, oc in outcomes:
            if oc.status.is_final and str(oc.status) == "REJECTED":
                self._alert(AlertKind.ORDER_REJECTED, oc.plan_id, f"{oc.plan_id} #{oc.seq} {oc.action} rejected: "
                                                                  f"{oc.detail}", now)
        if ch.health is not None:
            if not ch.health.ok:
                self._alert(AlertKind.VENUE_LOST, "venue", f"venue: {ch.health.detail}", now)
            else:
                self.alerts.resolve(AlertKind.VENUE_LOST, "venue")
        if ch.ready:
            self._watch_marks(symbols, now)
        self._flush_alerts()

    def _watch_marks(self, symbols: Iterable[str], now: float) -> None:
        times: dict[str, float] = self.bridge.mark_times()  # type: ignore[attr-defined]
        for symbol in symbols:
            ts = times.get(symbol)
            if ts is None:
                continue
            age = now - ts
            if age > self.stale_after:
                self._alert(AlertKind.STALE_DATA, symbol, f"{symbol} mark {age:.0f} s old (limit "
                                                          f"{self.stale_after:g} s)", now)
            else:
                self.alerts.resolve(AlertKind.STALE_DATA, symbol)

    def _watch_row(self, row: PlanRow, now: float) -> None:
        if row.unprotected is not None and row.net != 0 and str(row.status) != "CLOSED":
            self._alert(AlertKind.UNPROTECTED, row.plan_id, f"{row.plan_id} UNPROTECTED: {row.unprotected}", now)
        else:
            self.alerts.resolve(AlertKind.UNPROTECTED, row.plan_id)

    def alerted_subjects(self) -> set[str]:
        """Plan ids and symbols whose rows are marked (subjects of active alerts)."""
        return self.alerts.subjects()

    def action_acknowledge_alerts(self) -> None:
        n = self.alerts.acknowledge_all()
        self.notify(  # type: ignore[attr-defined]
            f"{n} alert{'s' * (n != 1)} acknowledged" if n else "no alerts to acknowledge", timeout=3)
