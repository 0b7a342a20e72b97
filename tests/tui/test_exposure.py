"""Desk exposure: sums per symbol over plans, notional at the mark, totals per quote currency."""

from __future__ import annotations

from decimal import Decimal as D

from core.models import PlanStatus, Side
from tui.bridge_view import PlanRow, unrealised
from tui.exposure import exposure


def row(pid: str, symbol: str, net: str, avg: str, mark: str | None, status: PlanStatus = PlanStatus.ACTIVE) -> PlanRow:
    n, a = D(net), D(avg)
    m = None if mark is None else D(mark)
    return PlanRow(plan_id=pid, symbol=symbol, side=Side.BUY if n >= 0 else Side.SELL, net=n, avg_entry=a, mark=m,
                   upnl=unrealised(n, a, m), stop=None, take_profit=None, open_orders=0, status=status, version=1)


def test_long_and_short_on_one_symbol_net_out() -> None:
    syms, totals = exposure([
        row("TPL_1", "BTCUSDT", "2", "100000", "101000"),
        row("TPL_2", "BTCUSDT", "-0.5", "102000", "101000"),
        row("TPL_3", "ETHUSDT", "-10", "3000", "3100"),
        row("TPL_4", "ETHUSDT", "0", "0", "3100"),  # flat: not exposure
        row("TPL_5", "SOLUSDT", "5", "150", None),  # no mark: counted, notional unknown
        row("TPL_6", "ETHUSDT", "3", "3000", "3100", status=PlanStatus.CLOSED),
    ])
    btc = next(s for s in syms if s.symbol == "BTCUSDT")
    assert (btc.net, btc.gross, btc.longs, btc.shorts) == (D("1.5"), D("2.5"), 1, 1)
    assert btc.net_notional == D("151500") and btc.gross_notional == D("252500")
    assert btc.upnl == D("2000") + D("500")
    eth = next(s for s in syms if s.symbol == "ETHUSDT")
    assert (eth.net, eth.plans, eth.upnl) == (D("-10"), 1, D("-1000"))
    sol = next(s for s in syms if s.symbol == "SOLUSDT")
    assert sol.unmarked == 1 and sol.net_notional is None
    assert [s.symbol for s in syms][:2] == ["BTCUSDT", "ETHUSDT"]  # largest gross notional first
    (usdt,) = totals
    assert usdt.quote == "USDT"
    assert usdt.net_notional == D("151500") - D("31000")
    assert usdt.gross_notional == D("252500") + D("31000")
    assert usdt.upnl == D("1500")


def test_quotes_are_never_added_together() -> None:
    _, totals = exposure([row("TPL_1", "ETHBTC", "10", "0.03", "0.031"), row("TPL_2", "BTCUSDT", "1", "1", "2")])
    assert {t.quote for t in totals} == {"BTC", "USDT"}
