"""What each trade of a round filled: quantity, average price, and slippage against the mark at preview (a
fraction, positive = worse for us), written on its CommandOutcome (DESIGN §3)."""

from __future__ import annotations

from decimal import Decimal

from core.batch import ExecuteTrade, ExecutionBatch
from core.decimals import plain
from core.ledger import Ledger
from core.models import Side
from core.outcomes import CommandOutcome

SLIPPAGE_PLACES = Decimal("0.000001")


def record_fills(ledger: Ledger, batch: ExecutionBatch, outcomes: dict[int, CommandOutcome],
                 marks: dict[str, Decimal]) -> None:
    trades = [c for c in batch.commands if isinstance(c, ExecuteTrade) and not c.role.is_protective]
    if not trades:
        return
    fills = ledger.fill_totals(c.plan_id for c in trades)  # order id -> (quantity, notional)
    for c in trades:
        oc = outcomes.get(c.seq)
        if oc is None or oc.order_id is None or oc.order_id not in fills:
            continue
        qty, notional = fills[oc.order_id]
        if qty <= 0:
            continue
        avg = notional / qty
        oc.filled_quantity = qty
        oc.fill_price = plain(avg.quantize(Decimal("0.00000001")))
        mark = marks.get(c.symbol)
        if mark is not None and mark > 0:
            worse = (avg - mark) if c.side is Side.BUY else (mark - avg)
            oc.slippage = (worse / mark).quantize(SLIPPAGE_PLACES)
