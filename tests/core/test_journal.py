"""Journal: append-only for real (triggers), operator from the environment, JSON payloads, preview entries."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch
from core.directives import Scope, StrategyDirective
from core.journal import (
    Journal,
    JournalEntry,
    JournalError,
    current_operator,
    journal_preview,
    preview_summary,
    record_preview,
)
from core.ledger import Ledger
from core.models import LedgerState, OrderRole, OrderType, Side


class FakeClock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def test_append_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANDESK_OPERATOR", "alice")
    j = Journal(tmp_path / "l.db", clock=FakeClock())
    e1 = j.append("directive", directive_id="STR_1", payload={"qty": Decimal("1.50"), "side": Side.BUY, "n": 3})
    assert e1 == JournalEntry(seq=e1.seq, time="2025-03-01T12:00:01.000000+00:00", kind="directive",
                              directive_id="STR_1", operator="alice", payload={"qty": "1.50", "side": "BUY", "n": 3})
    e2 = j.append("send", directive_id="STR_1", payload={}, operator="bob")
    e3 = j.append("note", directive_id=None, payload={"text": "hello"})
    assert e1.seq < e2.seq < e3.seq and e2.operator == "bob"
    assert j.entries() == [e1, e2, e3]
    assert j.entries(directive_id="STR_1") == [e1, e2]
    assert j.entries(kind="note") == [e3]
    assert j.entries(limit=2) == [e2, e3]  # the most recent two, oldest first
    assert j.entries(after_seq=e1.seq) == [e2, e3]
    assert j.entries(directive_id="STR_1", kind="send") == [e2]
    with pytest.raises(ValidationError, match="frozen"):
        e1.kind = "changed"  # type: ignore[misc]
    j.close()


def test_time_is_utc_iso8601() -> None:
    local = datetime(2025, 1, 1, 14, 30, tzinfo=timezone(timedelta(hours=2)))
    j = Journal(":memory:", clock=lambda: local)
    assert j.append("x", directive_id=None, payload={}).time == "2025-01-01T12:30:00.000000+00:00"
    j2 = Journal(":memory:")
    stamp = datetime.fromisoformat(j2.append("x", directive_id=None, payload={}).time)
    assert stamp.utcoffset() == timedelta(0) and abs(datetime.now(UTC) - stamp) < timedelta(minutes=1)


def test_journal_is_append_only(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    j = Journal(path)
    j.append("directive", directive_id="STR_1", payload={"a": 1})
    j.close()
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only: UPDATE refused"):
        raw.execute("UPDATE journal SET kind = 'forged'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only: DELETE refused"):
        raw.execute("DELETE FROM journal")
    with pytest.raises(sqlite3.DatabaseError, match="append-only: rewriting an entry is refused"):
        raw.execute("INSERT OR REPLACE INTO journal (seq, time, kind, operator, payload) "
                    "VALUES (1, 't', 'k', 'o', '{}')")
    raw.rollback()
    assert raw.execute("SELECT kind FROM journal").fetchall() == [("directive",)]
    raw.close()


def test_operator_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("PLANDESK_OPERATOR", "USER", "LOGNAME"):
        monkeypatch.delenv(var, raising=False)
    assert current_operator() == "unknown"
    monkeypatch.setenv("LOGNAME", "lee")
    assert current_operator() == "lee"
    monkeypatch.setenv("USER", "uma")
    assert current_operator() == "uma"
    monkeypatch.setenv("PLANDESK_OPERATOR", "  ")  # blank does not count
    assert current_operator() == "uma"
    monkeypatch.setenv("PLANDESK_OPERATOR", "desk-1")
    j = Journal(":memory:")
    assert j.append("x", directive_id=None, payload={}).operator == "desk-1"


def test_payload_must_be_json() -> None:
    j = Journal(":memory:")
    with pytest.raises(JournalError, match="not JSON"):
        j.append("x", directive_id=None, payload={"bad": object()})
    with pytest.raises(JournalError, match="not JSON"):
        j.append("x", directive_id=None, payload={"nan": float("nan")})
    with pytest.raises(JournalError, match="must be a JSON object"):
        j.append("x", directive_id=None, payload=[1, 2])  # type: ignore[arg-type]
    with pytest.raises(JournalError, match="kind"):
        j.append(" ", directive_id=None, payload={})
    assert j.entries() == []


def test_shares_a_memory_ledger_and_survives_import() -> None:
    led = Ledger(":memory:")
    j = Journal(led)
    j.append("directive", directive_id="STR_1", payload={"x": "1"})
    led.import_snapshot(LedgerState())
    assert [e.kind for e in j.entries()] == ["directive"]
    j.close()  # does not close the ledger it was given
    assert led.plan_ids() == []
    led.close()


def test_persisted_across_reopen(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    with Journal(path) as j:
        first = j.append("a", directive_id=None, payload={"k": [1, "2"]})
    led = Ledger(path)  # the ledger and the journal share the file
    with Journal(path) as j:
        second = j.append("b", directive_id=None, payload={})
        assert j.entries() == [first, second]
    led.close()


def test_journal_preview_records_directive_batch_and_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANDESK_OPERATOR", "carol")
    directive = StrategyDirective.model_validate({
        "directive_id": "STR_7", "scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
        "size_directive": {"target_position_size": "1.5"}})
    batch = ExecutionBatch(
        directive_id="STR_7", scope=Scope.MODIFY_EXISTING,
        commands=[
            CancelOrder(seq=1, plan_id="TPL_1", symbol="BTCUSDT", order_id="ORD_1"),
            ExecuteTrade(seq=2, plan_id="TPL_1", symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.MARKET,
                         quantity=Decimal("0.5"), role=OrderRole.ENTRY, client_order_id="pd-x"),
        ],
        plan_versions={"TPL_1": 4},
    )
    j = Journal(":memory:")
    entry = journal_preview(j, directive, batch)
    assert (entry.kind, entry.directive_id, entry.operator) == ("preview", "STR_7", "carol")
    assert entry.payload["digest"] == batch.digest()
    assert entry.payload["batch"] == batch.to_dict()
    assert entry.payload["batch"]["commands"][1]["quantity"] == "0.5"
    assert entry.payload["directive"]["size_directive"]["target_position_size"] == "1.5"
    assert entry.payload["plan_versions"] == {"TPL_1": 4}
    assert entry.payload["summary"] == "2 commands previewed"  # what the journal screen shows for it
    assert j.entries(kind="preview") == [entry]
    json.dumps(entry.payload)  # plain JSON all the way down
    # the console's and the CLI's writer (no read-back) stores the same payload, and the digest hashes what it holds
    j2 = Journal(":memory:")
    seq = record_preview(j2, directive, batch)
    (stored,) = j2.entries(kind="preview")
    assert stored.seq == seq and stored.payload == entry.payload
    canonical = json.dumps(stored.payload["batch"], sort_keys=True, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode()).hexdigest() == stored.payload["digest"]


def test_preview_summary_counts_commands_errors_and_warnings() -> None:
    cancel = CancelOrder(seq=1, plan_id="TPL_1", symbol="BTCUSDT", order_id="ORD_1")
    one = ExecutionBatch(directive_id="S", scope=Scope.MODIFY_EXISTING, commands=[cancel], warnings=["w"])
    assert preview_summary(one) == "1 command previewed, 1 warning"
    refused = ExecutionBatch(directive_id="S", scope=Scope.MODIFY_EXISTING, errors=["a", "b"])
    assert preview_summary(refused) == "refused: 2 errors"
