"""The worker builds its commands without re-validating them (speed, core.worker_exits.trusted_command and
trusted_cancels): every batch must be exactly what the validated construction gives, byte for byte, with the same
fields-set, field order and defaults."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import core.worker as worker
from core.batch import CancelOrder, ExecuteTrade, ModifyOrder
from core.directives import StrategyDirective
from core.models import LedgerState
from core.worker import translate
from tests.core.test_worker_idempotency import DIRECTIVES, base, make

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_worker  # noqa: E402


def _validated(spec: partial[ExecuteTrade] | partial[ModifyOrder], seq: int) -> ExecuteTrade | ModifyOrder:
    return spec(seq=seq)


def _validated_cancels(seq: int, plan_id: str, symbol: str, order_ids: list[str]) -> list[CancelOrder]:
    return [CancelOrder(seq=seq + i, plan_id=plan_id, symbol=symbol, order_id=o) for i, o in enumerate(order_ids, 1)]


def _cases() -> list[tuple[str, StrategyDirective, LedgerState]]:
    cases = [(name, make(name), base()) for name in sorted(DIRECTIVES)]
    big = LedgerState.model_validate(bench_worker.snapshot(plans=30, orders_per_plan=6))
    cases.append(("flatten 30", StrategyDirective.model_validate(bench_worker.flatten_directive(30)), big))
    ids = [f"TPL_{i}" for i in range(30)]
    for name, extra in (("stop 1%", {"exit_directive": {"stop_loss_tolerance": "0.01", "allow_loosen": True}}),
                        ("scale", {"size_directive": {"target_position_size": "0.25"}}),
                        ("tp", {"exit_directive": {"take_profit_price": "200000"}})):
        did = "STR_" + name.replace(" ", "_").replace("%", "pct")
        d = StrategyDirective.model_validate({"directive_id": did, "scope": "MODIFY_EXISTING",
                                              "target_plan_ids": ids, **extra})
        cases.append((name, d, big))
    return cases


@pytest.mark.parametrize(("name", "directive", "state"), _cases(), ids=lambda v: v if isinstance(v, str) else "")
def test_trusted_commands_are_the_validated_ones(name: str, directive: StrategyDirective, state: LedgerState,
                                                 monkeypatch: Any) -> None:
    fast = translate(directive, state)
    monkeypatch.setattr(worker, "trusted_command", _validated)
    monkeypatch.setattr(worker, "trusted_cancels", _validated_cancels)
    slow = translate(directive, state)
    assert fast.to_json() == slow.to_json() and fast.digest() == slow.digest()
    assert (fast.warnings, fast.errors, fast.plan_versions, fast.marks) == (
        slow.warnings, slow.errors, slow.plan_versions, slow.marks)
    assert len(fast.commands) == len(slow.commands)
    for a, b in zip(fast.commands, slow.commands, strict=True):
        assert type(a) is type(b) and a == b and list(a.__dict__) == list(b.__dict__)
        assert a.model_fields_set == b.model_fields_set and hash(a) == hash(b) and repr(a) == repr(b)
    if name in ("flatten 30", "stop 1%", "scale"):
        assert fast.commands, fast.errors
