"""The flatten path's cheaper steps keep their guarantees: answers share group commits over a few loop turns while
a write-ahead still flushes at the next turn (and is on disk when its await returns); the garbage collector's
freeze during a send is scoped and nests; finish_group is set_group_status + close_if_flat."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from core import ledger_group
from core.handler_gc import old_objects_frozen
from core.ledger import Ledger
from core.ledger_group import CommitGroup
from core.models import ExecutionGroup, GroupStatus, Order, OrderRole, OrderStatus, OrderType, PlanStatus, Side

BTC = "BTCUSDT"


def pending(coid: str) -> Order:
    return Order(order_id=f"ORD_{coid}", client_order_id=coid, role=OrderRole.EXIT, side=Side.SELL,
                 type=OrderType.MARKET, quantity=Decimal("0.01"), status=OrderStatus.PENDING)


def on_disk(db: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as c:
        return c.execute(sql, args).fetchall()


async def test_answers_wait_a_few_turns_and_an_urgent_write_flushes_them_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ledger_group, "MAX_HOPS", 32)  # off by default (see core.ledger_group)
    ledger = Ledger(tmp_path / "l.sqlite")
    for i in range(3):
        ledger.create_plan(f"TPL_{i}", BTC, Side.BUY)
    group = CommitGroup(ledger)

    async def answer(i: int, delay_turns: int) -> None:
        for _ in range(delay_turns):
            await asyncio.sleep(0)
        await group.run(lambda: ledger.set_desk(ledger.desk()) or ledger.reopen(f"TPL_{i}"), urgent=False)

    # three answers arriving on three different turns: one commit
    await asyncio.gather(answer(0, 0), answer(1, 1), answer(2, 2))
    assert (group.commits, group.writes) == (1, 3)

    async def ahead() -> None:
        await group.run(lambda: ledger.write_ahead("TPL_0", pending("c-1")))
        assert on_disk(Path(ledger.path), "SELECT status FROM orders WHERE client_order_id = 'c-1'") == [
            ("PENDING",)]  # on disk when the await returns

    turns = 0

    async def count_turns() -> None:
        nonlocal turns
        while not done.is_set():
            turns += 1
            await asyncio.sleep(0)

    done = asyncio.Event()
    counter = asyncio.create_task(count_turns())
    await asyncio.gather(answer(1, 0), ahead())
    done.set()
    await counter
    assert (group.commits, group.writes) == (2, 5)  # the waiting answer went with the write-ahead
    assert turns < 10  # flushed at the next turn, not after the answers' wait (up to 32 turns)
    ledger.close()


def test_the_freeze_during_a_send_is_scoped_nests_and_leaves_a_foreign_freeze_alone() -> None:
    gc.unfreeze()
    assert gc.get_freeze_count() == 0
    with old_objects_frozen():
        frozen = gc.get_freeze_count()
        assert frozen > 0
        with old_objects_frozen():
            assert gc.get_freeze_count() >= frozen
        assert gc.get_freeze_count() > 0  # the outer send still runs
    assert gc.get_freeze_count() == 0
    gc.freeze()  # someone else's (a pre-fork freeze, say)
    try:
        mine = gc.get_freeze_count()
        with old_objects_frozen():
            pass
        assert gc.get_freeze_count() >= mine  # not undone by a send
    finally:
        gc.unfreeze()


def test_finish_group_sets_the_status_and_closes_a_flat_idle_plan(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.create_plan("TPL_1", BTC, Side.BUY)
        ledger.add_group("TPL_1", ExecutionGroup(group_id="EXG_1", directive_id="STR_1", status=GroupStatus.ACTIVE))
        v = ledger.plan_versions(["TPL_1"])["TPL_1"]
        assert ledger.finish_group("TPL_1", "EXG_1", GroupStatus.COMPLETED)
        plan = ledger.get_plan("TPL_1")
        assert plan is not None and plan.status is PlanStatus.CLOSED and plan.groups[0].status is GroupStatus.COMPLETED
        assert plan.version == v + 2  # one bump for the group, one for the close: as the two calls
        assert ledger.finish_group("TPL_1", "EXG_1", GroupStatus.COMPLETED)  # again: nothing changes
        assert ledger.plan_versions(["TPL_1"])["TPL_1"] == v + 2
        ledger.reopen("TPL_1")
        ledger.write_ahead("TPL_1", pending("c-9"))
        assert not ledger.finish_group("TPL_1", "EXG_1", GroupStatus.PARTIAL)  # an open order: stays ACTIVE
        assert ledger.net_positions(["TPL_1", "TPL_X"]) == {"TPL_1": Decimal(0)}
