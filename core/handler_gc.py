"""The cyclic garbage collector during a send (see old_objects_frozen)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

_frozen_by_sends = 0


@contextmanager
def old_objects_frozen() -> Iterator[None]:
    """While a send runs, the cyclic garbage collector leaves the objects that existed before it alone
    (``gc.freeze``): a flatten allocates enough to trigger a full collection, which on a big desk (the ledger's
    cache, the console's widgets) costs more than any single step of the flatten. Nothing is leaked: unreferenced
    objects are still freed at once, young cycles are still collected, and the old objects go back to the oldest
    generation when the last send ends. Left alone when something else froze objects already (it owns that)."""
    global _frozen_by_sends
    if _frozen_by_sends == 0 and gc.get_freeze_count() > 0:
        yield
        return
    if _frozen_by_sends == 0:
        gc.freeze()
    _frozen_by_sends += 1
    try:
        yield
    finally:
        _frozen_by_sends -= 1
        if _frozen_by_sends == 0:
            gc.unfreeze()
