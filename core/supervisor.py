"""The protection supervisor (DESIGN §3a): one component that consumes the connector's event stream, applies it to
the ledger and keeps the invariant, whoever holds the connector (the console, `plandesk send` / `flatten`):

- a resting ENTRY fill grows the plan's STOP_LOSS / TAKE_PROFIT orders to the new position (MODIFY through the
  handler's order steps, journaled); a partial take-profit fill shrinks the stop to what is left;
- a protective fill that leaves the plan flat cancels every other open order of the plan, entries included;
- a protective order the venue cancelled, rejected or expired is never silent: journal entry and an alert;
- UNPROTECTED per plan (a position without full stop coverage, with a reason) is exposed for the rows.

A plan on which the handler is sending is left alone until the send is over (the send itself keeps its protective
orders in step with the position); the supervisor then looks at it again. It never creates a stop a plan did not
have: a plan without one is shown UNPROTECTED.

Venue-side order lists (Binance OTO / OTOCO) are not used: the port has no order lists, the paper venue has none,
and the supervisor works the same on every venue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import partial

from core.batch import CancelOrder, ModifyOrder
from core.connector import ConnectorEvent, OrderUpdated
from core.decimals import dec_str, round_down_to
from core.handler import ExecutionHandler
from core.ledger import LedgerError
from core.models import ExecutionGroup, GroupStatus, Order, OrderRole, OrderStatus, TradePlan
from core.outcomes import CommandOutcome
from core.protective import unprotected_reason
from core.reconcile import apply_venue_order

log = logging.getLogger("plandesk.supervisor")
Alert = Callable[[str, str], None]  # (level: info/warn/error, text)
GONE = (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.EXPIRED)


def _quiet(_level: str, _text: str) -> None:
    pass


class ProtectionSupervisor:
    def __init__(self, handler: ExecutionHandler, *, on_alert: Alert | None = None,
                 on_change: Callable[[str], None] | None = None, settle_interval: float = 0.05,
                 max_concurrent: int = 16) -> None:
        self.handler = handler
        self.ledger = handler.ledger
        self.on_alert = on_alert or _quiet
        self.on_change = on_change or (lambda _pid: None)
        self.settle_interval = settle_interval
        self.max_concurrent = max_concurrent  # plans adjusted at once (the handler's gate bounds the venue calls)
        self._pending: dict[str, str] = {}  # plan id -> why it must be looked at
        self._flat_by_protective: set[str] = set()
        self._acting: set[str] = set()
        self._seq = 0
        self._lock = asyncio.Lock()
        self.actions = 0  # modifies and cancels sent (for tests and figures)
        handler.send_done.append(self._after_send)

    def _after_send(self, plan_ids: list[str]) -> None:
        """A send is over: a partial fill during it may have left its protective orders out of step."""
        for pid in plan_ids:
            self._pending.setdefault(pid, "a send")

    # ---- reading ------------------------------------------------------------------------------------------
    def unprotected(self, plan_ids: Iterable[str] | None = None) -> dict[str, str]:
        """Plan id -> why it holds a position without full stop coverage (active plans only)."""
        state = self.ledger.state(plan_ids)
        out: dict[str, str] = {}
        for p in state.plans:
            rules = state.markets.get(p.symbol)
            reason = unprotected_reason(p, rules.step_size if rules else None)
            if reason is not None:
                out[p.plan_id] = reason
        return out

    @property
    def pending(self) -> list[str]:
        return list(self._pending)

    # ---- events -------------------------------------------------------------------------------------------
    def apply(self, ev: ConnectorEvent) -> str | None:
        """Apply one venue event to the ledger (no await). Returns the plan id it touched, if any."""
        if not isinstance(ev, OrderUpdated):
            return None
        found = self.ledger.find_order(ev.order.client_order_id)
        if found is None:
            return None
        plan_id, before = found
        after = apply_venue_order(self.ledger, plan_id, before, ev.order)
        filled = after.filled_quantity - before.filled_quantity
        if filled > 0 and after.role is OrderRole.ENTRY:
            self._pending[plan_id] = "entry fill"
        elif filled > 0 and after.role.is_protective:
            self._pending[plan_id] = f"{after.role} fill"
            self._flat_by_protective.add(plan_id)
        elif filled > 0 or self.handler.busy.get(plan_id, 0) > 0:
            self._pending.setdefault(plan_id, f"{after.role} fill" if filled > 0 else "a send")
        if after.role.is_protective and before.is_open and after.status in GONE:
            self._lost(plan_id, after)
        return plan_id

    def _lost(self, plan_id: str, order: Order) -> None:
        ours = plan_id in self._acting or self.handler.busy.get(plan_id, 0) > 0
        text = (f"{plan_id}: {order.role} {order.client_order_id or order.order_id} {order.status} at the venue"
                + (f" ({order.reason})" if order.reason else ""))
        self._journal(plan_id, "protection_gone", text, {"order_id": order.order_id, "status": str(order.status),
                                                         "reason": order.reason, "during_send": ours})
        self.on_alert("warn" if ours else "error", text)
        self._pending.setdefault(plan_id, "protective order gone")

    async def handle(self, ev: ConnectorEvent) -> str | None:
        """Apply one event and do what it requires (plans being sent on wait for `settle`)."""
        pid = self.apply(ev)
        await self.settle()
        return pid

    async def settle(self) -> None:
        """Enforce the invariant on every plan that needs it and is not being sent on (plans asked for while it
        runs wait for the next call). The plans are worked on concurrently, at most `max_concurrent` at a time,
        each by one task: a cancel-replace waits a round trip at the venue, and one plan after the other kept up
        with only ~25 entry fills a second on the in-process paper venue."""
        async with self._lock:
            busy = self.handler.busy
            ready = [pid for pid in self._pending if busy.get(pid, 0) <= 0]
            if ready:
                gate = asyncio.Semaphore(self.max_concurrent)
                await asyncio.gather(*(self._settle_one(pid, gate) for pid in ready))

    async def _settle_one(self, pid: str, gate: asyncio.Semaphore) -> None:
        async with gate:
            if self.handler.busy.get(pid, 0) > 0 or pid not in self._pending:
                return  # a send began on it meanwhile: it stays pending for after that send
            why = self._pending.pop(pid)
            self._acting.add(pid)
            try:
                await self._enforce(pid, why)
            except Exception as exc:  # noqa: BLE001 - one plan's failure is reported, never fatal
                log.exception("supervisor: %s", pid)
                self.on_alert("error", f"{pid}: protection not adjusted after {why}: {exc}")
            finally:
                self._acting.discard(pid)
                self.on_change(pid)

    def working_on(self) -> set[str]:
        """The plans the supervisor has yet to look at or is adjusting now: a reader of the ledger sees passing
        states in them (a stop cancelled and its replacement not yet acknowledged, an entry filled and its stop
        not yet grown)."""
        return set(self._pending) | self._acting

    async def run(self) -> None:
        """Consume the connector's events until cancelled (or the stream ends); plans left pending because a
        send was running on them are looked at again every `settle_interval`."""
        stream = self.handler.connector.events().__aiter__()
        nxt: asyncio.Task[ConnectorEvent] | None = None
        try:
            while True:
                if nxt is None:
                    nxt = asyncio.ensure_future(stream.__anext__())
                done, _ = await asyncio.wait({nxt}, timeout=self.settle_interval if self._pending else None)
                if nxt in done:
                    try:
                        ev = nxt.result()
                    except StopAsyncIteration:
                        return
                    finally:
                        nxt = None
                    try:
                        self.apply(ev)
                    except Exception as exc:  # noqa: BLE001 - one bad event must not stop the supervisor
                        self.on_alert("error", f"event {type(ev).__name__} not applied: {exc}")
                if self._pending:
                    await self.settle()
        finally:
            if nxt is not None:
                nxt.cancel()
                with contextlib.suppress(BaseException):
                    await nxt

    # ---- enforcing ----------------------------------------------------------------------------------------
    async def _enforce(self, plan_id: str, why: str) -> None:
        plan = self.ledger.get_open_plan(plan_id)  # its open orders only: a plan's history is not read per event
        if plan is None:
            return
        rules = self.ledger.markets().get(plan.symbol)
        step = rules.step_size if rules is not None else Decimal(0)
        if plan.net_position == 0:
            everything = plan_id in self._flat_by_protective
            self._flat_by_protective.discard(plan_id)
            orders = [o for o in plan.open_orders if everything or o.role.is_protective]
            if orders:
                done = [await self._cancel(plan, o) for o in orders]
                self.ledger.close_if_flat(plan_id)
                what = "every other open order" if everything else "orphaned protective orders"
                ok = sum(done)
                await self._note(plan_id, "protection", f"{plan_id} flat after {why}: cancelled {ok}/{len(orders)} "
                                                        f"{what}", {"why": why})
                self.on_alert("ok" if ok == len(orders) else "error",
                              f"{plan_id} is flat: cancelled {ok}/{len(orders)} {what}")
            return
        self._flat_by_protective.discard(plan_id)
        had_stop = why == "protective order gone" or any(o.role is OrderRole.STOP_LOSS for o in plan.open_orders)
        want = round_down_to(abs(plan.net_position), step) if step else abs(plan.net_position)
        followed = [(role, have) for role in (OrderRole.STOP_LOSS, OrderRole.TAKE_PROFIT)
                    if (have := await self._follow(plan, role, want)) is not None]
        after = self.ledger.get_open_plan(plan_id) if followed else plan  # one re-read for both roles (none: no await)
        for role, have in followed:
            await self._followed(plan, after, role, have, want, why)
        reason = None if after is None else unprotected_reason(after, step or None)
        if reason is not None and had_stop:  # a plan that never had a stop is shown UNPROTECTED on its row only
            await self._note(plan_id, "unprotected", f"{plan_id} UNPROTECTED: {reason}", {"why": why})
            self.on_alert("error", f"{plan_id} UNPROTECTED: {reason}")

    async def _follow(self, plan: TradePlan, role: OrderRole, want: Decimal) -> Decimal | None:
        """Make the remaining quantity of the plan's open `role` orders equal `want`. Returns what they had before,
        None when there was nothing to do."""
        orders = [o for o in plan.open_orders if o.role is role]
        have = sum((o.remaining for o in orders), Decimal(0))
        if not orders or have == want:
            return None
        if have < want:
            last = orders[-1]
            await self._modify(plan, last, last.remaining + (want - have))
        else:
            excess = have - want
            for o in reversed(orders):
                if excess <= 0:
                    break
                if excess >= o.remaining:
                    await self._cancel(plan, o)
                    excess -= o.remaining
                else:
                    await self._modify(plan, o, o.remaining - excess)
                    excess = Decimal(0)
        return have

    async def _followed(self, plan: TradePlan, fresh: TradePlan | None, role: OrderRole, have: Decimal,
                        want: Decimal, why: str) -> None:
        """Journal and alert what `_follow` made of the plan's `role` orders, from `fresh` (the plan read once
        after both roles were followed)."""
        before = dec_str(have)
        now = sum((o.remaining for o in fresh.open_orders if o.role is role), Decimal(0)) if fresh else have
        text = f"{plan.plan_id}: {role} {before} -> {dec_str(now)} after {why} (position {dec_str(plan.net_position)})"
        await self._note(plan.plan_id, "protection", text, {"role": str(role), "why": why, "from": before,
                                                            "to": dec_str(now)})
        self.on_alert("info" if now == want else "error", text)

    async def _modify(self, plan: TradePlan, o: Order, qty: Decimal) -> bool:
        self._seq += 1
        self.actions += 1
        did = f"SUP{int(time.time() * 1000)}-{self._seq}"
        m = ModifyOrder(seq=1, plan_id=plan.plan_id, symbol=plan.symbol, order_id=o.order_id, quantity=qty)
        oc = CommandOutcome(seq=1, action="MODIFY_ORDER", plan_id=plan.plan_id, symbol=plan.symbol,
                            order_id=o.order_id, client_order_id=o.client_order_id)
        await self.handler.ops.modify(did, m, oc, lambda _oc: None, o.group_id or self._own_group(plan))
        if oc.status.is_bad:
            self.on_alert("error", f"{plan.plan_id}: {o.role} {o.order_id} not resized to {dec_str(qty)}: "
                                   f"{oc.status} {oc.detail}")
        return not oc.status.is_bad

    def _own_group(self, plan: TradePlan) -> str:
        """The group a replacement goes in when the order it replaces has none (a plan from `ledger import`: the
        snapshot format allows orders outside any ExecutionGroup): SUP_<plan id>, made once."""
        gid = f"SUP_{plan.plan_id}"
        if not any(g.group_id == gid for g in plan.groups):
            group = ExecutionGroup(group_id=gid, directive_id=gid, status=GroupStatus.ACTIVE)
            with contextlib.suppress(LedgerError):  # made meanwhile (another repair of this plan): use it
                self.ledger.add_group(plan.plan_id, group)
        return gid

    async def _cancel(self, plan: TradePlan, o: Order) -> bool:
        self.actions += 1
        c = CancelOrder(seq=1, plan_id=plan.plan_id, symbol=plan.symbol, order_id=o.order_id)
        oc = CommandOutcome(seq=1, action="CANCEL_ORDER", plan_id=plan.plan_id, symbol=plan.symbol,
                            order_id=o.order_id, client_order_id=o.client_order_id)
        await self.handler.ops.cancel(c, oc, lambda _oc: None)
        return not oc.status.is_bad

    def _journal(self, plan_id: str, kind: str, summary: str, extra: dict[str, object]) -> None:
        if self.handler.journal is not None:
            self.handler.journal.record(kind, directive_id=None,
                                        payload={"plan_id": plan_id, **extra, "summary": summary})

    async def _note(self, plan_id: str, kind: str, summary: str, extra: dict[str, object]) -> None:
        """`_journal` from a plan's task: when the journal writes through the ledger's connection, its entry goes in
        the group commit of this loop turn (with the other plans' answers and entries) instead of a commit of its
        own; returns once it is on disk either way."""
        journal = self.handler.journal
        if journal is not None and journal.shares(self.ledger):
            await self.handler.ops.commits.run(partial(self._journal, plan_id, kind, summary, extra), urgent=False)
        else:
            self._journal(plan_id, kind, summary, extra)


__all__ = ["ProtectionSupervisor"]
