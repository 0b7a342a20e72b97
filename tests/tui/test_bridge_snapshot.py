"""Previews translate from the plans the bridge's view already holds, checked against the ledger's plan versions:
only plans that changed since the view read them are read again, and a preview is never built from stale data."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from core.directives import Scope, StrategyDirective
from core.ledger import Ledger
from core.models import OrderStatus
from core.worker import translate
from tui.screenshots import Desk, frozen_desk


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    d = frozen_desk(tmp_path)
    d.bridge.start().result(timeout=20)
    yield d
    d.stop()


def _spy_reads(desk: Desk, monkeypatch: Any) -> list[list[str] | None]:
    """The plan ids each reader.state() call of the bridge asks for."""
    reader = desk.bridge._read()
    asked: list[list[str] | None] = []
    real = reader.state

    def state(plan_ids: Any = None, **kw: Any) -> Any:
        asked.append(None if plan_ids is None else list(plan_ids))
        return real(plan_ids, **kw)

    monkeypatch.setattr(reader, "state", state)
    return asked


def _dump(state: Any) -> dict[str, Any]:
    return state.model_dump(mode="json")


def test_the_held_snapshot_is_what_the_ledger_holds(desk: Desk) -> None:
    bridge = desk.bridge
    reader = bridge._read()
    ids = ["TPL_5", "TPL_2", "TPL_4"]
    live = {"live_only": True}  # the view holds each plan's live orders (Ledger.state(live_only=True))
    assert _dump(bridge._state_for(reader, None)) == _dump(reader.state(None, **live))
    assert _dump(bridge._state_for(reader, ids)) == _dump(reader.state(ids, **live))  # ledger order, as reader's
    assert _dump(bridge._state_for(reader, ["TPL_404", "TPL_3"])) == _dump(reader.state(["TPL_404", "TPL_3"], **live))
    assert _dump(reader.state(ids, **live)) != _dump(reader.state(ids))  # (the desk has history to leave out)


def test_a_preview_reads_again_only_the_plans_that_changed(desk: Desk, monkeypatch: Any) -> None:
    bridge = desk.bridge
    monkeypatch.setattr(bridge, "_notice_outside_changes", lambda: None)  # the view must not catch up by itself
    asked = _spy_reads(desk, monkeypatch)
    flatten = StrategyDirective(directive_id="STR_S1", scope=Scope.CLOSE_EXISTING,
                                target_plan_ids=[f"TPL_{i}" for i in range(1, 7)])
    first = bridge.preview(flatten).result(timeout=5)
    assert asked == [[]]  # every plan came from the view: the read brought markets, desk and limits only
    tp = next(o for o in bridge._read().state(["TPL_2"]).plans[0].open_orders if o.role == "TAKE_PROFIT")
    assert any(getattr(c, "order_id", None) == tp.order_id for c in first.batch.commands)
    other = Ledger(bridge.db)  # another process cancels TPL_2's take profit behind the console's back
    try:
        other.update_order(tp.order_id, status=OrderStatus.CANCELLED)
    finally:
        other.close()
    assert bridge._plans["TPL_2"].version < desk.ledger.get_plan("TPL_2").version  # the view has not seen it
    asked.clear()
    second = bridge.preview(flatten.model_copy(update={"directive_id": "STR_S2"})).result(timeout=5)
    assert asked == [["TPL_2"]]
    assert not any(getattr(c, "order_id", None) == tp.order_id for c in second.batch.commands)
    assert second.batch.plan_versions["TPL_2"] == desk.ledger.get_plan("TPL_2").version
    fresh = translate(flatten.model_copy(update={"directive_id": "STR_S2"}), bridge._read().state(None))
    assert second.batch.to_dict() == fresh.to_dict()  # byte for byte what a full read gives


def test_a_preview_is_journaled_before_anything_sent_after_it(desk: Desk) -> None:
    """The preview's journal entry is written off the moment the console paints it, but never after a send."""
    bridge = desk.bridge
    bridge.journal_delay = 60.0  # it would come much later on its own
    journal = bridge.runtime.journal
    directive = StrategyDirective(directive_id="STR_J1", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_5"])
    preview = bridge.preview(directive).result(timeout=5)
    report = bridge.send(preview.batch, directive).result(timeout=10)
    assert report.ok
    kinds = [e.kind for e in journal.entries(directive_id="STR_J1")]
    assert kinds[0] == "preview" and kinds.count("preview") == 1 and "send" in kinds
    other = StrategyDirective(directive_id="STR_J2", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_6"])
    bridge.preview(other).result(timeout=5)
    assert [e.directive_id for e in bridge.journal_entries().result(timeout=5)].count("STR_J2") == 1  # a read


def test_a_preview_is_journaled_soon_on_its_own(desk: Desk) -> None:
    bridge = desk.bridge
    bridge.journal_delay = 0.05
    directive = StrategyDirective(directive_id="STR_J3", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_2"])
    preview = bridge.preview(directive).result(timeout=5)
    journal = bridge.runtime.journal
    end = time.monotonic() + 5
    while not journal.entries(directive_id="STR_J3", kind="preview"):
        assert time.monotonic() < end, "the preview was never journaled"
        time.sleep(0.01)
    [entry] = journal.entries(directive_id="STR_J3", kind="preview")
    assert entry.payload["digest"] == preview.batch.digest()


def test_journal_pending_writes_the_previews_now(desk: Desk) -> None:
    """What the console calls once a preview is painted: the entry comes then, not `journal_delay` later."""
    bridge = desk.bridge
    bridge.journal_delay = 60.0
    directive = StrategyDirective(directive_id="STR_J4", scope=Scope.CLOSE_EXISTING, target_plan_ids=["TPL_3"])
    preview = bridge.preview(directive).result(timeout=5)
    journal = bridge.runtime.journal
    time.sleep(0.2)
    assert not journal.entries(directive_id="STR_J4", kind="preview")  # waiting for the console
    bridge.journal_pending()
    end = time.monotonic() + 5
    while not journal.entries(directive_id="STR_J4", kind="preview"):
        assert time.monotonic() < end, "journal_pending did not write the preview"
        time.sleep(0.01)
    [entry] = journal.entries(directive_id="STR_J4", kind="preview")
    assert entry.payload["digest"] == preview.batch.digest()
    assert entry.payload["batch"] == preview.batch.to_dict()
