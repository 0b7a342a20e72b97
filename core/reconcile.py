"""Bring the ledger in line with what the venue reports: order snapshots, recovery of unknown outcomes, sync.

Fills are derived from the venue's cumulative filled quantity and average price of each order, with a fill id of
`<client_order_id>:<cumulative>`, so the same snapshot applied twice (from the response, an event and a lookup)
changes the ledger once.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from core.connector import ConnectorError, ConnectorErrorKind, IExecutionConnector, VenueOrder
from core.decimals import dec_str, plain
from core.ledger import Ledger
from core.models import Fill, InvalidTransition, Order, OrderStatus, can_transition

log = logging.getLogger("plandesk.reconcile")


def apply_venue_order(ledger: Ledger, plan_id: str, order: Order, venue: VenueOrder, *, now: str = "") -> Order:
    """Apply a venue snapshot of `order` to the ledger. Returns the updated ledger order."""
    venue_filled = venue.filled_quantity
    if venue_filled > order.filled_quantity:
        delta = venue_filled - order.filled_quantity
        price = _marginal_price(ledger, plan_id, order, venue)
        fill = Fill(
            fill_id=f"{venue.client_order_id}:{dec_str(plain(venue_filled))}",
            order_id=order.order_id,
            side=order.side,
            price=price,
            quantity=delta,
            time=now,
        )
        ledger.apply_fill(order.order_id, fill)
        found = ledger.get_order(order.order_id)
        if found is not None:
            order = found[1]
    target = venue.status
    if target is OrderStatus.PARTIALLY_FILLED and venue_filled == 0:
        target = OrderStatus.OPEN
    if target != order.status and not (target is OrderStatus.PARTIALLY_FILLED and order.status is target):
        if can_transition(order.status, target):
            try:
                order = ledger.update_order(order.order_id, status=target, reason=venue.reason)
            except InvalidTransition as exc:  # pragma: no cover - guarded by can_transition
                log.warning("ledger refused %s: %s", order.order_id, exc)
        else:
            log.warning("venue reports %s for %s which the ledger has as %s", target, order.order_id, order.status)
    ledger.close_if_flat(plan_id)
    return order


def _marginal_price(ledger: Ledger, plan_id: str, order: Order, venue: VenueOrder) -> Decimal:
    """Price of the newly filled part: from the venue's average over the whole order and the fills we have."""
    avg = venue.avg_fill_price
    if avg is None:
        return venue.price or venue.stop_price or ledger.markets()[venue.symbol].mark_price
    plan = ledger.get_plan(plan_id)
    prev = Decimal(0)
    if plan is not None:
        prev = sum((f.price * f.quantity for f in plan.fills if f.order_id == order.order_id), Decimal(0))
    delta = venue.filled_quantity - order.filled_quantity
    price = (avg * venue.filled_quantity - prev) / delta
    return plain(price.quantize(Decimal("1e-12"))) if price > 0 else avg


async def lookup(connector: IExecutionConnector, symbol: str, client_order_id: str, *, attempts: int = 5,
                 delay: float = 0.05) -> tuple[bool, VenueOrder | None]:
    """Look an order up until the venue answers. (True, order|None) when answered (None = proven absent);
    (False, None) when the venue never answered."""
    import asyncio

    for i in range(attempts):
        try:
            return True, await connector.get_order(symbol, client_order_id)
        except ConnectorError as exc:
            if exc.kind is ConnectorErrorKind.NOT_FOUND:
                return True, None
            wait = exc.retry_after if exc.retry_after is not None else delay * (2**i)
            await asyncio.sleep(min(wait, 2.0))
    return False, None


async def recover(ledger: Ledger, connector: IExecutionConnector) -> list[str]:
    """Resolve orders left PENDING or UNKNOWN (a crash between write-ahead and the answer). Returns what was done."""
    notes: list[str] = []
    for plan_id, symbol, order in ledger.orders_with_status([OrderStatus.PENDING, OrderStatus.UNKNOWN]):
        coid = order.client_order_id
        if coid is None:
            ledger.update_order(order.order_id, status=OrderStatus.REJECTED, reason="no client order id; never sent")
            continue
        answered, venue = await lookup(connector, symbol, coid)
        if not answered:
            notes.append(f"{order.order_id} ({coid}): venue did not answer; still {order.status}")
            continue
        if venue is None:
            ledger.update_order(order.order_id, status=OrderStatus.REJECTED,
                                reason="recovered: not found at the venue, it was never placed")
            notes.append(f"{order.order_id} ({coid}): never reached the venue")
        else:
            apply_venue_order(ledger, plan_id, order, venue)
            notes.append(f"{order.order_id} ({coid}): recovered as {venue.status}")
        ledger.close_if_flat(plan_id)
    return notes


async def sync(ledger: Ledger, connector: IExecutionConnector) -> list[str]:
    """Refresh marks and every live ledger order from the venue (fills and cancels that happened while away)."""
    notes = await recover(ledger, connector)
    try:
        marks = await connector.mark_prices()
    except ConnectorError as exc:
        notes.append(f"marks unavailable: {exc.reason}")
        marks = {}
    markets = ledger.markets()
    for symbol, price in marks.items():
        if symbol in markets:
            ledger.set_mark(symbol, price)
    live = ledger.orders_with_status([OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED])
    if not live:
        return notes
    venue_open = {vo.client_order_id: vo for vo in await connector.open_orders()}
    for plan_id, symbol, order in live:
        coid = order.client_order_id or order.order_id
        vo = venue_open.get(coid)
        if vo is None:
            answered, vo = await lookup(connector, symbol, coid)
            if not answered:
                notes.append(f"{order.order_id}: venue did not answer")
                continue
            if vo is None:
                ledger.update_order(order.order_id, status=OrderStatus.CANCELLED, reason="not found at the venue")
                ledger.close_if_flat(plan_id)
                notes.append(f"{order.order_id}: not at the venue; marked CANCELLED")
                continue
        apply_venue_order(ledger, plan_id, order, vo)
    return notes
