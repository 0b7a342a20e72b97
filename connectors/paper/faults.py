"""Fault injection for the paper connector (tests and demos): refusals, timeouts, outages and lost events.

    connector.faults.inject("timeout_after", op="place", count=1, match="pd-")
    connector.faults.fail_ratio(0.2, seed=1)

Kinds:
  reject          raise ConnectorError(REJECTED) without executing
  timeout_after   execute, then raise ConnectorError(UNKNOWN_OUTCOME) (the reply was lost)
  timeout_before  raise ConnectorError(UNKNOWN_OUTCOME) without executing (the request was lost)
  unavailable     raise ConnectorError(UNAVAILABLE) without executing
  drop_event      the next matching order event (OrderUpdated / OrderFilled) is not delivered; `op` is ignored

Ops: place, cancel, modify, cancel_all, get, open_orders, positions, mark_prices, market_rules, or "any".
`match` is a substring filter on the call's client order id (for modify: the old or the new one; for cancel_all and
open_orders: the symbol). A fault with a `match` never matches a call that has no such key."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from core.connector import ConnectorEvent, MarkPriceUpdated, OrderFilled, OrderUpdated

KINDS = frozenset({"reject", "timeout_after", "timeout_before", "unavailable", "drop_event", "rate_limited"})
OPS = frozenset(
    {"place", "cancel", "modify", "cancel_all", "get", "open_orders", "positions", "mark_prices", "market_rules", "any"}
)
ORDER_OPS = ("place", "cancel", "modify", "cancel_all", "get")


@dataclass
class Fault:
    kind: str
    op: str
    count: int
    match: str | None

    def matches(self, op: str, keys: tuple[str, ...]) -> bool:
        if self.op != "any" and self.op != op:
            return False
        return self.match is None or any(self.match in k for k in keys)


class FaultInjector:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ratio: float = 0.0
        self._rng = random.Random(0)
        self._ratio_kinds: tuple[str, ...] = ()
        self._ratio_ops: frozenset[str] = frozenset()
        #: Every fault that fired, as (kind, op, key) — for assertions.
        self.fired: list[tuple[str, str, str]] = []
        #: While True the venue is down: every call raises UNAVAILABLE and health() reports not ok.
        self.outage = False
        #: The Retry-After (seconds) of a "rate_limited" fault (a 429: the call is refused, nothing executed).
        self.retry_after = 1.0

    def inject(self, kind: str, *, op: str = "place", count: int = 1, match: str | None = None) -> Fault:
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r} (one of {sorted(KINDS)})")
        if op not in OPS:
            raise ValueError(f"unknown op {op!r} (one of {sorted(OPS)})")
        if count < 1:
            raise ValueError("count must be at least 1")
        fault = Fault(kind, op, count, match)
        self._faults.append(fault)
        return fault

    def fail_ratio(
        self,
        ratio: float,
        seed: int,
        kinds: Iterable[str] = ("timeout_after", "timeout_before", "unavailable"),
        ops: Iterable[str] = ORDER_OPS,
    ) -> None:
        """From now on each call of one of `ops` fails with probability `ratio`, with a kind drawn from `kinds`
        (seeded: the same calls in the same order fail the same way). ratio 0 switches it off."""
        kinds = tuple(kinds)
        bad = [k for k in kinds if k not in KINDS or k == "drop_event"]
        if bad or not kinds:
            raise ValueError(f"fail_ratio kinds must be call faults, got {kinds!r}")
        if not 0.0 <= ratio <= 1.0:
            raise ValueError("ratio must be between 0 and 1")
        self._ratio = ratio
        self._rng = random.Random(seed)
        self._ratio_kinds = kinds
        self._ratio_ops = frozenset(ops)

    def clear(self) -> None:
        self._faults.clear()
        self._ratio = 0.0
        self.outage = False

    @property
    def pending(self) -> list[Fault]:
        return list(self._faults)

    def take(self, op: str, *keys: str) -> str | None:
        """The fault kind this call suffers (consuming one use of it), or None."""
        for fault in self._faults:
            if fault.kind != "drop_event" and fault.matches(op, keys):
                self._consume(fault, op, keys)
                return fault.kind
        if self._ratio > 0 and op in self._ratio_ops and self._rng.random() < self._ratio:
            kind = self._rng.choice(self._ratio_kinds)
            self.fired.append((kind, op, keys[0] if keys else ""))
            return kind
        return None

    def drops(self, event: ConnectorEvent) -> bool:
        """Whether this event is lost (consuming one use of the drop fault)."""
        if isinstance(event, MarkPriceUpdated):
            return False
        assert isinstance(event, OrderUpdated | OrderFilled)
        cid = event.order.client_order_id if isinstance(event, OrderUpdated) else event.client_order_id
        for fault in self._faults:
            if fault.kind == "drop_event" and (fault.match is None or fault.match in cid):
                self._consume(fault, "event", (cid,))
                return True
        return False

    def _consume(self, fault: Fault, op: str, keys: tuple[str, ...]) -> None:
        fault.count -= 1
        if fault.count <= 0:
            self._faults.remove(fault)
        self.fired.append((fault.kind, op, keys[0] if keys else ""))
