"""The simulator's answers in the Binance dialect, checked with raw signed requests (no connector)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from connectors.binance.sim import main
from connectors.paper.markets import DEFAULT_MARKETS
from tests.connectors.binance_factory import binance_sim, signed_request

BTC = "BTCUSDT"
LIMIT = [("symbol", BTC), ("side", "BUY"), ("type", "LIMIT"), ("timeInForce", "GTC"), ("quantity", "0.001")]


async def test_exchange_info_and_prices() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (_conn, sim):
        info = httpx.get(f"{sim.base_url}/api/v3/exchangeInfo", params={"symbol": BTC}).json()
        (sym,) = info["symbols"]
        filters = {f["filterType"]: f for f in sym["filters"]}
        assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
        assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
        assert filters["NOTIONAL"]["minNotional"] == "5.00000000"
        assert sym["baseAsset"] == "BTC" and sym["quoteAsset"] == "USDT"
        assert {r["rateLimitType"] for r in info["rateLimits"]} >= {"REQUEST_WEIGHT", "ORDERS"}
        price = httpx.get(f"{sim.base_url}/api/v3/ticker/price", params={"symbol": BTC}).json()
        assert price == {"symbol": BTC, "price": "100000.00000000"}
        bad = httpx.get(f"{sim.base_url}/api/v3/ticker/price", params={"symbol": "NOPE"})
        assert bad.status_code == 400 and bad.json() == {"code": -1121, "msg": "Invalid symbol."}


@pytest.mark.parametrize(
    ("resp_type", "keys"),
    [
        ("ACK", {"symbol", "orderId", "orderListId", "clientOrderId", "transactTime"}),
        ("RESULT", {"status", "executedQty", "cummulativeQuoteQty", "origQty", "type", "side", "timeInForce"}),
        ("FULL", {"fills"}),
    ],
)
async def test_new_order_response_types(resp_type: str, keys: set[str]) -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (_conn, sim):
        r = signed_request(
            sim.base_url,
            "POST",
            "/api/v3/order",
            [
                ("symbol", BTC),
                ("side", "BUY"),
                ("type", "MARKET"),
                ("quantity", "0.001"),
                ("newClientOrderId", "rt-1"),
                ("newOrderRespType", resp_type),
            ],
        )
        body = r.json()
        assert r.status_code == 200, body
        assert keys <= set(body)
        if resp_type != "ACK":
            assert body["status"] == "FILLED" and body["executedQty"] == "0.00100000"
            assert body["cummulativeQuoteQty"] == "100.00000000"
        if resp_type == "FULL":
            assert body["fills"][0]["qty"] == "0.00100000" and body["fills"][0]["commissionAsset"] == "USDT"
        trades = signed_request(sim.base_url, "GET", "/api/v3/myTrades", [("symbol", BTC)]).json()
        assert trades[0]["orderId"] == body["orderId"] and trades[0]["isBuyer"] is True
        account = signed_request(sim.base_url, "GET", "/api/v3/account", [("omitZeroBalances", "true")]).json()
        balances = {b["asset"]: b["free"] for b in account["balances"]}
        assert balances["BTC"] == "0.00100000"


async def test_refusals_in_binance_words() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (_conn, sim):
        url = sim.base_url

        def post(params: list[tuple[str, str]]) -> httpx.Response:
            return signed_request(url, "POST", "/api/v3/order", params)

        lot = post([*LIMIT[:4], ("quantity", "0.000015"), ("price", "90000")])
        assert lot.status_code == 400 and lot.json() == {"code": -1013, "msg": "Filter failure: LOT_SIZE"}
        assert post([*LIMIT, ("price", "90000.001")]).json() == {"code": -1013, "msg": "Filter failure: PRICE_FILTER"}
        assert (
            post([*LIMIT[:4], ("quantity", "0.00001"), ("price", "90000")]).json()["msg"] == "Filter failure: NOTIONAL"
        )
        assert post(LIMIT[:3] + LIMIT[4:] + [("price", "90000")]).json()["code"] == -1102  # no timeInForce
        ok = post([*LIMIT, ("price", "90000"), ("newClientOrderId", "dup-1")])
        assert ok.status_code == 200 and ok.json()["status"] == "NEW"
        dup = post([*LIMIT, ("price", "80000"), ("newClientOrderId", "dup-1")])
        assert dup.json() == {"code": -2010, "msg": "Duplicate order sent."}
        extra = post([*LIMIT, ("price", "90000"), ("reduceOnly", "true")])
        assert extra.json()["code"] == -1104  # reduce-only does not exist on Binance Spot
        gone = signed_request(url, "DELETE", "/api/v3/order", [("symbol", BTC), ("origClientOrderId", "nope")])
        assert gone.json() == {"code": -2011, "msg": "Unknown order sent."}
        query = signed_request(url, "GET", "/api/v3/order", [("symbol", BTC), ("origClientOrderId", "nope")])
        assert query.json() == {"code": -2013, "msg": "Order does not exist."}
        assert [c for _s, c in sim.order_log] == ["dup-1"]


async def test_cancel_replace_outcomes() -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (_conn, sim):
        url = sim.base_url
        signed_request(url, "POST", "/api/v3/order", [*LIMIT, ("price", "90000"), ("newClientOrderId", "cr-1")])
        base = [
            ("symbol", BTC),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "0.001"),
            ("cancelReplaceMode", "STOP_ON_FAILURE"),
        ]
        ok = signed_request(
            url,
            "POST",
            "/api/v3/order/cancelReplace",
            [*base, ("price", "91000"), ("cancelOrigClientOrderId", "cr-1"), ("newClientOrderId", "cr-2")],
        )
        body = ok.json()
        assert ok.status_code == 200 and body["cancelResult"] == "SUCCESS" and body["newOrderResult"] == "SUCCESS"
        assert body["cancelResponse"]["status"] == "CANCELED" and body["cancelResponse"]["origClientOrderId"] == "cr-1"
        assert body["newOrderResponse"]["clientOrderId"] == "cr-2"
        failed = signed_request(
            url,
            "POST",
            "/api/v3/order/cancelReplace",
            [*base, ("price", "91000"), ("cancelOrigClientOrderId", "cr-1"), ("newClientOrderId", "cr-3")],
        )
        assert failed.status_code == 400 and failed.json()["code"] == -2022
        assert failed.json()["data"]["newOrderResult"] == "NOT_ATTEMPTED"
        # a SELL stop above the mark would trigger at once: the matching engine refuses after the cancel (409)
        stop = [
            ("symbol", BTC),
            ("side", "SELL"),
            ("type", "STOP_LOSS"),
            ("quantity", "0.001"),
            ("stopPrice", "110000"),
            ("cancelReplaceMode", "STOP_ON_FAILURE"),
            ("cancelOrigClientOrderId", "cr-2"),
            ("newClientOrderId", "cr-4"),
        ]
        partial = signed_request(url, "POST", "/api/v3/order/cancelReplace", stop)
        data = partial.json()
        assert partial.status_code == 409 and data["code"] == -2021
        assert data["data"]["cancelResult"] == "SUCCESS" and data["data"]["newOrderResponse"]["code"] == -2010
        assert signed_request(url, "GET", "/api/v3/openOrders", [("symbol", BTC)]).json() == []
        empty = signed_request(url, "DELETE", "/api/v3/openOrders", [("symbol", BTC)])
        assert empty.json()["code"] == -2011


def test_cli_refuses_half_a_key_pair(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "1", "--api-key", "k"]) == 2
    assert "both" in capsys.readouterr().err


def test_exchange_sim_command_prints_the_key_pair_and_serves() -> None:
    import socket
    import subprocess
    import sys
    import time

    from connectors.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    plandesk = Path(sys.executable).parent / "plandesk"  # the installed console script, as the README says
    proc = subprocess.Popen([str(plandesk), "exchange-sim", "--port", str(port), "--no-ticks"], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        assert DEFAULT_API_KEY in lines[1] and DEFAULT_API_SECRET in lines[2]
        for _ in range(200):
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v3/time", timeout=0.5)
                break
            except httpx.TransportError:
                time.sleep(0.02)
        assert r.status_code == 200 and r.json()["serverTime"] > 0
    finally:
        proc.terminate()
        proc.wait(5)
