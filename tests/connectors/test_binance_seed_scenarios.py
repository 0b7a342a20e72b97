"""The seed document's four scenarios end to end through httpx: worker -> ExecutionHandler -> BinanceConnector ->
the Binance-compatible simulator on a loopback socket. Checked on the ledger and at the venue."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.paper.markets import DEFAULT_MARKETS
from core.directives import StrategyDirective
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import DeskStatus, OrderRole, OrderType, PlanStatus, Side
from core.worker import translate
from tests.connectors.binance_factory import binance_sim


async def _send(handler: ExecutionHandler, spec: dict[str, Any], *, halt: bool = False) -> None:
    directive = StrategyDirective.model_validate(spec)
    batch = translate(directive, handler.ledger.state())
    assert batch.ok, batch.errors
    report = await handler.send(batch, directive, halt_desk=halt)
    assert report.ok, report.to_dict()


async def _venue_stops(conn: Any, symbol: str) -> list[Any]:
    return [o for o in await conn.open_orders(symbol) if o.order_type is OrderType.STOP_MARKET]


async def test_seed_scenarios_over_http(tmp_path: Path) -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        ledger = Ledger(tmp_path / "ledger.sqlite")
        for symbol, rules in (await conn.market_rules()).items():
            ledger.set_market(symbol, rules)
        handler = ExecutionHandler(ledger, conn, Journal(ledger))
        btc_mark = ledger.markets()["BTCUSDT"].mark_price

        # TPL_1: long 1 BTC with a 2 % stop
        ledger.create_plan("TPL_1", "BTCUSDT", Side.BUY)
        await _send(handler, {"directive_id": "STR_OPEN_1", "scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
                              "size_directive": {"target_position_size": "1"},
                              "exit_directive": {"stop_loss_tolerance": "0.02"}})
        plan = ledger.get_plan("TPL_1")
        assert plan is not None and plan.net_position == 1
        (stop,) = await _venue_stops(conn, "BTCUSDT")
        assert stop.quantity == 1 and stop.stop_price == btc_mark * Decimal("0.98")

        # Scenario 1: trailing stop to 1 %
        await _send(handler, {"directive_id": "STR_TRAIL", "scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
                              "exit_directive": {"stop_loss_tolerance": "0.01"}})
        (stop,) = await _venue_stops(conn, "BTCUSDT")
        assert stop.stop_price == btc_mark * Decimal("0.99") and stop.quantity == 1

        # Scenario 2: scale in to 1.5 (absolute): the plan holds 1.5 and its stop covers 1.5
        await _send(handler, {"directive_id": "STR_SCALE_IN", "scope": "MODIFY_EXISTING",
                              "target_plan_ids": ["TPL_1"], "size_directive": {"target_position_size": "1.5"},
                              "entry_directive": {"order_type": "MARKET"}})
        plan = ledger.get_plan("TPL_1")
        assert plan is not None and plan.net_position == Decimal("1.5")
        (stop,) = await _venue_stops(conn, "BTCUSDT")
        assert stop.quantity == Decimal("1.5")
        assert (await conn.positions())["BTCUSDT"] == Decimal("1.5")

        # the same target again, with a new directive id: nothing is sent
        before = len(sim.order_log)
        await _send(handler, {"directive_id": "STR_SCALE_IN_AGAIN", "scope": "MODIFY_EXISTING",
                              "target_plan_ids": ["TPL_1"], "size_directive": {"target_position_size": "1.5"}})
        assert len(sim.order_log) == before

        # Scenario 3: partial take profit to 0.75
        await _send(handler, {"directive_id": "STR_TP", "scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
                              "size_directive": {"target_position_size": "0.75"}})
        plan = ledger.get_plan("TPL_1")
        assert plan is not None and plan.net_position == Decimal("0.75")
        (stop,) = await _venue_stops(conn, "BTCUSDT")
        assert stop.quantity == Decimal("0.75")

        # two more plans, then Scenario 4: emergency flatten of all three with a 5 % slippage cap
        ledger.create_plan("TPL_2", "ETHUSDT", Side.SELL)
        ledger.create_plan("TPL_3", "SOLUSDT", Side.BUY)
        await _send(handler, {"directive_id": "STR_OPEN_2", "scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_2"],
                              "size_directive": {"target_position_size": "4"},
                              "exit_directive": {"stop_loss_tolerance": "0.03"}})
        await _send(handler, {"directive_id": "STR_OPEN_3", "scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_3"],
                              "size_directive": {"target_position_size": "100"},
                              "exit_directive": {"take_profit_price": "180"}})
        assert len(await conn.open_orders()) == 3
        await _send(handler, {"directive_id": "STR_PANIC", "scope": "CLOSE_EXISTING",
                              "target_plan_ids": ["TPL_1", "TPL_2", "TPL_3"],
                              "execution_directive": {"execution_urgency": "1.0", "max_total_slippage_pct": "0.05"}},
                    halt=True)
        for pid in ("TPL_1", "TPL_2", "TPL_3"):
            plan = ledger.get_plan(pid)
            assert plan is not None
            assert plan.net_position == 0 and plan.status is PlanStatus.CLOSED and not plan.open_orders
        assert await conn.open_orders() == []
        assert all(v == 0 for v in (await conn.positions()).values() if v is not None)
        assert ledger.desk() is DeskStatus.HALTED
        # protective orders were reduce-only in the plan, and none is left behind
        assert not [o for p in ledger.plans() for o in p.open_orders if o.role is OrderRole.STOP_LOSS]
