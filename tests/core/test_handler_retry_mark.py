"""Close retries follow the mark at the retry inside the same slippage cap (DESIGN §3); every trade outcome shows
what filled, at what average price, and the slippage against the mark at preview."""

from __future__ import annotations

import time
from decimal import Decimal

from core.outcomes import OutcomeStatus
from tests.core.test_handler_kit import BTC, directive, make_desk, open_plan, size_to

D = Decimal


async def test_a_retried_close_is_priced_from_the_mark_at_the_retry_inside_the_cap() -> None:
    desk = await make_desk(flatten_rounds=3)
    await open_plan(desk, "TPL_1", stop="0.10")  # stop at 90,000
    d = directive("STR_PANIC", "CLOSE_EXISTING", "TPL_1", execution_directive={"max_total_slippage_pct": "0.02"})
    batch = desk.preview(d)  # IOC sell at 98,000: 2 % under the preview mark 100,000
    desk.engine.set_mark(BTC, D("97000"), time.time())  # the venue falls 3 % before the send
    report = await desk.send(d, batch=batch)
    assert report.ok, report.summary()
    first, retry = [o for o in report.outcomes if o.action == "EXECUTE_TRADE"]
    assert first.status is OutcomeStatus.FAILED and "EXPIRED, unfilled" in first.detail
    assert first.filled_quantity is None and first.slippage is None
    assert retry.round == 2 and retry.status is OutcomeStatus.ACKNOWLEDGED
    order = desk.engine.order_record(BTC, retry.client_order_id or "")
    assert order is not None and order.price == D("95060")  # 97,000 x 0.98: the cap measured from the retry's mark
    assert (retry.filled_quantity, retry.fill_price) == (D(1), D(97000))
    assert retry.slippage == D("0.03")  # against the mark at preview, positive = worse for us
    assert retry.to_dict()["fill_price"] == "97000" and retry.to_dict()["slippage"] == "0.030000"


async def test_every_trade_outcome_says_its_fill_price_and_slippage() -> None:
    desk = await make_desk()
    await open_plan(desk, "TPL_1", stop="0.10")
    batch = desk.preview(size_to("STR_UP", "TPL_1", "1.5"))
    desk.engine.set_mark(BTC, D("100500"), time.time())  # a buy filled 0.5 % above the previewed mark
    report = await desk.send(size_to("STR_UP", "TPL_1", "1.5"), batch=batch)
    (trade,) = [o for o in report.outcomes if o.action == "EXECUTE_TRADE"]
    assert (trade.filled_quantity, trade.fill_price, trade.slippage) == (D("0.5"), D("100500"), D("0.005"))
