"""Connection handling and the read side of the StrategyLedger (the write side is in core.ledger).

One sqlite3 connection per Ledger, shared by threads (check_same_thread=False) and guarded by a re-entrant lock;
WAL mode so other processes (the command line) can read while the console writes. Every write is one
``BEGIN IMMEDIATE`` transaction; reads that need several queries run inside one read transaction so they see one
consistent state.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from core.gc_hold import gc_paused
from core.ledger_schema import (
    ADDED_COLUMNS,
    FILL_COLS,
    GROUP_COLS,
    MARKET_COLS,
    ORDER_COLS,
    PLAN_COLS,
    REQUIRED_TABLES,
    SCHEMA,
    SCHEMA_VERSION,
    check_file,
    desk_status,
    enc,
    fill_from_row,
    group_dict,
    group_from_row,
    group_of,
    limits_from_text,
    limits_to_text,
    market_from_row,
    market_params,
    order_dict,
    order_from_row,
    order_of,
    plan_from_row,
    trusted,
)
from core.ledger_schema import (
    LedgerError as LedgerError,
)
from core.models import (
    DeskState,
    DeskStatus,
    ExecutionGroup,
    Fill,
    LedgerState,
    MarketRules,
    Order,
    OrderStatus,
    PlanStatus,
    RiskLimits,
    TradePlan,
)

OPEN_STATUSES = tuple(s.value for s in OrderStatus if s.is_open)
_LIVE = tuple(s for s in OrderStatus if s.is_open)  # `in` a tuple compares in C (no Enum.__hash__ call)
_OPEN_IN = "(" + ",".join(f"'{s}'" for s in OPEN_STATUSES) + ")"
_IN_IDS = " IN (SELECT value FROM json_each(?))"
#: cached per plan: (version, order field dicts, group field dicts)
_Cached = tuple[int, list[dict[str, Any]], list[dict[str, Any]]]


class _Tx:
    """LedgerBase._tx: the lock held throughout; BEGIN IMMEDIATE ... COMMIT at depth 0 (ROLLBACK on any
    exception), nested ones join the outer transaction."""

    __slots__ = ("_db", "_outer")

    def __init__(self, db: LedgerBase) -> None:
        self._db = db
        self._outer = False

    def __enter__(self) -> sqlite3.Connection:
        db = self._db
        db._lock.acquire()
        try:
            if db._closed:
                raise LedgerError("ledger is closed")
            if db._depth:
                db._depth += 1
                return db._conn
            db._conn.execute("BEGIN IMMEDIATE")
            db._depth, db._writing = 1, True
            self._outer = True
            return db._conn
        except BaseException:
            db._lock.release()
            raise

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        db = self._db
        try:
            if not self._outer:
                db._depth -= 1
                return
            db._depth, db._writing = 0, False
            db._conn.execute("ROLLBACK" if et is not None else "COMMIT")
        finally:
            db._lock.release()


class _Savepoint:
    """LedgerBase.savepoint (its own transaction when there is none)."""

    __slots__ = ("_db", "_name", "_tx")

    def __init__(self, db: LedgerBase) -> None:
        self._db = db
        self._name = ""
        self._tx: _Tx | None = None

    def __enter__(self) -> None:
        db = self._db
        db._lock.acquire()
        try:
            if not db._depth:
                self._tx = _Tx(db)
                self._tx.__enter__()
                return
            db._depth += 1
            self._name = f"sp{db._depth}"
            try:
                db._conn.execute(f"SAVEPOINT {self._name}")
            except BaseException:
                db._depth -= 1
                raise
        except BaseException:
            db._lock.release()
            raise

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        db = self._db
        try:
            if self._tx is not None:
                self._tx.__exit__(et, exc, tb)
                return
            try:
                if et is not None:
                    db._conn.execute(f"ROLLBACK TO {self._name}")
                db._conn.execute(f"RELEASE {self._name}")
            finally:
                db._depth -= 1
        finally:
            db._lock.release()


class _Read:
    """LedgerBase._read: one read transaction (BEGIN ... COMMIT), or the surrounding write transaction."""

    __slots__ = ("_db", "_outer")

    def __init__(self, db: LedgerBase) -> None:
        self._db = db
        self._outer = False

    def __enter__(self) -> sqlite3.Connection:
        db = self._db
        db._lock.acquire()
        try:
            if db._closed:
                raise LedgerError("ledger is closed")
            if db._depth:
                return db._conn
            db._conn.execute("BEGIN")
            db._depth = 1
            self._outer = True
            return db._conn
        except BaseException:
            db._lock.release()
            raise

    def __exit__(self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        db = self._db
        try:
            if self._outer:
                db._depth = 0
                db._conn.execute("COMMIT")
        finally:
            db._lock.release()


class LedgerBase:
    def __init__(self, path: str | Path, *, synchronous: str = "FULL") -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise LedgerError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = str(path)
        self._lock = threading.RLock()
        self._depth = 0
        self._writing = False
        self._closed = False
        self._cache: dict[str, _Cached] = {}
        self._cache_epoch: str | None = None
        #: client order id -> proof-of-absence time recorded by this process (see Ledger.sending)
        self._absent_after: dict[str, float] = {}
        existed = check_file(self.path)
        try:
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30.0)
            if existed:
                self._check_tables()
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._conn.executescript("BEGIN IMMEDIATE;\n" + SCHEMA + "\nCOMMIT;")  # one commit, not one per table
            if existed:
                self._add_columns()
            self._check_schema_version()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"cannot open ledger {self.path}: {exc}") from None

    def _check_tables(self) -> None:
        """An existing ledger must have every table: a damaged one (a table dropped) is refused, never re-created
        empty and used as if valid."""
        try:
            names = {r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            raise LedgerError(f"ledger {self.path} is not a SQLite database ({exc})") from None
        missing = sorted(REQUIRED_TABLES - names)
        if missing:
            self._conn.close()
            raise LedgerError(f"ledger {self.path} is damaged: table {', '.join(missing)} missing (restore it from "
                              "a backup or import a snapshot into a new file)")

    def _missing_columns(self) -> list[tuple[str, str, str]]:
        have: dict[str, set[str]] = {}
        for table, _, _ in ADDED_COLUMNS:
            if table not in have:
                have[table] = {r[1] for r in self._conn.execute(f"PRAGMA table_info({table})")}
        return [added for added in ADDED_COLUMNS if added[1] not in have[added[0]]]

    def _add_columns(self) -> None:
        """Upgrade a ledger file made before a column existed (see ADDED_COLUMNS): checked without a write lock,
        added in one write transaction that checks again (another process may have just done it)."""
        if not self._missing_columns():
            return
        with self._tx() as c:
            for table, column, decl in self._missing_columns():
                c.execute(f"ALTER TABLE {table} ADD COLUMN {column} {decl}")

    def _check_schema_version(self) -> None:
        with self._tx() as c:
            row = c.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                c.execute("INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise LedgerError(
                    f"ledger {self.path} has schema version {row[0]}, this program uses {SCHEMA_VERSION}"
                )

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- transactions -------------------------------------------------------------------------------------------

    def transaction(self) -> _Tx:
        """Group several writes into one commit (all or nothing). Writes inside join it."""
        return _Tx(self)

    def _tx(self) -> _Tx:
        """One write transaction (nested calls join the outer one). A class, not a generator context manager: the
        flatten path enters it ~10,000 times."""
        return _Tx(self)

    def savepoint(self) -> _Savepoint:
        """Writes that succeed or fail as one inside the surrounding transaction (its own transaction if there is
        none): on an exception only they are rolled back, and the exception goes on."""
        return _Savepoint(self)

    def _read(self) -> _Read:
        """A consistent read (one read transaction, or the surrounding write transaction)."""
        return _Read(self)

    # -- loading plans --------------------------------------------------------------------------------------------

    def _load_plans(self, c: sqlite3.Connection, plan_ids: list[str] | None, *, fills: bool = True,
                    live_only: bool = False) -> list[TradePlan]:
        """Plans with their orders and groups (and fills if asked), in creation order.

        Orders and groups are cached per plan and version (plus an epoch that changes on import): every change to
        them bumps the plan version in the same transaction, so a cached entry at the current version is current.
        Callers always get fresh copies. The cache is neither read nor filled inside a write transaction (its
        changes might still roll back). `live_only`: the orders that may still be working only (see state)."""
        params: tuple[str, ...] = ()
        where = ""
        if plan_ids is not None:
            if not plan_ids:
                return []
            where, params = " WHERE plan_id" + _IN_IDS, (json.dumps(plan_ids),)
        with gc_paused():
            plan_rows = c.execute(f"SELECT {PLAN_COLS} FROM plans{where} ORDER BY rowid", params).fetchall()
            if not plan_rows:
                return []
            parts = self._parts(c, plan_rows, where, params, live_only=live_only)
            fls: dict[str, list[Fill]] = {}
            if fills:
                for r in c.execute(f"SELECT {FILL_COLS} FROM fills{where} ORDER BY rowid", params):
                    fls.setdefault(r[1], []).append(fill_from_row(r))
            return [plan_from_row(r, *parts[r[0]], fls.get(r[0])) for r in plan_rows]

    def _parts(
        self, c: sqlite3.Connection, plan_rows: list[Any], where: str, params: tuple[str, ...], *,
        live_only: bool = False,
    ) -> dict[str, tuple[list[Order], list[ExecutionGroup]]]:
        """Orders and groups per plan id, from the cache where the plan version matches, else from the database."""
        use_cache = not self._writing
        cache = self._cache
        if use_cache:
            row = c.execute("SELECT value FROM meta WHERE key = 'epoch'").fetchone()
            epoch = "" if row is None else str(row[0])
            if epoch != self._cache_epoch:
                cache.clear()
                self._cache_epoch = epoch
        stale = [r[0] for r in plan_rows if not use_cache or (hit := cache.get(r[0])) is None or hit[0] != r[7]]
        if stale:
            if len(stale) < len(plan_rows):
                where, params = " WHERE plan_id" + _IN_IDS, (json.dumps(stale),)
            versions = {r[0]: r[7] for r in plan_rows}
            fresh: dict[str, _Cached] = {pid: (versions[pid], [], []) for pid in stale}
            for r in c.execute(f"SELECT {ORDER_COLS} FROM orders{where} ORDER BY rowid", params):
                if (entry := fresh.get(r[1])) is not None:
                    entry[1].append(order_dict(r))
            for r in c.execute(f"SELECT {GROUP_COLS} FROM exec_groups{where} ORDER BY rowid", params):
                if (entry := fresh.get(r[1])) is not None:
                    entry[2].append(group_dict(r))
            if not use_cache:
                return {
                    pid: ([trusted(Order, o) for o in e[1] if not live_only or o["status"] in _LIVE],
                          [trusted(ExecutionGroup, g) for g in e[2]])
                    for pid, e in fresh.items()
                }
            cache.update(fresh)
        return {
            r[0]: ([order_of(o) for o in cache[r[0]][1] if not live_only or o["status"] in _LIVE],
                   [group_of(g) for g in cache[r[0]][2]]) for r in plan_rows
        }

    def _snapshot(self, plan_ids: list[str] | None, *, fills: bool, live_only: bool = False) -> LedgerState:
        with self._read() as c:
            plans = self._load_plans(c, plan_ids, fills=fills, live_only=live_only)
            return trusted(
                LedgerState,
                {
                    "markets": self._markets(c),
                    "plans": plans,
                    "desk": trusted(DeskState, {"state": self._desk(c)}),
                    "limits": self._limits(c),
                },
            )

    # -- snapshot reads -------------------------------------------------------------------------------------------

    def export_snapshot(self) -> LedgerState:
        """Everything: all plans (ACTIVE and CLOSED) with all orders (final ones too), groups and fills; markets,
        desk and limits. ``model_dump(mode="json")`` of it is the DESIGN.md section 5 format."""
        return self._snapshot(None, fills=True)

    def state(self, plan_ids: Iterable[str] | None = None, *, fills: bool = False,
              live_only: bool = False) -> LedgerState:
        """Worker input: markets, desk, limits and the given plans (all if None; unknown ids are simply absent)
        with all their orders and groups. Fills are left out unless ``fills=True`` (the worker never needs them).

        ``live_only``: each plan with only the orders that may still be working (plan.orders == plan.open_orders).
        Every directive but a cancel_directive reads no other (a cancel of an order that is no longer open says
        which status it has). Each stop resize leaves a cancelled order behind: after a busy day most of a plan's
        orders are its history, and a view kept live under the feed reads the changed plans many times a second."""
        ids = None if plan_ids is None else list(dict.fromkeys(plan_ids))
        return self._snapshot(ids, fills=fills, live_only=live_only)

    # -- plan and order reads ------------------------------------------------------------------------------------

    def get_plan(self, plan_id: str) -> TradePlan | None:
        with self._read() as c:
            found = self._load_plans(c, [plan_id])
        return found[0] if found else None

    def get_open_plan(self, plan_id: str) -> TradePlan | None:
        """The plan with its open orders and its groups only: no fills, no filled or cancelled orders. What keeping
        its protection needs on every event, without reading back its history: each stop resize leaves a cancelled
        order behind, so after a busy day most of a plan's orders are history (plan.orders == plan.open_orders)."""
        with self._read() as c, gc_paused():
            r = c.execute(f"SELECT {PLAN_COLS} FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
            if r is None:
                return None
            orders = [order_from_row(o) for o in c.execute(
                f"SELECT {ORDER_COLS} FROM orders WHERE plan_id = ? AND status IN {_OPEN_IN} ORDER BY rowid",
                (plan_id,))]
            groups = [group_from_row(g) for g in c.execute(
                f"SELECT {GROUP_COLS} FROM exec_groups WHERE plan_id = ? ORDER BY rowid", (plan_id,))]
        return plan_from_row(r, orders, groups)

    def plans(self) -> list[TradePlan]:
        with self._read() as c:
            return self._load_plans(c, None)

    def plan_ids(self, status: PlanStatus | None = None) -> list[str]:
        with self._read() as c:
            if status is None:
                rows = c.execute("SELECT plan_id FROM plans ORDER BY rowid").fetchall()
            else:
                rows = c.execute(
                    "SELECT plan_id FROM plans WHERE status = ? ORDER BY rowid", (PlanStatus(status).value,)
                ).fetchall()
        return [r[0] for r in rows]

    def plan_versions(self, plan_ids: Iterable[str]) -> dict[str, int]:
        """Current version of each known plan among plan_ids (unknown ids are absent)."""
        ids = list(plan_ids)
        with self._read() as c:
            rows = c.execute("SELECT plan_id, version FROM plans WHERE plan_id" + _IN_IDS, (json.dumps(ids),))
            return {r[0]: r[1] for r in rows}

    def all_plan_versions(self) -> dict[str, int]:
        """Every plan's current version, in ledger order (plan_ids() and plan_versions() in one query)."""
        with self._read() as c:
            return {r[0]: r[1] for r in c.execute("SELECT plan_id, version FROM plans ORDER BY rowid")}

    def net_positions(self, plan_ids: Iterable[str]) -> dict[str, Decimal]:
        """Net position of each known plan among plan_ids (unknown ids are absent): one query, no orders read."""
        with self._read() as c:
            rows = c.execute("SELECT plan_id, net_position FROM plans WHERE plan_id" + _IN_IDS,
                             (json.dumps(list(plan_ids)),))
            return {r[0]: Decimal(r[1]) for r in rows}

    def find_order(self, client_order_id: str) -> tuple[str, Order] | None:
        """(plan_id, order) of the order with this client order id."""
        with self._read() as c:
            r = c.execute(f"SELECT {ORDER_COLS} FROM orders WHERE client_order_id = ?", (client_order_id,)).fetchone()
        return None if r is None else (r[1], order_from_row(r))

    def find_orders(self, client_order_ids: Iterable[str]) -> dict[str, tuple[str, Order]]:
        """(plan_id, order) of each order with one of these client order ids (unknown ids are absent): one query."""
        with self._read() as c:
            rows = c.execute(f"SELECT {ORDER_COLS} FROM orders WHERE client_order_id" + _IN_IDS,
                             (json.dumps(list(client_order_ids)),)).fetchall()
        return {r[10]: (r[1], order_from_row(r)) for r in rows}

    def get_order(self, order_id: str) -> tuple[str, Order] | None:
        """(plan_id, order) of the order with this order id."""
        with self._read() as c:
            r = c.execute(f"SELECT {ORDER_COLS} FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        return None if r is None else (r[1], order_from_row(r))

    def orders_with_status(self, statuses: Iterable[OrderStatus]) -> list[tuple[str, str, Order]]:
        """(plan_id, symbol, order) of every order in one of the statuses, oldest first."""
        values = json.dumps([OrderStatus(s).value for s in statuses])
        with self._read() as c:
            rows = c.execute(
                f"SELECT {ORDER_COLS}, (SELECT symbol FROM plans p WHERE p.plan_id = orders.plan_id) "
                "FROM orders WHERE status" + _IN_IDS + " ORDER BY rowid",
                (values,),
            ).fetchall()
        return [(r[1], r[15], order_from_row(r)) for r in rows]

    def open_orders(self, plan_id: str | None = None) -> list[tuple[str, str, Order]]:
        """(plan_id, symbol, order) of every open order (PENDING, OPEN, PARTIALLY_FILLED, UNKNOWN)."""
        rows = self.orders_with_status(OrderStatus(s) for s in OPEN_STATUSES)
        return rows if plan_id is None else [row for row in rows if row[0] == plan_id]

    def get_group(self, group_id: str) -> tuple[str, ExecutionGroup] | None:
        """(plan_id, group) of the execution group with this id."""
        with self._read() as c:
            r = c.execute(f"SELECT {GROUP_COLS} FROM exec_groups WHERE group_id = ?", (group_id,)).fetchone()
        return None if r is None else (r[1], group_from_row(r))

    # -- markets, desk, limits -----------------------------------------------------------------------------------

    def _markets(self, c: sqlite3.Connection) -> dict[str, MarketRules]:
        return {r[0]: market_from_row(r) for r in c.execute(f"SELECT {MARKET_COLS} FROM markets ORDER BY rowid")}

    def markets(self) -> dict[str, MarketRules]:
        with self._read() as c:
            return self._markets(c)

    def set_market(self, symbol: str, rules: MarketRules) -> None:
        if not symbol:
            raise LedgerError("set_market: symbol must not be empty")
        with self._tx() as c:
            c.execute(
                f"INSERT INTO markets ({MARKET_COLS}) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(symbol) DO UPDATE SET mark_price = excluded.mark_price, tick_size = excluded.tick_size, "
                "step_size = excluded.step_size, min_notional = excluded.min_notional, venue = excluded.venue",
                market_params(symbol, rules),
            )

    def set_mark(self, symbol: str, price: Decimal) -> None:
        """New mark price for a known market. Does not change any plan version."""
        if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
            raise LedgerError(f"set_mark {symbol}: price must be a Decimal greater than 0, got {price!r}")
        with self._tx() as c:
            cur = c.execute("UPDATE markets SET mark_price = ? WHERE symbol = ?", (enc(price), symbol))
            if cur.rowcount == 0:
                raise LedgerError(f"set_mark: unknown market {symbol} (add it with set_market first)")

    def _desk(self, c: sqlite3.Connection) -> DeskStatus:
        row = c.execute("SELECT value FROM meta WHERE key = 'desk'").fetchone()
        return DeskStatus.ACTIVE if row is None else desk_status(row[0])

    def desk(self) -> DeskStatus:
        with self._read() as c:
            return self._desk(c)

    def set_desk(self, status: DeskStatus) -> None:
        value = DeskStatus(status).value
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('desk', ?)", (value,))

    def _limits(self, c: sqlite3.Connection) -> RiskLimits:
        row = c.execute("SELECT value FROM meta WHERE key = 'limits'").fetchone()
        return limits_from_text(None if row is None else row[0])

    def limits(self) -> RiskLimits:
        with self._read() as c:
            return self._limits(c)

    def set_limits(self, limits: RiskLimits) -> None:
        with self._tx() as c:
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('limits', ?)", (limits_to_text(limits),))

    # -- directives already sent ---------------------------------------------------------------------------------

    def was_sent(self, directive_id: str) -> bool:
        with self._read() as c:
            row = c.execute("SELECT 1 FROM sent_directives WHERE directive_id = ?", (directive_id,)).fetchone()
        return row is not None

    def sent_digest(self, directive_id: str) -> str | None:
        """The batch digest recorded when the directive was marked sent, or None if it never was."""
        with self._read() as c:
            row = c.execute("SELECT digest FROM sent_directives WHERE directive_id = ?", (directive_id,)).fetchone()
        return None if row is None else str(row[0])
