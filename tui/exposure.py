"""Exposure and P&L over the desk: per symbol (base and quote at the mark) and desk totals per quote currency.

Pure data over the console's PlanRows (no Textual): sum of signed positions per symbol, gross and net notional at
the mark, unrealised P&L, and the count of plans without a mark (their notional is unknown, never guessed).

`exposure(rows)` computes it from scratch; `ExposureBook` keeps the same sums incrementally for the console (a mark
moves a symbol's figures without touching its rows, a changed row costs one subtraction and one addition), so the
pane costs O(symbols) per refresh however many plans the desk holds."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from core.models import PlanStatus
from tui.bridge_view import PlanRow, quote_of

ZERO = Decimal(0)


@dataclass
class SymbolExposure:
    symbol: str
    quote: str
    plans: int = 0  # active plans holding a position on the symbol
    longs: int = 0
    shorts: int = 0
    net: Decimal = ZERO  # signed base quantity, summed over plans
    gross: Decimal = ZERO  # sum of |position| in base
    mark: Decimal | None = None
    upnl: Decimal = ZERO
    unmarked: int = 0  # plans with a position but no mark: notional unknown

    @property
    def net_notional(self) -> Decimal | None:
        return None if self.mark is None else self.net * self.mark

    @property
    def gross_notional(self) -> Decimal | None:
        return None if self.mark is None else self.gross * self.mark


@dataclass
class DeskTotals:
    """Totals per quote currency (USDT and BTC amounts never add up)."""

    quote: str
    net_notional: Decimal = ZERO
    gross_notional: Decimal = ZERO
    upnl: Decimal = ZERO
    symbols: list[str] = field(default_factory=list)


def exposure(rows: Iterable[PlanRow]) -> tuple[list[SymbolExposure], list[DeskTotals]]:
    """Per-symbol exposure (sorted by gross notional, largest first) and per-quote desk totals."""
    per: dict[str, SymbolExposure] = {}
    for r in rows:
        if r.status is not PlanStatus.ACTIVE or r.net == 0:
            continue
        e = per.get(r.symbol)
        if e is None:
            e = per[r.symbol] = SymbolExposure(symbol=r.symbol, quote=quote_of(r.symbol) or "?")
        e.plans += 1
        e.longs += r.net > 0
        e.shorts += r.net < 0
        e.net += r.net
        e.gross += abs(r.net)
        if r.mark is None:
            e.unmarked += 1
        else:
            e.mark = r.mark
            e.upnl += r.upnl or ZERO
    return _ranked(per.values())


def _ranked(symbols: Iterable[SymbolExposure]) -> tuple[list[SymbolExposure], list[DeskTotals]]:
    items = sorted(symbols, key=lambda e: (-(e.gross_notional or ZERO), e.symbol))
    totals: dict[str, DeskTotals] = {}
    for e in items:
        t = totals.setdefault(e.quote, DeskTotals(quote=e.quote))
        t.symbols.append(e.symbol)
        t.net_notional += e.net_notional or ZERO
        t.gross_notional += e.gross_notional or ZERO
        t.upnl += e.upnl
    return items, sorted(totals.values(), key=lambda t: -t.gross_notional)


@dataclass
class _Sums:
    plans: int = 0
    longs: int = 0
    shorts: int = 0
    net: Decimal = ZERO
    gross: Decimal = ZERO
    cost: Decimal = ZERO  # sum of avg entry x net: uPnL = mark x net - cost


class ExposureBook:
    """The sums of `exposure()` kept up to date from the bridge's changes (`apply`), read with `summary()`.
    `changed` says whether anything moved since the last summary (the pane skips unchanged refreshes)."""

    def __init__(self) -> None:
        self._rows: dict[str, PlanRow] = {}  # only rows that count: ACTIVE with a position
        self._sums: dict[str, _Sums] = {}
        self._marks: dict[str, Decimal] = {}
        self.changed = True

    def _add(self, row: PlanRow, sign: int) -> None:
        s = self._sums.get(row.symbol)
        if s is None:
            s = self._sums[row.symbol] = _Sums()
        s.plans += sign
        s.longs += sign * (row.net > 0)
        s.shorts += sign * (row.net < 0)
        s.net += sign * row.net
        s.gross += sign * abs(row.net)
        s.cost += sign * row.avg_entry * row.net
        if s.plans == 0:
            del self._sums[row.symbol]

    def apply(self, rows: Iterable[PlanRow], removed: Iterable[str] = (),
              marks: dict[str, Decimal] | None = None) -> None:
        for pid in removed:
            old = self._rows.pop(pid, None)
            if old is not None:
                self._add(old, -1)
                self.changed = True
        for row in rows:
            if row.mark is not None:
                self._marks.setdefault(row.symbol, row.mark)
            old = self._rows.pop(row.plan_id, None)
            if old is not None:
                self._add(old, -1)
            if row.status is PlanStatus.ACTIVE and row.net != 0:
                self._rows[row.plan_id] = row
                self._add(row, +1)
            self.changed = self.changed or old is not None or row.plan_id in self._rows
        for symbol, mark in (marks or {}).items():
            if self._marks.get(symbol) != mark:
                self._marks[symbol] = mark
                self.changed = self.changed or symbol in self._sums

    def summary(self) -> tuple[list[SymbolExposure], list[DeskTotals]]:
        self.changed = False
        out: list[SymbolExposure] = []
        for symbol, s in self._sums.items():
            mark = self._marks.get(symbol)
            e = SymbolExposure(symbol=symbol, quote=quote_of(symbol) or "?", plans=s.plans, longs=s.longs,
                               shorts=s.shorts, net=s.net, gross=s.gross, mark=mark)
            if mark is None:
                e.unmarked = s.plans
            else:
                e.upnl = mark * s.net - s.cost
            out.append(e)
        return _ranked(out)

    def symbols(self) -> set[str]:
        """Symbols where ACTIVE plans hold a position."""
        return set(self._sums)
