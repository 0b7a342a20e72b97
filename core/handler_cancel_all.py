"""The cancel-all calls of a flatten: one per symbol whose every open order this batch cancels, and never where an
order that is not ours could be cancelled with them (DESIGN §3; issue 13 item 5)."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

from core.batch import CancelOrder, ExecutionBatch
from core.connector import ConnectorError, VenueOrder
from core.handler_orders import NOT_EXECUTED
from core.models import PlanStatus, TradePlan
from core.outcomes import ExecutionReport
from core.reconcile import apply_cancelled

if TYPE_CHECKING:
    from core.handler import ExecutionHandler


async def cancel_all_calls(h: ExecutionHandler, batch: ExecutionBatch, report: ExecutionReport,
                       plans: dict[str, TradePlan]) -> bool:
    """One cancel-all call per symbol whose every ledger-open order is to be cancelled by this batch (so no
    order of another plan is touched). Anything it did not cancel is left to the plan's own cancels.
    True when at least one call was made."""
    if not h.connector.capabilities.has_cancel_all:
        return False
    wanted: dict[str, set[str]] = {}
    for c in batch.commands:
        if isinstance(c, CancelOrder):
            wanted.setdefault(c.symbol, set()).add(c.order_id)
    if not wanted:
        return False
    others: set[str] = set()
    if not set(h.ledger.plan_ids(PlanStatus.ACTIVE)) <= plans.keys():  # else a CLOSED plan has no orders
        for _pid, symbol, order in h.ledger.open_orders():
            if order.order_id not in wanted.get(symbol, ()):
                others.add(symbol)
    for p in plans.values():
        for o in p.open_orders:
            if o.order_id not in wanted.get(p.symbol, ()):
                others.add(p.symbol)
    symbols = [s for s, ids in wanted.items() if len(ids) > 1 and s not in others]
    ids = {s: [p.plan_id for p in plans.values() if p.symbol == s] for s in symbols}
    await asyncio.gather(*(_cancel_symbol(h, s, report, ids[s], plans) for s in symbols))
    return bool(symbols)

async def _cancel_symbol(h: ExecutionHandler, symbol: str, report: ExecutionReport, plan_ids: list[str],
                         plans: dict[str, TradePlan]) -> None:
    """Cancel-all on one symbol, only when every order open at the venue on it is one this batch cancels: a
    foreign order (another desk's, a manual one) is never cancelled. Otherwise the plans cancel one by one.
    `plans`: the plans as the round read them, just before (an order placed since then counts as foreign: then
    the plans cancel one by one)."""
    if symbol in h.foreign_seen:  # someone else trades here: an order of theirs could arrive any moment
        report.notes.append(f"cancel-all {symbol} not used: a foreign order was seen on it before; "
                            f"cancelling one by one")
        return
    owned = {o.client_order_id or o.order_id for pid in plan_ids for o in plans[pid].open_orders}
    try:
        async with h.ops.sem:
            asked = time.monotonic()
            venue_open = await h.connector.open_orders(symbol)
            listed = time.monotonic()
    except ConnectorError as exc:
        report.notes.append(f"cancel-all {symbol}: could not list open orders ({exc.reason}); one by one")
        return
    foreign = sorted(vo.client_order_id for vo in venue_open if vo.client_order_id not in owned)
    if foreign:
        h.foreign_seen.add(symbol)
        report.notes.append(f"cancel-all {symbol} not used: {len(foreign)} open order(s) at the venue are not "
                            f"this batch's ({', '.join(foreign[:3])}); cancelling one by one")
        return
    round_trip = max(listed - asked, 0.001)
    cancelled: list[VenueOrder] = []
    for i in range(h.ops.attempts):
        try:
            async with h.ops.sem:
                if time.monotonic() - listed > round_trip:  # the listing is too old to vouch for the venue
                    report.notes.append(f"cancel-all {symbol} not used: its listing of open orders is older "
                                        f"than one round trip; cancelling one by one")
                    return
                cancelled = await h.connector.cancel_all(symbol)
            break
        except ConnectorError as exc:
            if exc.kind in NOT_EXECUTED and i + 1 < h.ops.attempts:
                await h.ops.backoff(i, exc)
                continue
            report.notes.append(f"cancel-all {symbol}: {exc.reason}; cancelling one by one")
            return
    # the answer, in one group commit with the other symbols' answers of the same loop turns
    done, strangers = await h.ops.commits.run(lambda: apply_cancelled(h.ledger, cancelled, plan_ids), urgent=False)
    h.ops.cancelled_by_all.update(done)
    for coid in strangers:
        report.notes.append(f"cancel-all {symbol} also cancelled {coid} (not in the ledger)")
