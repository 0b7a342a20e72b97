"""Resizes share group commits: concurrent cancel-replaces (and the supervisor's journal entries for them) make a
handful of SQLite commits, not three or four each, and end in the same state as before."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from core.batch import ModifyOrder
from core.connector import ConnectorEvent
from core.models import OrderRole, OrderStatus
from core.outcomes import CommandOutcome, OutcomeStatus
from core.supervisor import ProtectionSupervisor
from tests.core.test_handler_kit import BTC, Desk, assert_consistent, make_desk, open_plan, size_to

D = Decimal
N = 8


@contextmanager
def commits(desk: Desk) -> Iterator[list[int]]:
    """Counts the write transactions committed on the ledger's connection (BEGIN IMMEDIATE ... COMMIT, grouped or
    not; the read transactions, BEGIN ... COMMIT, are not counted)."""
    seen = [0]
    writing = [False]

    def trace(sql: str) -> None:
        stmt = sql.strip().upper()
        if stmt == "BEGIN IMMEDIATE":
            writing[0] = True
        elif stmt == "COMMIT" and writing[0]:
            writing[0] = False
            seen[0] += 1
        elif stmt == "ROLLBACK":
            writing[0] = False

    conn = desk.ledger._conn
    conn.set_trace_callback(trace)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


async def _plans(desk: Desk, tp: str | None = None) -> list[str]:
    pids = [f"TPL_{i}" for i in range(N)]
    for pid in pids:
        await open_plan(desk, pid, size="1", stop="0.02", tp=tp)
    return pids


async def test_concurrent_cancel_replaces_share_their_commits() -> None:
    desk = await make_desk()
    pids = await _plans(desk)
    stops = [desk.open(pid, OrderRole.STOP_LOSS)[0] for pid in pids]
    ocs = [CommandOutcome(seq=1, action="MODIFY_ORDER", plan_id=p, symbol=BTC, order_id=s.order_id)
           for p, s in zip(pids, stops, strict=True)]
    with commits(desk) as seen:
        await asyncio.gather(*(
            desk.handler.ops.modify(f"DIR_{i}", ModifyOrder(seq=1, plan_id=p, symbol=BTC, order_id=s.order_id,
                                                            quantity=D("0.5")), oc, lambda _oc: None,
                                    s.group_id or "")
            for i, (p, s, oc) in enumerate(zip(pids, stops, ocs, strict=True))))
    assert [oc.status for oc in ocs] == [OutcomeStatus.ACKNOWLEDGED] * N, [oc.detail for oc in ocs]
    # before: a write-ahead, the old order's final state and the answer, each its own commit (3 per resize)
    assert seen[0] <= 3, seen[0]
    for pid, old in zip(pids, stops, strict=True):
        found = desk.ledger.get_order(old.order_id)
        assert found is not None and found[1].status is OrderStatus.CANCELLED
        (new,) = desk.open(pid, OrderRole.STOP_LOSS)
        assert (new.status, new.remaining) == (OrderStatus.OPEN, D("0.5"))
    assert_consistent(desk)


class Events:
    """The venue's events, applied by hand (as ProtectionSupervisor.run does, without settling)."""

    def __init__(self, desk: Desk) -> None:
        self.events = desk.conn.events()
        self.nxt: asyncio.Future[ConnectorEvent] | None = None

    async def apply(self, sup: ProtectionSupervisor) -> None:
        """Apply every event until none comes for 50 ms."""
        while True:
            if self.nxt is None:
                self.nxt = asyncio.ensure_future(anext(self.events))
            done, _ = await asyncio.wait({self.nxt}, timeout=0.05)
            if not done:
                return
            ev, self.nxt = self.nxt.result(), None
            sup.apply(ev)

    async def close(self) -> None:
        if self.nxt is not None:
            self.nxt.cancel()
            await asyncio.gather(self.nxt, return_exceptions=True)


async def test_the_supervisors_resizes_of_many_plans_share_their_commits() -> None:
    desk = await make_desk()
    pids = await _plans(desk, tp="120000")
    for pid in pids:
        r = await desk.send(size_to(f"STR_L_{pid}", pid, "1.5", entry_directive={"order_type": "LIMIT",
                                                                               "limit_price": "99000"}))
        assert r.ok, r.summary()
    sup = ProtectionSupervisor(desk.handler)
    events = Events(desk)
    desk.set_mark(BTC, "98900")  # every plan's resting entry fills: 2 resizes per plan (stop and take profit)
    await events.apply(sup)
    assert sorted(sup.pending) == sorted(pids)
    with commits(desk) as seen:
        await sup.settle()
    assert sup.actions == 2 * N
    # before: per resize 3 commits for the cancel-replace and 1 for its journal entry (8 per plan)
    assert seen[0] <= N, seen[0]
    for pid in pids:
        assert [o.remaining for o in desk.open(pid, OrderRole.STOP_LOSS)] == [D("1.5")]
        assert [o.remaining for o in desk.open(pid, OrderRole.TAKE_PROFIT)] == [D("1.5")]
    texts = [e.payload["summary"] for e in desk.journal.entries(kind="protection")]
    for pid in pids:
        assert f"{pid}: STOP_LOSS 1 -> 1.5 after entry fill (position 1.5)" in texts
        assert f"{pid}: TAKE_PROFIT 1 -> 1.5 after entry fill (position 1.5)" in texts
    await events.apply(sup)  # the venue's events for the replacements change nothing
    await events.close()
    assert sup.pending == []
    assert_consistent(desk)
