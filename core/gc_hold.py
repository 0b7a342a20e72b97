"""Pausing the cyclic garbage collector, from several threads at once.

`gc.disable()` is process-wide. Each pause used to remember whether the collector was on when it began and restore
that at its end; two threads' pauses that overlapped undid each other (the bridge reads a plan inside a pause ~200
times a second under a busy feed, and its end turned the collector back on in the middle of a flatten preview being
built on another thread). Here every pause is counted: the collector is off while any is held, and back on (if it
was on before the first) when the last ends.

A `GcHold` is a pause that outlives a call: the console holds one from the moment a preview is asked for until it
is painted, so that the young-generation pass over the tens of thousands of objects a flatten of 2,000 plans makes
(20-50 ms), or a pass over the older generations (~200 ms), falls after the preview is on screen, while the
operator reads it, instead of between the key and the picture."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_held = 0
_was_enabled = False


def hold() -> None:
    """Begin a pause (see `release`)."""
    global _held, _was_enabled
    with _lock:
        if _held == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _held += 1


def release() -> None:
    """End a pause begun by `hold`: the collector runs again once no pause is held."""
    global _held
    with _lock:
        if _held <= 0:
            raise RuntimeError("gc_hold.release() without a hold")
        _held -= 1
        if _held == 0 and _was_enabled:
            gc.enable()


def held() -> int:
    """How many pauses are held now."""
    return _held


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects (none of them form cycles): without
    this, collections triggered by the allocations double the cost of loading 20,000 orders."""
    hold()
    try:
        yield
    finally:
        release()


class GcHold:
    """One pause, ended by the first `release()` (later calls do nothing): safe to release from a timer and from
    the event it stands in for."""

    __slots__ = ("_done", "_lock")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = False
        hold()

    def release(self) -> None:
        with self._lock:
            if self._done:
                return
            self._done = True
        release()

    @property
    def released(self) -> bool:
        return self._done


__all__ = ["GcHold", "gc_paused", "held", "hold", "release"]
