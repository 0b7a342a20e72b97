"""The connector contract: what every IExecutionConnector must do, run against each connector (see conftest)."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest

from core.connector import (
    ConnectorError,
    ConnectorErrorKind,
    ConnectorEvent,
    IExecutionConnector,
    OrderFilled,
    OrderRequest,
    VenueOrder,
)
from core.decimals import round_to_tick
from core.models import OrderStatus, OrderType, Side, TimeInForce

BTC, ETH, SOL = "BTCUSDT", "ETHUSDT", "SOLUSDT"
QTY = {BTC: Decimal("0.001"), ETH: Decimal("0.01"), SOL: Decimal("0.1")}
TICK = Decimal("0.01")
EVENT_TIMEOUT = 5.0


def cid(tag: str = "ct") -> str:
    return f"{tag}-{uuid.uuid4().hex[:24]}"


async def away(conn: IExecutionConnector, symbol: str, factor: str) -> Decimal:
    """A price `factor` x the mark, on the tick."""
    mark = (await conn.mark_prices())[symbol]
    return round_to_tick(mark * Decimal(factor), TICK, up=False)


async def place_limit(
    conn: IExecutionConnector, symbol: str, side: Side, factor: str, client_id: str | None = None, **kw: object
) -> VenueOrder:
    price = await away(conn, symbol, factor)
    req = OrderRequest(symbol, side, OrderType.LIMIT, QTY[symbol], client_id or cid(), price=price, **kw)  # type: ignore[arg-type]
    return await conn.place_order(req)


async def rejected(coro: object) -> ConnectorError:
    with pytest.raises(ConnectorError) as info:
        await coro  # type: ignore[misc]
    assert info.value.kind is ConnectorErrorKind.REJECTED, info.value
    assert info.value.reason
    return info.value


def test_connector_is_the_port(connector: IExecutionConnector) -> None:
    assert isinstance(connector, IExecutionConnector)
    assert connector.name
    assert connector.capabilities.has_cancel_all in (True, False)


async def test_market_rules_marks_and_health(connector: IExecutionConnector) -> None:
    rules = await connector.market_rules()
    marks = await connector.mark_prices()
    for symbol in (BTC, ETH, SOL):
        assert rules[symbol].tick_size == TICK
        assert marks[symbol] > 0
    assert (await connector.health()).ok


async def test_market_order_fills(connector: IExecutionConnector) -> None:
    before = (await connector.positions()).get(BTC, Decimal(0))
    client_id = cid()
    order = await connector.place_order(OrderRequest(BTC, Side.BUY, OrderType.MARKET, QTY[BTC], client_id))
    assert order.status is OrderStatus.FILLED
    assert order.client_order_id == client_id
    assert order.filled_quantity == QTY[BTC]
    assert order.avg_fill_price is not None and order.avg_fill_price > 0
    after = (await connector.positions()).get(BTC, Decimal(0))
    assert after - before == QTY[BTC]
    found = await connector.get_order(BTC, client_id)
    assert found is not None and found.status is OrderStatus.FILLED and found.filled_quantity == QTY[BTC]


async def test_limit_rests_then_cancel(connector: IExecutionConnector) -> None:
    order = await place_limit(connector, BTC, Side.BUY, "0.9")
    assert order.status is OrderStatus.OPEN
    assert order.filled_quantity == 0
    assert order.client_order_id in {o.client_order_id for o in await connector.open_orders(BTC)}
    assert order.client_order_id in {o.client_order_id for o in await connector.open_orders()}
    cancelled = await connector.cancel_order(BTC, order.client_order_id)
    assert cancelled.status is OrderStatus.CANCELLED
    assert order.client_order_id not in {o.client_order_id for o in await connector.open_orders(BTC)}
    found = await connector.get_order(BTC, order.client_order_id)
    assert found is not None and found.status is OrderStatus.CANCELLED


async def test_cancel_unknown_is_not_found(connector: IExecutionConnector) -> None:
    with pytest.raises(ConnectorError) as info:
        await connector.cancel_order(BTC, cid("nope"))
    assert info.value.kind is ConnectorErrorKind.NOT_FOUND


async def test_cancel_filled_is_not_found(connector: IExecutionConnector) -> None:
    client_id = cid()
    await connector.place_order(OrderRequest(ETH, Side.BUY, OrderType.MARKET, QTY[ETH], client_id))
    with pytest.raises(ConnectorError) as info:
        await connector.cancel_order(ETH, client_id)
    assert info.value.kind is ConnectorErrorKind.NOT_FOUND


async def test_get_unknown_is_none(connector: IExecutionConnector) -> None:
    assert await connector.get_order(BTC, cid("nope")) is None


@pytest.mark.parametrize(
    ("qty", "factor", "words"),
    [
        (Decimal("0.000015"), "0.9", "LOT_SIZE"),  # not a multiple of the step
        (Decimal("0.00001"), "0.9", "NOTIONAL"),  # 0.00001 x 90000 = 0.9 < 5
    ],
)
async def test_filter_failures_are_rejected(
    connector: IExecutionConnector, qty: Decimal, factor: str, words: str
) -> None:
    price = await away(connector, BTC, factor)
    err = await rejected(connector.place_order(OrderRequest(BTC, Side.BUY, OrderType.LIMIT, qty, cid(), price=price)))
    assert words in err.reason


async def test_price_off_tick_is_rejected(connector: IExecutionConnector) -> None:
    price = await away(connector, BTC, "0.9") + Decimal("0.005")
    req = OrderRequest(BTC, Side.BUY, OrderType.LIMIT, QTY[BTC], cid(), price=price)
    err = await rejected(connector.place_order(req))
    assert "PRICE_FILTER" in err.reason
    assert await connector.open_orders(BTC) == []


async def test_duplicate_open_client_id_is_rejected(connector: IExecutionConnector) -> None:
    first = await place_limit(connector, BTC, Side.BUY, "0.9")
    await rejected(place_limit(connector, BTC, Side.BUY, "0.8", first.client_order_id))
    still = await connector.get_order(BTC, first.client_order_id)
    assert still is not None and still.status is OrderStatus.OPEN and still.price == first.price


async def test_modify_is_cancel_replace(connector: IExecutionConnector) -> None:
    old = await place_limit(connector, BTC, Side.BUY, "0.9")
    new_price = await away(connector, BTC, "0.91")
    new_id = cid("rp")
    new = await connector.modify_order(BTC, old.client_order_id, new_id, price=new_price)
    assert new.client_order_id == new_id
    assert new.price == new_price and new.quantity == old.quantity and new.status is OrderStatus.OPEN
    found = await connector.get_order(BTC, new_id)
    assert found is not None and found.price == new_price and found.status is OrderStatus.OPEN
    gone = await connector.get_order(BTC, old.client_order_id)
    assert gone is not None and gone.status is OrderStatus.CANCELLED
    assert {o.client_order_id for o in await connector.open_orders(BTC)} == {new_id}


async def test_modify_quantity(connector: IExecutionConnector) -> None:
    old = await place_limit(connector, ETH, Side.BUY, "0.9")
    new = await connector.modify_order(ETH, old.client_order_id, cid("rp"), quantity=Decimal("0.02"))
    assert new.quantity == Decimal("0.02") and new.price == old.price


async def test_modify_unknown_is_not_found(connector: IExecutionConnector) -> None:
    with pytest.raises(ConnectorError) as info:
        await connector.modify_order(BTC, cid("nope"), cid("rp"), price=Decimal("90000"))
    assert info.value.kind is ConnectorErrorKind.NOT_FOUND


async def test_rejected_modify_changes_nothing(connector: IExecutionConnector) -> None:
    old = await place_limit(connector, BTC, Side.BUY, "0.9")
    bad = old.price + Decimal("0.005")  # type: ignore[operator]
    await rejected(connector.modify_order(BTC, old.client_order_id, cid("rp"), price=bad))
    still = await connector.get_order(BTC, old.client_order_id)
    assert still is not None and still.status is OrderStatus.OPEN


async def test_cancel_all_touches_only_that_symbol(connector: IExecutionConnector) -> None:
    b1 = await place_limit(connector, BTC, Side.BUY, "0.9")
    b2 = await place_limit(connector, BTC, Side.SELL, "1.1")
    e1 = await place_limit(connector, ETH, Side.BUY, "0.9")
    cancelled = await connector.cancel_all(BTC)
    assert {b1.client_order_id, b2.client_order_id} <= {o.client_order_id for o in cancelled}
    assert all(o.symbol == BTC and o.status is OrderStatus.CANCELLED for o in cancelled)
    assert await connector.open_orders(BTC) == []
    assert e1.client_order_id in {o.client_order_id for o in await connector.open_orders(ETH)}


async def test_ioc_remainder_expires(connector: IExecutionConnector) -> None:
    order = await place_limit(connector, BTC, Side.BUY, "0.9", time_in_force=TimeInForce.IOC)
    assert order.status is OrderStatus.EXPIRED
    assert order.filled_quantity == 0
    assert await connector.open_orders(BTC) == []


async def test_stop_rests_and_wrong_side_is_rejected(connector: IExecutionConnector) -> None:
    await connector.place_order(OrderRequest(BTC, Side.BUY, OrderType.MARKET, QTY[BTC], cid()))
    below = await away(connector, BTC, "0.9")
    stop = await connector.place_order(
        OrderRequest(BTC, Side.SELL, OrderType.STOP_MARKET, QTY[BTC], cid(), stop_price=below, reduce_only=True)
    )
    assert stop.status is OrderStatus.OPEN and stop.stop_price == below
    above = await away(connector, BTC, "1.1")
    err = await rejected(
        connector.place_order(OrderRequest(BTC, Side.SELL, OrderType.STOP_MARKET, QTY[BTC], cid(), stop_price=above))
    )
    assert "trigger immediately" in err.reason


async def test_events_arrive_for_fills(connector: IExecutionConnector) -> None:
    stream = connector.events()
    client_id = cid()
    seen: list[ConnectorEvent] = []

    async def until_filled() -> OrderFilled:
        async for event in stream:
            seen.append(event)
            if isinstance(event, OrderFilled) and event.client_order_id == client_id:
                return event
        raise AssertionError(f"event stream ended; saw {seen}")

    waiter = asyncio.create_task(until_filled())
    await asyncio.sleep(0)
    await connector.place_order(OrderRequest(SOL, Side.BUY, OrderType.MARKET, QTY[SOL], client_id))
    try:
        fill = await asyncio.wait_for(waiter, EVENT_TIMEOUT)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    assert fill.symbol == SOL and fill.side is Side.BUY and fill.quantity == QTY[SOL] and fill.price > 0

