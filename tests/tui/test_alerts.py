"""Alert bookkeeping: one per (kind, subject), bell once, acknowledge, resolve."""

from __future__ import annotations

from tui.alerts import AlertBook, AlertKind


def test_raise_refresh_ring_once() -> None:
    book = AlertBook()
    a, new = book.raise_(AlertKind.UNPROTECTED, "TPL_1", "no stop for 2 SOL", 1.0)
    assert new and book.ring(new)
    b, new2 = book.raise_(AlertKind.UNPROTECTED, "TPL_1", "no stop for 3 SOL", 2.0)
    assert b is a and not new2 and not book.ring(new2) and a.text == "no stop for 3 SOL"
    assert book.header_text() == "1 alert (a to acknowledge)"
    book.raise_(AlertKind.STALE_DATA, "BTCUSDT", "mark 22 s old", 3.0)
    assert book.header_text() == "2 alerts (a to acknowledge)"
    assert book.subjects() == {"TPL_1", "BTCUSDT"}


def test_acknowledge_and_resolve() -> None:
    book = AlertBook(bell=False)
    _, new = book.raise_(AlertKind.VENUE_LOST, "venue", "connection lost", 1.0)
    assert new and not book.ring(new)
    assert book.acknowledge_all() == 1 and book.active() == [] and book.header_text() == ""
    _, new = book.raise_(AlertKind.VENUE_LOST, "venue", "still lost", 5.0)
    assert not new and book.active() == []  # an acknowledged condition that still holds stays quiet
    book.resolve(AlertKind.VENUE_LOST, "venue")
    _, new = book.raise_(AlertKind.VENUE_LOST, "venue", "connection lost again", 9.0)
    assert new  # lost again after it came back: a new alert
    assert book.resolve(AlertKind.VENUE_LOST, "venue") and book.active() == []
    assert not book.resolve(AlertKind.VENUE_LOST, "venue")
    assert [a.seq for a in book.history] == [1, 2]


def test_events_after_acknowledging_are_new_alerts() -> None:
    book = AlertBook()
    book.raise_(AlertKind.ORDER_REJECTED, "TPL_1", "rejected", 1.0)
    book.acknowledge_all()
    _, new = book.raise_(AlertKind.ORDER_REJECTED, "TPL_1", "rejected again", 2.0)
    assert new and len(book.active()) == 1
