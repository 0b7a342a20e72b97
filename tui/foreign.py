"""Orders at the venue that are not ours (another desk's, a manual one): what the foreign orders screen lists.

"Ours" means the ledger knows the order's client order id (every order we send is written to the ledger before it
is sent). The listing is read-only: plandesk never cancels these, and a flatten's cancel-all is not used on a
symbol where one was seen (core.handler_cancel_all). Venue orders carry no creation time in our port, so the age
shown is how long this console has seen the order."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from core.connector import VenueOrder


@dataclass(frozen=True)
class ForeignListing:
    orders: list[VenueOrder]  # open at the venue, not in our ledger
    venue_open: int  # every open order at the venue (ours included)
    cancel_all_off: list[str] = field(default_factory=list)  # symbols where the handler has seen a foreign order


def known_client_ids(ledger: Any, client_ids: Iterable[str]) -> set[str]:
    """Which of these client order ids the ledger has (one indexed read, however many there are)."""
    ids = [c for c in client_ids if c]
    if not ids:
        return set()
    with ledger._read() as c:  # read-only; the ledger has no bulk lookup by client order id yet
        rows = c.execute("SELECT client_order_id FROM orders WHERE client_order_id IN "
                         "(SELECT value FROM json_each(?))", (json.dumps(ids),)).fetchall()
    return {r[0] for r in rows}


class FirstSeen:
    """When the console first saw each foreign order (its age on screen); forgets orders no longer listed."""

    def __init__(self) -> None:
        self._at: dict[str, float] = {}

    def stamp(self, orders: Iterable[VenueOrder], now: float) -> dict[str, float]:
        keys = {o.exchange_order_id or o.client_order_id for o in orders}
        self._at = {k: self._at.get(k, now) for k in keys}
        return dict(self._at)
