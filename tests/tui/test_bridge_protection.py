"""The console's bridge on the paper venue: its event pump runs the protection supervisor (a resting entry fill
grows the stop; UNPROTECTED on the row), and its previews say how closes are retried and which marks are stale."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine
from core.demo import seed_demo_desk
from core.directives import StrategyDirective
from core.models import OrderRole
from tui.bridge import DeskBridge

D = Decimal


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[DeskBridge, PaperEngine, Clock]]:
    engine = PaperEngine(DEFAULT_MARKETS())
    clock = Clock()
    bridge = DeskBridge(PaperConnector(engine), tmp_path / "desk.db", seed=seed_demo_desk, clock=clock,
                        mark_interval=0.02, health_interval=0.2, stale_after=5.0)
    bridge.start().result(timeout=20)
    yield bridge, engine, clock
    bridge.stop()


def wait_for(cond: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"timed out waiting for {what}"
        time.sleep(0.01)


def close(plan_id: str, cap: str | None = None) -> StrategyDirective:
    data: dict[str, object] = {"scope": "CLOSE_EXISTING", "target_plan_ids": [plan_id]}
    if cap is not None:
        data["execution_directive"] = {"max_total_slippage_pct": cap}
    return StrategyDirective.model_validate(data)


def test_the_pump_grows_a_short_plans_stop_when_its_ladder_entry_fills(
        desk: tuple[DeskBridge, PaperEngine, Clock]) -> None:
    bridge, engine, _clock = desk
    plan = bridge.ledger.get_plan("TPL_2")  # ETH short 20, stop for 20, ladder entries 2 @ +1 % and 3 @ +2 %
    assert plan is not None and plan.net_position == -20
    engine.set_mark("ETHUSDT", D("3540"), time.time())  # through the first ladder entry (3,535)

    def stop_of() -> Decimal:
        p = bridge.ledger.get_plan("TPL_2")
        assert p is not None
        return sum((o.remaining for o in p.open_orders if o.role is OrderRole.STOP_LOSS), D(0))

    wait_for(lambda: stop_of() == 22, "the stop to follow the fill to 22")
    wait_for(lambda: (r := bridge.row("TPL_2")) is not None and r.net == -22 and r.unprotected is None,
             "the row: -22, covered")
    # the supervisor reports a plan's resizes once both its stop and its take profit have followed (one re-read of
    # the plan), so the alert may come a little after the stop shows 22 in the ledger
    seen: list[str] = []

    def alerted() -> bool:
        seen.extend(e.text for e in bridge.drain_changes().events)
        return any("STOP_LOSS 20 -> 22" in t for t in seen)

    wait_for(alerted, "the alert: STOP_LOSS 20 -> 22")
    row4 = bridge.row("TPL_4")  # the demo's TPL_4 holds a position and never had a stop
    assert row4 is not None and row4.unprotected is not None and row4.unprotected.startswith("no stop")


def test_a_close_preview_says_how_it_is_retried(desk: tuple[DeskBridge, PaperEngine, Clock]) -> None:
    bridge, _engine, _clock = desk
    capped = bridge.preview(close("TPL_1", "0.02")).result(timeout=5)
    assert capped.retry_note == "retries follow the mark inside the 2% cap"
    market = bridge.preview(close("TPL_1")).result(timeout=5)
    assert market.retry_note == "retries at MARKET (no slippage cap)"
    scale = StrategyDirective.model_validate({"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
                                              "size_directive": {"target_position_size": "1.5"}})
    assert bridge.preview(scale).result(timeout=5).retry_note is None


def test_a_preview_priced_from_old_marks_names_each_stale_symbol(desk: tuple[DeskBridge, PaperEngine, Clock]) -> None:
    bridge, engine, clock = desk
    assert bridge.preview(close("TPL_1", "0.02")).result(timeout=5).stale_marks == {}
    clock.now += 22.0  # the venue went quiet 22 s ago
    stale = bridge.preview(close("TPL_1", "0.02")).result(timeout=5)
    assert stale.stale_marks == {"BTCUSDT": 22.0}
    engine.set_mark("BTCUSDT", D("100100"), time.time())  # a fresh mark arrives
    wait_for(lambda: bridge.markets()["BTCUSDT"].mark_price == D("100100"), "the new mark")
    assert bridge.preview(close("TPL_1", "0.02")).result(timeout=5).stale_marks == {}
