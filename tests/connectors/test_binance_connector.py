"""Binance-specific connector behaviour: owned-only cancel-all, cancel-replace outcomes, polling events, rules."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from connectors.paper.markets import DEFAULT_MARKETS
from core.connector import (
    ConnectorError,
    ConnectorErrorKind,
    ConnectorEvent,
    MarkPriceUpdated,
    OrderFilled,
    OrderRequest,
    OrderUpdated,
)
from core.models import OrderStatus, OrderType, Side
from tests.connectors.binance_factory import binance_sim, signed_request

BTC, ETH = "BTCUSDT", "ETHUSDT"


def cid() -> str:
    return f"bc-{uuid.uuid4().hex[:20]}"


def limit(symbol: str = BTC, price: str = "90000", qty: str = "0.001") -> OrderRequest:
    return OrderRequest(symbol, Side.BUY, OrderType.LIMIT, Decimal(qty), cid(), price=Decimal(price))


async def test_cancel_all_only_when_every_open_order_is_owned() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        mine = [await conn.place_order(limit(price=p)) for p in ("90000", "89000")]
        owned = {o.client_order_id for o in mine}
        foreign = signed_request(
            sim.base_url,
            "POST",
            "/api/v3/order",
            [
                ("symbol", BTC),
                ("side", "BUY"),
                ("type", "LIMIT"),
                ("timeInForce", "GTC"),
                ("quantity", "0.001"),
                ("price", "85000"),
                ("newClientOrderId", "someone-elses"),
            ],
        )
        assert foreign.status_code == 200
        assert await conn.cancel_all_if_owned(BTC, owned) is None
        assert len(await conn.open_orders(BTC)) == 3  # nothing was cancelled
        await conn.cancel_order(BTC, "someone-elses")  # (the test plays the other owner)
        cancelled = await conn.cancel_all_if_owned(BTC, owned)
        assert cancelled is not None and {o.client_order_id for o in cancelled} == owned
        assert all(o.status is OrderStatus.CANCELLED for o in cancelled)
        assert await conn.cancel_all_if_owned(BTC, owned) == []
        assert await conn.cancel_all(BTC) == []  # the venue's -2011 on an empty book is "nothing to cancel"


async def test_replacement_refused_after_cancel_is_2021() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, _sim):
        await conn.place_order(OrderRequest(BTC, Side.BUY, OrderType.MARKET, Decimal("0.001"), cid()))
        stop = await conn.place_order(
            OrderRequest(
                BTC,
                Side.SELL,
                OrderType.STOP_MARKET,
                Decimal("0.001"),
                cid(),
                stop_price=Decimal("90000"),
                reduce_only=True,
            )
        )
        assert stop.reduce_only is True  # echoed for the caller; never sent (the venue would answer -1104)
        with pytest.raises(ConnectorError) as info:  # a stop above the mark would trigger at once
            await conn.modify_order(BTC, stop.client_order_id, cid(), stop_price=Decimal("110000"))
        assert info.value.kind is ConnectorErrorKind.REJECTED and info.value.code == -2021
        assert "original order was cancelled" in info.value.reason
        old = await conn.get_order(BTC, stop.client_order_id)
        assert old is not None and old.status is OrderStatus.CANCELLED


async def test_modify_of_a_filled_order_is_not_found() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, _sim):
        filled = await conn.place_order(OrderRequest(ETH, Side.BUY, OrderType.MARKET, Decimal("0.01"), cid()))
        with pytest.raises(ConnectorError) as info:
            await conn.modify_order(ETH, filled.client_order_id, cid(), quantity=Decimal("0.02"))
        assert info.value.kind is ConnectorErrorKind.NOT_FOUND and "FILLED" in info.value.reason


async def test_polling_reports_fills_status_changes_and_marks() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        resting = await conn.place_order(limit(price="99000"))
        stream = conn.events()
        seen: list[ConnectorEvent] = []

        async def collect() -> None:
            async for ev in stream:
                seen.append(ev)

        task = asyncio.create_task(collect())
        await asyncio.sleep(0.05)
        sim.control(marks={BTC: "98500"})  # the mark crosses the resting buy: it fills at its price
        for _ in range(100):
            if any(isinstance(e, OrderFilled) for e in seen) and any(
                isinstance(e, MarkPriceUpdated) and e.price == Decimal("98500") for e in seen
            ):
                break
            await asyncio.sleep(0.05)
        task.cancel()
        fills = [e for e in seen if isinstance(e, OrderFilled)]
        assert len(fills) == 1
        fill = fills[0]
        assert fill.client_order_id == resting.client_order_id and fill.price == Decimal("99000")
        assert fill.quantity == Decimal("0.001") and fill.side is Side.BUY and fill.fee > 0
        updates = [e.order.status for e in seen if isinstance(e, OrderUpdated)]
        assert OrderStatus.FILLED in updates
        assert updates.count(OrderStatus.FILLED) == 1  # one event per change


async def test_market_rules_come_from_exchange_info_and_health_shows_usage() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, _sim):
        rules = await conn.market_rules()
        assert rules[ETH].step_size == Decimal("0.0001") and rules[ETH].min_notional == Decimal("5")
        assert rules[ETH].mark_price == Decimal("3500")
        health = await conn.health()
        assert health.ok and "weight_1m" in health.extra and "orders_10s" in health.extra
