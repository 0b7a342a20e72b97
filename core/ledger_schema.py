"""SQLite schema of the StrategyLedger and the row <-> model conversions it uses.

Decimals are stored as TEXT with ``str(Decimal)`` so that what comes back is the identical Decimal (same digits,
same exponent). Rows read back are turned into models without re-validation (they were validated on the way in):
building 20,000 validated pydantic orders costs more than the whole ``state()`` budget.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel

from core.models import (
    VENUE_FIELDS,
    DeskStatus,
    ExecutionGroup,
    Fill,
    GroupStatus,
    MarketRules,
    Order,
    OrderRole,
    OrderStatus,
    OrderType,
    PlanStatus,
    RiskLimits,
    Side,
    TimeInForce,
    TradePlan,
)
from core.slots import set_dict, set_extra, set_fields_set, set_private

SCHEMA_VERSION = 1


class LedgerError(Exception):
    """A ledger operation was refused; the message names what is wrong."""


#: Tables every ledger has had since schema version 1 (newer ones are added to old ledgers on open).
REQUIRED_TABLES = frozenset({"meta", "plans", "orders", "exec_groups", "fills", "markets", "sent_directives"})


def check_file(path: str) -> bool:
    """Whether the ledger file exists; refuse one that is 0 bytes or not a regular file before SQLite would quietly
    make a new, empty ledger of it."""
    if path in ("", ":memory:") or path.startswith("file:"):
        return False
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise LedgerError(f"cannot open ledger {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise LedgerError(f"ledger {path} is not a regular file")
    if st.st_size == 0:
        raise LedgerError(f"ledger {path} is an empty file (0 bytes), not a ledger")
    # the content is checked by SQLite itself (never by reading the file here: closing another descriptor of a
    # database file drops this process's SQLite locks on it)
    return True



SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plans (
    plan_id TEXT PRIMARY KEY,
    symbol TEXT NOT NULL,
    direction TEXT NOT NULL,
    status TEXT NOT NULL,
    net_position TEXT NOT NULL,
    avg_entry_price TEXT NOT NULL,
    realized_pnl TEXT NOT NULL,
    version INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS plans_status ON plans(status);
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    role TEXT NOT NULL,
    side TEXT NOT NULL,
    type TEXT NOT NULL,
    quantity TEXT NOT NULL,
    price TEXT,
    stop_price TEXT,
    status TEXT NOT NULL,
    filled_quantity TEXT NOT NULL,
    client_order_id TEXT UNIQUE,
    time_in_force TEXT,
    reduce_only INTEGER NOT NULL,
    group_id TEXT,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS orders_plan ON orders(plan_id);
CREATE INDEX IF NOT EXISTS orders_status ON orders(status);
CREATE TABLE IF NOT EXISTS exec_groups (
    group_id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    directive_id TEXT NOT NULL,
    status TEXT NOT NULL,
    order_ids TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS groups_plan ON exec_groups(plan_id);
CREATE TABLE IF NOT EXISTS fills (
    fill_id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    order_id TEXT NOT NULL,
    side TEXT NOT NULL,
    price TEXT NOT NULL,
    quantity TEXT NOT NULL,
    fee TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fills_plan ON fills(plan_id);
CREATE TABLE IF NOT EXISTS fill_pnl (
    fill_id TEXT PRIMARY KEY,
    plan_id TEXT NOT NULL,
    time REAL NOT NULL,
    realized TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fill_pnl_plan ON fill_pnl(plan_id, time);
CREATE TABLE IF NOT EXISTS markets (
    symbol TEXT PRIMARY KEY,
    mark_price TEXT NOT NULL,
    tick_size TEXT NOT NULL,
    step_size TEXT NOT NULL,
    min_notional TEXT NOT NULL,
    venue TEXT
);
CREATE TABLE IF NOT EXISTS inflight (
    client_order_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    sent_at REAL NOT NULL,
    absent_after REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sent_directives (
    directive_id TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    time TEXT NOT NULL
);
"""

PLAN_COLS = "plan_id, symbol, direction, status, net_position, avg_entry_price, realized_pnl, version"
ORDER_COLS = (
    "order_id, plan_id, role, side, type, quantity, price, stop_price, status, filled_quantity, "
    "client_order_id, time_in_force, reduce_only, group_id, reason"
)
GROUP_COLS = "group_id, plan_id, directive_id, status, order_ids"
FILL_COLS = "fill_id, plan_id, order_id, side, price, quantity, fee, time"
MARKET_COLS = "symbol, mark_price, tick_size, step_size, min_notional, venue"

#: Columns added to a table after schema version 1: (table, column, declaration). A ledger file made before a
#: column existed gets it on open (``ALTER TABLE ... ADD COLUMN``, NULL in the old rows, which read as before).
ADDED_COLUMNS = (("markets", "venue", "TEXT"),)

_M = TypeVar("_M", bound=BaseModel)

# Enum lookups by value: a dict hit is several times cheaper than calling the Enum class.
_SIDE = {e.value: e for e in Side}
_ROLE = {e.value: e for e in OrderRole}
_TYPE = {e.value: e for e in OrderType}
_STATUS = {e.value: e for e in OrderStatus}
_TIF = {e.value: e for e in TimeInForce}
_PLAN_STATUS = {e.value: e for e in PlanStatus}
_GROUP_STATUS = {e.value: e for e in GroupStatus}
_DESK = {e.value: e for e in DeskStatus}


_new = object.__new__


def trusted(cls: type[_M], data: dict[str, Any]) -> _M:
    """Build a model from data that was validated when it was written (all fields present, right types).

    This is what ``model_construct`` does, minus its per-field default handling, which is most of its cost."""
    obj: _M = _new(cls)
    set_dict(obj, data)
    set_fields_set(obj, set(data))
    set_extra(obj, None)
    set_private(obj, None)
    return obj


def enc(d: Decimal) -> str:
    return str(d)


def enc_opt(d: Decimal | None) -> str | None:
    return None if d is None else str(d)


def dec_opt(s: str | None) -> Decimal | None:
    return None if s is None else Decimal(s)


def desk_status(value: str) -> DeskStatus:
    return _DESK[value]


def plan_status(value: str) -> PlanStatus:
    return _PLAN_STATUS[value]


def order_status(value: str) -> OrderStatus:
    return _STATUS[value]


def order_params(plan_id: str, o: Order) -> tuple[Any, ...]:
    return (
        o.order_id,
        plan_id,
        o.role.value,
        o.side.value,
        o.type.value,
        enc(o.quantity),
        enc_opt(o.price),
        enc_opt(o.stop_price),
        o.status.value,
        enc(o.filled_quantity),
        o.client_order_id,
        None if o.time_in_force is None else o.time_in_force.value,
        1 if o.reduce_only else 0,
        o.group_id,
        o.reason,
    )


def order_from_row(r: sqlite3.Row | tuple[Any, ...]) -> Order:
    """Row in ORDER_COLS order -> Order (plan_id, r[1], is not part of the model)."""
    return trusted(Order, order_dict(r))


def order_dict(r: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    """Row in ORDER_COLS order -> the field values of an Order."""
    return {
        "order_id": r[0],
        "role": _ROLE[r[2]],
        "side": _SIDE[r[3]],
        "type": _TYPE[r[4]],
        "quantity": Decimal(r[5]),
        "price": None if r[6] is None else Decimal(r[6]),
        "stop_price": None if r[7] is None else Decimal(r[7]),
        "status": _STATUS[r[8]],
        "filled_quantity": Decimal(r[9]),
        "client_order_id": r[10],
        "time_in_force": None if r[11] is None else _TIF[r[11]],
        "reduce_only": bool(r[12]),
        "group_id": r[13],
        "reason": r[14],
    }


def plan_params(p: TradePlan) -> tuple[Any, ...]:
    return (
        p.plan_id,
        p.symbol,
        p.direction.value,
        p.status.value,
        enc(p.net_position),
        enc(p.avg_entry_price),
        enc(p.realized_pnl),
        p.version,
    )


def plan_from_row(
    r: sqlite3.Row | tuple[Any, ...],
    orders: list[Order] | None = None,
    groups: list[ExecutionGroup] | None = None,
    fills: list[Fill] | None = None,
) -> TradePlan:
    return trusted(
        TradePlan,
        {
            "plan_id": r[0],
            "symbol": r[1],
            "direction": _SIDE[r[2]],
            "status": _PLAN_STATUS[r[3]],
            "net_position": Decimal(r[4]),
            "avg_entry_price": Decimal(r[5]),
            "realized_pnl": Decimal(r[6]),
            "version": r[7],
            "orders": [] if orders is None else orders,
            "groups": [] if groups is None else groups,
            "fills": [] if fills is None else fills,
        },
    )


def order_of(data: dict[str, Any]) -> Order:
    """A new Order from cached field values (copied: every value is immutable)."""
    return trusted(Order, data.copy())


def group_of(data: dict[str, Any]) -> ExecutionGroup:
    """A new ExecutionGroup from cached field values (order_ids copied too)."""
    new = data.copy()
    new["order_ids"] = list(data["order_ids"])
    return trusted(ExecutionGroup, new)


def group_params(plan_id: str, g: ExecutionGroup) -> tuple[Any, ...]:
    return (g.group_id, plan_id, g.directive_id, g.status.value, json.dumps(g.order_ids) if g.order_ids else "[]")


def group_from_row(r: sqlite3.Row | tuple[Any, ...]) -> ExecutionGroup:
    return trusted(ExecutionGroup, group_dict(r))


def group_dict(r: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    return {"group_id": r[0], "directive_id": r[2], "status": _GROUP_STATUS[r[3]], "order_ids": json.loads(r[4])}


def fill_params(plan_id: str, f: Fill) -> tuple[Any, ...]:
    return (f.fill_id, plan_id, f.order_id, f.side.value, enc(f.price), enc(f.quantity), enc(f.fee), f.time)


def fill_ts(text: str) -> float:
    """A fill's time (ISO 8601, as stored) in seconds since the epoch; now when it is empty or unreadable."""
    if text:
        try:
            when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            pass
        else:
            return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    return time.time()


def fill_from_row(r: sqlite3.Row | tuple[Any, ...]) -> Fill:
    return trusted(
        Fill,
        {
            "fill_id": r[0],
            "order_id": r[2],
            "side": _SIDE[r[3]],
            "price": Decimal(r[4]),
            "quantity": Decimal(r[5]),
            "fee": Decimal(r[6]),
            "time": r[7],
        },
    )


#: The venue facts of a MarketRules the ledger keeps (column ``markets.venue``, JSON): symbol status, filters,
#: assets and the account's short-selling setting, which change rarely and are refreshed with the rules. The
#: balances (free_/locked_ base and quote) are left out on purpose: they change with every fill and every order
#: placed or cancelled, anywhere on the account, so a stored copy goes stale at once and the preview would give
#: false insufficient-balance errors (or miss real ones) from it. The rules say to leave them out rather than keep
#: them stale; whoever holds a live account view passes them to the preview directly.
STORED_VENUE_FIELDS = frozenset(VENUE_FIELDS) - {"free_base", "locked_base", "free_quote", "locked_quote"}
_VENUE_INCLUDE = set(STORED_VENUE_FIELDS)
#: venue JSON text -> its validated field values (a handful of distinct texts; read on every markets() call)
_venue_cache: dict[str, dict[str, Any]] = {}


def venue_text(m: MarketRules) -> str | None:
    """The stored venue facts of the rules as JSON, or None when there are none (the row then reads as the four
    contract columns alone)."""
    if not any(m.__dict__.get(name) is not None for name in STORED_VENUE_FIELDS):
        return None
    data = m.model_dump(mode="json", include=_VENUE_INCLUDE, exclude_none=True)
    return json.dumps(data, sort_keys=True, separators=(",", ":")) if data else None


def venue_fields(text: str) -> dict[str, Any]:
    """The validated venue field values stored as ``text`` (cached: validated once per distinct text)."""
    hit = _venue_cache.get(text)
    if hit is None:
        try:
            raw = json.loads(text)
            if not isinstance(raw, dict) or not set(raw) <= STORED_VENUE_FIELDS:
                raise ValueError(f"unexpected venue facts {sorted(raw) if isinstance(raw, dict) else raw!r}")
            probe = MarketRules.model_validate({"mark_price": 1, "tick_size": 1, "step_size": 1, **raw})
        except ValueError as exc:  # json.JSONDecodeError and pydantic's ValidationError are ValueErrors
            raise LedgerError(f"ledger markets row has unreadable venue facts {text!r}: {exc}") from None
        hit = {name: getattr(probe, name) for name in raw}
        if len(_venue_cache) < 1024:
            _venue_cache[text] = hit
    return hit


def market_params(symbol: str, m: MarketRules) -> tuple[Any, ...]:
    """Row in MARKET_COLS order."""
    return (symbol, enc(m.mark_price), enc(m.tick_size), enc(m.step_size), enc(m.min_notional), venue_text(m))


def market_from_row(r: sqlite3.Row | tuple[Any, ...]) -> MarketRules:
    """Row in MARKET_COLS order (a row of the four contract columns alone, without ``venue``, reads too)."""
    data: dict[str, Any] = {
        "mark_price": Decimal(r[1]),
        "tick_size": Decimal(r[2]),
        "step_size": Decimal(r[3]),
        "min_notional": Decimal(r[4]),
    }
    if len(r) > 5 and r[5] is not None:
        data.update(venue_fields(r[5]))
    return trusted(MarketRules, data)


def limits_to_text(limits: RiskLimits) -> str:
    return json.dumps(
        {
            "max_position": {k: enc(v) for k, v in limits.max_position.items()},
            "max_order_notional": enc_opt(limits.max_order_notional),
            "max_price_deviation": enc_opt(limits.max_price_deviation),
        }
    )


def limits_from_text(text: str | None) -> RiskLimits:
    if text is None:
        return RiskLimits()
    raw = json.loads(text)
    return trusted(
        RiskLimits,
        {
            "max_position": {k: Decimal(v) for k, v in raw["max_position"].items()},
            "max_order_notional": dec_opt(raw["max_order_notional"]),
            "max_price_deviation": dec_opt(raw["max_price_deviation"]),
        },
    )
