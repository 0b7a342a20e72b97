"""The plans filter: several terms, all of which must match (`eth short`), exact ids, and named filters.

Terms (case-insensitive, separated by spaces):
- `unprotected` (or its first 3+ letters) plans holding a position without full stop coverage; `stale` plans whose
  symbol's mark the caller says is stale; `losing` / `winning` by unrealised P&L; `long` / `short` / `flat` by
  position; `active` / `closed` by status;
- an id such as `TPL_12` matches that plan exactly (not TPL_120);
- anything else is a substring of the plan id, symbol, side or status."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import lru_cache

from core.models import PlanStatus
from tui.bridge_view import PlanRow

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
