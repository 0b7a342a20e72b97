"""The ledger keeps MarketRules' venue facts (symbol status, filters, assets, short selling) in ``markets.venue`` so
that whoever reads rules through the ledger sees them; it never keeps the balances (they go stale at once). A ledger
file made before the column existed opens, reads as before and upgrades."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.ledger import Ledger, LedgerError
from core.ledger_schema import SCHEMA
from core.models import LedgerState, MarketRules

D = Decimal
FOUR = {"mark_price": "102000", "tick_size": "0.01", "step_size": "0.00001", "min_notional": "5"}
BAND = {"bid_up": "1.05", "bid_down": "0.95", "ask_up": "1.05", "ask_down": "0.95"}
VENUE: dict[str, Any] = {"symbol_status": "CANCEL_ONLY", "percent_price_by_side": BAND, "max_num_orders": 200,
                         "max_num_algo_orders": 5, "base_asset": "BTC", "quote_asset": "USDT", "short_selling": False}
BALANCES = {"free_base": "1.5", "locked_base": "0.5", "free_quote": "1000", "locked_quote": "0"}


def rules(**extra: Any) -> MarketRules:
    return MarketRules.model_validate(FOUR | extra)


def test_status_and_filters_round_trip_balances_are_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Ledger(path) as ledger:
        ledger.set_market("BTCUSDT", rules(**VENUE, **BALANCES))
        ledger.set_market("ETHUSDT", rules())
    with Ledger(path) as ledger:
        got = ledger.markets()
    btc = got["BTCUSDT"]
    assert btc == rules(**VENUE)  # every stored fact back, no balance
    assert not btc.trading and btc.max_num_orders == 200 and btc.max_num_algo_orders == 5
    assert btc.percent_price_by_side is not None and btc.percent_price_by_side.bid_down == D("0.95")
    assert btc.free_base is None and btc.locked_quote is None
    assert got["ETHUSDT"] == rules() and got["ETHUSDT"].symbol_status is None


def test_set_market_updates_and_clears_the_venue_facts(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.set_market("BTCUSDT", rules(symbol_status="CANCEL_ONLY"))
        ledger.set_mark("BTCUSDT", D("101000"))  # the mark alone: the facts stay
        assert ledger.markets()["BTCUSDT"].symbol_status == "CANCEL_ONLY"
        ledger.set_market("BTCUSDT", rules(symbol_status="TRADING", max_num_orders=10))
        assert ledger.markets()["BTCUSDT"] == rules(symbol_status="TRADING", max_num_orders=10)
        ledger.set_market("BTCUSDT", rules())
        assert ledger.markets()["BTCUSDT"] == rules()


def test_import_and_export_keep_the_facts_and_the_contract_snapshot_is_unchanged(tmp_path: Path) -> None:
    contract = {"markets": {"BTCUSDT": FOUR}, "plans": [], "desk": {"state": "ACTIVE"}}
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.import_snapshot(LedgerState.model_validate(contract))
        plain = ledger.export_snapshot().model_dump(mode="json")
        assert plain["markets"] == contract["markets"]
        assert json.dumps(plain["markets"]) == json.dumps(contract["markets"])  # byte for byte, key order too
        ledger.import_snapshot(LedgerState.model_validate({"markets": {"BTCUSDT": FOUR | VENUE | BALANCES}}))
        dumped = ledger.export_snapshot().model_dump(mode="json")["markets"]["BTCUSDT"]
    assert dumped == rules(**VENUE).model_dump(mode="json")
    assert list(dumped)[:4] == list(FOUR) and "free_base" not in dumped


OLD_MARKETS = """CREATE TABLE IF NOT EXISTS markets (
    symbol TEXT PRIMARY KEY,
    mark_price TEXT NOT NULL,
    tick_size TEXT NOT NULL,
    step_size TEXT NOT NULL,
    min_notional TEXT NOT NULL
);"""


def old_ledger(path: Path) -> None:
    """A ledger file as the program wrote it before ``markets.venue`` existed."""
    start = SCHEMA.index("CREATE TABLE IF NOT EXISTS markets (")
    end = SCHEMA.index(");", start) + 2
    old = SCHEMA[:start] + OLD_MARKETS + SCHEMA[end:]
    assert "venue" not in old
    conn = sqlite3.connect(path)
    conn.executescript(old)
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO markets VALUES ('BTCUSDT', '102000', '0.01', '0.00001', '5')")
    conn.commit()
    conn.close()


def test_an_old_four_column_ledger_opens_reads_and_upgrades(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old_ledger(path)
    with Ledger(path) as ledger:
        assert ledger.markets() == {"BTCUSDT": rules()}
        ledger.set_market("BTCUSDT", rules(symbol_status="CANCEL_ONLY", max_num_orders=50))
    conn = sqlite3.connect(path)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(markets)")]
    conn.close()
    assert columns == ["symbol", "mark_price", "tick_size", "step_size", "min_notional", "venue"]
    with Ledger(path) as again:  # a second open finds the column and adds nothing
        assert again.markets()["BTCUSDT"] == rules(symbol_status="CANCEL_ONLY", max_num_orders=50)


def test_unreadable_venue_facts_are_refused_by_name(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Ledger(path) as ledger:
        ledger.set_market("BTCUSDT", rules())
    conn = sqlite3.connect(path)
    conn.execute("""UPDATE markets SET venue = '{"max_num_orders": 0}'""")
    conn.commit()
    conn.close()
    with Ledger(path) as ledger, pytest.raises(LedgerError, match="venue facts"):
        ledger.markets()
