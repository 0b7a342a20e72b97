"""A flatten is never refused for staleness (DESIGN §3): it is re-translated at send time from the confirmed
state, and what differed from the preview is said, one line per plan."""

from __future__ import annotations

from decimal import Decimal

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch
from core.decimals import dec_str
from core.directives import StrategyDirective
from core.models import LedgerState
from core.worker import translate


def stale_plans(batch: ExecutionBatch, current: dict[str, int]) -> list[str]:
    """`pid (vA -> vB)` for every plan whose version changed since the preview."""
    return [f"{pid} (v{v} -> {current.get(pid, 'gone')})" for pid, v in batch.plan_versions.items()
            if current.get(pid) != v]


def _close_of(batch: ExecutionBatch, plan_id: str) -> Decimal:
    """The signed quantity the batch closes for a plan (= minus the position it saw)."""
    total = Decimal(0)
    for c in batch.commands:
        if isinstance(c, ExecuteTrade) and c.plan_id == plan_id:
            total += c.side.sign * c.quantity
    return -total


def _cancels_of(batch: ExecutionBatch, plan_id: str) -> set[str]:
    return {c.order_id for c in batch.commands if isinstance(c, CancelOrder) and c.plan_id == plan_id}


def differences(old: ExecutionBatch, new: ExecutionBatch) -> list[str]:
    """One line per plan whose flatten differs between the preview and the send-time translation."""
    lines: list[str] = []
    plan_ids = list(dict.fromkeys([*old.plan_versions, *new.plan_versions]))
    for pid in plan_ids:
        parts: list[str] = []
        if pid not in new.plan_versions:
            lines.append(f"{pid}: gone or already closed since the preview; nothing to close")
            continue
        before, after = _close_of(old, pid), _close_of(new, pid)
        if before != after:
            parts.append(f"position {dec_str(before)} -> {dec_str(after)}")
        oc, nc = _cancels_of(old, pid), _cancels_of(new, pid)
        if nc - oc:
            parts.append("orders added: " + ", ".join(sorted(nc - oc)))
        if oc - nc:
            parts.append("orders gone: " + ", ".join(sorted(oc - nc)))
        if not parts and old.plan_versions.get(pid) != new.plan_versions.get(pid):
            parts.append("changed (same position and orders)")
        if parts:
            lines.append(f"{pid}: " + "; ".join(parts))
    return lines


def retranslate(batch: ExecutionBatch, directive: StrategyDirective, state: LedgerState,
                stale: list[str]) -> tuple[ExecutionBatch, list[str]]:
    """The flatten translated again from `state`; with the lines of what differed from the previewed `batch`."""
    fresh = translate(directive, state)
    diff = differences(batch, fresh)
    return fresh, diff or ["changed since the preview: " + ", ".join(stale)]
