"""Bring the ledger in line with what the venue reports: order snapshots, recovery of unknown outcomes, sync.

Fills are derived from the venue's cumulative filled quantity and average price of each order, with a fill id of
`<client_order_id>:<cumulative>`, so the same snapshot applied twice (from the response, an event and a lookup)
changes the ledger once.

Snapshots may arrive late and out of order (the paper venue emits OrderUpdated(OPEN) before the fills, and an event
can be applied after the response that already settled the order). A snapshot that is behind the ledger (less filled,
or still working while the ledger already has a final status) is ignored quietly: it never regresses a status.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Collection
from datetime import UTC, datetime
from decimal import Decimal

from core.connector import ConnectorError, ConnectorErrorKind, IExecutionConnector, VenueOrder
from core.decimals import dec_str, plain, round_down_to
from core.ledger import DEFAULT_ABSENCE_WINDOW, Ledger
from core.ledger_owner import is_mine, owner_alive
from core.models import Fill, InvalidTransition, Order, OrderStatus, PlanStatus, can_transition

log = logging.getLogger("plandesk.reconcile")

#: Longest recovery waits for orders whose proof-of-absence time has not come yet; past it they stay UNKNOWN.
RECOVER_WAIT = 10.0
#: Margin added to a venue's receive window (clock skew between us and the venue).
ABSENCE_MARGIN = 1.0


def absence_window(connector: object) -> float:
    """Seconds during which a create request just sent may still execute, so "not found" proves nothing.
    A connector says so with `absence_window`; a Binance-dialect one is read from its receive window; an
    in-process venue (no network between us) needs none; anything else gets DEFAULT_ABSENCE_WINDOW."""
    own = getattr(connector, "absence_window", None)
    if isinstance(own, (int, float)) and not isinstance(own, bool):
        return max(0.0, float(own))
    recv = getattr(getattr(connector, "rest", None), "recv_window", None)
    if isinstance(recv, int) and not isinstance(recv, bool):
        return recv / 1000 + ABSENCE_MARGIN
    if getattr(connector, "engine", None) is not None:
        return 0.0
    return DEFAULT_ABSENCE_WINDOW


def set_status(ledger: Ledger, order_id: str, status: OrderStatus, reason: str | None = None) -> Order | None:
    """Move an order to `status` if the transition table allows it from its current status; else leave it.
    Returns the order as stored (None if unknown). Never raises InvalidTransition."""
    found = ledger.get_order(order_id)
    if found is None:
        return None
    current = found[1]
    if current.status == status or not can_transition(current.status, status):
        return current
    try:
        return ledger.update_order(order_id, status=status, reason=reason)
    except InvalidTransition:  # pragma: no cover - a concurrent writer moved it between the read and the write
        again = ledger.get_order(order_id)
        return None if again is None else again[1]


def _is_stale(order: Order, venue: VenueOrder) -> bool:
    """The snapshot is older than what the ledger already knows."""
    if venue.filled_quantity < order.filled_quantity:
        return True
    return order.status.is_final and order.status is not OrderStatus.REJECTED and not venue.status.is_final


def apply_venue_order(
    ledger: Ledger,
    plan_id: str,
    order: Order,
    venue: VenueOrder,
    *,
    now: str = "",
    close: bool = True,
    fresh: bool = False,
) -> Order:
    """Apply a venue snapshot of `order` to the ledger. The order is re-read from the ledger first (a caller's copy
    may be old) unless `fresh` says the caller has just read it. Returns the updated ledger order. With `close`, a
    plan left flat without open orders is closed. Its writes (fill, status, close) are one transaction.

    A snapshot that changes nothing (most often the echo, on the event stream, of an answer the handler has already
    written: a replaced stop's CANCELLED and its replacement's OPEN) opens no write transaction."""
    if not fresh:  # a read outside the write transaction; the write reads it again inside it
        found = ledger.get_order(order.order_id)
        if found is not None:
            order = found[1]
    if changes_nothing(order, venue):
        if close and order.status.is_final:
            ledger.close_if_flat(plan_id)
        return order
    with ledger.transaction():
        return _apply_venue_order(ledger, plan_id, order, venue, now=now, close=close, fresh=fresh)


def changes_nothing(order: Order, venue: VenueOrder) -> bool:
    """Whether applying the venue snapshot to the ledger's `order` would write nothing: it is stale, or it reports
    the status and filled quantity the ledger already has (and no fee that may still be missing)."""
    if _is_stale(order, venue):
        return True
    target = venue.status
    if target is OrderStatus.PARTIALLY_FILLED and venue.filled_quantity == 0:
        target = OrderStatus.OPEN
    return (venue.filled_quantity == order.filled_quantity and target == order.status
            and not (venue.fee > 0 and order.filled_quantity > 0))


def _apply_venue_order(ledger: Ledger, plan_id: str, order: Order, venue: VenueOrder, *, now: str, close: bool,
                       fresh: bool) -> Order:
    if not fresh:
        found = ledger.get_order(order.order_id)
        if found is not None:
            order = found[1]
    if _is_stale(order, venue):
        log.debug("stale snapshot of %s ignored (venue %s/%s, ledger %s/%s)", order.order_id, venue.status,
                  venue.filled_quantity, order.status, order.filled_quantity)
        return order
    venue_filled = venue.filled_quantity
    target = venue.status
    if target is OrderStatus.PARTIALLY_FILLED and venue_filled == 0:
        target = OrderStatus.OPEN
    if venue_filled > order.filled_quantity:
        delta = venue_filled - order.filled_quantity
        price, fee = _marginal(ledger, plan_id, order, venue)
        fill = Fill(
            fill_id=f"{venue.client_order_id}:{dec_str(plain(venue_filled))}",
            order_id=order.order_id,
            side=order.side,
            price=price,
            quantity=delta,
            fee=fee,
            time=now or datetime.now(UTC).isoformat(),
        )
        # the fill and the status the venue reports with it: one order write, one plan write
        order = ledger.record_fill(order.order_id, fill, order=order, plan_id=plan_id, status=target,
                                   reason=venue.reason) or order
    elif venue.fee > 0 and order.filled_quantity > 0:
        ledger.add_fee(plan_id, order.order_id, venue.fee)  # the fee of fills recorded before it was known
    if target != order.status:
        if can_transition(order.status, target):
            try:
                order = ledger.update_order(order.order_id, status=target, reason=venue.reason)
            except InvalidTransition as exc:  # pragma: no cover - guarded by can_transition
                log.warning("ledger refused %s: %s", order.order_id, exc)
        else:
            log.warning("venue reports %s for %s which the ledger has as %s", target, order.order_id, order.status)
    if close and order.status.is_final:
        ledger.close_if_flat(plan_id)
    return order


def apply_venue_update(ledger: Ledger, venue: VenueOrder) -> Order | None:
    """Apply a venue snapshot (e.g. an OrderUpdated event) to the ledger order with its client order id.
    None when the ledger has no such order."""
    found = ledger.find_order(venue.client_order_id)
    if found is None:
        return None
    plan_id, order = found
    return apply_venue_order(ledger, plan_id, order, venue)


def apply_cancelled(ledger: Ledger, cancelled: list[VenueOrder], plan_ids: list[str]) -> tuple[list[str], list[str]]:
    """Apply the answer of a cancel-all call; `plan_ids`: the plans whose orders it is expected to hold.
    Returns (order ids now CANCELLED, client order ids the ledger does not know).

    The orders are read in one query and written in one transaction (hundreds of orders: one commit instead of one
    each); a plain cancel of an open order (nothing filled since the ledger's record) is one bulk update. Nothing in
    here awaits, so nothing else on this loop writes in between."""
    del plan_ids  # the orders are found by client order id, whichever plan holds them
    done: list[str] = []
    strangers: list[str] = []
    bulk: list[tuple[str, str, str | None]] = []
    with ledger.transaction():
        known = ledger.find_orders(vo.client_order_id for vo in cancelled)
        for vo in cancelled:
            found = known.get(vo.client_order_id)
            if found is None:
                strangers.append(vo.client_order_id)
                continue
            plan_id, order = found
            if (vo.status is OrderStatus.CANCELLED and vo.filled_quantity == order.filled_quantity
                    and (vo.fee <= 0 or order.filled_quantity == 0)
                    and (order.status is OrderStatus.CANCELLED or can_transition(order.status, vo.status))):
                if order.status is not OrderStatus.CANCELLED:
                    bulk.append((plan_id, order.order_id, vo.reason))
                done.append(order.order_id)
                continue
            after = apply_venue_order(ledger, plan_id, order, vo, close=False, fresh=True)
            if after.status is OrderStatus.CANCELLED:
                done.append(after.order_id)
        ledger.cancel_orders(bulk)
    return done, strangers


def _marginal(ledger: Ledger, plan_id: str, order: Order, venue: VenueOrder) -> tuple[Decimal, Decimal]:
    """Price and fee of the newly filled part: from the venue's average price over the whole order and its
    cumulative fee, less what the fills already recorded for the order hold."""
    prev_notional, prev_fee = (ledger.order_fill_totals(plan_id, order.order_id) if order.filled_quantity > 0
                               else (Decimal(0), Decimal(0)))
    fee = max(venue.fee - prev_fee, Decimal(0))
    avg = venue.avg_fill_price
    if avg is None:
        return venue.price or venue.stop_price or ledger.markets()[venue.symbol].mark_price, fee
    delta = venue.filled_quantity - order.filled_quantity
    price = (avg * venue.filled_quantity - prev_notional) / delta
    return (plain(price.quantize(Decimal("1e-12"))) if price > 0 else avg), fee


async def lookup(connector: IExecutionConnector, symbol: str, client_order_id: str, *, attempts: int = 5,
                 delay: float = 0.05) -> tuple[bool, VenueOrder | None]:
    """Look an order up until the venue answers. (True, order|None) when answered (None = proven absent);
    (False, None) when the venue never answered."""
    for i in range(attempts):
        try:
            return True, await connector.get_order(symbol, client_order_id)
        except ConnectorError as exc:
            if exc.kind is ConnectorErrorKind.NOT_FOUND:
                return True, None
            if i + 1 < attempts:
                wait = exc.retry_after if exc.retry_after is not None else delay * (2**i)
                await asyncio.sleep(min(wait, 2.0))
    return False, None


async def recover(ledger: Ledger, connector: IExecutionConnector, *, skip: Collection[str] = (),
                  max_wait: float = RECOVER_WAIT) -> list[str]:
    """Resolve orders left PENDING or UNKNOWN (a crash between write-ahead and the answer). Returns what was done.
    `skip`: client order ids whose request is in flight in this process right now (not left behind by a crash).

    Only orders whose owner process is gone are taken over (core.ledger_owner); another live process's in-flight
    orders are left to it. An order not found before its proof-of-absence time (send time + receive window,
    persisted at write-ahead) may still execute: recovery waits for it (at most `max_wait` seconds), and what is
    still not provably absent then is left UNKNOWN, and said."""
    notes: list[str] = []
    rows = ledger.orders_with_status([OrderStatus.PENDING, OrderStatus.UNKNOWN])
    info = ledger.inflight([o.client_order_id for _p, _s, o in rows if o.client_order_id is not None])
    waiting: list[tuple[str, str, Order, float]] = []
    for plan_id, symbol, order in rows:
        coid = order.client_order_id
        if coid is None:
            set_status(ledger, order.order_id, OrderStatus.REJECTED, "no client order id; never sent")
            continue
        if coid in skip:
            continue
        owner, absent_after = info.get(coid, ("", 0.0))
        if owner and not is_mine(ledger.path, owner):
            alive = owner_alive(ledger.path, owner)
            if alive is not False:
                how = "" if alive else " (on another host: cannot be checked from here)"
                notes.append(f"{order.order_id} ({coid}): in flight in live process {owner}{how}; left to it")
                continue
        answered, venue = await lookup(connector, symbol, coid)
        if not answered:
            notes.append(f"{order.order_id} ({coid}): venue did not answer; still {order.status}")
            continue
        if venue is None and time.time() < absent_after:
            waiting.append((plan_id, symbol, order, absent_after))
            continue
        _resolve(ledger, plan_id, order, venue, notes)
    if waiting:
        await _wait_for_absence(ledger, connector, waiting, max_wait, notes)
    return notes


def _resolve(ledger: Ledger, plan_id: str, order: Order, venue: VenueOrder | None, notes: list[str]) -> None:
    coid = order.client_order_id
    if venue is None:
        set_status(ledger, order.order_id, OrderStatus.REJECTED,
                   "recovered: not found at the venue after its receive window; it was never placed")
        notes.append(f"{order.order_id} ({coid}): never reached the venue")
    else:
        apply_venue_order(ledger, plan_id, order, venue)
        notes.append(f"{order.order_id} ({coid}): recovered as {venue.status}")
    ledger.close_if_flat(plan_id)


async def _wait_for_absence(ledger: Ledger, connector: IExecutionConnector,
                            waiting: list[tuple[str, str, Order, float]], max_wait: float, notes: list[str]) -> None:
    """Look the not-yet-provably-absent orders up again until each is found or its absence time has passed."""
    give_up = time.time() + max(0.0, max_wait)
    pending = list(waiting)
    while pending:
        now = time.time()
        still: list[tuple[str, str, Order, float]] = []
        for plan_id, symbol, order, absent_after in pending:
            coid = order.client_order_id or order.order_id
            answered, venue = await lookup(connector, symbol, coid)
            if answered and (venue is not None or now >= absent_after):
                _resolve(ledger, plan_id, order, venue, notes)
            else:
                still.append((plan_id, symbol, order, absent_after))
        pending = still
        if not pending:
            return
        if time.time() >= give_up:
            break
        nearest = min(a for *_x, a in pending)
        await asyncio.sleep(max(0.05, min(0.25, nearest - time.time(), give_up - time.time())))
    for _plan_id, _symbol, order, absent_after in pending:
        set_status(ledger, order.order_id, OrderStatus.UNKNOWN, "not found yet, but it may still execute")
        until = time.strftime("%H:%M:%S", time.gmtime(absent_after))
        notes.append(f"{order.order_id} ({order.client_order_id}): not found at the venue yet, but it could still "
                     f"execute until {until} UTC; left UNKNOWN (resolved at the next sync)")


async def sync(ledger: Ledger, connector: IExecutionConnector, *, skip: Collection[str] = ()) -> list[str]:
    """Refresh marks and every live ledger order from the venue (fills and cancels that happened while away).
    Open venue orders the ledger does not have as live are reported in the notes (they are not touched)."""
    notes = await recover(ledger, connector, skip=skip)
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
    try:
        venue_open = {vo.client_order_id: vo for vo in await connector.open_orders()}
    except ConnectorError as exc:
        notes.append(f"open orders unavailable: {exc.reason}")
        venue_open = {}
    live_coids = {o.client_order_id or o.order_id for _p, _s, o in live}
    for coid, ghost in venue_open.items():
        if coid not in live_coids and coid not in skip:
            known = ledger.find_order(coid)
            what = "unknown to the ledger" if known is None else f"{known[1].status} in the ledger"
            notes.append(f"venue has open order {coid} ({ghost.symbol}) {what}")
    for plan_id, symbol, order in live:
        coid = order.client_order_id or order.order_id
        if coid in skip:
            continue
        vo: VenueOrder | None = venue_open.get(coid)
        if vo is None:
            answered, vo = await lookup(connector, symbol, coid)
            if not answered:
                notes.append(f"{order.order_id}: venue did not answer")
                continue
            if vo is None:
                set_status(ledger, order.order_id, OrderStatus.CANCELLED, "not found at the venue")
                ledger.close_if_flat(plan_id)
                notes.append(f"{order.order_id}: not at the venue; marked CANCELLED")
                continue
        apply_venue_order(ledger, plan_id, order, vo)
    return notes


def not_done(ledger: Ledger, plan_ids: list[str]) -> list[str]:
    """The plans of a flatten that are not flat with no open orders (dust that cannot be traded counts as done).
    A CLOSED plan is done by definition, so only the ACTIVE ones are read."""
    active = set(ledger.plan_ids(PlanStatus.ACTIVE))
    candidates = [pid for pid in plan_ids if pid in active]
    if not candidates:
        return []
    out = []
    state = ledger.state(candidates)
    for plan in state.plans:
        if plan.net_position != 0 or plan.open_orders:
            rules = state.markets.get(plan.symbol)
            dust = rules is not None and not plan.open_orders and (
                round_down_to(abs(plan.net_position), rules.step_size) * rules.mark_price < rules.min_notional
            )
            if not dust:
                out.append(plan.plan_id)
    return out


def describe_open(ledger: Ledger, plan_id: str) -> str:
    """What is still open of a plan, in one line for the operator."""
    plan = ledger.get_plan(plan_id)
    if plan is None:
        return f"{plan_id}: unknown"
    n = len(plan.open_orders)
    return f"{plan_id}: position {dec_str(plan.net_position)} {plan.symbol}, {n} open order{'s' * (n != 1)}"
