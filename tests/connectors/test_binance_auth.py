"""Signature (-1022), API key (-2014/-2015) and timestamp (-1021) handling; secrets never leak into logs,
exception texts or reprs, with every logger at DEBUG through a full connector scenario."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from decimal import Decimal

import pytest

from connectors.binance.connector import BinanceConnector
from connectors.paper.markets import DEFAULT_MARKETS
from core.connector import ConnectorError, ConnectorErrorKind, OrderFilled, OrderRequest
from core.models import OrderStatus, OrderType, Side
from tests.connectors.binance_factory import KEY, SECRET, binance_sim, signed_request

BTC, ETH = "BTCUSDT", "ETHUSDT"


def cid() -> str:
    return f"au-{uuid.uuid4().hex[:20]}"


def limit(price: str = "90000", coid: str | None = None) -> OrderRequest:
    return OrderRequest(BTC, Side.BUY, OrderType.LIMIT, Decimal("0.001"), coid or cid(), price=Decimal(price))


async def test_wrong_secret_is_rejected_with_1022() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (_conn, sim):
        bad = BinanceConnector(sim.base_url, KEY, "not-the-secret-" + "x" * 40)
        try:
            await bad.start()  # public endpoints only: works
            with pytest.raises(ConnectorError) as info:
                await bad.place_order(limit())
            assert info.value.kind is ConnectorErrorKind.REJECTED and info.value.code == -1022
            assert "check the API secret" in info.value.reason
            assert "not-the-secret" not in str(info.value)
        finally:
            await bad.close()
        assert sim.order_log == []


async def test_wrong_key_is_rejected_with_2015_and_bad_format_with_2014() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (_conn, sim):
        bad = BinanceConnector(sim.base_url, "someone-else", SECRET)
        try:
            with pytest.raises(ConnectorError) as info:
                await bad.open_orders(BTC)
            assert info.value.code == -2015 and info.value.kind is ConnectorErrorKind.REJECTED
        finally:
            await bad.close()
        r = signed_request(sim.base_url, "GET", "/api/v3/openOrders", [], key="bad key!")
        assert r.status_code == 401 and r.json() == {"code": -2014, "msg": "API-key format invalid."}


async def test_clock_skew_is_resynchronised_after_1021() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        sim.control(skew_ms=30_000)  # the venue's clock jumps: our timestamps are now 30 s old
        coid = cid()
        order = await conn.place_order(limit(coid=coid))
        assert order.status is OrderStatus.OPEN
        assert sim.accepted(coid) == 1
        assert 29 < conn.rest.time_offset < 31
        statuses = [r["status"] for r in sim.state.requests if r["path"] == "/api/v3/order"]
        assert statuses == [400, 200]  # one -1021, then the same order once, after /api/v3/time


async def test_timestamp_checks_of_the_simulator() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (_conn, sim):
        now = int(time.time() * 1000)
        old = signed_request(
            sim.base_url, "GET", "/api/v3/openOrders", [("recvWindow", "5000")], timestamp_ms=now - 6000
        )
        assert old.status_code == 400
        assert old.json() == {"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}
        ahead = signed_request(sim.base_url, "GET", "/api/v3/openOrders", [], timestamp_ms=now + 3000)
        assert ahead.json()["code"] == -1021 and "ahead" in ahead.json()["msg"]
        tampered = signed_request(sim.base_url, "GET", "/api/v3/openOrders", [], secret="nope")
        assert tampered.json() == {"code": -1022, "msg": "Signature for this request is not valid."}


async def test_secrets_never_appear(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "uvicorn", "uvicorn.error", "connectors", "asyncio"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    texts: list[str] = []
    wrong_secret = "wrong-" + SECRET[::-1]
    async with binance_sim(DEFAULT_MARKETS(), recv_window=300) as (conn, sim):
        texts += [repr(conn), repr(conn.rest), repr(conn.rest._signer), str(vars(conn))]
        stream = conn.events()
        fills: list[OrderFilled] = []

        async def watch() -> None:
            async for ev in stream:
                texts.append(repr(ev))
                if isinstance(ev, OrderFilled):
                    fills.append(ev)

        watcher = asyncio.create_task(watch())
        resting = await conn.place_order(limit())
        await conn.modify_order(BTC, resting.client_order_id, cid(), price=Decimal("91000"))
        await conn.place_order(OrderRequest(ETH, Side.BUY, OrderType.MARKET, Decimal("0.01"), cid()))
        faults = [{"kind": k, "path": "/api/v3/order", "method": "POST"} for k in ("lost", "5xx", "reset")]
        sim.control(faults=faults)
        for _ in faults:
            try:
                await conn.place_order(limit())
            except ConnectorError as exc:
                texts += [str(exc), repr(exc), exc.reason]
        for bad_call in (
            conn.place_order(limit(price="90000.001")),
            conn.cancel_order(BTC, cid()),
            conn.modify_order(BTC, cid(), cid(), price=Decimal("1")),
        ):
            try:
                await bad_call
            except ConnectorError as exc:
                texts += [str(exc), repr(exc)]
        await conn.cancel_all_if_owned(BTC, set())
        await conn.cancel_all(BTC)
        await conn.positions()
        texts.append(repr(await conn.health()))
        for _ in range(50):
            if fills:
                break
            await asyncio.sleep(0.05)
        assert fills, "the poller delivered the market order's fill"
        intruder = BinanceConnector(sim.base_url, KEY, wrong_secret)
        try:
            await intruder.open_orders()
        except ConnectorError as exc:
            texts += [str(exc), repr(exc)]
        finally:
            await intruder.close()
        watcher.cancel()
    texts += [r.getMessage() for r in caplog.records]
    texts += [caplog.text]
    assert len(caplog.records) > 20  # the scenario really logged at DEBUG
    blob = "\n".join(texts)
    for secret in (SECRET, wrong_secret, KEY):
        assert secret not in blob
