"""The operator's inputs, checked as typed: pure parsing, in words."""

from __future__ import annotations

from decimal import Decimal

from connectors.paper.markets import DEFAULT_MARKETS
from core.models import PlanStatus, Side
from tui.bridge_view import PlanRow
from tui.screens.forms import parse_new_plan, parse_scale, parse_stop, scale_directive, stop_directive

D = Decimal
MARKETS = DEFAULT_MARKETS()
BTC = MARKETS["BTCUSDT"]


def row(side: Side = Side.BUY, net: str = "1", stop: str | None = "98000", mark: str = "100000") -> PlanRow:
    return PlanRow(plan_id="TPL_1", symbol="BTCUSDT", side=side, net=D(net), avg_entry=D("100000"), mark=D(mark),
                   upnl=D(0), stop=D(stop) if stop else None, take_profit=None, open_orders=1,
                   status=PlanStatus.ACTIVE, version=3)


def test_stop_tolerance_becomes_a_price_on_the_right_side() -> None:
    long = parse_stop("1.5%", row(), BTC)
    assert long.ok and long.tolerance == D("0.015") and long.new_stop == D("98500")
    short = parse_stop("2 %", row(Side.SELL, "-1", stop="103000"), BTC)
    assert short.ok and short.new_stop == D("102000")
    d = stop_directive("TPL_1", long, "STR_X")
    assert d.exit_directive is not None and d.exit_directive.stop_loss_tolerance == D("0.015")


def test_stop_refusals_in_words() -> None:
    cases = {
        "": "type a tolerance",
        "x": "not a number",
        "150%": "below 100 %",
        "100500": "would trigger at once",
        "98000": "is the current stop",
        "99000.001": "finer than the tick size",
    }
    for text, words in cases.items():
        p = parse_stop(text, row(), BTC)
        assert not p.ok and p.error is not None and words in p.error, (text, p.error)
    assert "flat" in (parse_stop("1%", row(net="0"), BTC).error or "")
    looser = parse_stop("97000", row(), BTC)  # passes: the preview shows the worker's refusal and offers L
    assert looser.ok and looser.looser_than == D("98000") and "looser than the current stop 98,000" in looser.note
    assert "did you mean a %" in parse_stop("2", row(stop=None), BTC).note


def test_scale_helpers_are_shown_as_the_absolute_target() -> None:
    assert parse_scale("50%", row(), BTC).target == D("0.5")
    assert parse_scale("+0.5", row(), BTC).target == D("1.5")
    assert parse_scale("-0.25", row(), BTC).target == D("0.75")
    assert parse_scale("\u22120.25", row(), BTC).target == D("0.75")  # a typographic minus
    assert parse_scale("2", row(), BTC).target == D("2")
    p = parse_scale("33.333333%", row(), BTC)
    assert p.target == D("0.33333") and "rounded down to the step" in p.note
    assert "close the plan" in parse_scale("0", row(), BTC).note
    short = parse_scale("-1", row(Side.SELL, "-3"), BTC)
    assert short.target == D(2) and "scale out: BUY 1" in short.note
    d = scale_directive("TPL_1", D("0.5"), "STR_X")
    assert d.size_directive is not None and d.size_directive.target_position_size == D("0.5")


def test_scale_refusals_in_words() -> None:
    cases = {"-2": "below zero", "0.000001": "finer than the step size", "abc": "not a number",
             "-150%": "below zero", "1.00001": "below the minimum order"}
    for text, words in cases.items():
        p = parse_scale(text, row(), BTC)
        assert not p.ok and p.error is not None and words in p.error, (text, p.error)


def test_new_plan_fields() -> None:
    ok = parse_new_plan("solusdt", "Long", "10", "2%", MARKETS)
    assert ok.ok and (ok.symbol, ok.direction, ok.size, ok.tolerance) == ("SOLUSDT", Side.BUY, D(10), D("0.02"))
    assert "stop 147" in ok.note
    bad = parse_new_plan("DOGEUSDT", "up", "0", "120", MARKETS)
    assert set(bad.errors) == {"symbol", "direction", "size", "stop"}
    assert "unknown symbol DOGEUSDT" in bad.errors["symbol"] and "long or short" in bad.errors["direction"]
    assert "below the minimum order" in parse_new_plan("BTCUSDT", "short", "0.00001", "", MARKETS).errors["size"]
