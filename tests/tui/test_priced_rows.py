"""PricedRows: the rows a preview keeps, each priced at the marks of the key press when first read."""

from __future__ import annotations

from decimal import Decimal as D

from tests.tui.test_exposure import row
from tui.bridge_view import PricedRows


def test_rows_are_priced_once_when_read_at_the_marks_they_were_taken_with() -> None:
    rows = {"A": row("A", "BTCUSDT", "1", "100", "100"), "B": row("B", "ETHUSDT", "-2", "50", "50"),
            "C": row("C", "SOLUSDT", "3", "10", "10")}
    marks = {"BTCUSDT": D("110"), "ETHUSDT": D("50")}  # SOL has no mark: its row stays as it was
    priced = PricedRows(rows, marks)
    assert len(priced) == 3 and list(priced) == ["A", "B", "C"] and "B" in priced and "Z" not in priced
    assert priced.get("Z") is None
    a = priced["A"]
    assert a.mark == D("110") and a.upnl == D("10") and priced["A"] is a  # priced once
    assert priced["B"] is rows["B"] and priced["C"] is rows["C"]  # at its mark already / no mark: the same row
