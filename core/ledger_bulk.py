"""Bulk writes of the StrategyLedger: many orders in a few statements, for the flatten path (a cancel-all answer of
hundreds of orders, the internal fills of a netted flatten). Each call is one write: one version bump per plan."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal

from core.ledger_base import _OPEN_IN, LedgerError
from core.ledger_math import Position, apply_fill_to_position
from core.ledger_pnl import LedgerPnl
from core.ledger_schema import (
    ORDER_COLS,
    PLAN_COLS,
    enc,
    fill_params,
    fill_ts,
    group_params,
    order_params,
    plan_status,
)
from core.models import ExecutionGroup, Fill, Order, OrderStatus, PlanStatus


class LedgerBulk(LedgerPnl):
    def cancel_orders(self, orders: list[tuple[str, str, str | None]]) -> None:
        """Mark orders CANCELLED in bulk: (plan_id, order_id, reason or None to keep it) each, every one open
        (the caller checked the transition on what it has just read). One version bump per plan."""
        if not orders:
            return
        with self._tx() as c:
            c.executemany("UPDATE orders SET status = ?, reason = COALESCE(?, reason) WHERE order_id = ?",
                          [(OrderStatus.CANCELLED.value, reason, oid) for _p, oid, reason in orders])
            c.executemany("UPDATE plans SET version = version + 1 WHERE plan_id = ?",
                          [(pid,) for pid in dict.fromkeys(p for p, _o, _r in orders)])

    def add_groups(self, items: list[tuple[str, ExecutionGroup]]) -> set[str]:
        """Record many plans' new execution groups, (plan_id, group) each, in a few statements. Returns the plan ids
        whose group is recorded now (added, or there already); a plan that is unknown is left out."""
        if not items:
            return set()
        with self._tx() as c:
            plan_ids = json.dumps([pid for pid, _g in items])
            known = {r[0] for r in c.execute("SELECT plan_id FROM plans WHERE plan_id IN "
                                             "(SELECT value FROM json_each(?))", (plan_ids,))}
            there = {r[0] for r in c.execute("SELECT group_id FROM exec_groups WHERE group_id IN "
                                             "(SELECT value FROM json_each(?))",
                                             (json.dumps([g.group_id for _p, g in items]),))}
            new = [(pid, g) for pid, g in dict((g.group_id, (pid, g)) for pid, g in items).values()
                   if pid in known and g.group_id not in there]
            c.executemany("INSERT INTO exec_groups VALUES (?, ?, ?, ?, ?)", [group_params(pid, g) for pid, g in new])
            c.executemany("UPDATE plans SET version = version + 1 WHERE plan_id = ?",
                          [(pid,) for pid in dict.fromkeys(pid for pid, _g in new)])
            recorded = there | {g.group_id for _p, g in new}
            return {pid for pid, g in items if pid in known and g.group_id in recorded}

    def internal_fills(self, items: list[tuple[str, Order, Fill]]) -> None:
        """Orders that never go to a venue, each filled at once by its one fill (a netted flatten's hand-overs):
        (plan_id, order, fill) each, applied in order. The same records as ``write_ahead`` then ``record_fill`` of
        each (the order FILLED, the fill, the position and P&L moved, a plan left flat without open orders
        CLOSED), in a few statements. A known order id, client order id or fill id refuses the whole call."""
        if not items:
            return
        with self._tx() as c:
            ids = list(dict.fromkeys(pid for pid, _o, _f in items))
            rows = {r[0]: r for r in c.execute(f"SELECT {PLAN_COLS} FROM plans WHERE plan_id IN "
                                               "(SELECT value FROM json_each(?))", (json.dumps(ids),))}
            pos: dict[str, Position] = {}
            for pid in ids:
                if pid not in rows:
                    raise LedgerError(f"internal_fills: unknown plan {pid}")
                r = rows[pid]
                pos[pid] = Position(Decimal(r[4]), Decimal(r[5]), Decimal(r[6]))
            order_rows, fill_rows, pnl_rows = [], [], []
            nets: list[tuple[str, Decimal]] = []
            for pid, order, fill in items:
                if fill.quantity <= 0 or fill.price <= 0 or fill.side is not order.side:
                    raise LedgerError(f"internal_fills {fill.fill_id}: quantity and price must be greater than 0 "
                                      "and the side the order's")
                before = pos[pid]
                pos[pid] = apply_fill_to_position(before, fill.side, fill.quantity, fill.price, fill.fee)
                nets.append((pid, pos[pid].net))
                done = order.model_copy(update={"status": OrderStatus.FILLED, "filled_quantity": fill.quantity,
                                                "quantity": max(order.quantity, fill.quantity)})
                order_rows.append(order_params(pid, done))
                f = fill if fill.order_id == order.order_id else fill.model_copy(update={"order_id": order.order_id})
                fill_rows.append(fill_params(pid, f))
                pnl_rows.append((f.fill_id, pid, fill_ts(f.time), enc(pos[pid].realized - before.realized)))
            try:
                c.executemany(f"INSERT INTO orders ({ORDER_COLS}) VALUES ({', '.join('?' * 15)})", order_rows)
                c.executemany("INSERT INTO fills VALUES (?, ?, ?, ?, ?, ?, ?, ?)", fill_rows)
                c.executemany("INSERT INTO fill_pnl (fill_id, plan_id, time, realized) VALUES (?, ?, ?, ?)", pnl_rows)
            except sqlite3.IntegrityError as exc:
                raise LedgerError(f"internal_fills: an order or fill is already recorded ({exc})") from None
            busy = {r[0] for r in c.execute(f"SELECT DISTINCT plan_id FROM orders WHERE status IN {_OPEN_IN} AND "
                                            "plan_id IN (SELECT value FROM json_each(?))", (json.dumps(ids),))}
            status = {pid: plan_status(rows[pid][3]) for pid in ids}
            for pid, net in nets:  # as record_fill would set it after each fill
                status[pid] = (PlanStatus.CLOSED if net == 0 and pid not in busy else PlanStatus.ACTIVE if net != 0
                               else status[pid])
            updates = [(enc(p.net), enc(p.avg), enc(p.realized), status[pid].value, pid) for pid, p in pos.items()]
            c.executemany("UPDATE plans SET net_position = ?, avg_entry_price = ?, realized_pnl = ?, status = ?, "
                          "version = version + 1 WHERE plan_id = ?", updates)
