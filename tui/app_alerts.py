"""The console's alerts (issue 11 item 4): a stop fill, a rejected order, an UNPROTECTED plan, stale data (a symbol's
mark older than the staleness limit) and a lost venue each raise an alert once: a toast, the terminal bell (unless
the config silences it), a count in the header until the operator acknowledges them (`a`), and, where there is a
plan, a marked row (the plan's row; for stale data every row of the symbol). Bookkeeping is tui.alerts.AlertBook.

Where each comes from (all pulled from the bridge's drain, never from the venue directly):
- stop fill: a fill event of a STOP_LOSS order ("fill TPL_1 STOP_LOSS SELL ...");
- rejected order: an outcome of our own send that ended REJECTED, or the supervisor's word that an order of a plan
  was REJECTED at the venue;
- UNPROTECTED: a plan row with a position that its stops do not cover. The row says so at once; the alarm waits
  for the state to last (UNPROTECTED_GRACE) when something is working on the plan and its passing states are
  expected: a send of ours targets it (a flatten cancels the stop before its close fills; the grace counts from
  the end of the send, at most SEND_HOLD_LIMIT), or it still has a stop that does not cover the position (the
  protection supervisor resizes it after an entry fill). A plan with no stop that nothing works on alarms at once,
  so does one the supervisor or a failed flatten (the send's report) names UNPROTECTED;
- stale data: the bridge's mark times (`mark_times()`, per symbol) for the symbols with active plans;
- venue lost: the connector's health not ok, or the venue's event stream ended."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from core.outcomes import CommandOutcome
from tui.alerts import AlertBook, AlertKind
from tui.bridge_view import Changes, PlanRow

_PLAN = re.compile(r"\b(TPL_[A-Za-z0-9_.:-]+)")
_STREAM_LOST = re.compile(r"venue event stream|stream (lost|failed|ended)")
_SUPERVISOR_UNPROTECTED = re.compile(r"^(TPL_[A-Za-z0-9_.:-]+) UNPROTECTED: ")
MAX_TOASTS = 3  # per drain: a burst (a flatten's rejections, every symbol stale at once) ends in one summary toast
#: seconds an UNPROTECTED state that something is working on must last before it alarms
UNPROTECTED_GRACE = 1.5
#: a send that works on a plan holds its alarm this long at most (a flatten retrying with the stop cancelled)
SEND_HOLD_LIMIT = 10.0


@dataclass
class _Held:
    """An UNPROTECTED row whose alarm waits: the grace counts from `since` (moved on while a send works on it)."""

    since: float
    first: float
    row: PlanRow


def _unprotected(row: PlanRow) -> bool:
    return row.unprotected is not None and row.net != 0 and str(row.status) != "CLOSED"


class AlertsMixin:
    alerts: AlertBook
    stale_after: float
    _sending: dict[str, Any]  # directive id -> the PreviewScreen of a send in progress (tui.app_actions)
    _new_alerts: list[tuple[AlertKind, str]] | None = None
    unprotected_grace: float = UNPROTECTED_GRACE
    alert_clock: Callable[[], float] = time.monotonic  # the grace's clock (the app's own clock may be frozen)
    _held: dict[str, _Held] | None = None
    _busy_keys: tuple[str, ...] = ()
    _busy_ids: frozenset[str] = frozenset()

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
        if self._held:
            for pid in ch.removed:
                self._held.pop(pid, None)
        for ev in ch.events:
            m = _PLAN.search(ev.text)
            sup = _SUPERVISOR_UNPROTECTED.match(ev.text) if ev.level == "error" else None
            if sup is not None and self._held and sup.group(1) in self._held:  # the supervisor tried and failed
                self._held.pop(sup.group(1))
                self._alert(AlertKind.UNPROTECTED, sup.group(1), ev.text, now)
            elif ev.level == "fill" and "STOP_LOSS" in ev.text:
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
        self._check_held(now)
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
        pid = row.plan_id
        held = self._held
        if not _unprotected(row):
            if held:
                held.pop(pid, None)
            self.alerts.resolve(AlertKind.UNPROTECTED, pid)
            return
        if self.alerts.holds(AlertKind.UNPROTECTED, pid):  # alarmed already: keep its words current, no new toast
            self._raise_unprotected(row, now)
            return
        if held is not None and pid in held:
            held[pid].row = row
        elif pid in self._busy() or row.stop is not None:  # a send, or the supervisor, is working on it
            if held is None:
                held = self._held = {}
            t = self.alert_clock()
            held[pid] = _Held(since=t, first=t, row=row)
        else:
            self._raise_unprotected(row, now)

    def _raise_unprotected(self, row: PlanRow, now: float) -> None:
        self._alert(AlertKind.UNPROTECTED, row.plan_id, f"{row.plan_id} UNPROTECTED: {row.unprotected}", now)

    def _check_held(self, now: float) -> None:
        """Alarm the held UNPROTECTED plans whose state outlasted the grace (their newest row still says so)."""
        held = self._held
        if not held:
            return
        t = self.alert_clock()
        busy = self._busy()
        for pid, h in list(held.items()):
            if pid in busy and t - h.first < SEND_HOLD_LIMIT:
                h.since = t
            elif t - h.since >= self.unprotected_grace:
                del held[pid]
                self._raise_unprotected(h.row, now)

    def _busy(self) -> frozenset[str]:
        """The plans a send of ours is working on (its targets and its commands' plans)."""
        keys = tuple(self._sending)
        if keys != self._busy_keys:
            ids: set[str] = set()
            for screen in self._sending.values():
                ids.update(screen.directive.target_plan_ids or ())
                ids.update(screen.batch.plan_versions)
                ids.update(c.plan_id for c in screen.batch.commands)
            self._busy_keys, self._busy_ids = keys, frozenset(ids)
        return self._busy_ids

    def alarm_unprotected(self, unprotected: dict[str, str], now: float) -> None:
        """A send's report names plans left UNPROTECTED (a failed flatten whose stop could not come back): alarm
        now, whatever the grace."""
        for pid, why in unprotected.items():
            if self._held:
                self._held.pop(pid, None)
            self._alert(AlertKind.UNPROTECTED, pid, f"{pid} UNPROTECTED: {why}", now)
        self._flush_alerts()

    def alerted_subjects(self) -> set[str]:
        """Plan ids and symbols whose rows are marked (subjects of active alerts)."""
        return self.alerts.subjects()

    def action_acknowledge_alerts(self) -> None:
        n = self.alerts.acknowledge_all()
        self.notify(  # type: ignore[attr-defined]
            f"{n} alert{'s' * (n != 1)} acknowledged" if n else "no alerts to acknowledge", timeout=3)
