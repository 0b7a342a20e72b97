"""State of the Binance simulator besides the matching engine: limits and their windows, injected faults, clock
skew, the request log. Everything runs on the server's event loop; the control endpoint changes it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from connectors.binance.signing import Signer
from connectors.paper.engine import PaperEngine

FAULT_KINDS = frozenset({"delay", "5xx", "timeout", "lost", "reset", "429"})


@dataclass
class SimLimits:
    """The limits the simulator enforces and advertises in exchangeInfo `rateLimits` (Binance's defaults)."""

    weight_limit: int = 6000
    weight_interval: int = 60  # seconds
    order_limit: int = 100
    order_interval: int = 10  # seconds
    order_day_limit: int = 200000
    ban_seconds: int = 120  # the 418 ban for a client that ignores a 429's Retry-After

    def rate_limits(self) -> list[dict[str, Any]]:
        return [
            _rl("REQUEST_WEIGHT", self.weight_interval, self.weight_limit),
            _rl("ORDERS", self.order_interval, self.order_limit),
            _rl("ORDERS", 86400, self.order_day_limit),
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ]


def _rl(kind: str, seconds: int, limit: int) -> dict[str, Any]:
    for name, unit in (("DAY", 86400), ("HOUR", 3600), ("MINUTE", 60)):
        if seconds % unit == 0:
            return {"rateLimitType": kind, "interval": name, "intervalNum": seconds // unit, "limit": limit}
    return {"rateLimitType": kind, "interval": "SECOND", "intervalNum": seconds, "limit": limit}


def suffix(seconds: int) -> str:
    """Header suffix of an interval: 60 -> '1M', 10 -> '10S', 86400 -> '1D'."""
    for unit, sec in (("D", 86400), ("H", 3600), ("M", 60)):
        if seconds % sec == 0:
            return f"{seconds // sec}{unit}"
    return f"{seconds}S"


@dataclass
class Counter:
    seconds: int
    start: float = 0.0
    used: int = 0

    def at(self, now: float) -> Counter:
        start = math.floor(now / self.seconds) * self.seconds
        if start != self.start:
            self.start, self.used = float(start), 0
        return self

    def remaining_seconds(self, now: float) -> int:
        return max(1, math.ceil(self.start + self.seconds - now))


@dataclass
class Fault:
    """One injected fault. `execute`: whether the request is carried out before the fault shows (5xx / timeout /
    delay); 'lost' always executes, 'reset' never does. `method` / `path` (exact) narrow which requests match."""

    kind: str
    count: int = 1
    method: str | None = None
    path: str | None = None
    status: int = 503
    seconds: float = 0.0
    execute: bool = False

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and (self.path is None or self.path == path)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Fault:
        kind = str(d["kind"])
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; known: {', '.join(sorted(FAULT_KINDS))}")
        return cls(
            kind=kind,
            count=int(d.get("count", 1)),
            method=d.get("method"),
            path=d.get("path"),
            status=int(d.get("status", 503)),
            seconds=float(d.get("seconds", 0.0)),
            execute=bool(d.get("execute", kind == "lost")),
        )


@dataclass
class SimState:
    engine: PaperEngine
    api_key: str
    signer: Signer
    clock: Callable[[], float] = time.time
    limits: SimLimits = field(default_factory=SimLimits)
    latency: float = 0.0  # seconds added to every /api request
    skew: float = 0.0  # seconds added to the server clock
    faults: list[Fault] = field(default_factory=list)
    weight: Counter = field(default_factory=lambda: Counter(60))
    orders: Counter = field(default_factory=lambda: Counter(10))
    orders_day: Counter = field(default_factory=lambda: Counter(86400))
    retry_until: float = 0.0  # after a 429: a request before this time earns a 418 ...
    retry_since: float = 0.0  # ... unless it arrived within IN_FLIGHT_GRACE of the 429 (it was already in flight)
    banned_until: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    spot: Any = None  # sim_spot.SpotConfig when spot realism is on
    spot_expired: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # EXPIRED_IN_MATCH orders
    spot_next_oid: int = 9_000_000_000
    ws_hub: Any = None
    keys: dict[str, Any] = field(default_factory=dict)  # API key -> its verifier (HMAC Signer / Ed25519Verifier)

    def now(self) -> float:
        return self.clock() + self.skew

    def set_limits(self, limits: SimLimits) -> None:
        self.limits = limits
        self.weight = Counter(limits.weight_interval)
        self.orders = Counter(limits.order_interval)
        self.orders_day = Counter(86400)

    def take_fault(self, method: str, path: str) -> Fault | None:
        for f in self.faults:
            if f.count > 0 and f.matches(method, path):
                f.count -= 1
                if f.count == 0:
                    self.faults.remove(f)
                return f
        return None

    def log(self, method: str, path: str, status: int, t: float, coid: str | None) -> None:
        self.requests.append({"t": t, "method": method, "path": path, "status": status, "client_order_id": coid})
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if len(self.requests) > 20000:
            del self.requests[:10000]

    def control(self, body: dict[str, Any]) -> dict[str, Any]:
        """Apply a control request. Keys (all optional):
        latency_ms: int              delay every /api request by this much
        skew_ms: int                 move the server clock
        faults: [ {kind, count, method, path, status, seconds, execute}, ... ]   appended
        clear_faults: bool           drop pending faults (and lift any 429 / 418 state)
        limits: {weight_limit, weight_interval, order_limit, order_interval, order_day_limit, ban_seconds}
        marks: {SYMBOL: "price"}     set marks (matching runs)
        tick: int                    advance the price walk this many steps"""
        unknown = set(body) - {"latency_ms", "skew_ms", "faults", "clear_faults", "limits", "marks", "tick"}
        if unknown:
            raise ValueError(f"unknown control keys: {', '.join(sorted(unknown))}")
        if body.get("clear_faults"):
            self.faults.clear()
            self.retry_until = self.banned_until = 0.0
        if "latency_ms" in body:
            self.latency = float(body["latency_ms"]) / 1000
        if "skew_ms" in body:
            self.skew = float(body["skew_ms"]) / 1000
        for f in body.get("faults", []):
            self.faults.append(Fault.from_dict(f))
        if "limits" in body:
            base = self.limits.__dict__ | {k: int(v) for k, v in body["limits"].items()}
            self.set_limits(SimLimits(**base))
        for symbol, price in (body.get("marks") or {}).items():
            self.engine.set_mark(symbol, Decimal(str(price)), self.now())
        for _ in range(int(body.get("tick", 0))):
            self.engine.tick(self.now())
        return self.snapshot()

    def snapshot(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency * 1000,
            "skew_ms": self.skew * 1000,
            "faults": [f.__dict__ for f in self.faults],
            "limits": self.limits.__dict__,
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "order_log": [list(k) for k in self.engine.order_log],
        }
