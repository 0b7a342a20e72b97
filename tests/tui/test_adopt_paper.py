"""Mirroring an imported ledger onto a fresh paper account (tui.runtime.adopt_ledger_on_paper) reproduces every open
order, shorts included; whatever cannot be reproduced is journaled, alerted and leaves the plan UNPROTECTED."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import LedgerState, OrderRole
from core.supervisor import ProtectionSupervisor
from tui.runtime import adopt_ledger_on_paper

D = Decimal
MARKS = {"BTCUSDT": D("100000"), "ETHUSDT": D("3500"), "SOLUSDT": D("150")}
SIZES = {"BTCUSDT": ["0.01", "0.25", "1"], "ETHUSDT": ["0.5", "2", "8"], "SOLUSDT": ["3", "20", "120"]}


def generated_ledger(n: int, seed: int = 8) -> LedgerState:
    """`n` plans on three symbols, longs and shorts mixed on every symbol, each with a reduce-only stop, most
    with a take profit, some with a resting entry."""
    rng = random.Random(seed)
    plans: list[dict[str, Any]] = []
    for i in range(n):
        symbol = sorted(MARKS)[i % 3]
        mark = MARKS[symbol]
        long = rng.random() < 0.5
        size = D(rng.choice(SIZES[symbol]))
        close_side = "SELL" if long else "BUY"
        k = D(1) if long else D(-1)
        orders: list[dict[str, Any]] = [{
            "order_id": f"STP_{i}", "role": "STOP_LOSS", "side": close_side, "type": "STOP_MARKET",
            "quantity": str(size), "stop_price": str(mark * (1 - k * D("0.05"))), "reduce_only": True,
            "status": "OPEN"}]
        if rng.random() < 0.7:
            orders.append({"order_id": f"TP_{i}", "role": "TAKE_PROFIT", "side": close_side, "type": "LIMIT",
                           "quantity": str(size), "price": str(mark * (1 + k * D("0.08"))), "reduce_only": True,
                           "time_in_force": "GTC", "status": "OPEN"})
        if rng.random() < 0.3:
            orders.append({"order_id": f"ENT_{i}", "role": "ENTRY", "side": "BUY" if long else "SELL",
                           "type": "LIMIT", "quantity": str(size), "price": str(mark * (1 - k * D("0.02"))),
                           "time_in_force": "GTC", "status": "OPEN"})
        plans.append({"plan_id": f"TPL_{i + 1}", "symbol": symbol, "direction": "BUY" if long else "SELL",
                      "status": "ACTIVE", "net_position": str(size if long else -size),
                      "avg_entry_price": str(mark), "orders": orders})
    markets = {s: {"mark_price": str(m), "tick_size": "0.01", "step_size": r.step_size, "min_notional": "5"}
               for (s, m), r in zip(sorted(MARKS.items()), [DEFAULT_MARKETS()[s] for s in sorted(MARKS)],
                                    strict=True)}
    return LedgerState.model_validate({"markets": markets, "plans": plans, "desk": {"state": "ACTIVE"}})


async def test_every_open_order_of_a_300_plan_ledger_longs_and_shorts_is_reproduced(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "desk.db")
    ledger.import_snapshot(generated_ledger(300))
    wanted = {o.client_order_id or o.order_id for p in ledger.plans() for o in p.open_orders}
    conn = PaperConnector(PaperEngine(DEFAULT_MARKETS()))
    journal = Journal(ledger)
    notes = await adopt_ledger_on_paper(ledger, conn, journal)
    assert notes == [], notes[:5]
    venue = {v.client_order_id for v in conn.engine.open_orders()}
    ledger_open = {o.client_order_id for p in ledger.plans() for o in p.open_orders}
    assert ledger_open == venue and len(venue) == len(wanted)
    shorts_stops = [o for p in ledger.plans() if p.net_position < 0 for o in p.open_orders
                    if o.role is OrderRole.STOP_LOSS]
    assert len(shorts_stops) > 100
    assert ProtectionSupervisor(ExecutionHandler(ledger, conn, journal)).unprotected() == {}
    ledger.close()


def test_a_stop_the_paper_account_refuses_is_an_error_alert_and_the_row_shows_unprotected(tmp_path: Path) -> None:
    from tui.bridge import DeskBridge

    state = generated_ledger(6)
    data = state.model_dump(mode="json")
    stop = next(o for o in data["plans"][0]["orders"] if o["role"] == "STOP_LOSS")
    stop["stop_price"] = str(D(stop["stop_price"]) + D("0.005"))  # off the tick: the venue's price filter refuses
    db = tmp_path / "desk.db"
    ledger = Ledger(db)
    ledger.import_snapshot(LedgerState.model_validate(data))
    ledger.close()
    bridge = DeskBridge(PaperConnector(PaperEngine(DEFAULT_MARKETS())), db, adopt=True)
    bridge.start().result(timeout=20)
    try:
        ch = bridge.drain_changes()
        errors = [e.text for e in ch.events if e.level == "error"]
        assert any("TPL_1" in t and "STOP_LOSS" in t and "UNPROTECTED" in t for t in errors), ch.events
        row = bridge.row("TPL_1")
        assert row is not None and row.unprotected is not None and row.unprotected.startswith("no stop")
        assert all(r.unprotected is None for r in bridge.rows() if r.plan_id != "TPL_1")
        entries = Journal(bridge.ledger).entries()
        assert any(e.kind == "protection_gone" and e.payload["plan_id"] == "TPL_1" for e in entries)
    finally:
        bridge.stop()
