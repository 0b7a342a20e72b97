"""The three desk states (issue 11 item 7) x every directive kind, in the preview (core.risk through the worker) and
at send time (core.risk.desk_refusal, what the handler checks when the desk changed after the preview).

ACTIVE passes everything. REDUCING: only what reduces exposure (scale-outs, closes, stop / take-profit changes, new
protective orders; cancels always). HALTED: nothing new but cancels and closes: scale-ins, scale-outs and a new take
profit are refused; stop and take-profit changes, a new stop and cancels pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from core.batch import ExecutionBatch
from core.ledger import Ledger
from core.models import DeskStatus, LedgerState, OrderRole
from core.risk import desk_refusal
from tests.core.conftest import directive, order, plan, run, state

STOP = order("ORD_SL", "STOP_LOSS", "SELL", "1", stop="95000")
TP = order("ORD_TP", "TAKE_PROFIT", "SELL", "1", price="110000")
ENTRY = order("ORD_EN", "ENTRY", "BUY", "0.5", price="100000")

PLANS = [
    plan("TPL_1", "1", orders=[STOP]),
    plan("TPL_2", "1", orders=[TP]),  # no stop
    plan("TPL_3", "1", orders=[STOP | {"order_id": "ORD_SL3"}, ENTRY]),
]

# kind -> (directive, passes in ACTIVE, REDUCING, HALTED)
KINDS: dict[str, tuple[Any, tuple[bool, bool, bool]]] = {
    "new trade": (directive("NEW_TRADE", entry_directive={"symbol": "BTCUSDT", "direction": "BUY"},
                            size_directive={"target_position_size": "1"}), (True, False, False)),
    "scale in": (directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "1.5"}),
                 (True, False, False)),
    "scale out": (directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "0.5"}),
                  (True, True, False)),
    "target 0": (directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "0"}),
                 (True, True, True)),
    "flatten": (directive("CLOSE_EXISTING", "TPL_1", "TPL_2", "TPL_3"), (True, True, True)),
    "tighten stop": (directive("MODIFY_EXISTING", "TPL_1", exit_directive={"stop_loss_price": "97000"}),
                     (True, True, True)),
    "loosen stop": (directive("MODIFY_EXISTING", "TPL_1", exit_directive={"stop_loss_price": "94000",
                                                                          "allow_loosen": True}), (True, True, True)),
    "new stop": (directive("MODIFY_EXISTING", "TPL_2", exit_directive={"stop_loss_tolerance": "0.02"}),
                 (True, True, True)),
    "move take profit": (directive("MODIFY_EXISTING", "TPL_2", exit_directive={"take_profit_price": "108000"}),
                         (True, True, True)),
    "new take profit": (directive("MODIFY_EXISTING", "TPL_1", exit_directive={"take_profit_price": "108000"}),
                        (True, True, False)),
    "reprice entry": (directive("MODIFY_EXISTING", "TPL_3", entry_directive={"order_type": "LIMIT",
                                                                             "limit_price": "100500"}),
                      (True, False, False)),
    "cancel one order": (directive("MODIFY_EXISTING", "TPL_3", cancel_directive={"order_ids": ["ORD_EN"]}),
                         (True, True, True)),
    "cancel the stop": (directive("MODIFY_EXISTING", "TPL_1", cancel_directive={"order_ids": ["ORD_SL"]}),
                        (True, True, True)),
}
STATES = (DeskStatus.ACTIVE, DeskStatus.REDUCING, DeskStatus.HALTED)


def desk_state(desk: DeskStatus) -> LedgerState:
    return state(*PLANS, desk=desk.value)


def roles() -> dict[str, OrderRole]:
    return {o.order_id: o.role for p in desk_state(DeskStatus.ACTIVE).plans for o in p.orders}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("desk", STATES, ids=str)
def test_each_state_and_directive_kind(kind: str, desk: DeskStatus) -> None:
    d, verdicts = KINDS[kind]
    passes = verdicts[STATES.index(desk)]
    batch = run(d, desk_state(desk))
    if passes:
        assert batch.ok and batch.commands, batch.errors
    else:
        assert not batch.ok and batch.commands == []
        assert all("desk.state: desk is " + desk.value in e for e in batch.errors), batch.errors
    # the send-time rule agrees with the preview, for a batch previewed while the desk was ACTIVE
    previewed = run(d, desk_state(DeskStatus.ACTIVE))
    why = desk_refusal(previewed, desk, roles())
    assert (why is None) == passes, why


def test_the_refusals_say_what_is_still_allowed() -> None:
    halted = run(KINDS["scale out"][0], desk_state(DeskStatus.HALTED))
    assert halted.errors == ["TPL_1: desk.state: desk is HALTED: SELL 0.5 BTCUSDT is a scale-out; only cancels, "
                             "closes and stop changes may be sent (set the desk to REDUCING to scale out)"]
    reducing = run(KINDS["scale in"][0], desk_state(DeskStatus.REDUCING))
    assert reducing.errors == ["TPL_1: desk.state: desk is REDUCING: BUY 0.5 BTCUSDT would add exposure (stops, "
                               "scale-outs, closes and cancels are still allowed)"]
    tp = run(KINDS["new take profit"][0], desk_state(DeskStatus.HALTED))
    assert "a new take profit (SELL 1 BTCUSDT) is a resting scale-out" in tp.errors[0]


def test_a_scale_out_previewed_while_active_is_refused_at_send_when_halted() -> None:
    batch: ExecutionBatch = run(KINDS["scale out"][0], desk_state(DeskStatus.ACTIVE))
    assert batch.ok
    assert desk_refusal(batch, DeskStatus.REDUCING) is None
    assert "is a scale-out" in (desk_refusal(batch, DeskStatus.HALTED) or "")
    # the close of a target 0 is recognised from the batch alone (its client order id is the worker's close id)
    assert desk_refusal(run(KINDS["target 0"][0], desk_state(DeskStatus.ACTIVE)), DeskStatus.HALTED) is None


def test_the_ledger_stores_reducing(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.db")
    try:
        ledger.set_desk(DeskStatus.REDUCING)
        assert ledger.desk() is DeskStatus.REDUCING
        assert ledger.state().desk.state is DeskStatus.REDUCING
        assert ledger.export_snapshot().model_dump(mode="json")["desk"] == {"state": "REDUCING"}
    finally:
        ledger.close()
