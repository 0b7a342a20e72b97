"""DeskBridge.set_desk journals the transition it makes, REDUCING included (not every non-HALTED state as resume)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.models import DeskStatus
from tui.screenshots import Desk, frozen_desk


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = frozen_desk(tmp_path)
    d.bridge.start().result(timeout=20)
    yield d
    d.stop()


def test_each_desk_change_is_journaled_as_the_transition_it_is(desk: Desk) -> None:
    bridge = desk.bridge
    for status in (DeskStatus.REDUCING, DeskStatus.HALTED, DeskStatus.ACTIVE, DeskStatus.REDUCING,
                   DeskStatus.ACTIVE):
        assert bridge.set_desk(status).result(timeout=5) is status
        assert desk.ledger.desk() is status and bridge.desk() is status
    entries = [e for e in bridge.runtime.journal.entries() if e.kind in ("halt", "reduce", "resume")]
    assert [(e.kind, e.payload["summary"]) for e in entries] == [
        ("reduce", "desk ACTIVE -> REDUCING (operator)"),
        ("halt", "desk REDUCING -> HALTED (operator)"),
        ("resume", "desk HALTED -> ACTIVE (operator)"),
        ("reduce", "desk ACTIVE -> REDUCING (operator)"),
        ("resume", "desk REDUCING -> ACTIVE (operator)"),
    ]
    assert entries[0].payload["from"] == "ACTIVE" and entries[0].payload["to"] == "REDUCING"


def test_a_state_given_as_text_is_taken_as_the_desk_state(desk: Desk) -> None:
    assert desk.bridge.set_desk("REDUCING", why="test").result(timeout=5) is DeskStatus.REDUCING  # type: ignore[arg-type]
    last = [e for e in desk.bridge.runtime.journal.entries() if e.kind == "reduce"][-1]
    assert last.payload["summary"] == "desk ACTIVE -> REDUCING (test)"
