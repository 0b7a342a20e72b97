"""The plans filter: several terms, exact ids, named filters."""

from __future__ import annotations

from decimal import Decimal as D

from core.models import PlanStatus, Side
from tui.bridge_view import PlanRow, unrealised
from tui.plan_filter import parse_filter


def row(pid: str, symbol: str, net: str, mark: str = "100", unprotected: str | None = None,
        status: PlanStatus = PlanStatus.ACTIVE) -> PlanRow:
    n = D(net)
    return PlanRow(plan_id=pid, symbol=symbol, side=Side.SELL if n < 0 else Side.BUY, net=n, avg_entry=D(100),
                   mark=D(mark), upnl=unrealised(n, D(100), D(mark)), stop=None, take_profit=None, open_orders=0,
                   status=status, version=1, unprotected=unprotected)


ROWS = [
    row("TPL_1", "ETHUSDT", "-2", "110"),
    row("TPL_12", "ETHUSDT", "3", "110", unprotected="no stop"),
    row("TPL_120", "BTCUSDT", "1", "90"),
    row("TPL_7", "SOLUSDT", "0", status=PlanStatus.CLOSED),
]


def ids(text: str, stale: set[str] | None = None) -> list[str]:
    f = parse_filter(text)
    return [r.plan_id for r in ROWS if f.matches(r, stale or set())]


def test_terms_all_match() -> None:
    assert ids("eth short") == ["TPL_1"]
    assert ids("ETH LONG") == ["TPL_12"]
    assert ids("") == ["TPL_1", "TPL_12", "TPL_120", "TPL_7"]


def test_exact_id() -> None:
    assert ids("tpl_12") == ["TPL_12"]
    assert ids("TPL_1") == ["TPL_1"]


def test_named_filters() -> None:
    assert ids("unprotected") == ["TPL_12"]
    assert ids("losing") == ["TPL_1", "TPL_120"]
    assert ids("stale", {"BTCUSDT"}) == ["TPL_120"]
    assert ids("closed") == ["TPL_7"]
    assert ids("flat") == ["TPL_7"]
    assert ids("losing btc") == ["TPL_120"]


async def test_the_console_filter_takes_several_terms_and_exact_ids(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from tests.tui.conftest import SIZE, build_desk, ready, until
    from tui.widgets.plans_table import PlansTable

    desk = build_desk(tmp_path)
    try:
        async with desk.app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            table = desk.app.query_one(PlansTable)
            await pilot.press("slash", *"eth short")
            await until(pilot, lambda: table.visible_count == 2, what="eth short: TPL_2 and TPL_5")
            await pilot.press(*["backspace"] * 9, *"tpl_1")
            await until(pilot, lambda: table.visible_count == 1, what="exactly TPL_1")
            assert table.selected_plan_id == "TPL_1"
    finally:
        desk.stop()


def test_the_priced_sort_keys_are_the_sort_keys_of_the_priced_rows() -> None:
    """PRICED_SORTS (the table's uPnL and mark sort under a feed) must order exactly as SORTS over at_mark rows."""
    import random

    from tui.plan_filter import PRICED_SORTS, SORTS, sorted_ids, sorted_keys

    rng = random.Random(7)
    rows = [row(f"TPL_{i}", rng.choice(["BTCUSDT", "ETHUSDT"]), str(rng.choice([-3, -1, 0, 1, 2, 5])),
                str(rng.randrange(80, 120))) for i in range(200)]
    rows.append(PlanRow(plan_id="TPL_nomark", symbol="SOLUSDT", side=Side.BUY, net=D(1), avg_entry=D(100), mark=None,
                        upnl=None, stop=None, take_profit=None, open_orders=0, status=PlanStatus.ACTIVE, version=1))
    for marks in ({"BTCUSDT": D("101.5"), "ETHUSDT": D("97")}, {"BTCUSDT": D("90")}, {}):
        for column in PRICED_SORTS:
            for descending in (False, True):
                priced = [(r.plan_id, r.at_mark(marks.get(r.symbol)), i) for i, r in enumerate(rows)]
                want = sorted_ids(priced, column, descending)
                keyed = [(PRICED_SORTS[column](r, marks.get(r.symbol)), i, r.plan_id) for i, r in enumerate(rows)]
                assert sorted_keys(keyed, descending) == want, (column, descending, marks)
                assert [SORTS[column][0](p) for _pid, p, _i in priced] == [k for k, _i, _p in keyed]
