"""Issue 10 item 5: "the preview shows the filter problems before anything is sent". Over real loopback: the spot
simulator's exchangeInfo and account, read by the connector into MarketRules, give `plandesk preview --json` an
error naming the symbol, the filter and the numbers; the same order placed at the simulator is refused with the
same filter. One simulator for the whole story (kept cheap)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from connectors.binance.connector import BinanceConnector
from connectors.binance.sim_spot import SpotConfig
from connectors.paper.markets import DEFAULT_MARKETS
from core.batch import ExecuteTrade
from core.connector import ConnectorError, OrderRequest
from core.directives import StrategyDirective
from core.models import LedgerState, MarketRules, OrderType, Side, TimeInForce
from core.worker import translate
from tests.connectors.binance_factory import binance_sim
from tui.cli import main

D = Decimal
ETH, SOL = "ETHUSDT", "SOLUSDT"
SPOT = dict(bid_up="1.1", bid_down="0.9", ask_up="1.1", ask_down="0.9", max_num_orders=4, max_num_algo_orders=2,
            symbol_status={SOL: "CANCEL_ONLY"})


class Venue:
    """The ledger side of the story: plans mirroring what was placed at the simulator."""

    def __init__(self, conn: BinanceConnector, tmp: Path, capsys: Any) -> None:
        self.conn, self.tmp, self.capsys = conn, tmp, capsys
        self.plans: dict[str, dict[str, Any]] = {}
        self.n = 0

    def plan(self, pid: str, net: str, symbol: str = ETH) -> None:
        self.plans[pid] = {"plan_id": pid, "symbol": symbol, "direction": "BUY", "net_position": net,
                           "avg_entry_price": "3500", "orders": []}

    async def place(self, pid: str | None, role: str, side: Side, kind: OrderType, qty: str, *,
                    price: str | None = None, stop: str | None = None) -> str:
        self.n += 1
        coid = f"pv-{self.n}"
        tif = TimeInForce.GTC if kind is OrderType.LIMIT else None
        await self.conn.place_order(OrderRequest(symbol=ETH, side=side, order_type=kind, quantity=D(qty),
                                                 client_order_id=coid, price=D(price) if price else None,
                                                 stop_price=D(stop) if stop else None, time_in_force=tif))
        oid = f"ORD_{self.n}"
        if pid is not None:
            o = {"order_id": oid, "client_order_id": coid, "role": role, "side": side.value, "type": kind.value,
                 "quantity": qty, "status": "OPEN", "reduce_only": role in ("STOP_LOSS", "TAKE_PROFIT")}
            o |= {"price": price} if price else {}
            o |= {"stop_price": stop} if stop else {}
            self.plans[pid]["orders"].append(o)
        return oid

    async def state(self) -> LedgerState:
        markets = await self.conn.market_rules(account=True)
        return LedgerState.model_validate({"markets": {s: r.model_dump(mode="json") for s, r in markets.items()},
                                           "plans": list(self.plans.values())})

    async def preview(self, body: dict[str, Any]) -> tuple[int, dict[str, Any], StrategyDirective, LedgerState]:
        """`plandesk preview DIRECTIVE --state SNAPSHOT --json`, with the venue's rules as read just now."""
        state = await self.state()
        snap, dfile = self.tmp / "snapshot.json", self.tmp / "directive.json"
        snap.write_text(json.dumps(state.model_dump(mode="json")))
        dfile.write_text(json.dumps(body))
        self.capsys.readouterr()
        rc = main(["preview", str(dfile), "--state", str(snap), "--json"])
        return rc, json.loads(self.capsys.readouterr().out), StrategyDirective.model_validate(body), state

    async def refused(self, d: StrategyDirective, state: LedgerState, role: str) -> ConnectorError:
        """The order the directive makes when the venue's rules are not known, placed at the simulator."""
        bare = {s: MarketRules(mark_price=r.mark_price, tick_size=r.tick_size, step_size=r.step_size,
                               min_notional=r.min_notional) for s, r in state.markets.items()}
        batch = translate(d, state.model_copy(update={"markets": bare}))
        assert batch.ok, batch.errors
        cmd = next(c for c in batch.commands if isinstance(c, ExecuteTrade) and c.role == role)
        with pytest.raises(ConnectorError) as err:
            await self.conn.place_order(OrderRequest(
                symbol=cmd.symbol, side=cmd.side, order_type=cmd.order_type, quantity=cmd.quantity,
                client_order_id=cmd.client_order_id, price=cmd.price, stop_price=cmd.stop_price,
                time_in_force=cmd.time_in_force))
        return err.value


def new_trade(symbol: str, direction: str, qty: str, **entry: Any) -> dict[str, Any]:
    return {"directive_id": f"STR_{symbol}_{direction}", "scope": "NEW_TRADE",
            "entry_directive": {"symbol": symbol, "direction": direction, **entry},
            "size_directive": {"target_position_size": qty}}


def modify(pid: str, **parts: Any) -> dict[str, Any]:
    return {"directive_id": f"STR_M_{pid}_{len(parts)}", "scope": "MODIFY_EXISTING", "target_plan_ids": [pid],
            **parts}


async def test_each_spot_filter_is_in_the_preview_and_refused_by_the_venue(tmp_path: Path, capsys: Any) -> None:
    async with binance_sim(DEFAULT_MARKETS(), spot=SpotConfig.from_dict(SPOT), user_stream=False) as (conn, _sim):
        v = Venue(conn, tmp_path, capsys)
        rules = (await conn.market_rules(account=True))[ETH]
        assert rules.percent_price_by_side is not None and rules.percent_price_by_side.ask_down == D("0.9")
        assert (rules.max_num_orders, rules.max_num_algo_orders, rules.symbol_status) == (4, 2, "TRADING")
        assert (rules.base_asset, rules.quote_asset, rules.free_base, rules.short_selling) == ("ETH", "USDT", 0,
                                                                                              False)
        await v.place(None, "ENTRY", Side.BUY, OrderType.MARKET, "1")  # A 0.5, B 0.25, C 0.25
        v.plan("TPL_A", "0.5")
        v.plan("TPL_B", "0.25")
        v.plan("TPL_C", "0.25")
        await v.place("TPL_A", "STOP_LOSS", Side.SELL, OrderType.STOP_MARKET, "0.5", stop="3300")
        await v.place("TPL_B", "STOP_LOSS", Side.SELL, OrderType.STOP_MARKET, "0.25", stop="3300")
        await v.place("TPL_A", "ENTRY", Side.BUY, OrderType.LIMIT, "0.01", price="3400")  # 3 open, 2 of them stops

        # PERCENT_PRICE_BY_SIDE
        rc, out, d, st = await v.preview(new_trade(ETH, "BUY", "0.01", order_type="LIMIT", limit_price="3100"))
        assert rc == 2 and out["commands"] == []
        assert any(e.endswith("ETHUSDT: PERCENT_PRICE_BY_SIDE: BUY limit 3100 below 90% of the mark 3500 "
                              "(min 3150)") for e in out["errors"]), out["errors"]
        err = await v.refused(d, st, "ENTRY")
        assert (err.code, err.reason) == (-1013, "Filter failure: PERCENT_PRICE_BY_SIDE")

        # MAX_NUM_ALGO_ORDERS: a third stop
        rc, out, d, st = await v.preview(modify("TPL_C", exit_directive={"stop_loss_tolerance": "0.05"}))
        assert rc == 2
        assert out["errors"] == ["TPL_C: ETHUSDT: MAX_NUM_ALGO_ORDERS: 2 stops open + 1 new > 2"]
        assert (await v.refused(d, st, "STOP_LOSS")).reason == "Filter failure: MAX_NUM_ALGO_ORDERS"

        # MAX_NUM_ORDERS: a fourth open order, then a scale-in
        await v.place("TPL_A", "ENTRY", Side.BUY, OrderType.LIMIT, "0.01", price="3401")
        rc, out, d, st = await v.preview(modify("TPL_B", size_directive={"target_position_size": "0.5"}))
        assert rc == 2 and out["errors"] == ["TPL_B: ETHUSDT: MAX_NUM_ORDERS: 4 orders open + 1 new > 4"]
        assert (await v.refused(d, st, "ENTRY")).reason == "Filter failure: MAX_NUM_ORDERS"
        # ... while a scale-in of the plan whose entries it cancels first passes
        rc, out, _d, _st = await v.preview(modify("TPL_A", size_directive={"target_position_size": "0.6"}))
        assert rc == 0 and not out["errors"], out["errors"]

        # insufficient free balance: an order that is not ours locks the rest of the ETH
        for p in v.plans.values():
            for o in [o for o in p["orders"] if o["role"] == "ENTRY"]:
                await conn.cancel_order(ETH, o["client_order_id"])
                p["orders"].remove(o)
        await v.place(None, "EXIT", Side.SELL, OrderType.LIMIT, "0.25", price="3600")  # foreign: not in the ledger
        rc, out, d, st = await v.preview(modify("TPL_C", size_directive={"target_position_size": "0.05"}))
        assert rc == 2 and out["errors"] == [
            "TPL_C: insufficient free ETH: sell 0.2 needs 0.2, free 0 (1 locked by open orders that this batch does "
            "not cancel first)"]
        err = await v.refused(d, st, "EXIT")
        assert err.code == -2010 and "insufficient balance" in err.reason
        # a flatten is never blocked by it: A's cancel frees A's stop lock; C's close is a warning, not an error
        rc, out, _d, _st = await v.preview({"directive_id": "STR_F", "scope": "CLOSE_EXISTING",
                                            "target_plan_ids": ["TPL_A", "TPL_C"]})
        assert rc == 0 and [c["action"] for c in out["commands"]] == ["CANCEL_ORDER", "EXECUTE_TRADE",
                                                                       "EXECUTE_TRADE"]
        assert out["warnings"] == ["TPL_C: insufficient free ETH: sell 0.25 needs 0.75, free 0.5 (0.5 locked by "
                                   "open orders that this batch does not cancel first) (the venue will refuse this "
                                   "close)"]

        # no short selling on spot
        rc, out, d, st = await v.preview(new_trade(ETH, "SELL", "0.1"))
        assert rc == 2 and len(out["errors"]) == 1, out["errors"]
        assert out["errors"][0].endswith(": ETHUSDT: no short selling on this account (spot, not margin): SELL 0.1 "
                                         "would open a short")
        assert (await v.refused(d, st, "ENTRY")).code == -2010

        # symbol status CANCEL_ONLY
        rc, out, d, st = await v.preview(new_trade(SOL, "BUY", "1"))
        assert rc == 2 and out["errors"][0].endswith("SOLUSDT: symbol status CANCEL_ONLY: only cancels may be sent")
        assert (await v.refused(d, st, "ENTRY")).reason == "Market is closed."


async def test_a_flatten_on_a_cancel_only_symbol_still_cancels_and_keeps_the_stop(tmp_path: Path,
                                                                                 capsys: Any) -> None:
    async with binance_sim(DEFAULT_MARKETS(), spot=SpotConfig.from_dict(SPOT), user_stream=False) as (conn, _sim):
        v = Venue(conn, tmp_path, capsys)
        v.plan("TPL_S", "2", symbol=SOL)  # the ledger's plan on a symbol that went CANCEL_ONLY
        v.plans["TPL_S"]["orders"] = [
            {"order_id": "ORD_S1", "role": "STOP_LOSS", "side": "SELL", "type": "STOP_MARKET", "quantity": "2",
             "stop_price": "140", "status": "OPEN", "reduce_only": True},
            {"order_id": "ORD_S2", "role": "ENTRY", "side": "BUY", "type": "LIMIT", "quantity": "1",
             "price": "149", "status": "OPEN"}]
        rc, out, _d, _st = await v.preview({"directive_id": "STR_FS", "scope": "CLOSE_EXISTING",
                                            "target_plan_ids": ["TPL_S"]})
        assert rc == 0 and out["errors"] == []
        assert [(c["action"], c["order_id"]) for c in out["commands"]] == [("CANCEL_ORDER", "ORD_S2")]
        assert out["warnings"] == ["TPL_S: SOLUSDT: symbol status CANCEL_ONLY: only cancels may be sent; the close "
                                   "of 2 is not sent and ORD_S1 stays open to protect it"]
        # the operator can still cancel the stop itself, one order, previewed
        rc, out, _d, _st = await v.preview(modify("TPL_S", cancel_directive={"order_ids": ["ORD_S1"]}))
        assert rc == 0 and [c["order_id"] for c in out["commands"]] == ["ORD_S1"]
        assert out["warnings"] == ["TPL_S: becomes UNPROTECTED: cancelling ORD_S1 leaves no stop for a position of 2"]
