"""Client-side rate limiting for the Binance dialect.

Binance counts request weight per IP (`X-MBX-USED-WEIGHT-1M`) and new orders per account
(`X-MBX-ORDER-COUNT-10S`, `-1D`) in fixed windows aligned to the interval (a 1-minute window starts on the minute).
The limiter keeps a local count of what it has sent in each window, raises it to whatever the venue reports in the
headers, and makes a caller wait for the next window *before* the limit would be crossed. A 429 / 418 with
`Retry-After` closes the gate for every caller until that time: nothing is sent while the gate is closed."""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

_UNIT_SECONDS = {"S": 1, "M": 60, "H": 3600, "D": 86400}
_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_HEADER_RE = re.compile(r"^x-mbx-(used-weight|order-count)-(\d+)([smhd])$", re.IGNORECASE)

#: Share of the weight limit the client allows itself; the rest is head room for other clients of the same IP.
WEIGHT_SAFETY = 0.9
#: Extra wait after a window boundary, to absorb the error of the server-time estimate.
BOUNDARY_MARGIN = 0.05
#: A request reserved this close to the end of a window may reach the venue in the next one (a busy client, a slow
#: link): it counts against the next window as well.
SPILL_MARGIN = 0.25


@dataclass
class Window:
    """One fixed window of one limit ('weight' or 'orders')."""

    kind: str
    seconds: int
    limit: int
    start: float = 0.0
    used: int = 0
    #: what the reservations made in this window's last SPILL_MARGIN seconds count against the next window
    carry: int = 0

    @property
    def suffix(self) -> str:
        """Header suffix, e.g. 60 s -> '1M', 10 s -> '10S'."""
        for unit, sec in (("D", 86400), ("H", 3600), ("M", 60)):
            if self.seconds % sec == 0:
                return f"{self.seconds // sec}{unit}"
        return f"{self.seconds}S"

    def roll(self, now: float) -> None:
        start = math.floor(now / self.seconds) * self.seconds
        if start > self.start:
            self.used = self.carry if start == self.start + self.seconds else 0
            self.start = float(start)
            self.carry = 0

    def spills(self, now: float) -> bool:
        """A request reserved now may be counted in the next window at the venue (see SPILL_MARGIN)."""
        return self.end - now < min(SPILL_MARGIN, self.seconds / 2)

    @property
    def end(self) -> float:
        return self.start + self.seconds

    def budget(self) -> int:
        return int(self.limit * WEIGHT_SAFETY) if self.kind == "weight" else self.limit


@dataclass
class RateLimiter:
    """Paces requests under the venue's limits. `clock` returns the estimated *server* time in seconds."""

    clock: Callable[[], float] = time.time
    windows: list[Window] = field(
        default_factory=lambda: [Window("weight", 60, 6000), Window("orders", 10, 100), Window("orders", 86400, 200000)]
    )
    gate_until: float = 0.0
    waits: int = 0  # how many times a caller was made to wait (for tests and health)
    waited_seconds: float = 0.0

    def configure(self, rate_limits: list[Mapping[str, object]]) -> None:
        """Adopt the `rateLimits` of exchangeInfo (REQUEST_WEIGHT and ORDERS; RAW_REQUESTS is not paced)."""
        windows: list[Window] = []
        for rl in rate_limits:
            kind = {"REQUEST_WEIGHT": "weight", "ORDERS": "orders"}.get(str(rl.get("rateLimitType")))
            unit = _INTERVAL_SECONDS.get(str(rl.get("interval")))
            if kind is None or unit is None:
                continue
            windows.append(Window(kind, unit * int(str(rl.get("intervalNum", 1))), int(str(rl.get("limit", 0)))))
        if windows:
            self.windows = windows

    def limit_of(self, kind: str) -> int:
        """The limit of the shortest window of a kind ('weight' or 'orders')."""
        ws = sorted((w for w in self.windows if w.kind == kind), key=lambda w: w.seconds)
        return ws[0].limit if ws else 0

    def weight_per_minute(self) -> float:
        """Weight the client may use per minute under the tightest weight window."""
        ws = [w for w in self.windows if w.kind == "weight"]
        if not ws:
            return 6000.0
        return min(w.budget() * 60 / w.seconds for w in ws)

    async def acquire(self, weight: int, orders: int = 0) -> float:
        """Wait until `weight` (and `orders` new orders) fit in every window, then reserve them.

        The check-and-reserve step has no await inside, so concurrent callers never over-book a window; a caller
        that only needs weight (a cancel) is not held up behind callers that wait for the order window.
        Returns the server time at which the reservation was made."""
        while True:
            now = self.clock()
            wait = self.gate_until - now
            if wait <= 0:
                wait = 0.0
                for w in self.windows:
                    w.roll(now)
                    need = weight if w.kind == "weight" else orders
                    if need and w.used + need > w.budget() and w.used > 0:
                        wait = max(wait, w.end - now + BOUNDARY_MARGIN)
                    elif need and w.spills(now) and w.carry + need > w.budget() and w.carry > 0:
                        wait = max(wait, w.end - now + BOUNDARY_MARGIN)  # the next window is full already
            if wait <= 0:
                for w in self.windows:
                    need = weight if w.kind == "weight" else orders
                    w.used += need
                    if w.spills(now):
                        w.carry += need
                return now
            self.waits += 1
            self.waited_seconds += wait
            log.debug("rate limit: waiting %.3f s before sending", wait)
            await asyncio.sleep(wait)

    def observe(self, headers: Mapping[str, str], sent_at: float) -> None:
        """Raise the local counts to what the venue reports, for windows that have not rolled since `sent_at`."""
        for name, value in headers.items():
            m = _HEADER_RE.match(name)
            if not m:
                continue
            kind = "weight" if m.group(1).lower() == "used-weight" else "orders"
            seconds = int(m.group(2)) * _UNIT_SECONDS[m.group(3).upper()]
            try:
                reported = int(value)
            except ValueError:
                continue
            for w in self.windows:
                if w.kind == kind and w.seconds == seconds and w.start <= sent_at < w.end:
                    w.used = max(w.used, reported)

    def close_gate(self, retry_after: float) -> None:
        """A 429 / 418: nothing may be sent before now + retry_after."""
        until = self.clock() + max(retry_after, 0.0)
        if until > self.gate_until:
            self.gate_until = until
            log.warning("rate limit: venue asked to wait %.1f s; all requests paused", retry_after)

    def usage(self) -> dict[str, str]:
        now = self.clock()
        out: dict[str, str] = {}
        for w in self.windows:
            used = w.used if w.start <= now < w.end else 0
            out[f"{w.kind}_{w.suffix.lower()}"] = f"{used}/{w.limit}"
        return out
