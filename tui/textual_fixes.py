"""A fix to the pinned Textual (8.2.8), applied once when the console is imported.

`StylesCache.get_inner_outer` is an `lru_cache(1024)` on an instance method: its key holds the StylesCache, so the
render caches of the last 1,024 widgets ever painted stayed alive with every line they had drawn, long after their
screens closed (every preview, form and journal screen of the day). On the 2,000-plan desk that was +5 MB and
~34,000 objects every 20 previews, up to ~25 MB, all of it scanned by the collector's older passes. The styles it
returns depend on the two colours only: cache them on those (tests/tui/test_preview_memory.py)."""

from __future__ import annotations

from functools import lru_cache

from textual._styles_cache import StylesCache
from textual.color import Color
from textual.style import Style


@lru_cache(1024)
def _inner_outer(base_background: Color, background: Color) -> tuple[Style, Style]:
    """(inner, outer) background styles, as StylesCache.get_inner_outer gives them."""
    return Style(background=base_background + background), Style(background=base_background)


def apply() -> None:
    """Cache the inner and outer styles by colour, not by widget (idempotent)."""
    StylesCache.get_inner_outer = staticmethod(_inner_outer)  # type: ignore[assignment,method-assign]


apply()
