"""What send/flatten print at desk scale: big batches summarised (counts per status, bad ones listed, the rest counted
with a pointer to the journal), and data printed safely (control characters removed, Rich markup escaped)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.outcomes import CommandOutcome, ExecutionReport, OutcomeStatus
from tests.cli.test_exec import run, seed
from tui import cli_report


def test_a_big_flatten_prints_a_summary_not_every_row(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 60)
    r = run("flatten", "--all", "--yes", "--db", db)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "commands for 60 plans" in out  # the preview, summarised
    assert "closes: per plan: 60 closes, " in out and "netted: 3 closes, ~1 round trip" in out
    assert "more good outcomes not shown; `plandesk journal --directive" in out
    assert "outcomes: " in out and "ACKNOWLEDGED" in out
    assert len(out.splitlines()) < cli_report.SHOW_GOOD + 30


def oc(seq: int, status: OutcomeStatus, plan_id: str = "TPL_1", detail: str = "") -> CommandOutcome:
    return CommandOutcome(seq=seq, action="EXECUTE_TRADE", plan_id=plan_id, symbol="BTCUSDT", order_id=None,
                          status=status, detail=detail)


def test_bad_outcomes_are_all_listed_and_good_ones_counted(capsys: pytest.CaptureFixture[str]) -> None:
    outcomes = [oc(i, OutcomeStatus.ACKNOWLEDGED) for i in range(100)]
    outcomes += [oc(100 + i, OutcomeStatus.REJECTED, detail=f"refused {i}") for i in range(5)]
    for o in outcomes:
        cli_report.print_outcome(o)
    cli_report.print_report(ExecutionReport(directive_id="STR_X", outcomes=outcomes))
    out = capsys.readouterr().out
    assert all(f"refused {i}" in out for i in range(5))
    assert "60 more good outcomes not shown" in out
    assert "100 ACKNOWLEDGED, 5 REJECTED" in out


def test_data_is_printed_escaped_and_without_control_characters(capsys: pytest.CaptureFixture[str]) -> None:
    evil = "TPL_[/]\x1b[31mred[bold]"
    o = oc(1, OutcomeStatus.REJECTED, plan_id=evil, detail="[/]\x07bell")
    o.fill_price, o.filled_quantity, o.slippage = Decimal("100.5"), Decimal("0.01"), Decimal("0.0012")
    cli_report.print_outcome(o)
    report = ExecutionReport(directive_id="STR_[/]", outcomes=[o], unprotected={evil: "stop re-place failed"},
                             differences=[f"{evil}: position changed"], still_open=[f"{evil} [/] still open"])
    cli_report.print_report(report)
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "TPL_[/]?[31mred[bold]" in out
    assert "UNPROTECTED:" in out and "differs from the preview:" in out and "STILL OPEN:" in out
    assert "filled 0.01 @ 100.5 (slippage 0.120% vs the mark at preview)" in out


def test_the_preview_line_gives_the_duration_at_the_rate_limit() -> None:
    from core.batch import ExecuteTrade, ExecutionBatch
    from core.directives import Scope
    from core.models import OrderRole, OrderType, Side
    from core.pacing import BINANCE_SPOT

    trades = [ExecuteTrade(seq=i, plan_id=f"TPL_{i}", symbol=("BTCUSDT", "ETHUSDT")[i % 2], side=Side.SELL,
                           order_type=OrderType.MARKET, quantity=Decimal("0.01"), client_order_id=f"c{i}",
                           reduce_only=True, role=OrderRole.EXIT) for i in range(1000)]
    batch = ExecutionBatch(directive_id="STR_X", scope=Scope.CLOSE_EXISTING, commands=trades)
    line = cli_report.pacing_line(batch, BINANCE_SPOT)
    assert line is not None
    assert line.startswith("closes: per plan: 1000 closes, ~110 s at the rate limit; netted: 2 closes, ~1 round trip")
