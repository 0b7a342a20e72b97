"""StrategyLedger: the single source of truth for plans, groups, orders, fills, markets, desk state, risk limits and
the directive ids already sent. SQLite (stdlib sqlite3, WAL); reads live in core.ledger_base.

Every write that changes a plan, or one of its orders, groups or fills, bumps that plan's ``version`` by exactly one
in the same transaction; ``set_mark`` and market/desk/limit writes never do.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from pydantic import ValidationError

from core.ledger_base import _OPEN_IN, LedgerError
from core.ledger_bulk import LedgerBulk
from core.ledger_math import Position, apply_fill_to_position
from core.ledger_owner import process_owner
from core.ledger_schema import (
    MARKET_COLS,
    ORDER_COLS,
    PLAN_COLS,
    enc,
    enc_opt,
    fill_params,
    fill_ts,
    group_params,
    limits_to_text,
    market_params,
    order_from_row,
    order_params,
    plan_params,
    plan_status,
)
from core.models import (
    ExecutionGroup,
    Fill,
    GroupStatus,
    LedgerState,
    Order,
    OrderStatus,
    PlanStatus,
    Side,
    TradePlan,
    can_transition,
    transition,
)

__all__ = ["DEFAULT_ABSENCE_WINDOW", "Ledger", "LedgerError"]

#: Seconds after a create request during which "not found at the venue" is no proof of absence: Binance's default
#: receive window (5 s: a request older than its timestamp + recvWindow is refused) plus a margin for clock skew.
DEFAULT_ABSENCE_WINDOW = 6.0
#: A send this much later than the recorded proof-of-absence time allows for is written down again.
SENDING_SLACK = 0.25

_UPDATE_ORDER = (
    "UPDATE orders SET quantity = ?, price = ?, stop_price = ?, status = ?, filled_quantity = ?, "
    "client_order_id = ?, reason = ? WHERE order_id = ?"
)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(x) for x in err["loc"])
    return f"{loc}: {err['msg']}" if loc else str(err["msg"])


class Ledger(LedgerBulk):
    """See the module doc. Thread-safe; open ``":memory:"`` for a throwaway ledger."""

    # -- helpers (inside a transaction) ---------------------------------------------------------------------------

    @staticmethod
    def _bump(c: sqlite3.Connection, plan_id: str) -> None:
        c.execute("UPDATE plans SET version = version + 1 WHERE plan_id = ?", (plan_id,))

    @staticmethod
    def _plan_row(c: sqlite3.Connection, plan_id: str, action: str) -> tuple[str, ...]:
        row = c.execute(f"SELECT {PLAN_COLS} FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
        if row is None:
            raise LedgerError(f"{action}: unknown plan {plan_id}")
        return tuple(row)

    @staticmethod
    def _order_row(c: sqlite3.Connection, order_id: str, action: str) -> tuple[str, Order]:
        row = c.execute(f"SELECT {ORDER_COLS} FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            raise LedgerError(f"{action}: unknown order {order_id}")
        return row[1], order_from_row(row)

    @staticmethod
    def _plan_of(c: sqlite3.Connection, order_id: str) -> str:
        row = c.execute("SELECT plan_id FROM orders WHERE order_id = ?", (order_id,)).fetchone()
        if row is None:
            raise LedgerError(f"apply_fill: unknown order {order_id}")
        return str(row[0])

    @staticmethod
    def _has_open_orders(c: sqlite3.Connection, plan_id: str) -> bool:
        sql = f"SELECT 1 FROM orders WHERE plan_id = ? AND status IN {_OPEN_IN} LIMIT 1"
        return c.execute(sql, (plan_id,)).fetchone() is not None

    def _plan(self, plan_id: str) -> TradePlan:
        plan = self.get_plan(plan_id)
        if plan is None:  # pragma: no cover - callers checked inside the same transaction
            raise LedgerError(f"unknown plan {plan_id}")
        return plan

    # -- snapshot -------------------------------------------------------------------------------------------------

    def import_snapshot(self, state: LedgerState) -> None:
        """Replace plans, orders, groups, fills, markets, desk and limits with the snapshot (journal and the
        sent-directive record are kept). Versions are taken from the snapshot."""
        problems = state.import_errors(ids=False)
        if problems:
            raise LedgerError("snapshot refused: " + "; ".join(problems))
        with self._tx() as c:
            for table in ("plans", "orders", "exec_groups", "fills", "fill_pnl", "markets", "inflight"):
                c.execute(f"DELETE FROM {table}")
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('epoch', ?)", (uuid.uuid4().hex,))
            c.executemany("INSERT INTO plans VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [plan_params(p) for p in state.plans])
            c.executemany(
                f"INSERT INTO orders ({ORDER_COLS}) VALUES ({', '.join('?' * 15)})",
                [order_params(p.plan_id, o) for p in state.plans for o in p.orders],
            )
            c.executemany(
                "INSERT INTO exec_groups VALUES (?, ?, ?, ?, ?)",
                [group_params(p.plan_id, g) for p in state.plans for g in p.groups],
            )
            c.executemany(
                "INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [fill_params(p.plan_id, f) for p in state.plans for f in p.fills],
            )
            c.executemany(
                f"INSERT INTO markets ({MARKET_COLS}) VALUES (?, ?, ?, ?, ?, ?)",
                [market_params(s, m) for s, m in state.markets.items()],
            )
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('desk', ?)", (state.desk.state.value,))
            c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('limits', ?)", (limits_to_text(state.limits),))

    # -- plans and groups -----------------------------------------------------------------------------------------

    def create_plan(self, plan_id: str, symbol: str, direction: Side) -> TradePlan:
        """A new ACTIVE, flat plan at version 1. LedgerError if the id exists."""
        try:
            plan = TradePlan(plan_id=plan_id, symbol=symbol, direction=direction)
        except ValidationError as exc:
            raise LedgerError(f"create_plan {plan_id!r}: {_first_error(exc)}") from None
        with self._tx() as c:
            if c.execute("SELECT 1 FROM plans WHERE plan_id = ?", (plan_id,)).fetchone():
                raise LedgerError(f"create_plan: plan {plan_id} already exists")
            c.execute("INSERT INTO plans VALUES (?, ?, ?, ?, ?, ?, ?, ?)", plan_params(plan))
        return plan

    def add_group(self, plan_id: str, group: ExecutionGroup) -> None:
        """Record a new execution group of the plan (refused, writing nothing, if the plan is unknown or the group
        id exists). Two statements: the insert checks the plan, the key the group id."""
        with self._tx() as c:
            try:
                added = c.execute(
                    "INSERT INTO exec_groups SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM plans WHERE plan_id = ?)",
                    (*group_params(plan_id, group), plan_id),
                ).rowcount
            except sqlite3.IntegrityError:
                raise LedgerError(f"add_group: group {group.group_id} already exists") from None
            if not added:
                raise LedgerError(f"add_group: unknown plan {plan_id}")
            self._bump(c, plan_id)

    def set_group_status(self, group_id: str, status: GroupStatus) -> None:
        new = GroupStatus(status).value
        with self._tx() as c:
            row = c.execute("UPDATE exec_groups SET status = ? WHERE group_id = ? AND status != ? RETURNING plan_id",
                            (new, group_id, new)).fetchone()
            if row is not None:
                self._bump(c, row[0])
            elif c.execute("SELECT 1 FROM exec_groups WHERE group_id = ?", (group_id,)).fetchone() is None:
                raise LedgerError(f"set_group_status: unknown group {group_id}")

    def finish_group(self, plan_id: str, group_id: str, status: GroupStatus) -> bool:
        """``set_group_status(group_id, status)`` then ``close_if_flat(plan_id)`` in one write (each with its own
        version bump, as the two calls): two statements when the plan is already closed (a flatten's last fill
        closed it). True when the plan is CLOSED after the call."""
        new = GroupStatus(status).value
        with self._tx() as c:
            row = c.execute("UPDATE exec_groups SET status = ? WHERE group_id = ? AND status != ? RETURNING plan_id",
                            (new, group_id, new)).fetchone()
            if row is None:
                if c.execute("SELECT 1 FROM exec_groups WHERE group_id = ?", (group_id,)).fetchone() is None:
                    raise LedgerError(f"set_group_status: unknown group {group_id}")
            elif row[0] != plan_id:
                self._bump(c, row[0])
                row = None
            if row is not None:
                plan = c.execute("UPDATE plans SET version = version + 1 WHERE plan_id = ? RETURNING status, "
                                 "net_position", (plan_id,)).fetchone()
            else:
                plan = c.execute("SELECT status, net_position FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()
            if plan is None:
                raise LedgerError(f"close_if_flat: unknown plan {plan_id}")
            if plan_status(plan[0]) is PlanStatus.CLOSED:
                return True
            if Decimal(plan[1]) != 0 or self._has_open_orders(c, plan_id):
                return False
            c.execute("UPDATE plans SET status = ?, version = version + 1 WHERE plan_id = ?",
                      (PlanStatus.CLOSED.value, plan_id))
            return True

    def close_if_flat(self, plan_id: str) -> bool:
        """Close the plan if it is flat and has no open order. True when the plan is CLOSED after the call. A plan
        that stays as it is is only read (no write transaction: every final order update of the event stream asks)."""
        with self._read() as c:
            kept = self._kept_open(c, plan_id)
        if kept is not None:
            return kept
        with self._tx() as c:
            kept = self._kept_open(c, plan_id)  # again inside the write transaction
            if kept is not None:
                return kept
            c.execute(
                "UPDATE plans SET status = ?, version = version + 1 WHERE plan_id = ?",
                (PlanStatus.CLOSED.value, plan_id),
            )
            return True

    def _kept_open(self, c: sqlite3.Connection, plan_id: str) -> bool | None:
        """close_if_flat's answer when there is nothing to write (True: CLOSED already; False: a position or an
        open order keeps it open); None when the plan is to be closed."""
        row = self._plan_row(c, plan_id, "close_if_flat")
        if plan_status(row[3]) is PlanStatus.CLOSED:
            return True
        if Decimal(row[4]) != 0 or self._has_open_orders(c, plan_id):
            return False
        return None

    def reopen(self, plan_id: str) -> None:
        """CLOSED -> ACTIVE (a new entry on a closed plan). No-op on an ACTIVE plan."""
        with self._tx() as c:
            row = self._plan_row(c, plan_id, "reopen")
            if plan_status(row[3]) is PlanStatus.CLOSED:
                c.execute(
                    "UPDATE plans SET status = ?, version = version + 1 WHERE plan_id = ?",
                    (PlanStatus.ACTIVE.value, plan_id),
                )

    # -- orders ---------------------------------------------------------------------------------------------------

    def write_ahead(self, plan_id: str, order: Order, *, absence_window: float = DEFAULT_ABSENCE_WINDOW) -> None:
        """Record a new order BEFORE it is sent. Refuses a known order_id or client_order_id; appends the order to
        its group's order_ids when ``order.group_id`` is set (the group must belong to the plan).

        With the order, in the same commit: its owner (this process's lease, see core.ledger_owner) and the time
        after which "not found at the venue" proves it absent (now + `absence_window`, the venue's receive window
        plus a margin), so whichever process recovers it honours the same wait."""
        with self._tx() as c:
            # every check in one statement, before anything is written (a refusal writes nothing)
            known, dup_id, coid_user, group_plan = c.execute(
                "SELECT (SELECT 1 FROM plans WHERE plan_id = ?), (SELECT 1 FROM orders WHERE order_id = ?), "
                "(SELECT order_id FROM orders WHERE client_order_id = ?), "
                "(SELECT plan_id FROM exec_groups WHERE group_id = ?)",
                (plan_id, order.order_id, order.client_order_id, order.group_id),
            ).fetchone()
            if known is None:
                raise LedgerError(f"write_ahead: unknown plan {plan_id}")
            if dup_id is not None:
                raise LedgerError(f"write_ahead: order {order.order_id} already exists")
            if coid_user is not None:
                raise LedgerError(
                    f"write_ahead: client_order_id {order.client_order_id} is already used by order {coid_user}"
                )
            if order.group_id is not None:
                if group_plan is None:
                    raise LedgerError(f"write_ahead: unknown group {order.group_id} (add_group first)")
                if group_plan != plan_id:
                    raise LedgerError(
                        f"write_ahead: group {order.group_id} belongs to plan {group_plan}, not {plan_id}")
                c.execute("UPDATE exec_groups SET order_ids = json_insert(order_ids, '$[#]', ?) WHERE group_id = ?",
                          (order.order_id, order.group_id))
            c.execute(f"INSERT INTO orders ({ORDER_COLS}) VALUES ({', '.join('?' * 15)})", order_params(plan_id, order))
            if order.client_order_id is not None:
                now = time.time()
                due = now + max(0.0, absence_window)
                c.execute("INSERT OR REPLACE INTO inflight (client_order_id, owner, sent_at, absent_after) "
                          "VALUES (?, ?, ?, ?)", (order.client_order_id, process_owner(self.path), now, due))
                self._absent_after[order.client_order_id] = due
            self._bump(c, plan_id)

    def sending(self, client_order_id: str, absence_window: float = DEFAULT_ABSENCE_WINDOW) -> None:
        """The request for this order goes now (a retry, or the first send after waiting for a slot): push its
        proof-of-absence time to now + `absence_window`. Written only when that is later than the recorded time by
        more than SENDING_SLACK (so the usual send right after the write-ahead costs no commit)."""
        if not self.sending_due(client_order_id, absence_window):
            return
        now = time.time()
        due = now + max(0.0, absence_window)
        with self._tx() as c:
            c.execute("UPDATE inflight SET owner = ?, sent_at = ?, absent_after = MAX(absent_after, ?) "
                      "WHERE client_order_id = ?", (process_owner(self.path), now, due, client_order_id))
        self._absent_after[client_order_id] = due

    def sending_due(self, client_order_id: str, absence_window: float = DEFAULT_ABSENCE_WINDOW) -> bool:
        """Whether a request for this order going now must first push its proof-of-absence time (see sending).
        Never with no receive window (an in-process venue): its request cannot execute once its process is gone,
        so its absence time is its write-ahead time."""
        if absence_window <= 0:
            return False
        due = time.time() + absence_window
        return due > self._absent_after.get(client_order_id, 0.0) + SENDING_SLACK

    def inflight(self, client_order_ids: list[str]) -> dict[str, tuple[str, float]]:
        """Owner and proof-of-absence time of orders written ahead: client order id -> (owner, absent_after)."""
        with self._read() as c:
            rows = c.execute("SELECT client_order_id, owner, absent_after FROM inflight WHERE client_order_id"
                             " IN (SELECT value FROM json_each(?))", (json.dumps(client_order_ids),)).fetchall()
        return {r[0]: (r[1], float(r[2])) for r in rows}

    def update_order(
        self,
        order_id: str,
        *,
        status: OrderStatus | None = None,
        filled_quantity: Decimal | None = None,
        quantity: Decimal | None = None,
        price: Decimal | None = None,
        stop_price: Decimal | None = None,
        reason: str | None = None,
        client_order_id: str | None = None,
    ) -> Order:
        """Change an order. Status moves through core.models.transition() (InvalidTransition is raised as is; the
        same status is a no-op). Returns the order as stored. No change -> no write, no version bump."""
        with self._tx() as c:
            plan_id, old = self._order_row(c, order_id, "update_order")
            changes: dict[str, object] = {}
            if status is not None:
                changes["status"] = transition(old.status, OrderStatus(status))
            for name, value in (
                ("filled_quantity", filled_quantity),
                ("quantity", quantity),
                ("price", price),
                ("stop_price", stop_price),
                ("reason", reason),
                ("client_order_id", client_order_id),
            ):
                if value is not None:
                    changes[name] = value
            if changes.keys() <= {"status", "reason"} and isinstance(changes.get("reason", ""), str):
                # neither field takes part in any validation: a copy is the validated order
                new = old.model_copy(update=changes)
            else:
                try:
                    new = Order.model_validate({**old.model_dump(), **changes})
                except ValidationError as exc:
                    raise LedgerError(f"update_order {order_id}: {_first_error(exc)}") from None
            if new == old:
                return old
            if new.client_order_id != old.client_order_id:
                row = c.execute(
                    "SELECT order_id FROM orders WHERE client_order_id = ?", (new.client_order_id,)
                ).fetchone()
                if row is not None:
                    raise LedgerError(
                        f"update_order {order_id}: client_order_id {new.client_order_id} is already used by "
                        f"order {row[0]}"
                    )
            self._write_order(c, new)
            self._bump(c, plan_id)
            return new

    @staticmethod
    def _write_order(c: sqlite3.Connection, o: Order) -> None:
        c.execute(
            _UPDATE_ORDER,
            (
                enc(o.quantity),
                enc_opt(o.price),
                enc_opt(o.stop_price),
                o.status.value,
                enc(o.filled_quantity),
                o.client_order_id,
                o.reason,
                o.order_id,
            ),
        )

    # -- fills ----------------------------------------------------------------------------------------------------

    def apply_fill(self, order_id: str, fill: Fill) -> TradePlan:
        """Record a fill (idempotent on fill_id) and its effect on the order and the plan; close the plan if it is
        now flat without open orders. One transaction, one version bump.

        The venue is the truth: a fill on an order already in a final state (a cancel that lost the race) is still
        recorded and moves the position, the order keeps its final status; a fill beyond the order's quantity
        raises the quantity to what was filled; a position pushed past zero is kept as it is."""
        self._check_fill(fill)
        with self._tx():
            plan_id, _order = self._apply_fill(order_id, fill)
            return self._plan(plan_id)

    @staticmethod
    def _check_fill(fill: Fill) -> None:
        if fill.quantity <= 0 or fill.price <= 0:
            raise LedgerError(f"apply_fill {fill.fill_id}: quantity and price must be greater than 0")

    def record_fill(self, order_id: str, fill: Fill, *, order: Order | None = None, plan_id: str | None = None,
                    status: OrderStatus | None = None, reason: str | None = None) -> Order | None:
        """``apply_fill`` returning only the order as stored after it (no reload of the whole plan). A fill already
        recorded (same fill_id) changes nothing and returns the order as it is (None if there is no such order).

        `order` (and its `plan_id`): the order as the caller has just read it in the same transaction (saves a
        read). `status`: the
        status the venue reports with the fill; the order takes it after the fill if the transition table allows it
        (with `reason`), in the same write: one order write, one plan write, one version bump."""
        self._check_fill(fill)
        with self._tx():
            return self._apply_fill(order_id, fill, order, status, reason, plan_id)[1]

    def _apply_fill(self, order_id: str, fill: Fill, current: Order | None = None,
                    status: OrderStatus | None = None, reason: str | None = None,
                    current_plan: str | None = None) -> tuple[str, Order | None]:
        """apply_fill's work, inside the caller's transaction: (plan id, the order as stored after the fill).

        Five statements for a new fill on an order the caller has read: the fill (its key says whether it is new),
        the order, the plan row with whether another order of the plan is open, the P&L record, the plan."""
        with self._tx() as c:
            if current is None or current.order_id != order_id:
                row = c.execute(f"SELECT {ORDER_COLS} FROM orders WHERE order_id = ?", (order_id,)).fetchone()
                if row is None:
                    known = c.execute("SELECT plan_id FROM fills WHERE fill_id = ?", (fill.fill_id,)).fetchone()
                    if known is not None:
                        return known[0], None
                    raise LedgerError(f"apply_fill: unknown order {order_id}")
                plan_id, order = row[1], order_from_row(row)
            else:
                plan_id, order = current_plan or self._plan_of(c, order_id), current
            if fill.side is not order.side:
                known = c.execute("SELECT plan_id FROM fills WHERE fill_id = ?", (fill.fill_id,)).fetchone()
                if known is not None:
                    return known[0], self._order_row(c, order_id, "apply_fill")[1]
                raise LedgerError(
                    f"apply_fill {fill.fill_id}: fill side {fill.side} does not match the side {order.side} "
                    f"of order {order_id}"
                )
            if fill.order_id != order_id:
                fill = fill.model_copy(update={"order_id": order_id})
            # the fill first: a fill id already recorded changes nothing (and nothing was written)
            if not c.execute("INSERT OR IGNORE INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                             fill_params(plan_id, fill)).rowcount:
                known = c.execute("SELECT plan_id FROM fills WHERE fill_id = ?", (fill.fill_id,)).fetchone()
                row = c.execute(f"SELECT {ORDER_COLS} FROM orders WHERE order_id = ?", (order_id,)).fetchone()
                return known[0], None if row is None else order_from_row(row)
            filled = order.filled_quantity + fill.quantity
            qty = max(order.quantity, filled)
            new_status = order.status
            if not order.status.is_final:
                target = OrderStatus.FILLED if filled >= qty else OrderStatus.PARTIALLY_FILLED
                new_status = transition(order.status, target)
            update: dict[str, object] = {"filled_quantity": filled, "quantity": qty, "status": new_status}
            if status is not None and status is not new_status and can_transition(new_status, status):
                update["status"] = status
                if reason is not None:
                    update["reason"] = reason
            after = order.model_copy(update=update)
            self._write_order(c, after)
            row = c.execute(f"SELECT {PLAN_COLS}, EXISTS (SELECT 1 FROM orders WHERE plan_id = ? AND status IN "
                            f"{_OPEN_IN} AND order_id != ?) FROM plans WHERE plan_id = ?",
                            (plan_id, order_id, plan_id)).fetchone()
            if row is None:
                raise LedgerError(f"apply_fill: unknown plan {plan_id}")
            before = Position(Decimal(row[4]), Decimal(row[5]), Decimal(row[6]))
            pos = apply_fill_to_position(before, fill.side, fill.quantity, fill.price, fill.fee)
            c.execute("INSERT OR REPLACE INTO fill_pnl (fill_id, plan_id, time, realized) VALUES (?, ?, ?, ?)",
                      (fill.fill_id, plan_id, fill_ts(fill.time), enc(pos.realized - before.realized)))
            flat_and_idle = pos.net == 0 and not row[8] and not after.status.is_open
            plan_st = PlanStatus.CLOSED if flat_and_idle else PlanStatus.ACTIVE if pos.net != 0 else plan_status(row[3])
            c.execute(
                "UPDATE plans SET net_position = ?, avg_entry_price = ?, realized_pnl = ?, status = ?, "
                "version = version + 1 WHERE plan_id = ?",
                (enc(pos.net), enc(pos.avg), enc(pos.realized), plan_st.value, plan_id),
            )
            return plan_id, after

    # -- directives already sent ----------------------------------------------------------------------------------

    def mark_sent(self, directive_id: str, digest: str) -> None:
        """Atomically claim a directive id for sending. LedgerError if it was already claimed."""
        with self._tx() as c:
            try:
                c.execute(
                    "INSERT INTO sent_directives (directive_id, digest, time) VALUES (?, ?, ?)",
                    (directive_id, digest, datetime.now(UTC).isoformat()),
                )
            except sqlite3.IntegrityError:
                raise LedgerError(f"directive {directive_id} was already sent; it is never sent twice") from None

