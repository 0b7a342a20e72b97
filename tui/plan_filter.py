"""The plans filter: several terms, all of which must match (`eth short`), exact ids, and named filters.

Terms (case-insensitive, separated by spaces):
- `unprotected` (or its first 3+ letters) plans holding a position without full stop coverage; `stale` plans whose
  symbol's mark the caller says is stale; `losing` / `winning` by unrealised P&L; `long` / `short` / `flat` by
  position; `active` / `closed` by status;
- an id such as `TPL_12` matches that plan exactly (not TPL_120);
- anything else is a substring of the plan id, symbol, side or status.

Sorting (SORTS, sorted_ids) lives here too: both are how the operator finds plans in a table of thousands."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from core.models import PlanStatus
from tui.bridge_view import PlanRow, unrealised

_ID = re.compile(r"(TPL|EXG|ORD|FIL|STR)_\S+", re.IGNORECASE)

Predicate = Callable[[PlanRow, Collection[str]], bool]

NAMED: dict[str, Predicate] = {
    "unprotected": lambda r, _s: r.unprotected is not None,
    "stale": lambda r, s: r.symbol in s,
    "losing": lambda r, _s: r.upnl is not None and r.upnl < 0,
    "winning": lambda r, _s: r.upnl is not None and r.upnl > 0,
    "long": lambda r, _s: r.net > 0,
    "short": lambda r, _s: r.net < 0,
    "flat": lambda r, _s: r.net == 0,
    "active": lambda r, _s: r.status is PlanStatus.ACTIVE,
    "closed": lambda r, _s: r.status is PlanStatus.CLOSED,
}


@dataclass(frozen=True)
class PlanFilter:
    text: str
    terms: tuple[str, ...]

    def matches(self, row: PlanRow, stale_symbols: Collection[str] = ()) -> bool:
        for t in self.terms:
            named = NAMED.get("unprotected" if len(t) >= 3 and "unprotected".startswith(t) else t)
            if named is not None:
                if not named(row, stale_symbols):
                    return False
            elif _ID.fullmatch(t):
                if row.plan_id.lower() != t:
                    return False
            else:
                hay = f"{row.plan_id} {row.symbol} {row.side} {row.status}".lower()
                if t not in hay:
                    return False
        return True

    @property
    def empty(self) -> bool:
        return not self.terms


@lru_cache(maxsize=64)
def parse_filter(text: str) -> PlanFilter:
    return PlanFilter(text=text, terms=tuple(t for t in text.lower().split() if t))


# ------------------------------------------------------------------------------------------------ sorting

SortKey = Callable[[PlanRow], Any]

#: column key -> (sort key of a row at its newest mark, descending by default). None values sort last.
SORTS: dict[str, tuple[SortKey, bool]] = {
    "plan": (lambda r: 0, True),  # age: the ledger lists plans in the order they were opened (see PlansTable)
    "symbol": (lambda r: r.symbol, False),
    "side": (lambda r: str(r.side), False),
    "net": (lambda r: abs(r.net), True),  # size
    "avg": (lambda r: r.avg_entry if r.net else None, True),
    "mark": (lambda r: r.mark, True),
    "upnl": (lambda r: r.upnl, False),  # the biggest losers first
    "stop": (lambda r: r.stop, True),
    "tp": (lambda r: r.take_profit, True),
    "orders": (lambda r: r.open_orders, True),
    "status": (lambda r: (r.unprotected is None, str(r.status)), False),  # UNPROTECTED first
    "ver": (lambda r: r.version, True),
}

#: what the sort key (`>`) cycles through; None is the ledger's order
SORT_CYCLE: tuple[str | None, ...] = (None, "upnl", "net", "symbol", "plan")
SORT_NAMES = {"plan": "age", "net": "size", "upnl": "uPnL"}

#: the sort keys that depend on the mark, of a row (as the bridge last priced it) at a newer mark: the same value as
#: SORTS[column][0](row.at_mark(mark)), without a priced copy of the row. Sorted by uPnL, the table re-sorts its
#: 2,000 rows at every mark of a busy feed, and a copy per row (dataclasses.replace) was most of that.
PRICED_SORTS: dict[str, Callable[[PlanRow, Decimal | None], Any]] = {
    "upnl": lambda r, m: r.upnl if m is None or m == r.mark else unrealised(r.net, r.avg_entry, m),
    "mark": lambda r, m: r.mark if m is None else m,
}


def sorted_ids(rows: Iterable[tuple[str, PlanRow, int]], column: str | None, descending: bool) -> list[str]:
    """Plan ids of (id, row, ledger index) in the order of `column` (ties and None values: ledger order, None
    values last whichever the direction). `plan` sorts by age: the ledger index."""
    items = list(rows)
    if column is None:
        return [pid for pid, _r, _i in sorted(items, key=lambda t: t[2])]
    if column == "plan":
        return [pid for pid, _r, _i in sorted(items, key=lambda t: t[2], reverse=descending)]
    key = SORTS[column][0]
    return sorted_keys([(key(r), i, pid) for pid, r, i in items], descending)


def sorted_keys(keyed: list[tuple[Any, int, str]], descending: bool) -> list[str]:
    """Plan ids of (sort key, ledger index, id) in the order of the keys (ties and None keys: ledger order, None
    keys last whichever the direction)."""
    have = [k for k in keyed if k[0] is not None]
    none = sorted((k for k in keyed if k[0] is None), key=lambda k: k[1])
    if descending:
        have.sort(key=lambda k: k[1])  # stable: ties keep ledger order
        have.sort(key=lambda k: k[0], reverse=True)
    else:
        have.sort(key=lambda k: (k[0], k[1]))
    return [pid for _k, _i, pid in have] + [pid for _k, _i, pid in none]
