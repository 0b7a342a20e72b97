"""The order-level steps of the ExecutionHandler: cancel, modify (cancel-replace), trade, protect.

Each step writes ahead to the ledger, calls the venue under the in-flight bound, applies the answer, and resolves an
unknown outcome by looking the order up (never by sending again blind)."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from decimal import Decimal
from functools import partial

from core.batch import CancelOrder, ExecuteTrade, ModifyOrder, replacement_client_order_id
from core.connector import ConnectorError, ConnectorErrorKind, IExecutionConnector, OrderRequest, VenueOrder
from core.decimals import dec_str, round_down_to
from core.ledger import Ledger, LedgerError
from core.ledger_group import CommitGroup
from core.ledger_schema import trusted
from core.models import MarketRules, Order, OrderStatus, OrderType, Side
from core.outcomes import CommandOutcome, OutcomeStatus
from core.pacing import PacedGate
from core.reconcile import absence_window, apply_venue_order, lookup, set_status

Emit = Callable[[CommandOutcome], None]
_ZERO = Decimal(0)
NOT_EXECUTED = (ConnectorErrorKind.RATE_LIMITED, ConnectorErrorKind.UNAVAILABLE)


def order_id_for(client_order_id: str) -> str:
    return "ORD_" + hashlib.sha256(client_order_id.encode()).hexdigest()[:16]


def _set(oc: CommandOutcome, emit: Emit, status: OutcomeStatus, detail: str = "") -> None:
    oc.status = status
    oc.detail = detail
    emit(oc)


def _immediate(order: Order) -> bool:
    """A MARKET or IOC/FOK order: its final state follows at once."""
    return order.type is OrderType.MARKET or order.time_in_force is not None and order.time_in_force != "GTC"


class OrderOps:
    def __init__(
        self,
        ledger: Ledger,
        connector: IExecutionConnector,
        sem: PacedGate,
        *,
        attempts: int,
        delay: float,
        fill_timeout: float,
    ) -> None:
        self.ledger = ledger
        self.venue = connector
        self.sem = sem
        self.attempts = attempts
        self.delay = delay
        self.fill_timeout = fill_timeout
        #: client order ids whose placement is in flight in this process (recovery must not judge them)
        self.in_flight: set[str] = set()
        #: order ids cancelled through one cancel-all call of the current batch
        self.cancelled_by_all: set[str] = set()
        #: the writes of the tasks of one loop turn in one transaction (core.ledger_group)
        self.commits = CommitGroup(ledger)

    async def backoff(self, i: int, exc: ConnectorError) -> None:
        wait = exc.retry_after if exc.retry_after is not None else self.delay * (2**i)
        await asyncio.sleep(min(wait, 2.0))

    def _status(self, order_id: str) -> OrderStatus | None:
        found = self.ledger.get_order(order_id)
        return None if found is None else found[1].status

    # ---- cancel -------------------------------------------------------------------------------------------
    async def cancel(self, c: CancelOrder, oc: CommandOutcome, emit: Emit) -> None:
        if c.order_id in self.cancelled_by_all:  # the batch's cancel-all call confirmed it CANCELLED
            self.cancelled_by_all.discard(c.order_id)
            _set(oc, emit, OutcomeStatus.ACKNOWLEDGED, f"CANCELLED (cancel-all {c.symbol})")
            return
        found = self.ledger.get_order(c.order_id)
        if found is None:
            _set(oc, emit, OutcomeStatus.REJECTED, "order not in the ledger")
            return
        plan_id, order = found
        coid = order.client_order_id or order.order_id
        oc.client_order_id = coid
        if not order.is_open:
            _set(oc, emit, OutcomeStatus.SKIPPED, f"already {order.status}")
            return
        emit(oc)
        last = ""
        for i in range(self.attempts):
            try:
                async with self.sem:
                    vo = await self.venue.cancel_order(c.symbol, coid)
            except ConnectorError as exc:
                last = exc.reason
                if exc.kind in (ConnectorErrorKind.NOT_FOUND, ConnectorErrorKind.REJECTED,
                                ConnectorErrorKind.UNKNOWN_OUTCOME):
                    answered, vo2 = await lookup(self.venue, c.symbol, coid, delay=self.delay)
                    if answered and vo2 is None and coid not in self.in_flight:
                        set_status(self.ledger, order.order_id, OrderStatus.CANCELLED, "not found at the venue")
                        _set(oc, emit, OutcomeStatus.RESOLVED, "not at the venue; marked cancelled")
                        return
                    if answered and vo2 is not None:
                        after = apply_venue_order(self.ledger, plan_id, order, vo2, close=False)
                        if not after.is_open:
                            status = (OutcomeStatus.RESOLVED if exc.kind is ConnectorErrorKind.UNKNOWN_OUTCOME
                                      else OutcomeStatus.ACKNOWLEDGED)
                            why = "lost the race: filled first" if after.status is OrderStatus.FILLED else ""
                            _set(oc, emit, status, why or f"{after.status}")
                            return
                        order = after
                    if exc.kind is ConnectorErrorKind.REJECTED:
                        _set(oc, emit, OutcomeStatus.REJECTED, exc.reason)
                        return
                await self.backoff(i, exc)
                continue
            after = await self.commits.run(partial(apply_venue_order, self.ledger, plan_id, order, vo, close=False),
                                           urgent=False)
            detail = "lost the race: filled first" if after.status is OrderStatus.FILLED else str(after.status)
            _set(oc, emit, OutcomeStatus.ACKNOWLEDGED, detail)
            return
        _set(oc, emit, OutcomeStatus.FAILED, f"gave up after {self.attempts} attempts: {last}")

    # ---- place (shared by trade and protect) --------------------------------------------------------------
    async def place(self, plan_id: str, order: Order, req: OrderRequest, oc: CommandOutcome, emit: Emit) -> None:
        await self._send_new(plan_id, order.order_id, req, oc, emit, ahead=order)

    async def _write_ahead(self, plan_id: str, order: Order, oc: CommandOutcome, emit: Emit, *,
                           names: bool = True) -> bool:
        """Write the order ahead (PENDING, with its client order id, owner and proof-of-absence time) in the next
        group commit; True once that commit is on disk. A refusal fails the command: nothing is sent.
        `names`: the outcome takes the new order's id (not for a cancel-replace: its outcome names the order the
        command modifies)."""
        window = absence_window(self.venue)
        try:
            await self.commits.run(lambda: self.ledger.write_ahead(plan_id, order, absence_window=window))
        except LedgerError as exc:
            _set(oc, emit, OutcomeStatus.FAILED, f"not sent: {exc}")
            return False
        if names:
            oc.order_id = order.order_id
        emit(oc)
        return True

    async def _send_new(self, plan_id: str, order_id: str, req: OrderRequest, oc: CommandOutcome, emit: Emit, *,
                        unknown_seen: bool = False, done: str = "", finish: Callable[[], None] | None = None,
                        ahead: Order | None = None) -> None:
        """Place an order until it is acknowledged, refused, proven absent after bounded attempts, or unknown
        because the venue stopped answering lookups. `ahead`: the order is not in the ledger yet; it is written
        ahead first, in the group commit of this loop turn (the write-aheads of a wave of orders share one
        commit), and nothing is sent before that commit. Otherwise it was written ahead before."""
        last = ""
        if ahead is not None and not await self._write_ahead(plan_id, ahead, oc, emit):
            return
        self.in_flight.add(req.client_order_id)
        try:
            for i in range(self.attempts):
                try:
                    async with self.sem.order():  # paced to the venue's order limit; the request goes now (a
                        # retry, or after waiting here): its proof-of-absence time starts now. Nothing is awaited
                        # between the gate's checks and the request (a 429 closes the gate for the next one)
                        self.ledger.sending(req.client_order_id, absence_window(self.venue))
                        vo = await self.venue.place_order(req)
                except ConnectorError as exc:
                    last = exc.reason
                    if exc.kind is ConnectorErrorKind.REJECTED:
                        set_status(self.ledger, order_id, OrderStatus.REJECTED, exc.reason)
                        _set(oc, emit, OutcomeStatus.REJECTED, done + exc.reason)
                        return
                    if exc.kind is ConnectorErrorKind.UNKNOWN_OUTCOME:
                        unknown_seen = True
                        if self._status(order_id) is OrderStatus.PENDING:
                            set_status(self.ledger, order_id, OrderStatus.UNKNOWN, exc.reason)
                        _set(oc, emit, OutcomeStatus.UNKNOWN, f"{exc.reason}; looking it up")
                        answered, found = await lookup(self.venue, req.symbol, req.client_order_id, delay=self.delay)
                        if not answered:
                            _set(oc, emit, OutcomeStatus.UNKNOWN,
                                 "venue did not answer the lookup; it stays UNKNOWN and is resolved at the next sync")
                            return
                        if found is not None:
                            await self._settle(plan_id, order_id, found, finish)
                            _set(oc, emit, OutcomeStatus.RESOLVED, f"{done}unknown -> found {found.status}")
                            return
                        # proven absent: the same client order id may be placed again
                    await self.backoff(i, exc)
                    continue
                final = await self._settle(plan_id, order_id, vo, finish)
                st = final.status if final else vo.status
                filled = final.filled_quantity if final else Decimal(0)
                if st is OrderStatus.EXPIRED and not filled:  # an IOC / MARKET that found nothing: not a success
                    _set(oc, emit, OutcomeStatus.FAILED, f"{done}EXPIRED, unfilled")
                    return
                detail = f"{done}{st}" + (f" {dec_str(filled)} filled" if filled else "")
                _set(oc, emit, OutcomeStatus.RESOLVED if unknown_seen else OutcomeStatus.ACKNOWLEDGED, detail)
                return
        finally:
            self.in_flight.discard(req.client_order_id)
        if self._status(order_id) in (OrderStatus.PENDING, OrderStatus.UNKNOWN):
            why = f"not placed after {self.attempts} attempts: {last}"
            set_status(self.ledger, order_id, OrderStatus.REJECTED, why)
        _set(oc, emit, OutcomeStatus.FAILED, f"{done}not placed after {self.attempts} attempts: {last}")

    async def _settle(self, plan_id: str, order_id: str, vo: VenueOrder,
                      finish: Callable[[], None] | None = None, *, group: bool = True,
                      first: Callable[[], None] | None = None) -> Order | None:
        """Apply the venue's answer; for MARKET/IOC orders wait (bounded) for the final state. Returns the order.
        `finish`: the caller's last writes, run in the same transaction as the answer when there is nothing to
        wait for (one commit instead of two); not run otherwise. `first`: the caller's writes that go before the
        answer, in the same transaction (a cancel-replace's old order)."""
        def write() -> Order | None:  # in the next group commit, with the answers that came back with this one
            if first is not None:
                first()
            found = self.ledger.get_order(order_id)
            if found is None:
                return None
            order = apply_venue_order(self.ledger, plan_id, found[1], vo, close=False, fresh=True)
            if finish is not None and not (_immediate(order) and order.is_open):
                finish()
            return order

        if group:  # with the other answers of this loop turn: one commit
            settled = await self.commits.run(write, urgent=False)
        else:  # at once (a cancel-replace: what follows it reads the ledger in the same turn)
            with self.ledger.transaction():
                settled = write()
        if settled is None:
            return None
        order = settled
        immediate = _immediate(order)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.fill_timeout
        while immediate and order.is_open and loop.time() < deadline:
            await asyncio.sleep(0.02)
            answered, again = await lookup(self.venue, vo.symbol, vo.client_order_id, attempts=1)
            if answered and again is not None:
                order = apply_venue_order(self.ledger, plan_id, order, again, close=False)
        return order

    # ---- trade: the plan's one position-changing order --------------------------------------------------
    async def trade(self, c: ExecuteTrade, oc: CommandOutcome, emit: Emit, group_id: str, *,
                    start_net: Decimal, unconfirmed: list[str] | None = None, confirmed: Decimal | None = None,
                    rules: MarketRules | None = None, finish: Callable[[], None] | None = None) -> None:
        """Place the plan's position-changing order for what is left to reach the batch's target, from the
        position confirmed after the cancels (`confirmed`: that net position, else read now). `unconfirmed`: cancels
        that did not end confirmed; then a trade that could overshoot (anything but a reduce-only close to zero) is
        not sent.
        `finish`: the caller's last writes, run in the transaction that records the venue's answer when the trade
        ends acknowledged with nothing left to wait for (see _settle)."""
        if confirmed is None:
            confirmed = self.ledger.net_positions([c.plan_id]).get(c.plan_id)
        rules = rules if rules is not None else self.ledger.markets().get(c.symbol)
        if confirmed is None or rules is None:
            _set(oc, emit, OutcomeStatus.FAILED, "plan or market rules missing")
            return
        net = confirmed
        target = start_net + c.side.sign * c.quantity
        if unconfirmed and not (c.reduce_only and target == 0):  # a reduce-only close cannot overshoot zero
            _set(oc, emit, OutcomeStatus.FAILED, "not sent: the cancel of " + ", ".join(unconfirmed) +
                 " is not confirmed; the working order could still fill and overshoot")
            return
        delta = target - net
        qty = round_down_to(abs(delta), rules.step_size)
        side = Side.BUY if delta > 0 else Side.SELL
        if qty == 0:
            _set(oc, emit, OutcomeStatus.SKIPPED, "position already at the target after the cancels")
            return
        if side is not c.side:
            _set(oc, emit, OutcomeStatus.SKIPPED,
                 f"a fill moved the position past the target ({dec_str(net)}); not sent, no overshoot")
            return
        if c.reduce_only:
            qty = min(qty, round_down_to(abs(net), rules.step_size))
        ref = c.price if c.price is not None else rules.mark_price
        if qty * ref < rules.min_notional:
            _set(oc, emit, OutcomeStatus.SKIPPED, f"remaining {dec_str(qty)} is below the minimum order")
            return
        done = ""
        if qty != c.quantity:
            done = f"quantity recomputed {dec_str(c.quantity)} -> {dec_str(qty)} from the confirmed position; "
            oc.detail = done
        order, req = self._new_order(c, qty, group_id)
        await self._send_new(c.plan_id, order.order_id, req, oc, emit, done=done, finish=finish, ahead=order)

    async def protect(self, c: ExecuteTrade, oc: CommandOutcome, emit: Emit, group_id: str) -> None:
        """A new stop / take profit: never larger than the confirmed position."""
        net = self.ledger.net_positions([c.plan_id]).get(c.plan_id)  # the position only: no orders read
        rules = self.ledger.markets().get(c.symbol)
        if net is None or rules is None:
            _set(oc, emit, OutcomeStatus.FAILED, "plan or market rules missing")
            return
        qty = min(c.quantity, round_down_to(abs(net), rules.step_size))
        if qty <= 0:
            _set(oc, emit, OutcomeStatus.SKIPPED, "no position to protect (the entry has not filled)")
            return
        order, req = self._new_order(c, qty, group_id)
        await self.place(c.plan_id, order, req, oc, emit)

    @staticmethod
    def _new_order(c: ExecuteTrade, qty: Decimal, group_id: str) -> tuple[Order, OrderRequest]:
        """The order to write ahead and its request. Built without re-validation: every field comes from the
        validated command, and `qty` is a positive multiple of the step (the callers skip a zero quantity)."""
        order = trusted(Order, {
            "order_id": order_id_for(c.client_order_id), "role": c.role, "side": c.side, "type": c.order_type,
            "quantity": qty, "price": c.price, "stop_price": c.stop_price, "status": OrderStatus.PENDING,
            "filled_quantity": _ZERO, "client_order_id": c.client_order_id, "time_in_force": c.time_in_force,
            "reduce_only": c.reduce_only, "group_id": group_id, "reason": None,
        })
        req = OrderRequest(
            symbol=c.symbol, side=c.side, order_type=c.order_type, quantity=qty, client_order_id=c.client_order_id,
            price=c.price, stop_price=c.stop_price, time_in_force=c.time_in_force, reduce_only=c.reduce_only,
        )
        return order, req

    # ---- modify (cancel-replace) --------------------------------------------------------------------------
    def grows(self, m: ModifyOrder) -> bool:
        found = self.ledger.get_order(m.order_id)
        return found is not None and m.quantity is not None and m.quantity > found[1].remaining

    async def modify(self, directive_id: str, m: ModifyOrder, oc: CommandOutcome, emit: Emit, group_id: str) -> None:
        found = self.ledger.get_order(m.order_id)
        if found is None:
            _set(oc, emit, OutcomeStatus.REJECTED, "order not in the ledger")
            return
        plan_id, old = found
        if not old.is_open:
            _set(oc, emit, OutcomeStatus.SKIPPED, f"order is {old.status}; nothing to modify")
            return
        net = self.ledger.net_positions([plan_id]).get(plan_id)  # the position only: no need to load the orders
        rules = self.ledger.markets().get(m.symbol)
        qty = m.quantity if m.quantity is not None else old.remaining
        capped = ""
        if old.role.is_protective and net is not None and rules is not None:
            cap = round_down_to(abs(net), rules.step_size)  # never above the position
            if qty > cap:
                qty, capped = cap, f"quantity capped at the position {dec_str(cap)}; "
        if qty <= 0:
            _set(oc, emit, OutcomeStatus.SKIPPED, "no position left to protect")
            return
        price = m.price if m.price is not None else old.price
        stop = m.stop_price if m.stop_price is not None else old.stop_price
        if qty == old.remaining and price == old.price and stop == old.stop_price:
            _set(oc, emit, OutcomeStatus.SKIPPED, capped + "nothing left to change")
            return
        old_coid = old.client_order_id or old.order_id
        new_coid = replacement_client_order_id(directive_id, old.order_id)
        oc.client_order_id = new_coid
        new = old.model_copy(update={
            "order_id": order_id_for(new_coid), "client_order_id": new_coid, "quantity": qty,
            "filled_quantity": Decimal(0), "price": price, "stop_price": stop, "status": OrderStatus.PENDING,
            "group_id": group_id, "reason": None,
        })
        req = OrderRequest(symbol=m.symbol, side=new.side, order_type=new.type, quantity=qty, client_order_id=new_coid,
                           price=new.price, stop_price=new.stop_price, time_in_force=new.time_in_force,
                           reduce_only=new.reduce_only)
        # on disk before the request leaves, in the group commit of this loop turn (the resizes of many plans
        # reach it together: one commit for all their write-aheads)
        if not await self._write_ahead(plan_id, new, oc, emit, names=False):
            return
        last = ""
        self.in_flight.add(new_coid)
        try:
            for i in range(self.attempts):
                try:
                    async with self.sem:
                        self.ledger.sending(new_coid, absence_window(self.venue))
                        vo = await self.venue.modify_order(m.symbol, old_coid, new_coid, quantity=qty,
                                                           price=m.price, stop_price=m.stop_price)
                except ConnectorError as exc:
                    last = exc.reason
                    if exc.kind in NOT_EXECUTED:
                        await self.backoff(i, exc)
                        continue
                    self.in_flight.discard(new_coid)
                    if await self._resolve_modify(plan_id, old, new, req, exc, oc, emit):
                        return
                    self.in_flight.add(new_coid)
                    await self.backoff(i, exc)
                    continue
                vo_old = await self._old_final(old, m.symbol)
                # the old order's final state and the answer for the new one: one transaction, in the group
                # commit of the answers that came back with it
                await self._settle(plan_id, new.order_id, vo, first=partial(self._old_replaced, plan_id, old, vo_old,
                                                                            new.order_id))
                _set(oc, emit, OutcomeStatus.ACKNOWLEDGED, f"{capped}replaced by {new.order_id}")
                return
        finally:
            self.in_flight.discard(new_coid)
        set_status(self.ledger, new.order_id, OrderStatus.REJECTED, f"not sent: {last}")
        _set(oc, emit, OutcomeStatus.FAILED, f"gave up after {self.attempts} attempts: {last}")

    async def _old_final(self, old: Order, symbol: str) -> VenueOrder | None:
        """The old order of a cancel-replace as the venue has it now: the answer to the replace describes only the
        new order, and the old one may have filled in part before the cancel (a take profit). None when the venue
        did not answer or no longer has it."""
        answered, vo_old = await lookup(self.venue, symbol, old.client_order_id or old.order_id, attempts=2,
                                        delay=self.delay)
        return vo_old if answered else None

    def _old_replaced(self, plan_id: str, old: Order, vo_old: VenueOrder | None, new_order_id: str) -> None:
        """The old order of a cancel-replace is gone: record its final state, fills it got before the cancel
        included, then CANCELLED (no await: inside the transaction of the new order's answer)."""
        if vo_old is not None:
            apply_venue_order(self.ledger, plan_id, old, vo_old, close=False)
        set_status(self.ledger, old.order_id, OrderStatus.CANCELLED, f"replaced by {new_order_id}")

    async def _resolve_modify(self, plan_id: str, old: Order, new: Order, req: OrderRequest, exc: ConnectorError,
                              oc: CommandOutcome, emit: Emit) -> bool:
        """After a failed cancel-replace, find out what the venue did. True when the command is settled."""
        old_coid = old.client_order_id or old.order_id
        a_new, vo_new = await lookup(self.venue, req.symbol, req.client_order_id, delay=self.delay)
        a_old, vo_old = await lookup(self.venue, req.symbol, old_coid, delay=self.delay)
        if a_old and vo_old is not None:
            apply_venue_order(self.ledger, plan_id, old, vo_old, close=False)
        if a_new and vo_new is not None:
            if a_old and vo_old is None:
                set_status(self.ledger, old.order_id, OrderStatus.CANCELLED, f"replaced by {new.order_id}")
            await self._settle(plan_id, new.order_id, vo_new, group=False)
            _set(oc, emit, OutcomeStatus.RESOLVED, f"unknown -> replaced by {new.order_id}")
            return True
        if not (a_new and a_old):
            if exc.kind is ConnectorErrorKind.UNKNOWN_OUTCOME:
                set_status(self.ledger, new.order_id, OrderStatus.UNKNOWN, exc.reason)
                _set(oc, emit, OutcomeStatus.UNKNOWN, "venue did not answer the lookup; resolved at the next sync")
                return True
            return False
        old_live = vo_old is not None and vo_old.status.is_open
        if exc.kind is ConnectorErrorKind.REJECTED:
            set_status(self.ledger, new.order_id, OrderStatus.REJECTED, exc.reason)
            _set(oc, emit, OutcomeStatus.REJECTED, exc.reason)
            return True
        if old_live:
            return False  # nothing happened: the same replacement may be tried again
        if vo_old is None or vo_old.status is OrderStatus.FILLED or exc.kind is ConnectorErrorKind.NOT_FOUND:
            gone = "not at the venue" if vo_old is None else str(vo_old.status)
            if vo_old is None:
                set_status(self.ledger, old.order_id, OrderStatus.CANCELLED, "not found at the venue")
            set_status(self.ledger, new.order_id, OrderStatus.REJECTED, f"not placed: the old order was {gone}")
            _set(oc, emit, OutcomeStatus.SKIPPED, f"the order was {gone} before the modify; nothing to modify")
            return True
        # the old order was cancelled but the replacement never arrived: place it (proven absent, same id)
        await self._send_new(plan_id, new.order_id, req, oc, emit, unknown_seen=True,
                             done="old order cancelled, replacement: ")
        return True
