"""Exposure and P&L over the desk: per symbol (base and quote at the mark) and desk totals per quote currency.

Pure data over the console's PlanRows (no Textual): sum of signed positions per symbol, gross and net notional at
the mark, unrealised P&L, and the count of plans without a mark (their notional is unknown, never guessed)."""

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
    items = sorted(per.values(), key=lambda e: (-(e.gross_notional or ZERO), e.symbol))
    totals: dict[str, DeskTotals] = {}
    for e in items:
        t = totals.setdefault(e.quote, DeskTotals(quote=e.quote))
        t.symbols.append(e.symbol)
        t.net_notional += e.net_notional or ZERO
        t.gross_notional += e.gross_notional or ZERO
        t.upnl += e.upnl
    return items, sorted(totals.values(), key=lambda t: -t.gross_notional)
