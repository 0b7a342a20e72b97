"""What happened to each command of a sent batch: outcomes and the execution report."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any


class OutcomeStatus(StrEnum):
    PENDING = "PENDING"  # written ahead, request in flight
    ACKNOWLEDGED = "ACKNOWLEDGED"  # the venue accepted it
    REJECTED = "REJECTED"  # the venue refused it (reason is the venue's)
    UNKNOWN = "UNKNOWN"  # the answer was lost; being looked up
    RESOLVED = "RESOLVED"  # was unknown, resolved by looking the order up
    SKIPPED = "SKIPPED"  # not needed any more when its turn came (e.g. the position already moved)
    FAILED = "FAILED"  # could not be done after bounded retries (venue unavailable); nothing was left half-sent

    @property
    def is_bad(self) -> bool:
        return self in (OutcomeStatus.REJECTED, OutcomeStatus.UNKNOWN, OutcomeStatus.FAILED)

    @property
    def is_final(self) -> bool:
        return self not in (OutcomeStatus.PENDING, OutcomeStatus.UNKNOWN)


@dataclass
class CommandOutcome:
    seq: int
    action: str
    plan_id: str
    symbol: str
    order_id: str | None
    client_order_id: str | None = None
    status: OutcomeStatus = OutcomeStatus.PENDING
    detail: str = ""
    round: int = 1
    #: a bad outcome made moot by a later flatten round (the plan was retried, or ended flat anyway)
    superseded: bool = False
    #: for a trade: what filled, at what average price, and the slippage against the mark at preview
    #: (a fraction, positive = worse for us); None when nothing filled or no preview mark is known
    filled_quantity: Decimal | None = None
    fill_price: Decimal | None = None
    slippage: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "action": self.action,
            "plan_id": self.plan_id,
            "symbol": self.symbol,
            "order_id": self.order_id,
            "client_order_id": self.client_order_id,
            "status": str(self.status),
            "detail": self.detail,
            "round": self.round,
            "superseded": self.superseded,
            "filled_quantity": None if self.filled_quantity is None else format(self.filled_quantity, "f"),
            "fill_price": None if self.fill_price is None else format(self.fill_price, "f"),
            "slippage": None if self.slippage is None else format(self.slippage, "f"),
        }


@dataclass
class ExecutionReport:
    directive_id: str
    outcomes: list[CommandOutcome] = field(default_factory=list)
    refused: str | None = None  # nothing was sent, and why (stale preview, already sent, errors)
    still_open: list[str] = field(default_factory=list)  # plans of a flatten that are not flat or still have orders
    halted: bool = False
    rounds: int = 0
    notes: list[str] = field(default_factory=list)
    #: plan id -> why it holds a position without full stop coverage after this send (a failed flatten re-places
    #: the stop it cancelled; if even that fails the plan is named here)
    unprotected: dict[str, str] = field(default_factory=dict)
    #: a flatten re-translated at send time: one line per plan whose state differed from the preview
    differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.refused is None and not self.still_open and not self.unresolved()

    def unresolved(self) -> list[CommandOutcome]:
        """Outcomes that ended badly (rejected, failed, still unknown) and were not made moot by a later round."""
        return [o for o in self.outcomes if o.status.is_bad and not o.superseded]

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for o in self.outcomes:
            out[str(o.status)] = out.get(str(o.status), 0) + 1
        return out

    def summary(self) -> str:
        if self.refused:
            return f"{self.directive_id}: nothing sent: {self.refused}"
        parts = ", ".join(f"{n} {s.lower()}" for s, n in sorted(self.counts().items()))
        moot = sum(1 for o in self.outcomes if o.superseded)
        if moot:
            parts += f" ({moot} retried in a later round)"
        tail = f"; STILL OPEN: {'; '.join(self.still_open)}" if self.still_open else ""
        if not parts:
            parts = "nothing left to send (re-translated from the state at send time)" if self.differences \
                else "no commands"
        return f"{self.directive_id}: {parts}{tail}"

    def to_dict(self, *, routine: bool = True) -> dict[str, Any]:
        """JSON-ready. With routine=False only the outcomes that were not simply acknowledged or skipped are
        listed (with the counts of all)."""
        shown = [o for o in self.outcomes if routine or o.status not in _ROUTINE]
        return {
            "directive_id": self.directive_id,
            "ok": self.ok,
            "refused": self.refused,
            "halted": self.halted,
            "rounds": self.rounds,
            "still_open": self.still_open,
            "unprotected": self.unprotected,
            "differences": self.differences,
            "notes": self.notes,
            "counts": self.counts(),
            "outcomes": [o.to_dict() for o in shown],
        }


_ROUTINE = (OutcomeStatus.ACKNOWLEDGED, OutcomeStatus.SKIPPED)


def round_entry(round_no: int, outcomes: list[CommandOutcome]) -> dict[str, Any]:
    """The journal payload of one round of a send: the outcome of each of its commands, counts and a summary."""
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[str(o.status)] = counts.get(str(o.status), 0) + 1
    if len(outcomes) == 1:
        o = outcomes[0]
        summary = f"#{o.seq} {o.action} {o.plan_id} {o.status} {o.detail}".strip()
    else:
        summary = f"round {round_no}: " + ", ".join(f"{n} {s.lower()}" for s, n in sorted(counts.items()))
    return {"round": round_no, "counts": counts, "outcomes": [o.to_dict() for o in outcomes], "summary": summary}
