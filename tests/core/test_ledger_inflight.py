"""The write-ahead record of an order: its owner and its proof-of-absence time, pushed when the request goes late."""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from core.ledger import Ledger
from core.ledger_owner import process_owner
from core.models import Order, OrderRole, OrderStatus, OrderType, Side


def pending(coid: str) -> Order:
    return Order(order_id="ORD_" + coid, client_order_id=coid, role=OrderRole.ENTRY, side=Side.BUY,
                 type=OrderType.MARKET, quantity=Decimal(1), status=OrderStatus.PENDING)


def test_write_ahead_records_owner_and_absence_time_and_a_late_send_pushes_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "l.sqlite")
    ledger.create_plan("TPL_1", "BTCUSDT", Side.BUY)
    before = time.time()
    ledger.write_ahead("TPL_1", pending("c-1"), absence_window=5.0)
    ((owner, due),) = ledger.inflight(["c-1"]).values()
    assert owner == process_owner(ledger.path) and before + 5.0 <= due <= time.time() + 5.0
    ledger.sending("c-1", 5.0)  # sent at once: nothing to write
    assert ledger.inflight(["c-1"])["c-1"][1] == due
    time.sleep(0.3)  # waited for a slot (or a retry): the venue may execute it until 5 s after now
    ledger.sending("c-1", 5.0)
    assert ledger.inflight(["c-1"])["c-1"][1] >= due + 0.3
    ledger.close()
    again = Ledger(tmp_path / "l.sqlite")  # persisted: another process reads the same
    assert again.inflight(["c-1"])["c-1"][1] >= due + 0.3
    again.close()
