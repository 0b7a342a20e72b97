"""Alerts the operator must see: a stop fill, a rejected order, an UNPROTECTED plan, stale data, a lost venue.

Pure bookkeeping (no Textual): the console raises alerts from what the bridge reports, shows each as a toast and a
marked row, rings the bell if the config allows, and the header counts the alerts not yet acknowledged. One alert
per (kind, subject) stays active: raising it again refreshes it without ringing again, so a stale feed does not ring
every frame, and an acknowledged condition stays quiet until it clears; clearing it (the plan is protected again,
data is fresh) resolves it, and a new occurrence after that alerts again."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class AlertKind(StrEnum):
    STOP_FILLED = "stop filled"
    ORDER_REJECTED = "order rejected"
    UNPROTECTED = "unprotected"
    STALE_DATA = "stale data"
    VENUE_LOST = "venue lost"


#: kinds that are conditions (they last until resolved): acknowledged, they stay quiet while the condition lasts.
#: The others are events (a stop fill, a rejection): each new one is a new alert.
CONDITIONS = frozenset({AlertKind.UNPROTECTED, AlertKind.STALE_DATA, AlertKind.VENUE_LOST})


@dataclass
class Alert:
    seq: int
    kind: AlertKind
    subject: str  # a plan id, a symbol or the venue
    text: str
    at: float
    acknowledged: bool = False
    resolved: bool = False

    @property
    def active(self) -> bool:
        return not self.acknowledged and not self.resolved


class AlertBook:
    def __init__(self, *, bell: bool = True, limit: int = 500) -> None:
        self.bell = bell
        self.limit = limit
        self._seq = 0
        self._by_key: dict[tuple[AlertKind, str], Alert] = {}
        self.history: list[Alert] = []

    def raise_(self, kind: AlertKind, subject: str, text: str, at: float) -> tuple[Alert, bool]:
        """Raise (or refresh) an alert. Returns it and whether it is new (toast it; ring if `ring`)."""
        key = (kind, subject)
        cur = self._by_key.get(key)
        if cur is not None and (cur.active or (kind in CONDITIONS and not cur.resolved)):
            cur.text, cur.at = text, at  # still the same alert (or an acknowledged condition that still holds)
            return cur, False
        self._seq += 1
        alert = Alert(seq=self._seq, kind=kind, subject=subject, text=text, at=at)
        self._by_key[key] = alert
        self.history.append(alert)
        if len(self.history) > self.limit:
            del self.history[: len(self.history) - self.limit]
        return alert, True

    def ring(self, new: bool) -> bool:
        """Should the terminal bell ring for this raise?"""
        return new and self.bell

    def resolve(self, kind: AlertKind, subject: str) -> bool:
        """The condition is gone (plan protected again, data fresh, venue back)."""
        cur = self._by_key.get((kind, subject))
        if cur is None or cur.resolved:
            return False
        cur.resolved = True
        return True

    def holds(self, kind: AlertKind, subject: str) -> bool:
        """An alert of this kind and subject was raised and has not been resolved (acknowledged or not)."""
        cur = self._by_key.get((kind, subject))
        return cur is not None and not cur.resolved

    def acknowledge_all(self) -> int:
        n = 0
        for a in self._by_key.values():
            if a.active:
                a.acknowledged = True
                n += 1
        return n

    def active(self) -> list[Alert]:
        return sorted((a for a in self._by_key.values() if a.active), key=lambda a: a.seq)

    def subjects(self) -> set[str]:
        """Subjects (plan ids, symbols) with an active alert: the rows to mark."""
        return {a.subject for a in self._by_key.values() if a.active}

    def header_text(self) -> str:
        n = len(self.active())
        return "" if n == 0 else f"{n} alert{'s' if n != 1 else ''} (a to acknowledge)"
