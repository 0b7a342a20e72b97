"""The default markets of the paper exchange (and of the contract suite)."""

from __future__ import annotations

from decimal import Decimal

from core.models import MarketRules

_DEFAULTS = {
    # symbol: (mark, tick, step, min notional)
    "BTCUSDT": ("100000", "0.01", "0.00001", "5"),
    "ETHUSDT": ("3500", "0.01", "0.0001", "5"),
    "SOLUSDT": ("150", "0.01", "0.001", "5"),
}


def DEFAULT_MARKETS() -> dict[str, MarketRules]:  # noqa: N802 - a constant-like factory: fresh objects every call
    """BTCUSDT, ETHUSDT and SOLUSDT with Binance-like filters. Returns new MarketRules each call."""
    return {
        symbol: MarketRules(
            mark_price=Decimal(mark), tick_size=Decimal(tick), step_size=Decimal(step), min_notional=Decimal(notional)
        )
        for symbol, (mark, tick, step, notional) in _DEFAULTS.items()
    }
