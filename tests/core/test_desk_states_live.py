"""The desk states through the handler on the paper venue: the protection supervisor keeps resizing stops while the
desk is HALTED (it never goes through the desk rule), and a cancel of one order and a stop tighten are sent while
HALTED, a scale-out while REDUCING."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from core.models import DeskStatus, OrderRole, OrderStatus, Side
from core.supervisor import ProtectionSupervisor
from tests.core.test_handler_kit import directive, make_desk, open_plan, size_to

D = Decimal
SOL = "SOLUSDT"


async def test_halted_still_resizes_stops_and_sends_cancels_and_stop_changes() -> None:
    d = await make_desk()
    sup = ProtectionSupervisor(d.handler)
    task = asyncio.create_task(sup.run())
    try:
        await open_plan(d, "TPL_20", symbol=SOL, side=Side.SELL, size="20", stop="0.10", tp=None)
        r = await d.send(size_to("STR_L1", "TPL_20", "22", entry_directive={"order_type": "LIMIT",
                                                                             "limit_price": "155"}))
        assert r.ok, r.summary()
        d.ledger.set_desk(DeskStatus.HALTED)
        d.set_mark(SOL, "155.5")  # the resting entry fills while the desk is halted: the stop must still grow
        for _ in range(500):
            stops = d.open("TPL_20", OrderRole.STOP_LOSS)
            if d.plan("TPL_20").net_position == -22 and sum((o.remaining for o in stops), D(0)) == 22:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError("the stop did not grow while HALTED")
        assert sup.unprotected() == {}
        tighten = await d.send(directive("STR_T", "MODIFY_EXISTING", "TPL_20",
                                         exit_directive={"stop_loss_price": "160"}))
        assert tighten.ok and tighten.outcomes, tighten.summary()
        assert [o.stop_price for o in d.open("TPL_20", OrderRole.STOP_LOSS)] == [D(160)]
        stop = d.open("TPL_20", OrderRole.STOP_LOSS)[0]
        batch = d.preview(directive("STR_C", "MODIFY_EXISTING", "TPL_20",
                                    cancel_directive={"order_ids": [stop.order_id]}))
        assert batch.warnings == [f"TPL_20: becomes UNPROTECTED: cancelling {stop.order_id} leaves no stop for a "
                                  "position of -22"]
        cancel = await d.send(directive("STR_C", "MODIFY_EXISTING", "TPL_20",
                                        cancel_directive={"order_ids": [stop.order_id]}), batch=batch)
        assert cancel.ok, cancel.summary()
        assert d.ledger.get_order(stop.order_id)[1].status is OrderStatus.CANCELLED  # type: ignore[index]
        assert d.engine.open_orders(SOL) == []
        d.ledger.set_desk(DeskStatus.REDUCING)
        out = await d.send(size_to("STR_OUT", "TPL_20", "10"))
        assert out.ok, out.summary()
        assert d.plan("TPL_20").net_position == -10
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
