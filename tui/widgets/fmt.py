"""Number formatting for the console: Decimals with thousands separators, never floats, never exponents."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from core.decimals import plain

DASH = "—"


def num(d: Decimal | None) -> str:
    """A price or quantity as it is (no rounding), grouped: 102000.5 -> '102,000.5'."""
    if d is None:
        return DASH
    return f"{plain(d):,f}"


def avg(d: Decimal | None, places: int = 4) -> str:
    """An average price: at most `places` decimals (averages divide; the ledger keeps every digit)."""
    if d is None:
        return DASH
    p = plain(d)
    exp = p.as_tuple().exponent
    if isinstance(exp, int) and exp < -places:
        p = plain(p.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN))
    return f"{p:,f}"


def signed(d: Decimal | None) -> str:
    if d is None:
        return DASH
    p = plain(d)
    return f"{p:+,f}" if p != 0 else "0"


def money(d: Decimal | None, places: int = 2) -> str:
    """Quote-currency amounts: fixed places, grouped, signed when negative."""
    if d is None:
        return DASH
    q = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"{q:,.{places}f}"


def pnl(d: Decimal | None) -> str:
    if d is None:
        return DASH
    q = d.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    if q == 0:
        return "0.00"
    return f"{q:+,.2f}"


def pct(d: Decimal | None, places: int = 2) -> str:
    if d is None:
        return DASH
    q = (d * 100).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"{q:,.{places}f} %"


def age(seconds: float | None) -> str:
    if seconds is None:
        return "no data"
    if seconds < 0:
        seconds = 0.0
    if seconds < 10:
        return f"{seconds:.1f}s"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3600:.0f}h"


_SUFFIXES = ((Decimal("1e12"), "T"), (Decimal("1e9"), "B"), (Decimal("1e6"), "M"), (Decimal("1e3"), "K"))


def fit(text: str, width: int, value: Decimal | None = None, *, sign: bool = False) -> str:
    """`text` if it fits in `width`; else the value compacted (+100.0T, 50.0B, 1.2e14); never cut silently: as a
    last resort the cut is marked with '…'."""
    if len(text) <= width or width <= 0:
        return text
    if value is not None:
        v = plain(value)
        lead = "+" if sign and v > 0 else ""
        for limit, suffix in _SUFFIXES:
            if abs(v) >= limit:
                short = f"{lead}{v / limit:,.1f}{suffix}"
                if len(short) <= width:
                    return short
                break
        sci = f"{lead}{v:.1e}".replace("e+", "e")
        if len(sci) <= width:
            return sci
    return text[: max(1, width - 1)] + "…"
