"""Realised P&L reads of the StrategyLedger, and the fee that becomes known after its fill.

Every fill the ledger applies records, in the same transaction, what it changed in its plan's realised P&L (fees
included) and when (table ``fill_pnl``). So the realised P&L of a plan since a moment ("today") is one sum, and the
sum over all of a plan's fills equals its ``realized_pnl`` (for fills applied by this ledger; fills imported with a
snapshot are history and carry no such record).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from core.ledger_base import LedgerBase
from core.ledger_math import fit
from core.ledger_schema import enc

_IN = " IN (SELECT value FROM json_each(?))"


class LedgerPnl(LedgerBase):
    def realized(self, plan_ids: Iterable[str] | None = None) -> dict[str, Decimal]:
        """Realised P&L per plan (after fees, in quote), all plans when `plan_ids` is None."""
        with self._read() as c:
            if plan_ids is None:
                rows = c.execute("SELECT plan_id, realized_pnl FROM plans ORDER BY rowid").fetchall()
            else:
                rows = c.execute("SELECT plan_id, realized_pnl FROM plans WHERE plan_id" + _IN + " ORDER BY rowid",
                                 (json.dumps(list(plan_ids)),)).fetchall()
        return {r[0]: Decimal(r[1]) for r in rows}

    def realized_since(self, ts: float | datetime, plan_ids: Iterable[str] | None = None) -> dict[str, Decimal]:
        """Realised P&L per plan of the fills at or after `ts` (seconds since the epoch, or an aware datetime),
        fees included: e.g. "today" with ts = the start of the day. Every plan asked for (all plans when None) is
        in the answer, 0 when it had no such fill."""
        when = ts.timestamp() if isinstance(ts, datetime) else float(ts)
        with self._read() as c:
            if plan_ids is None:
                ids = [r[0] for r in c.execute("SELECT plan_id FROM plans ORDER BY rowid")]
            else:
                ids = list(dict.fromkeys(plan_ids))
            rows = c.execute("SELECT plan_id, realized FROM fill_pnl WHERE time >= ? AND plan_id" + _IN,
                             (when, json.dumps(ids))).fetchall()
        out = {pid: Decimal(0) for pid in ids}
        for pid, value in rows:
            out[pid] += Decimal(value)
        return {pid: fit(v) for pid, v in out.items()}

    def fill_totals(self, plan_ids: Iterable[str]) -> dict[str, tuple[Decimal, Decimal]]:
        """Per order of these plans that has fills: (quantity filled, sum of price x quantity). One query, no
        models built."""
        out: dict[str, tuple[Decimal, Decimal]] = {}
        with self._read() as c:
            rows = c.execute("SELECT order_id, price, quantity FROM fills WHERE plan_id" + _IN,
                             (json.dumps(list(dict.fromkeys(plan_ids))),)).fetchall()
        for oid, price, qty in rows:
            q, n = out.get(oid, (Decimal(0), Decimal(0)))
            dq = Decimal(qty)
            out[oid] = (q + dq, n + dq * Decimal(price))
        return out

    def order_fill_totals(self, plan_id: str, order_id: str) -> tuple[Decimal, Decimal]:
        """(sum of price x quantity, sum of fees) of the fills recorded for one order of the plan."""
        with self._read() as c:
            rows = c.execute("SELECT price, quantity, fee FROM fills WHERE plan_id = ? AND order_id = ?",
                             (plan_id, order_id)).fetchall()
        notional = sum((Decimal(p) * Decimal(q) for p, q, _f in rows), Decimal(0))
        return notional, sum((Decimal(f) for _p, _q, f in rows), Decimal(0))

    def add_fee(self, plan_id: str, order_id: str, cumulative: Decimal) -> Decimal:
        """The venue now reports `cumulative` fee for the order, more than its recorded fills hold (a fill seen
        first through a snapshot without the commission): the difference is added to the order's latest fill, to
        the plan's realised P&L and to that fill's P&L record. Returns the difference (0: nothing to do)."""
        with self._tx() as c:
            rows = c.execute("SELECT fill_id, fee FROM fills WHERE plan_id = ? AND order_id = ? ORDER BY rowid",
                             (plan_id, order_id)).fetchall()
            if not rows:
                return Decimal(0)
            extra = cumulative - sum((Decimal(f) for _i, f in rows), Decimal(0))
            if extra <= 0:
                return Decimal(0)
            last_id, last_fee = rows[-1]
            c.execute("UPDATE fills SET fee = ? WHERE fill_id = ?", (enc(fit(Decimal(last_fee) + extra)), last_id))
            row = c.execute("SELECT realized FROM fill_pnl WHERE fill_id = ?", (last_id,)).fetchone()
            if row is not None:
                c.execute("UPDATE fill_pnl SET realized = ? WHERE fill_id = ?",
                          (enc(fit(Decimal(row[0]) - extra)), last_id))
            realized = c.execute("SELECT realized_pnl FROM plans WHERE plan_id = ?", (plan_id,)).fetchone()[0]
            c.execute("UPDATE plans SET realized_pnl = ?, version = version + 1 WHERE plan_id = ?",
                      (enc(fit(Decimal(realized) - extra)), plan_id))
            return extra
