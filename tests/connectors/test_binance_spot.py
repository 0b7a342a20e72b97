"""Spot realism (the simulator's `spot` mode) over loopback sockets: free/locked balances, no short selling unless
margin, PERCENT_PRICE_BY_SIDE / MAX_NUM_ORDERS / MAX_NUM_ALGO_ORDERS (-1013 naming the filter), CANCEL_ONLY, and a
flatten where two plans share one symbol's balance (each close sells only its own plan's inventory)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.binance.connector import BinanceConnector
from connectors.binance.sim_server import SimServer
from connectors.binance.sim_spot import SpotConfig
from connectors.paper.markets import DEFAULT_MARKETS
from core.connector import ConnectorError, OrderRequest
from core.directives import StrategyDirective
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import OrderRole, OrderStatus, OrderType, Side, TimeInForce
from core.worker import translate
from tests.connectors.binance_factory import binance_sim, signed_request

D = Decimal
ETH, SOL = "ETHUSDT", "SOLUSDT"
SPOT = dict(bid_up="1.1", bid_down="0.9", ask_up="1.1", ask_down="0.9", max_num_orders=4, max_num_algo_orders=2,
            symbol_status={SOL: "CANCEL_ONLY"})
_n = iter(range(10**6))


def order(side: Side, kind: OrderType, qty: str, *, price: str | None = None, stop: str | None = None,
          symbol: str = ETH) -> OrderRequest:
    tif = TimeInForce.GTC if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None
    return OrderRequest(symbol=symbol, side=side, order_type=kind, quantity=D(qty), client_order_id=f"sp-{next(_n)}",
                        price=D(price) if price else None, stop_price=D(stop) if stop else None, time_in_force=tif)


def spot(**kw: Any) -> Any:
    return binance_sim(DEFAULT_MARKETS(), spot=SpotConfig.from_dict(SPOT | kw), user_stream=False)


async def refused(conn: BinanceConnector, req: OrderRequest) -> ConnectorError:
    with pytest.raises(ConnectorError) as err:
        await conn.place_order(req)
    return err.value


def eth_balance(sim: SimServer) -> tuple[str, str]:
    r = signed_request(sim.base_url, "GET", "/api/v3/account", [])
    row = next(b for b in r.json()["balances"] if b["asset"] == "ETH")
    return row["free"], row["locked"]


async def test_a_resting_stop_locks_the_base_asset_and_a_sell_before_its_cancel_is_refused() -> None:
    async with spot() as (conn, sim):
        await conn.place_order(order(Side.BUY, OrderType.MARKET, "1"))
        stop = order(Side.SELL, OrderType.STOP_MARKET, "1", stop="3300")
        await conn.place_order(stop)
        assert eth_balance(sim) == ("0.00000000", "1.00000000")
        err = await refused(conn, order(Side.SELL, OrderType.MARKET, "1"))
        assert err.code == -2010 and "insufficient balance" in err.reason
        await conn.cancel_order(ETH, stop.client_order_id)
        assert eth_balance(sim) == ("1.00000000", "0.00000000")
        assert (await conn.place_order(order(Side.SELL, OrderType.MARKET, "1"))).status is OrderStatus.FILLED
        assert (await conn.positions()).get(ETH, D(0)) == 0


async def test_no_short_selling_on_spot_unless_margin() -> None:
    async with spot() as (conn, _sim):
        err = await refused(conn, order(Side.SELL, OrderType.MARKET, "0.1"))
        assert err.code == -2010
    async with spot(margin=True) as (conn, _sim):
        assert (await conn.place_order(order(Side.SELL, OrderType.MARKET, "0.1"))).status is OrderStatus.FILLED
        assert (await conn.positions())[ETH] == D("-0.1")


async def test_filters_are_refused_with_their_names() -> None:
    async with spot() as (conn, sim):
        info = signed_request(sim.base_url, "GET", "/api/v3/exchangeInfo", []).json()
        eth = next(s for s in info["symbols"] if s["symbol"] == ETH)
        assert {"PERCENT_PRICE_BY_SIDE", "MAX_NUM_ORDERS", "MAX_NUM_ALGO_ORDERS"} <= {f["filterType"]
                                                                                      for f in eth["filters"]}
        err = await refused(conn, order(Side.BUY, OrderType.LIMIT, "0.01", price="3100"))  # < 0.9 x 3500
        assert (err.code, err.reason) == (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")
        err = await refused(conn, order(Side.BUY, OrderType.LIMIT, "0.01", price="3900"))  # > 1.1 x 3500
        assert "PERCENT_PRICE_BY_SIDE" in err.reason
        await conn.place_order(order(Side.BUY, OrderType.MARKET, "1"))
        for _ in range(2):
            await conn.place_order(order(Side.SELL, OrderType.STOP_MARKET, "0.1", stop="3300"))
        err = await refused(conn, order(Side.SELL, OrderType.STOP_MARKET, "0.1", stop="3300"))
        assert (err.code, err.reason) == (-1013, "Filter failure: MAX_NUM_ALGO_ORDERS")
        for _ in range(2):
            await conn.place_order(order(Side.BUY, OrderType.LIMIT, "0.01", price="3400"))
        err = await refused(conn, order(Side.BUY, OrderType.LIMIT, "0.01", price="3400"))
        assert (err.code, err.reason) == (-1013, "Filter failure: MAX_NUM_ORDERS")
        assert len(sim.engine.open_orders(ETH)) == 4


async def test_cancel_only_symbol_refuses_new_orders_and_is_not_tradable() -> None:
    async with spot() as (conn, sim):
        err = await refused(conn, order(Side.BUY, OrderType.MARKET, "1", symbol=SOL))
        assert (err.code, err.reason) == (-1013, "Market is closed.")
        sol = (await conn.market_rules())[SOL]  # the connector reads symbolStatus: listed, cancels only
        assert sol.symbol_status == "CANCEL_ONLY" and not sol.trading
        assert not conn.info[SOL].trading


async def test_flatten_of_one_plan_leaves_the_other_plans_inventory(tmp_path: Path) -> None:
    async with spot() as (conn, sim):
        ledger = Ledger(tmp_path / "ledger.db")
        journal = Journal(ledger)
        for symbol, rules in (await conn.market_rules()).items():
            ledger.set_market(symbol, rules)
        handler = ExecutionHandler(ledger, conn, journal)

        async def send(body: dict[str, Any]) -> None:
            d = StrategyDirective.model_validate(body)
            batch = translate(d, ledger.state())
            assert batch.ok, batch.errors
            report = await handler.send(batch, d)
            assert report.ok, report.summary()

        for i, qty in enumerate(("0.5", "0.7")):
            await send({"directive_id": f"STR_SP{i}", "scope": "NEW_TRADE",
                        "entry_directive": {"symbol": ETH, "direction": "BUY"},
                        "size_directive": {"target_position_size": qty},
                        "exit_directive": {"stop_loss_tolerance": "0.05"}})
        a, b = ledger.plan_ids()
        assert eth_balance(sim) == ("0.00000000", "1.20000000")  # both stops lock the shared ETH balance
        await send({"directive_id": "STR_SP_CLOSE", "scope": "CLOSE_EXISTING", "target_plan_ids": [a]})
        plan_a, plan_b = ledger.get_plan(a), ledger.get_plan(b)
        assert plan_a is not None and plan_b is not None
        assert plan_a.net_position == 0 and not plan_a.open_orders
        assert plan_b.net_position == D("0.7")
        assert [(o.role, o.quantity) for o in plan_b.open_orders] == [(OrderRole.STOP_LOSS, D("0.7"))]
        assert eth_balance(sim) == ("0.00000000", "0.70000000")  # B's inventory, still locked by B's stop
        assert (await conn.positions())[ETH] == D("0.7")
        ledger.close()


async def test_self_trade_prevention_expires_the_taker_in_match() -> None:
    async with spot() as (conn, sim):
        await conn.place_order(order(Side.BUY, OrderType.MARKET, "1"))
        resting = order(Side.SELL, OrderType.LIMIT, "0.5", price="3500.01")  # one plan's sell, best ask
        await conn.place_order(resting)
        taker = order(Side.BUY, OrderType.MARKET, "0.2")  # another plan's buy would trade with it
        placed = await conn.place_order(taker)
        assert placed.status is OrderStatus.EXPIRED and placed.filled_quantity == 0
        raw = signed_request(sim.base_url, "GET", "/api/v3/order", [("symbol", ETH),
                                                                     ("origClientOrderId", taker.client_order_id)])
        assert raw.json()["status"] == "EXPIRED_IN_MATCH"
        found = await conn.get_order(ETH, taker.client_order_id)
        assert found is not None and found.status is OrderStatus.EXPIRED
        assert sim.engine.positions()[ETH] == D("1")  # nothing traded
        assert sim.engine.get(ETH, resting.client_order_id).status is OrderStatus.OPEN  # type: ignore[union-attr]
        # a buy that does not reach the own order (limit under it) is not affected
        assert (await conn.place_order(order(Side.BUY, OrderType.LIMIT, "0.1", price="3500"))).status in (
            OrderStatus.FILLED, OrderStatus.OPEN)
