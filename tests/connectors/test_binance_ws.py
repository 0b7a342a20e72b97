"""The WebSocket user data stream over real loopback sockets, with each of the simulator's faults: dropped
connection, silent stall, duplicate events, out-of-order events, serverShutdown, the connection time limit. In
every case: no fill lost, none applied twice, the ledger equal to the venue after the reconnect (REST
reconciliation on every connect), and the polling fallback too slow to be what saved the day (30 s interval)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.binance.connector import BinanceConnector
from connectors.binance.sim_server import SimServer
from connectors.paper.markets import DEFAULT_MARKETS
from core.connector import OrderFilled, OrderUpdated
from core.directives import StrategyDirective
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import OrderStatus
from core.reconcile import apply_venue_order
from core.worker import translate
from tests.connectors.binance_factory import binance_sim

ETH = "ETHUSDT"
PRICES = ("3000", "2990", "2980")


async def until(cond: Callable[[], bool], timeout: float = 8.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


class Desk:
    """A ledger with three resting ETH buys, kept current from the connector's event stream (as the console's
    pump does: order updates applied with core.reconcile.apply_venue_order)."""

    def __init__(self, conn: BinanceConnector, sim: SimServer, ledger: Ledger) -> None:
        self.conn, self.sim, self.ledger = conn, sim, ledger
        self.fills: list[OrderFilled] = []
        self.coids: list[str] = []

    async def pump(self) -> None:
        async for ev in self.conn.events():
            if isinstance(ev, OrderFilled):
                self.fills.append(ev)
            elif isinstance(ev, OrderUpdated):
                found = self.ledger.find_order(ev.order.client_order_id)
                if found is not None:
                    apply_venue_order(self.ledger, found[0], found[1], ev.order)

    async def open_plans(self) -> None:
        handler = ExecutionHandler(self.ledger, self.conn, Journal(self.ledger))
        for i, price in enumerate(PRICES):
            d = StrategyDirective.model_validate({
                "directive_id": f"STR_WS{i}", "scope": "NEW_TRADE",
                "entry_directive": {"symbol": ETH, "direction": "BUY", "order_type": "LIMIT", "limit_price": price},
                "size_directive": {"target_position_size": "0.5"},
            })
            batch = translate(d, self.ledger.state())
            assert batch.ok, batch.errors
            report = await handler.send(batch, d)
            (entry,) = [o for o in report.outcomes if o.action == "EXECUTE_TRADE"]
            assert entry.client_order_id is not None
            self.coids.append(entry.client_order_id)

    def filled_in_ledger(self) -> bool:
        return all((f := self.ledger.find_order(c)) is not None and f[1].status is OrderStatus.FILLED
                   for c in self.coids)

    def check_equal_to_venue(self) -> None:
        venue_trades = {t.trade_id for t in self.sim.engine.trades(ETH)}
        told = [f.trade_id for f in self.fills]
        assert sorted(told) == sorted(venue_trades), "a fill was lost or told twice"
        for coid in self.coids:
            found = self.ledger.find_order(coid)
            venue = self.sim.engine.get(ETH, coid)
            assert found is not None and venue is not None
            assert (found[1].status, found[1].filled_quantity) == (venue.status, venue.filled_quantity)
            plan = self.ledger.get_plan(found[0])
            assert plan is not None and plan.net_position == venue.filled_quantity == Decimal("0.5")


@contextlib.asynccontextmanager
async def desk(tmp_path: Path, **kw: Any) -> AsyncIterator[Desk]:
    async with binance_sim(DEFAULT_MARKETS(), poll_interval=30.0, stall_timeout=0.6, **kw) as (conn, sim):
        ledger = Ledger(tmp_path / "ledger.db")
        for symbol, rules in (await conn.market_rules()).items():
            ledger.set_market(symbol, rules)
        d = Desk(conn, sim, ledger)
        task = asyncio.create_task(d.pump())
        try:
            assert conn.user_stream is not None
            await until(lambda: conn.user_stream is not None and conn.user_stream.live, what="the stream to be live")
            await d.open_plans()
            yield d
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            ledger.close()


def stream(d: Desk) -> Any:
    us = d.conn.user_stream
    assert us is not None
    return us


async def test_fills_arrive_over_the_stream_without_polling(tmp_path: Path) -> None:
    async with desk(tmp_path) as d:
        d.sim.control(marks={ETH: "2950"})
        await until(d.filled_in_ledger, what="the fills")
        d.check_equal_to_venue()
        assert stream(d).connects == 1 and stream(d).reconciles == 1


@pytest.mark.parametrize("fault", ["drop", "shutdown"])
async def test_lost_connection_is_reconciled_on_reconnect(tmp_path: Path, fault: str) -> None:
    async with desk(tmp_path) as d:
        us = stream(d)
        d.sim.control(ws={"drop": 1} if fault == "drop" else {"shutdown": True}, marks={ETH: "2950"})
        await until(lambda: us.connects >= 2 and us.live, what="the reconnect")
        await until(d.filled_in_ledger, what="the fills")
        d.check_equal_to_venue()
        assert us.reconciles == us.connects


async def test_silent_stall_is_detected_and_reconciled(tmp_path: Path) -> None:
    async with desk(tmp_path) as d:
        us = stream(d)
        d.sim.control(ws={"stall": True}, marks={ETH: "2950"})  # the fills are never sent on this connection
        await until(lambda: not us.live, what="the stall to be noticed")
        assert "stall" in (us.last_error or "")
        d.sim.control(ws={"stall": False})
        await until(lambda: us.live and us.connects >= 2, what="the reconnect")
        await until(d.filled_in_ledger, what="the fills")
        d.check_equal_to_venue()


@pytest.mark.parametrize("fault", [{"duplicate": 20}, {"reorder": 6}])
async def test_duplicate_and_out_of_order_events_apply_once(tmp_path: Path, fault: dict[str, int]) -> None:
    async with desk(tmp_path) as d:
        d.sim.control(ws=fault, marks={ETH: "2950"})
        await until(d.filled_in_ledger, what="the fills")
        await asyncio.sleep(0.2)  # let every duplicate / held event arrive
        d.check_equal_to_venue()
        assert stream(d).connects == 1


async def test_connection_time_limit_gives_a_planned_reconnect(tmp_path: Path) -> None:
    async with desk(tmp_path) as d:
        us = stream(d)
        us.max_session = 0.3  # stands for 23.5 h
        await until(lambda: us.connects >= 2 and us.live, what="the planned reconnect")
        d.sim.control(marks={ETH: "2950"})
        await until(d.filled_in_ledger, what="the fills")
        d.check_equal_to_venue()


async def test_marks_come_over_the_market_stream(tmp_path: Path) -> None:
    from core.connector import MarkPriceUpdated

    async with binance_sim(DEFAULT_MARKETS(), poll_interval=30.0) as (conn, sim):
        events = conn.events()
        assert conn.mark_stream is not None
        await until(lambda: conn.mark_stream is not None and conn.mark_stream.live, what="the mark stream")
        await asyncio.sleep(0.05)  # the stream's subscription is in place once the server has accepted it
        sim.control(marks={"BTCUSDT": "91234.5"})
        async with asyncio.timeout(2):  # far sooner than the 30 s poll
            async for ev in events:
                if isinstance(ev, MarkPriceUpdated) and ev.symbol == "BTCUSDT" and ev.price == Decimal("91234.5"):
                    break
        assert "bookTicker streams" in (await conn.health()).extra["marks"]
