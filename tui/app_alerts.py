"""The console's alerts (issue 11 item 4, first cut): a stop fill, a rejected order, an UNPROTECTED plan, stale
data and a lost venue each raise an alert once: a toast, the terminal bell (unless the config silences it) and a
count in the header until the operator acknowledges them (`a`). Bookkeeping is tui.alerts.AlertBook."""

from __future__ import annotations

import re
from collections.abc import Iterable

from core.outcomes import CommandOutcome
from tui.alerts import AlertBook, AlertKind
from tui.bridge_view import Changes, PlanRow

_PLAN = re.compile(r"\b(TPL_[A-Za-z0-9_.:-]+)")


class AlertsMixin:
    alerts: AlertBook
    stale_after: float

    # notify() and bell() are the App's (this mixin comes before App in PlanDeskApp's bases: no stubs here, they
    # would shadow the real ones)

    def _alert(self, kind: AlertKind, subject: str, text: str, now: float) -> None:
        _alert, new = self.alerts.raise_(kind, subject, text, now)
        if new:
            self.notify(text, title=str(kind).upper(), severity="error", timeout=8,  # type: ignore[attr-defined]
                        markup=False)
            if self.alerts.ring(new):
                self.bell()  # type: ignore[attr-defined]

    def watch_alerts(self, ch: Changes, outcomes: Iterable[tuple[str, CommandOutcome]], now: float) -> None:
        """Raise and resolve alerts from one drain of the bridge's changes."""
        for row in ch.rows:
            self._watch_row(row, now)
        for ev in ch.events:
            if ev.level == "fill" and "STOP_LOSS" in ev.text:
                m = _PLAN.search(ev.text)
                self._alert(AlertKind.STOP_FILLED, m.group(1) if m else "stop", ev.text, now)
            elif ev.level == "error" and ("stream" in ev.text or "venue" in ev.text):
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
        if ch.ready and ch.last_data_ts is not None:
            age = now - ch.last_data_ts
            if age > self.stale_after:
                self._alert(AlertKind.STALE_DATA, "market data", f"market data {age:.0f} s old", now)
            else:
                self.alerts.resolve(AlertKind.STALE_DATA, "market data")

    def _watch_row(self, row: PlanRow, now: float) -> None:
        if row.unprotected is not None and row.net != 0 and str(row.status) != "CLOSED":
            self._alert(AlertKind.UNPROTECTED, row.plan_id, f"{row.plan_id} UNPROTECTED: {row.unprotected}", now)
        else:
            self.alerts.resolve(AlertKind.UNPROTECTED, row.plan_id)

    def action_acknowledge_alerts(self) -> None:
        n = self.alerts.acknowledge_all()
        self.notify(  # type: ignore[attr-defined]
            f"{n} alert{'s' * (n != 1)} acknowledged" if n else "no alerts to acknowledge", timeout=3)
