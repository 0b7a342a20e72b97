"""Realised P&L for the exposure pane: per plan (after fees) and for the day, per quote currency.

`read_plan_pnl(ledger, since)` is the one place that reads it from the ledger: each plan's realised P&L after fees
(`Ledger.realized`), its fills' fees, and with `since` (UTC midnight) the day's realised P&L and fees from the
ledger's per-fill P&L record (`fill_pnl`, written with every fill the ledger applies). Without `since` (or for
a ledger without that record) "today" is counted from a baseline: what each plan had realised when the console
opened (or at UTC midnight, if the console ran through it). Pure bookkeeping apart from that one read; no
Textual."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from tui.bridge_view import quote_of

ZERO = Decimal(0)


@dataclass(frozen=True)
class PlanPnL:
    plan_id: str
    symbol: str
    realised: Decimal  # since the plan opened, after fees
    fees: Decimal  # of its fills, in quote (a rebate is negative)
    today: Decimal | None = None  # realised since the day's start, fees included (None: not read, use a baseline)
    fees_today: Decimal | None = None


def _dec(text: Any) -> Decimal:
    try:
        return Decimal(str(text))
    except (InvalidOperation, ValueError):
        return ZERO


def read_plan_pnl(ledger: Any, since: float | None = None) -> dict[str, PlanPnL]:
    """Every plan's realised P&L and fees, in a few indexed reads (no orders, no fill objects: a few ms at 2,000
    plans); with `since`, also each plan's realised P&L and fees of the fills at or after it. Runs on the bridge's
    read-only ledger connection, never on the UI thread."""
    realised = ledger.realized()
    with ledger._read() as c:  # read-only: symbols and fees (the ledger has no API for these two yet)
        symbols = dict(c.execute("SELECT plan_id, symbol FROM plans").fetchall())
        fee_rows = c.execute("SELECT plan_id, fee FROM fills WHERE fee NOT IN ('0', '')").fetchall()
        day_fees = [] if since is None else c.execute(
            "SELECT f.plan_id, f.fee FROM fills f JOIN fill_pnl p ON p.fill_id = f.fill_id "
            "WHERE p.time >= ? AND f.fee NOT IN ('0', '')", (since,)).fetchall()
    today = None if since is None else ledger.realized_since(since)
    fees: dict[str, Decimal] = {}
    for pid, fee in fee_rows:
        fees[pid] = fees.get(pid, ZERO) + _dec(fee)
    fees_today: dict[str, Decimal] = {}
    for pid, fee in day_fees:
        fees_today[pid] = fees_today.get(pid, ZERO) + _dec(fee)
    return {pid: PlanPnL(pid, symbols.get(pid, ""), r, fees.get(pid, ZERO),
                         None if today is None else today.get(pid, ZERO),
                         None if today is None else fees_today.get(pid, ZERO))
            for pid, r in realised.items()}


def day_start(now: float) -> float:
    """UTC midnight of `now`."""
    return float(int(now // 86400) * 86400)


@dataclass
class DayTotals:
    quote: str
    realised: Decimal = ZERO
    fees: Decimal = ZERO


class RealisedBook:
    """The latest per-plan figures and the baseline "today" is counted from (see the module doc)."""

    def __init__(self, clock: Any = time.time) -> None:
        self.clock = clock
        self.latest: dict[str, PlanPnL] = {}
        self._base: dict[str, PlanPnL] = {}
        self.since: float | None = None  # when the baseline was taken
        self.loaded = False

    def update(self, pnl: dict[str, PlanPnL]) -> None:
        now = self.clock()
        if pnl and all(p.today is not None for p in pnl.values()):  # the ledger said what today's fills realised
            self.since, self.latest, self.loaded = day_start(now), pnl, True
            return
        if self.since is None or day_start(now) > self.since:  # first read, or a new UTC day began
            self._base = dict(self.latest) if self.since is not None else dict(pnl)
            self.since = now if self.since is None else day_start(now)
        self.latest = pnl
        self.loaded = True

    def today(self, plan_id: str) -> tuple[Decimal, Decimal]:
        """(realised, fees) of the plan since the baseline."""
        now = self.latest.get(plan_id)
        if now is None:
            return ZERO, ZERO
        if now.today is not None:
            return now.today, now.fees_today or ZERO
        base = self._base.get(plan_id)
        return (now.realised - base.realised, now.fees - base.fees) if base else (now.realised, now.fees)

    def day_totals(self) -> list[DayTotals]:
        """Today's realised P&L and fees per quote currency (largest first)."""
        out: dict[str, DayTotals] = {}
        for pid, p in self.latest.items():
            r, f = self.today(pid)
            if r == 0 and f == 0:
                continue
            t = out.setdefault(quote_of(p.symbol) or "?", DayTotals(quote_of(p.symbol) or "?"))
            t.realised += r
            t.fees += f
        return sorted(out.values(), key=lambda t: -abs(t.realised))

    def ranked(self, limit: int | None = None) -> list[tuple[PlanPnL, Decimal, Decimal]]:
        """(plan, realised today, fees today) for plans that realised anything, largest |realised| first."""
        rows = [(p, *self.today(pid)) for pid, p in self.latest.items() if p.realised != 0 or p.fees != 0]
        rows.sort(key=lambda x: (-abs(x[0].realised), x[0].plan_id))
        return rows if limit is None else rows[:limit]

    def totals(self, plans: Iterable[PlanPnL] | None = None) -> dict[str, Decimal]:
        """Realised since each plan opened, per quote currency."""
        out: dict[str, Decimal] = {}
        for p in self.latest.values() if plans is None else plans:
            q = quote_of(p.symbol) or "?"
            out[q] = out.get(q, ZERO) + p.realised
        return out
