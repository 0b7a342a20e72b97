"""The polling fallback (no user data stream) asks myTrades (weight 20 a symbol) only where an order of ours shows a
new fill: a quiet poll is openOrders + prices, so the poll's share of the weight budget lets it run near its interval
(it was ~34 weight a poll, paced to ~0.95 s for a 0.25 s interval: bench_binance_ws_latency.py). A fill is still
told as OrderUpdated and OrderFilled."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from connectors.paper import DEFAULT_MARKETS
from core.connector import OrderFilled, OrderRequest, OrderUpdated
from core.models import OrderStatus, OrderType, Side, TimeInForce
from tests.connectors.binance_factory import binance_sim

TRADES = "/api/v3/myTrades"


def asked(sim: object, path: str) -> int:
    return sum(1 for r in sim.state.requests if r["path"] == path)  # type: ignore[attr-defined]


async def _until(cond: object, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():  # type: ignore[operator]
        assert time.monotonic() < end, "timed out"
        await asyncio.sleep(0.01)


async def test_a_quiet_poll_does_not_ask_for_trades_and_a_fill_still_comes_with_its_trade() -> None:
    async with binance_sim(DEFAULT_MARKETS(), user_stream=False, poll_interval=0.05, symbols=["ETHUSDT"]) \
            as (conn, sim):
        events = conn.events()
        got: list[object] = []

        async def pump() -> None:
            async for ev in events:
                got.append(ev)

        task = asyncio.create_task(pump())
        try:
            mark = conn.poller.marks.get("ETHUSDT") or Decimal("3500")
            price = (mark - Decimal("1")).quantize(Decimal("0.01"))
            await conn.place_order(OrderRequest(symbol="ETHUSDT", side=Side.BUY, order_type=OrderType.LIMIT,
                                                quantity=Decimal("0.01"), price=price, client_order_id="pw-1",
                                                time_in_force=TimeInForce.GTC))
            start = conn.poller.cycles
            await _until(lambda: conn.poller.cycles >= start + 2)
            before = asked(sim, TRADES)
            await _until(lambda: conn.poller.cycles >= start + 6)  # four polls with a resting, unfilled order
            assert asked(sim, TRADES) == before
            sim.control(marks={"ETHUSDT": str(price - Decimal("1"))})  # the order fills at the venue
            await _until(lambda: any(isinstance(e, OrderFilled) and e.client_order_id == "pw-1" for e in got))
            assert any(isinstance(e, OrderUpdated) and e.order.client_order_id == "pw-1"
                       and e.order.status is OrderStatus.FILLED for e in got)
            assert asked(sim, TRADES) > before
        finally:
            task.cancel()
