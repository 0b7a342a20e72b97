"""Group commit: the ledger writes that many asyncio tasks ask for in one event-loop turn go in ONE transaction.

With ``synchronous=FULL`` every commit is an fsync (~0.3-1 ms here); a flatten of 1,000 plans made ~4,000 of them
(write-ahead, sending, settle, ...). The tasks of a flatten reach their writes together (the orders of one wave
enter the in-flight gate in the same turn; the answers of one wave come back together), so each task hands its
write to ``CommitGroup.run`` and awaits it; once per loop turn the queued writes run in one transaction, each inside
its own savepoint (a write that fails is rolled back alone and its error goes to its task only), then one commit.

Durability is unchanged: ``await group.run(write)`` returns only after the commit that holds the write, so a
write-ahead awaited this way is on disk before the request for the order leaves, exactly as with a commit of its
own. If the commit itself fails, every task of the group gets the error (and sends nothing).

Writes that need not be durable before anything else happens (a venue's answer: a crash before its commit leaves
the order written ahead, and recovery looks it up) may pass ``urgent=False``: a group of only such writes waits a
few more loop turns (at most MAX_HOPS turns and MAX_WAIT seconds) for the answers of the next waves of requests, so
a flatten bounded to 16 requests in flight makes a handful of fsyncs instead of one per wave. Any urgent write (a
write-ahead) flushes the group at the next turn, the waiting answers with it, in order.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any, TypeVar

from core.ledger_base import LedgerBase, LedgerError

T = TypeVar("T")

#: loop turns and seconds a group of non-urgent writes may wait for more (see the module doc)
MAX_HOPS = 0  # off: the console reads answers on its own connection as soon as the venue's event wakes it, so an
# answer's commit may not lag behind the event (tests/tui/test_fast_refresh.py); kept for a caller without such a reader
MAX_WAIT = 0.02


class CommitGroup:
    """Coalesces writes to one ledger from the tasks of one event loop (see the module doc)."""

    def __init__(self, ledger: LedgerBase) -> None:
        self.ledger = ledger
        self._queue: list[tuple[Callable[[], Any], asyncio.Future[Any]]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._urgent = False  # an urgent write is queued: flush at the next turn
        self._hops = 0
        self._since = 0.0
        #: transactions committed and writes they held (for tests and benchmarks)
        self.commits = 0
        self.writes = 0

    async def run(self, write: Callable[[], T], *, urgent: bool = True) -> T:
        """Run `write()` (synchronous ledger calls, no await) in the next group transaction; return its result
        after that transaction has committed. Its exception is raised here (the write rolled back alone).
        `urgent=False`: the group may wait a few loop turns for more writes (see the module doc)."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[Any] = loop.create_future()
        if not self._queue or self._loop is not loop:
            if self._queue:  # pragma: no cover - a group is used from one loop; flush what another one left
                self._flush()
            self._loop = loop
            self._urgent, self._hops, self._since = False, 0, time.monotonic()
            loop.call_soon(self._turn)
        if urgent:
            self._urgent = True
        self._queue.append((write, fut))
        result: T = await fut
        return result

    def _turn(self) -> None:
        """The scheduled flush: now, unless only non-urgent writes wait and they may wait one more turn."""
        if (not self._urgent and self._queue and self._loop is not None and self._hops < MAX_HOPS
                and time.monotonic() - self._since < MAX_WAIT):
            self._hops += 1
            self._loop.call_soon(self._turn)
            return
        self._flush()

    def _flush(self) -> None:
        ops, self._queue = self._queue, []
        self._urgent = False
        ops = [(w, f) for w, f in ops if not f.cancelled()]  # a task cancelled before its turn writes nothing
        if not ops:
            return
        done: list[tuple[asyncio.Future[Any], bool, Any]] = []
        try:
            with self.ledger.transaction():
                for write, fut in ops:
                    try:
                        with self.ledger.savepoint():
                            value = write()
                    except Exception as exc:  # noqa: BLE001 - that write's own failure, rolled back alone
                        done.append((fut, False, exc))
                    else:
                        done.append((fut, True, value))
        except Exception as exc:  # noqa: BLE001 - the commit failed: nothing of the group is durable
            err = exc if isinstance(exc, LedgerError) else LedgerError(f"ledger commit failed: {exc}")
            for _w, fut in ops:
                if not fut.done():
                    fut.set_exception(err)
            return
        self.commits += 1
        self.writes += len(done)
        for fut, ok, value in done:
            if fut.done():  # cancelled meanwhile: its write is committed, the task just does not see it
                continue
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)
