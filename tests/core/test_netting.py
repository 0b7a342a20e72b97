"""Per-symbol netting: the allocation sums exactly to the fill, no plan ends with the wrong sign, long and short plans
offset without crossing the book, a partial fill is allocated and the rest retried, fees split exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.models import Side
from core.netting import NettingError, allocate, net_closes, net_symbol, split_fee

D = Decimal
STEP = D("0.001")

positions_st = st.dictionaries(
    st.sampled_from([f"TPL_{i}" for i in range(12)]),
    st.integers(min_value=-5000, max_value=5000).map(lambda n: n * STEP),
    min_size=1, max_size=12,
)


def test_long_and_short_offset_and_only_the_net_goes_to_the_venue() -> None:
    n = net_symbol("BTCUSDT", {"A": D("0.003"), "B": D("0.002"), "C": D("-0.004")}, STEP)
    assert n.side is Side.SELL and n.close_quantity == D("0.001")
    assert n.internal["C"] == D("0.004")  # the short closes entirely against the longs, at the mark
    assert sum(n.external.values()) == D("0.001")
    assert n.external == {"A": D("0.001")}  # 0.001 * 3/5 -> 0, * 2/5 -> 0; the remainder to the largest
    assert n.internal["A"] + n.external["A"] == D("0.003") and n.internal["B"] == D("0.002")


def test_exact_offset_sends_nothing() -> None:
    n = net_symbol("BTCUSDT", {"A": D("0.5"), "B": D("-0.5")}, STEP)
    assert n.side is None and n.close_quantity == 0 and n.external == {}
    assert n.position_after("A") == 0 and n.position_after("B") == 0


def test_the_remainder_never_makes_a_plan_take_more_than_it_holds() -> None:
    assert allocate(D("2"), {"a": D("1"), "b": D("1"), "c": D("1")}, D("1")) == {"a": 1, "b": 1, "c": 0}


@pytest.mark.parametrize("call,match", [
    (lambda: allocate(D("0.0015"), {"a": D("1")}, STEP), "total: 0.0015 is not a multiple of the step"),
    (lambda: allocate(D("3"), {"a": D("1")}, STEP), "total: 3 is more than the plans can take"),
    (lambda: net_symbol("X", {"a": D("0.0001")}, STEP), "position of a"),
    (lambda: net_closes([("a", "X", D(1)), ("a", "X", D(1))], {"X": STEP}), "plan a: listed twice"),
    (lambda: net_closes([("a", "X", D(1))], {}), "no market rules for X"),
])
def test_bad_inputs_are_refused_with_the_field_named(call: object, match: str) -> None:
    with pytest.raises(NettingError, match=match):
        call()  # type: ignore[operator]


@settings(max_examples=150, deadline=None)
@given(positions=positions_st, fill_parts=st.lists(st.integers(min_value=0, max_value=100), min_size=1, max_size=4),
       fee=st.integers(min_value=0, max_value=10**6).map(lambda n: n * D("0.0000001")))
def test_allocation_properties(positions: dict[str, Decimal], fill_parts: list[int], fee: Decimal) -> None:
    n = net_symbol("BTCUSDT", positions, STEP)
    net = sum(positions.values(), D(0))
    assert n.close_quantity == abs(net)
    assert sum(n.external.values(), D(0)) == n.close_quantity
    for pid, pos in positions.items():  # internal + external closes each plan exactly
        assert n.internal.get(pid, D(0)) + n.external.get(pid, D(0)) == abs(pos)
    # internal transfers balance: what the longs hand over internally, the shorts take
    longs_int = sum((n.internal[p] for p, q in positions.items() if q > 0), D(0))
    shorts_int = sum((n.internal[p] for p, q in positions.items() if q < 0), D(0))
    assert longs_int == shorts_int
    # partial fills, then the rest retried until done
    for part in fill_parts:
        q = (n.remaining * part / 100 / STEP).to_integral_value(rounding="ROUND_DOWN") * STEP
        got = n.apply_fill(q, fee)
        assert sum((g[0] for g in got.values()), D(0)) == q  # sums exactly to the fill
        assert sum((g[1] for g in got.values()), D(0)) == (fee if q else D(0))  # and to the fee
        for pid, pos in positions.items():
            after = n.position_after(pid)
            assert after == 0 or (after > 0) == (pos > 0)  # never the wrong sign
            assert abs(after) <= abs(pos)
    n.apply_fill(n.remaining, D(0))  # the retry of the rest
    assert n.remaining == 0
    assert all(n.position_after(pid) == 0 for pid in positions)
    assert sum(n.filled.values(), D(0)) == n.close_quantity


@settings(max_examples=100, deadline=None)
@given(fee=st.integers(min_value=0, max_value=10**9).map(lambda n: n * D("0.00000001")),
       qs=st.lists(st.integers(min_value=1, max_value=10**6), min_size=1, max_size=10))
def test_fee_split_sums_exactly(fee: Decimal, qs: list[int]) -> None:
    quantities = {f"p{i}": q * STEP for i, q in enumerate(qs)}
    shares = split_fee(fee, quantities)
    assert sum(shares.values(), D(0)) == fee
    assert all(s >= 0 for s in shares.values())
