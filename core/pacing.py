"""Pacing to the venue's rate limits: a pure plan (how long a batch takes at the limit, for the preview) and the gate
the handler sends through (requests in flight bounded, new orders and requests spaced to the limit, and on a 429 one
pause of the venue's Retry-After for everyone, then paced again).

The gate spaces requests evenly (window / limit apart) rather than bursting a whole window at once: a fixed-window
venue then never sees the limit crossed, whatever the alignment of its windows. A 429 that arrives while the gate is
already closed (a request that was in flight when the first one came back) does not extend the pause: the desk waits
the Retry-After once."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType

from core.connector import ConnectorError, ConnectorErrorKind


@dataclass(frozen=True)
class VenueLimits:
    """What a venue allows one account. None = no limit of that kind. `round_trip`: seconds of one request."""

    orders: int | None = None
    orders_window: float = 10.0
    requests: int | None = None
    requests_window: float = 60.0
    round_trip: float = 0.05
    #: the connector keeps the venue's fixed windows itself (it counts them from the venue's usage headers, as the
    #: Binance connector does): the gate then only bounds requests in flight and pauses once on a 429, and a whole
    #: window's limit may go at once (a panic flatten of 50 plans is not spread over 5 s for nothing)
    windowed: bool = False

    def __post_init__(self) -> None:
        for name in ("orders", "requests"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name}: must be at least 1 (or None for no limit), got {value!r}")
        for name in ("orders_window", "requests_window"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name}: must be greater than 0, got {getattr(self, name)!r}")
        if not self.round_trip >= 0:
            raise ValueError(f"round_trip: must not be negative, got {self.round_trip!r}")

    def bucket(self, kind: str) -> tuple[int, float]:
        """(burst, seconds between sends after the burst) for 'orders' or 'requests'. A burst of a tenth of the
        limit goes at once, the rest is spaced so that no window of the limit's length ever holds more than the
        limit: burst + window / spacing == limit."""
        limit, window = (self.orders, self.orders_window) if kind == "orders" else (self.requests, self.requests_window)
        if limit is None or self.windowed:
            return (1, 0.0)
        burst = max(1, limit // 10)
        return (burst, window / (limit - burst) if limit > burst else window)


#: Binance Spot's defaults (exchangeInfo rateLimits): 100 orders / 10 s, 6,000 weight / minute.
BINANCE_SPOT = VenueLimits(orders=100, orders_window=10.0, requests=6000, requests_window=60.0, round_trip=0.1)


@dataclass(frozen=True)
class PacingPlan:
    orders: int
    requests: int
    seconds: float

    def text(self) -> str:
        return f"~{format_seconds(self.seconds)}"


def format_seconds(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.1f} min"


def plan_pacing(limits: VenueLimits | None, *, orders: int, requests: int) -> PacingPlan:
    """How long `orders` new orders and `requests` requests in all (orders included) take, sent at the limit."""
    if orders < 0 or requests < 0:
        raise ValueError("orders and requests: must not be negative")
    lim = limits or VenueLimits()
    paced = 0.0
    for kind, n in (("orders", orders), ("requests", requests)):
        if lim.windowed:  # a window's limit at once, then the next window
            limit, window = (lim.orders, lim.orders_window) if kind == "orders" else (lim.requests, lim.requests_window)
            if limit is not None and n > limit:
                paced = max(paced, ((n - 1) // limit) * window)
            continue
        burst, spacing = lim.bucket(kind)
        paced = max(paced, max(n - burst, 0) * spacing)
    return PacingPlan(orders, requests, paced + (lim.round_trip if requests or orders else 0.0))


def close_forms_line(limits: VenueLimits | None, *, per_plan_closes: int, cancels: int, symbols: int) -> str:
    """The preview's two forms of a flatten: one close per plan, or one netted close per symbol."""
    per_plan = plan_pacing(limits, orders=per_plan_closes, requests=per_plan_closes + cancels)
    netted = plan_pacing(limits, orders=symbols, requests=symbols + cancels)
    trips = "~1 round trip" if netted.seconds <= (limits or VenueLimits()).round_trip * 1.5 else netted.text()
    where = "at the rate limit" if limits is not None and limits.orders is not None else "(venue without a rate limit)"
    return (f"per plan: {per_plan_closes} closes, {per_plan.text()} {where}; "
            f"netted: {symbols} closes, {trips}")


class PacedGate:
    """`async with gate:` around one request, `async with gate.order():` around one new order."""

    def __init__(
        self,
        max_in_flight: int,
        limits: VenueLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if max_in_flight < 1:
            raise ValueError("max_in_flight: must be at least 1")
        self.limits = limits
        self._sem = asyncio.Semaphore(max_in_flight)
        self._clock = clock
        self._sleep = sleep
        self._order = _Bucket(*(limits.bucket("orders") if limits else (1, 0.0)))
        self._request = _Bucket(*(limits.bucket("requests") if limits else (1, 0.0)))
        self.gate_until = 0.0
        #: how many times a 429 closed the gate, and how long senders were held in all (for tests and reports)
        self.pauses = 0
        self.waited = 0.0

    def order(self) -> _Slot:
        return _Slot(self, order=True)

    async def __aenter__(self) -> None:
        await self._enter(order=False)

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._exit(exc)

    def rate_limited(self, retry_after: float | None) -> None:
        """A 429: hold every sender until now + Retry-After, unless a pause is already running."""
        now = self._clock()
        if now < self.gate_until:
            return
        self.gate_until = now + (retry_after if retry_after is not None and retry_after > 0 else 1.0)
        self.pauses += 1
        self._order.resume_at(self.gate_until)  # then paced, without a new burst
        self._request.resume_at(self.gate_until)

    async def _enter(self, *, order: bool) -> None:
        await self._sem.acquire()
        try:
            for _ in range(10_000):  # bounded: each pass returns, or a 429 came back while this sender slept
                now = self._clock()
                if now < self.gate_until:
                    self.waited += self.gate_until - now
                    await self._sleep(self.gate_until - now)
                    continue
                start = self._request.reserve(now)
                if order:
                    start = max(start, self._order.reserve(now))
                pauses = self.pauses
                if start > now:
                    self.waited += start - now
                    await self._sleep(start - now)
                if self.pauses != pauses and start < self.gate_until:
                    continue  # a 429 came back while this sender slept: its slot is void, book again after the pause
                if self._clock() >= self.gate_until:
                    return
            raise RuntimeError("paced gate: no slot after 10,000 waits")
        except BaseException:
            self._sem.release()
            raise

    def _exit(self, exc: BaseException | None) -> None:
        self._sem.release()
        if isinstance(exc, ConnectorError) and exc.kind is ConnectorErrorKind.RATE_LIMITED:
            self.rate_limited(exc.retry_after)


class _Bucket:
    """Generic cell rate: `burst` sends at once, then one every `spacing` seconds (reservations may be ahead)."""

    def __init__(self, burst: int, spacing: float) -> None:
        self.spacing = spacing
        self.tolerance = (burst - 1) * spacing
        self.tat = 0.0  # theoretical arrival time of the next send

    def reserve(self, now: float) -> float:
        """Book the next send; returns when it may go (now or later)."""
        if self.spacing == 0:
            return now
        tat = max(self.tat, now)
        start = max(now, tat - self.tolerance)
        self.tat = tat + self.spacing
        return start

    def resume_at(self, when: float) -> None:
        self.tat = max(self.tat, when + self.tolerance)


class _Slot:
    def __init__(self, gate: PacedGate, *, order: bool) -> None:
        self._gate = gate
        self._order = order

    async def __aenter__(self) -> None:
        await self._gate._enter(order=self._order)

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._gate._exit(exc)


def limits_of(connector: object) -> VenueLimits | None:
    """The venue's limits, from a connector that offers `rate_limits()`; None when it says nothing."""
    fn = getattr(connector, "rate_limits", None)
    if not callable(fn):
        return None
    limits = fn()
    return limits if isinstance(limits, VenueLimits) else None
