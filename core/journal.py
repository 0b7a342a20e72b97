"""The journal: an append-only record of every directive, preview, send and outcome (who, when, what, result).

It lives in the ledger's SQLite file, table ``journal``. Append-only is enforced by the database itself: triggers
abort every UPDATE and DELETE on the table. Payloads are JSON objects; Decimals are written as plain strings.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from core.batch import ExecutionBatch
from core.decimals import dec_str
from core.directives import StrategyDirective
from core.ledger_base import LedgerBase, LedgerError

__all__ = ["Journal", "JournalEntry", "JournalError", "count_of", "current_operator", "journal_preview",
           "preview_payload", "preview_summary", "record_preview"]

JOURNAL_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS journal ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " time TEXT NOT NULL,"
    " kind TEXT NOT NULL,"
    " directive_id TEXT,"
    " operator TEXT NOT NULL,"
    " payload TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS journal_directive ON journal(directive_id)",
    "CREATE INDEX IF NOT EXISTS journal_kind ON journal(kind)",
    "CREATE TRIGGER IF NOT EXISTS journal_no_update BEFORE UPDATE ON journal "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only: UPDATE refused'); END",
    "CREATE TRIGGER IF NOT EXISTS journal_no_delete BEFORE DELETE ON journal "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only: DELETE refused'); END",
    # INSERT OR REPLACE deletes without firing delete triggers; an explicit seq may only come after the last one
    "CREATE TRIGGER IF NOT EXISTS journal_no_rewrite BEFORE INSERT ON journal "
    "WHEN NEW.seq >= 0 AND NEW.seq <= (SELECT COALESCE(MAX(seq), 0) FROM journal) "
    "BEGIN SELECT RAISE(ABORT, 'journal is append-only: rewriting an entry is refused'); END",
)

_COLS = "seq, time, kind, directive_id, operator, payload"


class JournalError(LedgerError):
    """A journal entry was refused (empty kind, payload that is not a JSON object, ...)."""


class JournalEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    time: str  # UTC, ISO-8601
    kind: str
    directive_id: str | None
    operator: str
    payload: dict[str, Any]


def current_operator() -> str:
    """Who is operating: $PLANDESK_OPERATOR, else $USER, else $LOGNAME, else "unknown"."""
    for var in ("PLANDESK_OPERATOR", "USER", "LOGNAME"):
        value = os.environ.get(var, "").strip()
        if value:
            return value
    return "unknown"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return dec_str(value)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def to_json(payload: dict[str, Any]) -> str:
    """Payload -> JSON text (Decimals as plain strings). JournalError if it cannot be JSON."""
    if not isinstance(payload, dict):
        raise JournalError(f"journal payload must be a JSON object (dict), got {type(payload).__name__}")
    try:
        return json.dumps(payload, default=_json_default, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise JournalError(f"journal payload is not JSON: {exc}") from None


def _utc_iso(now: datetime) -> str:
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return now.astimezone(UTC).isoformat(timespec="microseconds")


class Journal:
    """Append-only journal in the ledger's SQLite file.

    ``Journal(path)`` opens its own connection to the file; ``Journal(ledger)`` shares the ledger's connection and
    lock (needed for a ``":memory:"`` ledger). ``clock`` returns the current time (default: the system clock, UTC).
    """

    def __init__(self, path: str | Path | LedgerBase, *, clock: Callable[[], datetime] | None = None) -> None:
        if isinstance(path, LedgerBase):
            self._db, self._owned = path, False
        else:
            self._db, self._owned = LedgerBase(path), True
        self._clock: Callable[[], datetime] = clock or (lambda: datetime.now(UTC))
        with self._db._tx() as c:
            for stmt in JOURNAL_SCHEMA:
                c.execute(stmt)

    def shares(self, ledger: LedgerBase) -> bool:
        """Whether this journal writes through `ledger`'s own connection (so its entries can join the ledger's
        transaction)."""
        return self._db is ledger

    def close(self) -> None:
        if self._owned:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def append(
        self, kind: str, *, directive_id: str | None, payload: dict[str, Any], operator: str | None = None
    ) -> JournalEntry:
        """Add one entry and return it as stored (payload as it reads back from JSON)."""
        seq, when, who, text = self._insert(kind, directive_id, payload, operator)
        return JournalEntry(
            seq=seq, time=when, kind=kind, directive_id=directive_id, operator=who, payload=json.loads(text)
        )

    def record(
        self, kind: str, *, directive_id: str | None, payload: dict[str, Any], operator: str | None = None
    ) -> int:
        """``append`` for a writer that does not need the entry back: returns its seq, without reading the payload
        back from its JSON (a flatten's send and outcome entries hold thousands of commands)."""
        return self._insert(kind, directive_id, payload, operator)[0]

    def _insert(
        self, kind: str, directive_id: str | None, payload: dict[str, Any], operator: str | None
    ) -> tuple[int, str, str, str]:
        return self._write(kind, directive_id, to_json(payload), operator)

    def record_json(self, kind: str, *, directive_id: str | None, text: str, operator: str | None = None) -> int:
        """``record`` for a payload its writer already has as JSON text (a JSON object): a flatten's preview entry
        embeds the canonical text its digest was computed from instead of serialising the batch a second time."""
        if not text.startswith("{"):
            raise JournalError("journal payload must be a JSON object")
        return self._write(kind, directive_id, text, operator)[0]

    def _write(self, kind: str, directive_id: str | None, text: str, operator: str | None) -> tuple[int, str, str, str]:
        if not kind or not kind.strip():
            raise JournalError("journal kind must not be empty")
        who = operator if operator else current_operator()
        when = _utc_iso(self._clock())
        with self._db._tx() as c:
            cur = c.execute(
                "INSERT INTO journal (time, kind, directive_id, operator, payload) VALUES (?, ?, ?, ?, ?)",
                (when, kind, directive_id, who, text),
            )
            seq = cur.lastrowid
        assert seq is not None
        return seq, when, who, text

    def entries(
        self,
        *,
        directive_id: str | None = None,
        kind: str | None = None,
        limit: int | None = None,
        after_seq: int | None = None,
    ) -> list[JournalEntry]:
        """Entries oldest first, filtered by directive id and/or kind; ``after_seq`` keeps only newer entries (for
        tailing). With ``limit`` the most recent ``limit`` matching entries are returned (still oldest first)."""
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (("directive_id = ?", directive_id), ("kind = ?", kind), ("seq > ?", after_seq)):
            if value is not None:
                where.append(clause)
                params.append(value)
        sql = f"SELECT {_COLS} FROM journal" + (" WHERE " + " AND ".join(where) if where else "")
        if limit is not None:
            if limit < 0:
                raise JournalError("limit must not be negative")
            sql += " ORDER BY seq DESC LIMIT ?"
            params.append(limit)
        else:
            sql += " ORDER BY seq"
        with self._db._read() as c:
            rows = c.execute(sql, params).fetchall()
        if limit is not None:
            rows.reverse()
        return [
            JournalEntry(seq=r[0], time=r[1], kind=r[2], directive_id=r[3], operator=r[4], payload=json.loads(r[5]))
            for r in rows
        ]


def preview_payload(directive: StrategyDirective, batch: ExecutionBatch) -> str:
    """The preview entry's payload as JSON text: the directive, the exact batch, its digest and the plan versions it
    was computed from. The batch is serialised once: its canonical text (ExecutionBatch.canonical_json) is both what
    the digest hashes and what the entry holds (for 22,000 commands that is half the work of serialising twice)."""
    canonical = batch.canonical_json()
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return (f'{{"directive":{to_json(directive.model_dump(mode="json"))},"batch":{canonical},'
            f'"digest":"{digest}","plan_versions":{to_json(dict(batch.plan_versions))},'
            f'"summary":{json.dumps(preview_summary(batch))}}}')


def count_of(n: int, word: str) -> str:
    """'1 command', '3 commands'."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def preview_summary(batch: ExecutionBatch) -> str:
    """One line for the journal's readers: "3 commands previewed", "refused: 1 error", with warnings counted."""
    text = (f"refused: {count_of(len(batch.errors), 'error')}" if batch.errors
            else f"{count_of(len(batch.commands), 'command')} previewed")
    return text + (f", {count_of(len(batch.warnings), 'warning')}" if batch.warnings else "")


def journal_preview(
    journal: Journal, directive: StrategyDirective, batch: ExecutionBatch, *, operator: str | None = None
) -> JournalEntry:
    """Record a preview (preview_payload) and return the entry as stored."""
    did = batch.directive_id or directive.directive_id
    seq, when, who, text = journal._write("preview", did, preview_payload(directive, batch), operator)
    return JournalEntry(seq=seq, time=when, kind="preview", directive_id=did, operator=who, payload=json.loads(text))


def record_preview(
    journal: Journal, directive: StrategyDirective, batch: ExecutionBatch, *, operator: str | None = None
) -> int:
    """Record a preview (preview_payload); returns its seq without reading the payload back from its JSON."""
    return journal.record_json("preview", directive_id=batch.directive_id or directive.directive_id,
                               text=preview_payload(directive, batch), operator=operator)
