"""Property (DESIGN §3a): for random sequences of resting entry fills (whole and partial), scale directives and
protective fills, after the supervisor has processed each venue event, a plan that holds a position and has a stop
has stop quantity == position, and a plan holding a position without one is flagged UNPROTECTED with a reason.
The venue agrees (its reduce-only stop covers its position)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.connector import ConnectorEvent
from core.decimals import round_to_tick
from core.models import OrderRole, OrderType
from core.supervisor import ProtectionSupervisor
from tests.core.test_handler_kit import BTC, Desk, make_desk, open_plan, size_to

D = Decimal

steps = st.lists(
    st.one_of(
        st.tuples(st.just("ladder"), st.sampled_from(["0.2", "0.5", "1"]), st.sampled_from(["0.005", "0.01", "0.02"])),
        st.tuples(st.just("mark"), st.integers(955, 1010).map(lambda k: str(k * 100))),
        st.tuples(st.just("scale"), st.sampled_from(["0.3", "0.5", "1", "1.5", "2"])),
        st.tuples(st.just("thin"), st.booleans()),
        st.tuples(st.just("crash")),
    ),
    min_size=1, max_size=8,
)


def check(desk: Desk, sup: ProtectionSupervisor, where: str, *, venue: bool = False) -> None:
    """The ledger after each event; the venue (which runs ahead of its own event stream) once settled."""
    p = desk.plan("TPL_1")
    pos = abs(p.net_position)
    stop = sum((o.remaining for o in p.open_orders if o.role is OrderRole.STOP_LOSS), D(0))
    if pos and stop:
        assert stop == pos, f"{where}: stop {stop} != position {pos}"
    if pos and not stop:
        reason = sup.unprotected().get("TPL_1")
        assert reason, f"{where}: position {pos} without a stop, not flagged"
    if not venue:
        return
    venue_pos = abs(desk.engine.positions()[BTC])
    venue_stop = sum((v.quantity - v.filled_quantity for v in desk.venue_open(BTC)
                      if v.order_type is OrderType.STOP_MARKET), D(0))
    if venue_pos and venue_stop:
        assert venue_stop == venue_pos, f"{where}: venue stop {venue_stop} != venue position {venue_pos}"


class Events:
    """The connector's stream read without blocking: a pending read survives a timeout (never cancelled)."""

    def __init__(self, stream: AsyncIterator[ConnectorEvent]) -> None:
        self.stream = stream
        self.next: asyncio.Future[ConnectorEvent] | None = None

    async def get(self, timeout: float) -> ConnectorEvent | None:
        if self.next is None:
            self.next = asyncio.ensure_future(self.stream.__anext__())
        done, _ = await asyncio.wait({self.next}, timeout=timeout)
        if not done:
            return None
        ev, self.next = self.next.result(), None
        return ev


async def drain(events: Events, desk: Desk, sup: ProtectionSupervisor, where: str) -> None:
    for _ in range(500):  # bounded
        ev = await events.get(0.005)
        if ev is None:
            break
        await sup.handle(ev)
        check(desk, sup, f"{where}, after {type(ev).__name__}")
    await sup.settle()
    check(desk, sup, f"{where}, settled", venue=True)


async def scenario(plan: list[tuple[Any, ...]]) -> None:
    desk = await make_desk()
    sup = ProtectionSupervisor(desk.handler)
    stream = Events(desk.conn.events().__aiter__())
    await open_plan(desk, "TPL_1", stop="0.05")  # 1 BTC at 100,000, stop at 95,000
    await drain(stream, desk, sup, "open")
    n = 0
    for step in plan:
        n += 1
        where = f"step {n} {step}"
        kind = step[0]
        mark = desk.ledger.markets()[BTC].mark_price
        pos = desk.plan("TPL_1").net_position
        if kind == "ladder" and pos:
            price = round_to_tick(mark * (1 - D(step[2])), D("0.01"), up=False)
            await desk.send(size_to(f"STR_L{n}", "TPL_1", str(pos + D(step[1])),
                                    entry_directive={"order_type": "LIMIT", "limit_price": str(price)}))
        elif kind == "mark":
            desk.set_mark(BTC, step[1])
        elif kind == "scale" and pos:
            await desk.send(size_to(f"STR_S{n}", "TPL_1", step[1]))
        elif kind == "thin":
            desk.engine.config.max_fill_notional = D("30000") if step[1] else None
        elif kind == "crash":
            desk.set_mark(BTC, "94000")
        await drain(stream, desk, sup, where)
        if kind == "crash":
            p = desk.plan("TPL_1")
            assert p.net_position == 0 or "TPL_1" in sup.unprotected(), where
            if p.net_position == 0:
                assert not p.open_orders, f"{where}: flat after the stop but orders left: {p.open_orders}"
            return


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps)
def test_protective_quantity_follows_the_position_after_every_event(plan: list[tuple[Any, ...]]) -> None:
    asyncio.run(scenario(plan))
