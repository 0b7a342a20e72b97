"""The exposure & P&L pane: incremental sums equal the pure computation, realised P&L today from a baseline, the
pane in the console (shown where it fits, `e` toggles, `E` lists every plan's realised P&L)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from core.ledger import Ledger
from core.models import Fill, LedgerState, MarketRules, PlanStatus, TradePlan
from tests.tui.conftest import SIZE, Desk, ready, screen_of, until
from tests.tui.test_alert_kinds import kinds, marked
from tests.tui.test_exposure import row
from tui.alerts import AlertKind
from tui.exposure import ExposureBook, exposure
from tui.pnl import PlanPnL, RealisedBook, read_plan_pnl
from tui.screenshots import FROZEN
from tui.widgets.exposure_pane import ExposurePane


def test_the_book_keeps_the_same_sums_as_a_full_recompute() -> None:
    rows = [row("TPL_1", "BTCUSDT", "2", "100000", "101000"), row("TPL_2", "BTCUSDT", "-0.5", "102000", "101000"),
            row("TPL_3", "ETHUSDT", "-10", "3000", "3100"), row("TPL_4", "ETHBTC", "10", "0.03", "0.031")]
    book = ExposureBook()
    book.apply(rows)
    assert book.summary() == exposure(rows)
    assert not book.changed
    book.apply([], marks={"BTCUSDT": D("99000")})  # a mark moves the symbol's figures without its rows
    assert book.changed
    moved = [r.with_mark(D("99000")) if r.symbol == "BTCUSDT" else r for r in rows]
    assert book.summary() == exposure(moved)
    closed = row("TPL_3", "ETHUSDT", "0", "0", "3100", status=PlanStatus.CLOSED)  # flat: its exposure goes
    grown = row("TPL_1", "BTCUSDT", "3", "100500", "99000")
    book.apply([closed, grown], removed=["TPL_4"])
    now = [grown, moved[1]]
    assert book.summary() == exposure(now)
    assert book.symbols() == {"BTCUSDT"}
    book.apply([], marks={"SOLUSDT": D("150")})  # a symbol nobody holds: nothing to redraw
    assert not book.changed


def test_realised_today_counts_from_the_baseline_and_rolls_over_at_utc_midnight() -> None:
    now = [FROZEN + 3600.0]
    book = RealisedBook(lambda: now[0])
    book.update({"TPL_1": PlanPnL("TPL_1", "BTCUSDT", D("100"), D("1"))})  # realised before the console opened
    assert book.today("TPL_1") == (D(0), D(0)) and book.day_totals() == []
    book.update({"TPL_1": PlanPnL("TPL_1", "BTCUSDT", D("130"), D("1.5")),
                 "TPL_2": PlanPnL("TPL_2", "ETHBTC", D("-0.01"), D("0"))})  # TPL_2 opened since
    assert book.today("TPL_1") == (D("30"), D("0.5"))
    assert {(t.quote, t.realised, t.fees) for t in book.day_totals()} == {("USDT", D("30"), D("0.5")),
                                                                          ("BTC", D("-0.01"), D(0))}
    assert [p.plan_id for p, _d, _f in book.ranked()] == ["TPL_1", "TPL_2"]
    now[0] = FROZEN + 86400.0 + 60  # the next UTC day: today starts again from what was realised at midnight
    book.update({"TPL_1": PlanPnL("TPL_1", "BTCUSDT", D("140"), D("1.5"))})
    assert book.today("TPL_1") == (D("10"), D(0)) and book.since == FROZEN + 86400.0


def test_realised_and_fees_are_read_from_the_ledger(tmp_path: Path) -> None:
    rules = MarketRules(mark_price=D("100"), tick_size=D("0.01"), step_size=D("0.001"), min_notional=D("5"))
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.import_snapshot(LedgerState(markets={"SOLUSDT": rules}, plans=[
            TradePlan(plan_id="TPL_1", symbol="SOLUSDT", direction="BUY", realized_pnl=D("12.5"))]))
        from core.models import Order, OrderRole, OrderStatus, OrderType, Side

        ledger.write_ahead("TPL_1", Order(order_id="ORD_1", client_order_id="c1", role=OrderRole.ENTRY,
                                          side=Side.BUY, type=OrderType.MARKET, quantity=D("1"),
                                          status=OrderStatus.PENDING))
        ledger.record_fill("ORD_1", Fill(fill_id="F1", order_id="ORD_1", side=Side.BUY, price=D("100"),
                                         quantity=D("1"), fee=D("0.1")))
        got = read_plan_pnl(ledger)
    assert got == {"TPL_1": PlanPnL("TPL_1", "SOLUSDT", D("12.4"), D("0.1"))}


async def test_the_pane_shows_exposure_where_it_fits_and_a_stop_fill_realises(desk: Desk) -> None:
    from tui.screens.exposure_screen import ExposureScreen

    app = desk.app
    app.pnl_interval = app.render_interval = 0.1  # (the console's: 1 s and 0.5 s)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pane = app.query_one(ExposurePane)
        assert pane.display  # 160x50: it fits
        await until(pilot, lambda: "BTCUSDT" in pane.plain_text() and app._realised.loaded, what="the pane")
        text = pane.plain_text()
        assert "+1.25" in text and "125,000.00" in text and "desk USDT" in text
        await pilot.resize_terminal(80, 24)  # it would squeeze the activity log to nothing: hidden
        await until(pilot, lambda: not pane.display, what=f"hidden at {app.size}")
        await pilot.press("e")
        assert pane.display
        await pilot.resize_terminal(100, 24)  # the operator's choice holds over a resize
        assert pane.display
        desk.engine.set_mark("BTCUSDT", D("97000"), FROZEN)  # TPL_1's stop (98,000) fills: a realised loss
        await until(pilot, lambda: app._realised.today("TPL_1")[0] < 0, what="realised today")
        # the alert rides on the activity log's events (the timer's poll), the row on the fill's wake-up
        await until(pilot, lambda: (AlertKind.STOP_FILLED, "TPL_1") in kinds(app) and marked(app, "TPL_1"),
                    what="the stop-fill alert on TPL_1's row")
        await until(pilot, lambda: "by plan TPL_1 -" in pane.plain_text(), what="the plan in the pane")
        await pilot.press("E")
        screen = await screen_of(pilot, ExposureScreen)
        table = screen.query_one("#exposure-plans")
        assert table.row_count >= 1 and table.get_row_at(0)[0] == "TPL_1"
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ExposureScreen), what="closed")
