"""core.gc_hold: pauses of the cyclic collector from several threads are counted, not restored one over the other."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from core import gc_hold
from core.gc_hold import GcHold, gc_paused


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    assert gc_hold.held() == 0
    if not was:
        gc.disable()


def test_overlapping_pauses_of_two_threads_keep_the_collector_off_until_the_last_ends() -> None:
    """The old pause restored what it saw at its start: thread A pauses, B pauses (sees it off), A ends (turns it on
    in the middle of B's pause)."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def a() -> None:
        with gc_paused():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b() -> None:
        a_in.wait(5)
        with gc_paused():
            b_in.set()
            a_out.wait(5)
            seen.append(gc.isenabled())  # A's pause has ended: still off (B's is held)
    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert seen == [False]
    assert gc.isenabled()


def test_a_hold_is_released_once_and_a_collector_that_was_off_stays_off() -> None:
    h = GcHold()
    assert not gc.isenabled() and gc_hold.held() == 1
    h.release()
    h.release()  # the timer and the paint both release it: once
    assert gc.isenabled() and h.released and gc_hold.held() == 0
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
    with pytest.raises(RuntimeError):
        gc_hold.release()
