"""Injected faults end to end: directive -> worker -> ExecutionHandler -> Binance connector -> loopback simulator.
No duplicate order at the simulator, the ledger right, the operator told (outcome + journal)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from connectors.paper.markets import DEFAULT_MARKETS
from core.directives import StrategyDirective
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import OrderStatus
from core.outcomes import OutcomeStatus
from core.worker import translate
from tests.connectors.binance_factory import SECRET, binance_sim

ETH = "ETHUSDT"


@pytest.mark.parametrize(
    ("fault", "executed"),
    [
        ({"kind": "lost"}, True),
        ({"kind": "reset"}, False),
        ({"kind": "5xx"}, False),
        ({"kind": "5xx", "execute": True}, True),
    ],
)
async def test_new_trade_through_a_fault(tmp_path: Path, fault: dict[str, object], executed: bool) -> None:
    markets = DEFAULT_MARKETS()
    async with binance_sim(markets, recv_window=300) as (conn, sim):
        ledger = Ledger(tmp_path / "ledger.db")
        journal = Journal(ledger)
        for symbol, rules in (await conn.market_rules()).items():
            ledger.set_market(symbol, rules)
        directive = StrategyDirective.model_validate(
            {
                "directive_id": "STR_F1",
                "scope": "NEW_TRADE",
                "entry_directive": {"symbol": ETH, "direction": "BUY", "order_type": "LIMIT", "limit_price": "3000"},
                "size_directive": {"target_position_size": "0.5"},
            }
        )
        batch = translate(directive, ledger.state())
        assert batch.ok, batch.errors
        sim.control(faults=[{**fault, "method": "POST", "path": "/api/v3/order"}])
        report = await ExecutionHandler(ledger, conn, journal).send(batch, directive)
        (entry,) = [o for o in report.outcomes if o.action == "EXECUTE_TRADE"]
        coid = entry.client_order_id
        assert coid is not None
        assert sim.accepted(coid) == 1  # exactly once at the venue, whatever the fault
        assert entry.status in (OutcomeStatus.RESOLVED, OutcomeStatus.ACKNOWLEDGED), entry
        if executed:
            assert entry.status is OutcomeStatus.RESOLVED and "found" in entry.detail
        found = ledger.find_order(coid)
        assert found is not None and found[1].status is OrderStatus.OPEN
        assert found[1].quantity == Decimal("0.5")
        texts = [e.model_dump_json() for e in journal.entries()]
        assert any(coid in t or "STR_F1" in t for t in texts)
        assert any("unknown" in t.lower() for t in texts)  # the operator is told the outcome was unknown
        assert all(SECRET not in t for t in texts)
        ledger.close()
