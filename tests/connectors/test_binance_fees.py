"""The Binance connector reports each order's commission in the quote asset (VenueOrder.fee), from a new order's FULL
answer and from the trades the user data stream reports, and the ledger records it with the fill."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from connectors.binance.mapping import quote_fee, venue_order
from connectors.paper.markets import DEFAULT_MARKETS
from core.connector import OrderRequest
from core.directives import StrategyDirective
from core.handler import ExecutionHandler
from core.ledger import Ledger
from core.models import OrderType, PlanStatus, Side
from core.worker import translate
from tests.connectors.binance_factory import binance_sim

D = Decimal
ETH = "ETHUSDT"


def test_a_full_answer_gives_the_quote_commission_of_its_fills_only() -> None:
    answer = {"symbol": "ETHUSDT", "orderId": 7, "clientOrderId": "c-1", "origQty": "3", "executedQty": "3",
              "cummulativeQuoteQty": "9000", "status": "FILLED", "type": "MARKET", "side": "SELL",
              "fills": [{"price": "3000", "qty": "2", "commission": "6", "commissionAsset": "USDT"},
                        {"price": "3000", "qty": "1", "commission": "0.001", "commissionAsset": "BNB"},
                        {"price": "3000", "qty": "0", "commission": "1.5", "commissionAsset": "USDT"}]}
    assert venue_order(answer).fee == D("7.5")  # BNB commission is not a quote amount: left out
    assert venue_order({k: v for k, v in answer.items() if k != "fills"}).fee == 0  # a query answer: not known
    assert quote_fee("ETHUSDT", "0.01", "ETH") == 0 and quote_fee("ETHBTC", "0.01", "BTC") == D("0.01")


async def test_a_close_through_the_handler_records_the_simulators_commission(tmp_path: Path) -> None:
    async with binance_sim(DEFAULT_MARKETS()) as (conn, sim):
        vo = await conn.place_order(OrderRequest(ETH, Side.BUY, OrderType.MARKET, D("0.5"), "fee-open"))
        (trade,) = [t for t in sim.engine.trades() if t.client_order_id == "fee-open"]
        assert trade.fee > 0 and vo.fee == trade.fee
        ledger = Ledger(tmp_path / "l.sqlite")
        for symbol, rules in (await conn.market_rules()).items():
            ledger.set_market(symbol, rules)
        open_ = StrategyDirective.model_validate({
            "directive_id": "STR_O", "scope": "NEW_TRADE", "size_directive": {"target_position_size": "0.5"},
            "entry_directive": {"symbol": ETH, "direction": "SELL", "order_type": "MARKET"}})
        handler = ExecutionHandler(ledger, conn)
        assert (await handler.send(translate(open_, ledger.state()), open_)).ok
        (plan_id,) = ledger.plan_ids(PlanStatus.ACTIVE)
        close = StrategyDirective.model_validate({"directive_id": "STR_C", "scope": "CLOSE_EXISTING",
                                                  "target_plan_ids": [plan_id]})
        report = await handler.send(translate(close, ledger.state()), close)
        assert report.ok, report.summary()
        plan = ledger.state([plan_id], fills=True).plans[0]
        venue = {t.client_order_id: t for t in sim.engine.trades()}
        assert plan.status is PlanStatus.CLOSED and len(plan.fills) == 2
        for f in plan.fills:
            coid = f.fill_id.rsplit(":", 1)[0]
            assert f.fee == venue[coid].fee > 0
        gross = sum((f.price * f.quantity * (1 if f.side is Side.SELL else -1) for f in plan.fills), D(0))
        assert plan.realized_pnl == gross - sum((venue[f.fill_id.rsplit(":", 1)[0]].fee for f in plan.fills), D(0))
        ledger.close()


def test_the_streams_trades_give_the_order_its_cumulative_quote_commission() -> None:
    from typing import Any

    from connectors.binance.poller import OrderBook, Poller
    from connectors.binance.ws import UserStream

    poller = Poller(None, OrderBook(), list, None, interval=1.0, start_ms=0)  # type: ignore[arg-type]
    seen: list[Any] = []
    poller.emit = seen.append  # type: ignore[method-assign]
    stream = UserStream.__new__(UserStream)
    stream.poller, stream.balances = poller, {}

    def report(trade: int, filled: str, fee: str, asset: str) -> dict[str, Any]:
        return {"e": "executionReport", "s": ETH, "c": "c-9", "S": "SELL", "o": "LIMIT", "f": "GTC", "q": "2",
                "p": "3000", "P": "0", "X": "PARTIALLY_FILLED" if filled != "2" else "FILLED", "i": 5,
                "z": filled, "Z": str(D(filled) * 3000), "x": "TRADE", "t": trade, "L": "3000", "l": "1",
                "n": fee, "N": asset, "T": 0}

    stream.on_event(report(1, "1", "3", "USDT"))
    stream.on_event(report(1, "1", "3", "USDT"))  # a duplicate: counted once
    stream.on_event(report(2, "2", "0.0001", "BNB"))  # not in quote: left out
    orders = [ev.order for ev in seen if hasattr(ev, "order")]
    assert [(o.filled_quantity, o.fee) for o in orders] == [(D(1), D(3)), (D(2), D(3))]
