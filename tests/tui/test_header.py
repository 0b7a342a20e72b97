"""The header line is laid out by priority: at 80 columns the desk state, the venue health, the data age (STALE),
the alert count and uPnL survive; the clock, the operator and words like "active" give way first."""

from __future__ import annotations

import pytest

from core.connector import ConnectorHealth
from core.models import DeskStatus
from tests.tui.conftest import Desk, build_desk, ready, until
from tui.screenshots import FROZEN
from tui.widgets.header import DeskCounts, DeskHeader

CLOCK = "2026-01-01 00:00:00 UTC"
MUST = ("DESK ACTIVE", "paper ● ok", "data 1.5s", "uPnL -1,234.56", "⚠ 2 alerts")


def header(*, operator: str | None = "alice", data_ts: float | None = FROZEN - 1.5,
           desk: DeskStatus = DeskStatus.ACTIVE, health: ConnectorHealth | None = None, venue: str = "paper",
           **counts: object) -> DeskHeader:
    h = DeskHeader(venue, clock=lambda: FROZEN, operator=operator)
    c = {"plans": 6, "active": 6, "upnl": "-1,234.56", "alerts": 2} | counts
    h.desk, h.health, h.last_data_ts, h.ready = desk, health or ConnectorHealth(ok=True, detail="ok"), data_ts, True
    h.counts = DeskCounts(**c)  # type: ignore[arg-type]
    return h


@pytest.mark.parametrize("width", [80, 120, 160])
def test_what_must_survive_does_at_every_width(width: int) -> None:
    line = header().line(width)
    assert line.cell_len <= width
    for part in MUST:
        assert part in line.plain, (width, line.plain)
    assert not line.plain.rstrip().endswith("…")


def test_at_80_columns_the_clock_operator_and_words_go_first() -> None:
    plain = header().line(80).plain
    assert "UTC" not in plain and "alice" not in plain and "active ·" not in plain
    assert "(a)" in plain  # the alert hint, shortened


def test_at_160_columns_everything_shows_and_the_clock_sits_at_the_right_edge() -> None:
    line = header().line(160)
    assert line.cell_len == 160
    for part in (*MUST, "plandesk", "op alice", "6 plans · 6 active", "⚠ 2 alerts (a to acknowledge)"):
        assert part in line.plain
    assert line.plain.endswith(CLOCK + " ")


def test_at_120_columns_the_plan_count_and_a_clock_still_fit() -> None:
    plain = header().line(120).plain
    assert "6 plans" in plain and "00:00:00 UTC" in plain
    assert "2026-01-01" not in plain  # the date gave way first


def test_no_data_yet_and_stale_data_and_a_filter_keep_upnl_and_the_alerts_at_80() -> None:
    plain = header(data_ts=None).line(80).plain
    assert "data none yet" in plain and "uPnL -1,234.56" in plain and "⚠ 2" in plain
    plain = header(data_ts=FROZEN - 100, desk=DeskStatus.HALTED, filter_text="eth short", shown=2).line(80).plain
    assert "DESK HALTED" in plain and "STALE 100s" in plain
    assert "uPnL -1,234.56" in plain and "⚠ 2" in plain


def test_a_long_health_detail_is_cut_not_what_follows_it() -> None:
    bad = ConnectorHealth(ok=False, detail="venue unreachable: ConnectError all connection attempts failed")
    line = header(health=bad, venue="sim 127.0.0.1:8765", data_ts=FROZEN - 100).line(80)
    assert line.cell_len <= 80
    for part in ("● ACTIVE", "● venue", "STALE", "uPnL -1,234.56", "⚠ 2"):
        assert part in line.plain, line.plain
    assert any("red" in str(s.style) for s in line.spans if "venue" in line.plain[s.start:s.end])


@pytest.mark.parametrize("size", [(80, 24), (120, 35), (160, 50)])
async def test_the_console_header_at_each_size(tmp_path: object, size: tuple[int, int]) -> None:
    desk: Desk = build_desk(tmp_path)  # type: ignore[arg-type]
    try:
        async with desk.app.run_test(size=size) as pilot:
            await ready(pilot)
            bar = desk.app.query_one("#header")
            # the demo's TPL_4 has no stop: one alert; the header shows it after the next timer poll
            await until(pilot, lambda: "⚠ 1" in bar.render().plain, what="the alert count in the header")
            plain = bar.render().plain
            assert len(plain) <= size[0]
            for part in ("DESK ACTIVE", "paper ● ok", "data 1.5s", "uPnL 0.00", "⚠ 1 alert"):
                assert part in plain, (size, plain)
            if size[0] >= 160:
                assert "6 plans · 6 active" in plain and plain.rstrip().endswith(CLOCK)
            if size[0] <= 80:
                assert "UTC" not in plain
    finally:
        desk.stop()
