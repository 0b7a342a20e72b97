"""MODIFY_EXISTING's cancel_directive (issue 11 item 6: cancel one order of a plan, previewed) and the structured
view of a loosened stop (ExecutionBatch.loosened, what the console's second confirmation names)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.batch import Loosening
from core.directives import StrategyDirective
from core.worker import directive_id_of
from tests.core.conftest import cancels, directive, modifies, order, plan, run, state, trades

STOP = order("ORD_SL", "STOP_LOSS", "SELL", "1", stop="95000")
TP = order("ORD_TP", "TAKE_PROFIT", "SELL", "1", price="110000")
ENTRY = order("ORD_EN", "ENTRY", "BUY", "0.5", price="100000")
DONE = order("ORD_OLD", "ENTRY", "BUY", "1", status="FILLED", filled="1")


def desk():  # type: ignore[no-untyped-def]
    return state(plan("TPL_1", "1", orders=[STOP, TP, ENTRY, DONE]),
                 plan("TPL_2", "1", orders=[order("ORD_SL2", "STOP_LOSS", "SELL", "1", stop="96000")]))


def cancel(*ids: str, plans: tuple[str, ...] = ("TPL_1",), **parts: object) -> StrategyDirective:
    return directive("MODIFY_EXISTING", *plans, cancel_directive={"order_ids": list(ids)}, **parts)


def test_one_cancel_per_listed_order() -> None:
    batch = run(cancel("ORD_TP", "ORD_EN"), desk())
    assert batch.ok and batch.warnings == []
    assert [(c.plan_id, c.symbol, c.order_id) for c in batch.commands] == [
        ("TPL_1", "BTCUSDT", "ORD_TP"), ("TPL_1", "BTCUSDT", "ORD_EN")]
    over_two = run(cancel("ORD_EN", "ORD_SL2", plans=("TPL_1", "TPL_2")), desk())
    assert [(c.plan_id, c.order_id) for c in cancels(over_two)] == [("TPL_1", "ORD_EN"), ("TPL_2", "ORD_SL2")]


def test_cancelling_the_stop_says_the_plan_becomes_unprotected() -> None:
    batch = run(cancel("ORD_SL"), desk())
    assert batch.ok and [c.order_id for c in batch.commands] == ["ORD_SL"]
    assert batch.warnings == ["TPL_1: becomes UNPROTECTED: cancelling ORD_SL leaves no stop for a position of 1"]
    # a stop set by the same directive replaces it: protected, no warning
    batch = run(cancel("ORD_SL", exit_directive={"stop_loss_price": "97000"}), desk())
    assert batch.ok and batch.warnings == []
    assert [c.order_id for c in cancels(batch)] == ["ORD_SL"]
    assert [(t.role, t.stop_price) for t in trades(batch)] == [("STOP_LOSS", Decimal("97000"))]


def test_cancel_combined_with_a_stop_change_sees_the_plan_without_the_cancelled_order() -> None:
    batch = run(cancel("ORD_TP", exit_directive={"stop_loss_price": "97000"}), desk())
    assert batch.ok
    assert [c.order_id for c in cancels(batch)] == ["ORD_TP"]
    assert [(m.order_id, m.stop_price) for m in modifies(batch)] == [("ORD_SL", Decimal("97000"))]


@pytest.mark.parametrize("oid, why", [
    ("ORD_OLD", "cancel_directive.order_ids: ORD_OLD: is FILLED, not open: nothing to cancel (TPL_1)"),
    ("ORD_SL2", "cancel_directive.order_ids: ORD_SL2: belongs to TPL_2, which is not in target_plan_ids"),
    ("ORD_NOPE", "cancel_directive.order_ids: ORD_NOPE: unknown order: not an order of TPL_1"),
])
def test_an_order_that_cannot_be_cancelled_is_an_error_naming_it(oid: str, why: str) -> None:
    batch = run(cancel("ORD_TP", oid), desk())
    assert batch.commands == [] and batch.errors == [why]


def test_cancel_directive_belongs_to_modify_existing_only() -> None:
    close = run(directive("CLOSE_EXISTING", "TPL_1", cancel_directive={"order_ids": ["ORD_TP"]}), desk())
    assert close.errors == ["cancel_directive: not allowed for CLOSE_EXISTING (it cancels every order and closes "
                            "the position)"]
    new = run(directive("NEW_TRADE", entry_directive={"symbol": "BTCUSDT", "direction": "BUY"},
                        size_directive={"target_position_size": "1"}, cancel_directive={"order_ids": ["ORD_TP"]}),
              desk())
    assert new.errors == ["cancel_directive: only for MODIFY_EXISTING (a new plan has no orders to cancel)"]


@pytest.mark.parametrize("ids, msg", [([], "at least 1"), (["ORD_1", "ORD_1"], "repeated: ORD_1"),
                                      ([" "], "non-empty")])
def test_cancel_directive_validation(ids: list[str], msg: str) -> None:
    with pytest.raises(ValidationError, match=msg):
        cancel(*ids)


def test_the_derived_directive_id_includes_the_cancels_and_is_unchanged_without_them() -> None:
    a = cancel("ORD_TP", plans=("TPL_1",)).model_copy(update={"directive_id": None})
    b = cancel("ORD_EN", plans=("TPL_1",)).model_copy(update={"directive_id": None})
    assert directive_id_of(a) != directive_id_of(b)
    assert "cancel_directive" in a.model_dump(mode="json")
    # a directive without it dumps, and derives its id, exactly as before the field existed
    old = StrategyDirective.model_validate({"scope": "CLOSE_EXISTING", "target_plan_ids": ["TPL_1"]})
    assert "cancel_directive" not in old.model_dump(mode="json")
    assert directive_id_of(old) == "STR_7ca43a168c9c04c5"


# ---- loosening a stop ------------------------------------------------------------------------------------------

def loosen(price: str, *, allow: bool = False) -> StrategyDirective:
    return directive("MODIFY_EXISTING", "TPL_1", "TPL_2",
                     exit_directive={"stop_loss_price": price, "allow_loosen": allow})


def test_a_looser_stop_without_allow_loosen_names_both_prices_and_lists_them() -> None:
    batch = run(loosen("94000"), desk())
    assert batch.commands == []
    assert batch.errors == [
        "TPL_1: exit_directive.stop_loss_price: new stop 94000 is looser than the current 95000 (ORD_SL); set "
        "exit_directive.allow_loosen to move it away",
        "TPL_2: exit_directive.stop_loss_price: new stop 94000 is looser than the current 96000 (ORD_SL2); set "
        "exit_directive.allow_loosen to move it away",
    ]
    assert batch.loosened == [Loosening("TPL_1", "ORD_SL", Decimal("95000"), Decimal("94000")),
                              Loosening("TPL_2", "ORD_SL2", Decimal("96000"), Decimal("94000"))]
    assert "loosened" not in batch.to_dict()  # not part of the JSON contract


def test_allow_loosen_sends_it_and_still_lists_it() -> None:
    batch = run(loosen("94000", allow=True), desk())
    assert batch.ok
    assert [(m.order_id, m.stop_price) for m in modifies(batch)] == [("ORD_SL", Decimal("94000")),
                                                                    ("ORD_SL2", Decimal("94000"))]
    assert [(x.plan_id, x.current, x.new) for x in batch.loosened] == [
        ("TPL_1", Decimal("95000"), Decimal("94000")), ("TPL_2", Decimal("96000"), Decimal("94000"))]


def test_a_mixed_move_lists_only_the_loosened_plan() -> None:
    batch = run(loosen("95500"), desk())  # tighter than TPL_1's 95000, looser than TPL_2's 96000
    assert [x.plan_id for x in batch.loosened] == ["TPL_2"]
    assert len(batch.errors) == 1 and batch.errors[0].startswith("TPL_2:")
    assert run(loosen("97000"), desk()).loosened == []
