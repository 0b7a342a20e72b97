"""Ledger.record_fill: the same effect as apply_fill, returning the order without reloading the plan."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.ledger import Ledger
from core.models import Fill, Order, OrderRole, OrderStatus, OrderType, PlanStatus, Side


def _ledger(path: Path) -> Ledger:
    path.mkdir()
    ledger = Ledger(path / "l.sqlite", synchronous="NORMAL")
    ledger.create_plan("P", "BTCUSDT", Side.BUY)
    ledger.write_ahead("P", Order(order_id="O1", client_order_id="C1", role=OrderRole.ENTRY, side=Side.BUY,
                                  type=OrderType.MARKET, quantity=Decimal("2"), status=OrderStatus.OPEN))
    return ledger


def _fill(fid: str, qty: str) -> Fill:
    return Fill(fill_id=fid, order_id="O1", side=Side.BUY, price=Decimal("100"), quantity=Decimal(qty))


def test_record_fill_matches_apply_fill(tmp_path: Path) -> None:
    a, b = _ledger(tmp_path / "a"), _ledger(tmp_path / "b")
    try:
        for fid, qty in (("F1", "0.5"), ("F2", "1.5")):
            plan = a.apply_fill("O1", _fill(fid, qty))
            order = b.record_fill("O1", _fill(fid, qty))
            assert order == next(o for o in plan.orders if o.order_id == "O1")
            assert order == b.get_order("O1")[1]  # type: ignore[index]
        assert a.export_snapshot().plans == b.export_snapshot().plans
        assert order is not None and order.status is OrderStatus.FILLED
        again = b.record_fill("O1", _fill("F2", "1.5"))  # idempotent: nothing changes
        assert again == order
        assert b.get_plan("P").version == a.get_plan("P").version  # type: ignore[union-attr]
        assert b.get_plan("P").status is PlanStatus.ACTIVE  # type: ignore[union-attr]
    finally:
        a.close()
        b.close()
