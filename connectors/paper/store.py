"""The paper account on disk: SQLite (WAL, synchronous=FULL), one transaction per venue call, holding what changed.

Cost per call is the size of the change, not of the account's history: the orders the call created or changed (by venue
order id), the new trades and order-log entries (append only), and one row of small account state (positions, quote,
marks, next ids). Every mutating call runs inside `BEGIN IMMEDIATE` (SQLite's writer lock): first it reads what other
processes committed since this one last looked (rows with a higher sequence number), then acts on the engine, then
writes its own change and commits. Two processes on one account therefore never lose each other's updates, and a reader
never sees a torn account. A file that is not a paper account (empty, damaged, foreign) is refused with its path named;
a legacy JSON state file is converted in place on first open."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.paper.engine import STATE_VERSION, PaperEngine
from connectors.paper.orders import PaperConfig, PaperOrder, Trade
from core.jsontext import unique_keys
from core.models import MarketRules

FORMAT = "plandesk-paper"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (order_id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, data TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS orders_by_seq ON orders(seq);
CREATE TABLE IF NOT EXISTS trades (n INTEGER PRIMARY KEY, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS order_log (n INTEGER PRIMARY KEY, symbol TEXT NOT NULL, client_order_id TEXT NOT NULL);
"""


class PaperStateError(Exception):
    """The state file is not a usable paper account. The message names the file and the reason."""


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def _strict_loads(text: str, what: str) -> Any:
    hook = unique_keys(lambda key: PaperStateError(f"{what}: duplicate key {key!r}"))
    return json.loads(text, object_pairs_hook=hook)


def _scalars(engine: PaperEngine) -> dict[str, Any]:
    return {
        "config": engine.config.to_dict(),
        "markets": {s: r.model_dump(mode="json") for s, r in engine.markets.items()},
        "next_order_id": engine._next_order_id,
        "next_trade_id": engine._next_trade_id,
        "positions": {s: format(q, "f") for s, q in engine._positions.items()},
        "quote": format(engine._quote, "f"),
        "last_mark_ts": engine.last_mark_ts,
    }


def _apply_scalars(engine: PaperEngine, d: dict[str, Any]) -> None:
    engine.config = PaperConfig.from_dict(d["config"])
    engine.markets = {s: MarketRules.model_validate(r) for s, r in d["markets"].items()}
    engine._next_order_id = int(d["next_order_id"])
    engine._next_trade_id = int(d["next_trade_id"])
    engine._positions = {s: Decimal(q) for s, q in d["positions"].items()}
    engine._quote = Decimal(d["quote"])
    engine.last_mark_ts = d.get("last_mark_ts")


def _install(engine: PaperEngine, o: PaperOrder) -> None:
    """Put an order another process wrote into the engine's maps (replacing the older copy)."""
    key = (o.symbol, o.client_order_id)
    engine._orders[o.order_id] = o
    latest = engine._latest.get(key)
    if latest is None or int(latest.order_id) <= int(o.order_id):
        engine._latest[key] = o
    current = engine._open.get(key)
    if o.is_open:
        if current is None or int(current.order_id) <= int(o.order_id):
            engine._open[key] = o
    elif current is not None and current.order_id == o.order_id:
        del engine._open[key]


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if p.exists():
            p.unlink()


class PaperStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0, check_same_thread=False)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise PaperStateError(f"paper state {self.path}: not a paper account ({exc})") from None
        self.closed = False
        self.seq = 0
        self._trades = 0
        self._log = 0
        self._rng: Any = None

    # ------------------------------------------------------------------------------------------ open / create

    @classmethod
    def open_or_create(cls, path: Path, fresh: PaperEngine) -> tuple[PaperStore, PaperEngine]:
        """The account at `path` (converted from legacy JSON if need be), or `fresh` stored there if there is none.
        Safe against a second process doing the same at once (both end on the one account)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        legacy = _read_legacy(path)
        if legacy is not None:
            return cls.replace(path, legacy), legacy
        store = cls(path)
        try:
            with store._lock:
                store._db.execute("BEGIN IMMEDIATE")
                try:
                    engine = store._load_or_init(fresh)
                    store._db.execute("COMMIT")
                except BaseException:
                    store._db.execute("ROLLBACK")
                    raise
        except sqlite3.DatabaseError as exc:
            store.close()
            raise PaperStateError(f"paper state {path}: not a paper account ({exc})") from None
        except PaperStateError:
            store.close()
            raise
        return store, engine

    @classmethod
    def replace(cls, path: Path, engine: PaperEngine) -> PaperStore:
        """Overwrite whatever is at `path` with a full snapshot of `engine` (for seeding; no process may be using
        the file)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove(path)
        store = cls(path)
        with store._lock:
            store._db.execute("BEGIN IMMEDIATE")
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                store._db.execute(stmt)
            store._write_all(engine)
            store._db.execute("COMMIT")
        return store

    def _load_or_init(self, fresh: PaperEngine) -> PaperEngine:
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            # an SQLite file without tables: new, or being created by another process that lost the race
            for stmt in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(stmt)
            self._write_all(fresh)
            return fresh
        return self._load()

    def _write_all(self, engine: PaperEngine) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('format', ?)", (FORMAT,))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (str(STATE_VERSION),))
        engine.changed = dict(engine._orders)
        self.seq = 0
        self._persist(engine)

    def _load(self) -> PaperEngine:
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            raise PaperStateError(f"paper state {self.path}: not a paper account (no '{FORMAT}' format mark)")
        if meta.get("version") != str(STATE_VERSION):
            raise PaperStateError(
                f"paper state {self.path}: version {meta.get('version')!r} is not supported (want {STATE_VERSION})"
            )
        for key in ("seq", "scalars", "rng"):
            if key not in meta:
                raise PaperStateError(f"paper state {self.path}: damaged (missing {key!r})")
        scalars = _strict_loads(meta["scalars"], f"paper state {self.path}")
        engine = PaperEngine(
            {s: MarketRules.model_validate(r) for s, r in scalars["markets"].items()},
            PaperConfig.from_dict(scalars["config"]),
        )
        self.seq, self._trades, self._log = 0, 0, 0
        self._catch_up(engine, meta)
        return engine

    # ------------------------------------------------------------------------------------------ per call

    @contextmanager
    def write(self, engine: PaperEngine) -> Iterator[None]:
        """One venue call that may change the account: lock, read what others wrote, act, write the change."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._catch_up(engine)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            try:
                yield  # what the call changed is written even when it raised (a refusal changes nothing)
            finally:
                try:
                    self._persist(engine)
                    self._db.execute("COMMIT")
                except BaseException:
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise

    def refresh(self, engine: PaperEngine) -> None:
        """Before a read: take in what other processes committed (one indexed read when nothing changed)."""
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()
            if row is not None and int(row[0]) != self.seq:
                self._db.execute("BEGIN")
                try:
                    self._catch_up(engine)
                finally:
                    self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            if not self.closed:
                self.closed = True
                self._db.close()

    # ------------------------------------------------------------------------------------------ internals

    def _catch_up(self, engine: PaperEngine, meta: dict[str, str] | None = None) -> None:
        db = self._db
        if meta is None:
            seq = int(db.execute("SELECT value FROM meta WHERE key='seq'").fetchone()[0])
            if seq == self.seq:
                return
            meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('scalars', 'rng')").fetchall())
        else:
            seq = int(meta["seq"])
        for (data,) in db.execute("SELECT data FROM orders WHERE seq > ? ORDER BY order_id", (self.seq,)):
            _install(engine, PaperOrder.from_dict(json.loads(data)))
        for n, data in db.execute("SELECT n, data FROM trades WHERE n > ? ORDER BY n", (self._trades,)):
            engine._trades.append(Trade.from_dict(json.loads(data)))
            self._trades = n
        for n, symbol, coid in db.execute(
            "SELECT n, symbol, client_order_id FROM order_log WHERE n > ? ORDER BY n", (self._log,)
        ):
            engine.order_log.append((symbol, coid))
            self._log = n
        _apply_scalars(engine, json.loads(meta["scalars"]))
        version, internal, gauss_next = json.loads(meta["rng"])
        self._rng = (version, tuple(internal), gauss_next)
        engine._rng.setstate(self._rng)
        engine.changed.clear()
        self.seq = seq

    def _persist(self, engine: PaperEngine) -> None:
        db = self._db
        self.seq += 1
        if engine.changed:
            rows = [(int(oid), self.seq, _dumps(o.to_dict())) for oid, o in engine.changed.items()]
            db.executemany("INSERT OR REPLACE INTO orders VALUES (?, ?, ?)", rows)
            engine.changed.clear()
        if len(engine._trades) > self._trades:
            new = engine._trades[self._trades :]
            db.executemany(
                "INSERT INTO trades VALUES (?, ?)",
                [(self._trades + i + 1, _dumps(t.to_dict())) for i, t in enumerate(new)],
            )
            self._trades = len(engine._trades)
        if len(engine.order_log) > self._log:
            new_log = engine.order_log[self._log :]
            db.executemany(
                "INSERT INTO order_log VALUES (?, ?, ?)",
                [(self._log + i + 1, s, c) for i, (s, c) in enumerate(new_log)],
            )
            self._log = len(engine.order_log)
        rng = engine._rng.getstate()
        if rng != self._rng:
            version, internal, gauss_next = rng
            text = _dumps([version, list(internal), gauss_next])
            db.execute("INSERT OR REPLACE INTO meta VALUES ('rng', ?)", (text,))
            self._rng = rng
        db.execute("INSERT OR REPLACE INTO meta VALUES ('scalars', ?)", (_dumps(_scalars(engine)),))
        db.execute("INSERT OR REPLACE INTO meta VALUES ('seq', ?)", (str(self.seq),))


def _read_legacy(path: Path) -> PaperEngine | None:
    """A legacy JSON state file at `path` (the format before the SQLite store), or None."""
    if not path.exists() or path.is_dir():
        if path.is_dir():
            raise PaperStateError(f"paper state {path}: is a directory")
        return None
    if not path.is_file():
        raise PaperStateError(f"paper state {path}: not a regular file")
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head.lstrip().startswith(b"{"):
        return None
    try:
        data = _strict_loads(path.read_text(encoding="utf-8"), f"paper state {path}")
        return PaperEngine.from_dict(data)
    except PaperStateError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise PaperStateError(f"paper state {path}: damaged JSON state ({exc})") from None
