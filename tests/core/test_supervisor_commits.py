"""Resizes share group commits: concurrent cancel-replaces (and the supervisor's journal entries for them) make a
handful of SQLite commits, not three or four each, and end in the same state as before."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from core.batch import ModifyOrder
from core.models import OrderRole, OrderStatus
from core.outcomes import CommandOutcome, OutcomeStatus
from tests.core.test_handler_kit import BTC, Desk, assert_consistent, make_desk, open_plan

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
