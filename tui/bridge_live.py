"""The live half of the DeskBridge: the in-memory view of the desk the UI pulls, and what keeps it current on the
bridge loop: the venue event pump (order updates applied to the ledger, marks coalesced), the periodic flush, and
the health poll, which also notices changes made to the ledger by another process (the `plandesk` command line).

Two speeds. Marks (hundreds a second) are coalesced and reach the view on the flusher's `mark_interval`, and the
UI pulls them on its own timer. An order update or fill on a plan at rest changes what its row shows (position,
orders, stops): the plan is re-read at once (at most one re-read pending, at least `fast_interval` apart under a
burst) and `on_change` tells the UI to pull now. A plan something is still working on (a send of the handler, or
the protection supervisor about to adjust or adjusting its stops after a fill) is not pushed in between: its
passing states (a stop cancelled before the close that follows it, an entry filled before the stop grows) reach
the view only as the flusher samples them, as before, and the plan is pushed at once when that work is over (the
supervisor's on_change, the end of the send), so the row never flashes UNPROTECTED for a few milliseconds because
it was looked at more often."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from decimal import Decimal

from core.connector import ConnectorHealth, MarkPriceUpdated, OrderFilled, OrderUpdated
from core.decimals import dec_str, plain
from core.models import DeskStatus, MarketRules, TradePlan
from core.supervisor import ProtectionSupervisor
from tui.bridge_view import Changes, LogEvent, PlanRow, PricedRows, row_of
from tui.runtime import Runtime


class LiveView:
    """State shared with the UI thread lives under `_lock`; the rest is touched on the bridge loop only."""

    _mark_interval: float
    _persist_interval: float
    _health_interval: float
    #: least spacing of the fast row refreshes (order updates, fills) under a burst of events
    fast_interval: float = 0.03
    #: the longest the event pump holds back for one preview in the making (see _yield_to_preview)
    preview_precedence: float = 0.5
    #: called ON THE BRIDGE THREAD after plan rows changed on the fast path (never for marks): the UI should pull
    #: drain_changes() soon. It must not block (e.g. loop.call_soon_threadsafe onto the UI's loop).
    on_change: Callable[[], None] | None = None

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        # -- loop-only
        self._pending_marks: dict[str, Decimal] = {}
        self._unpersisted: dict[str, Decimal] = {}
        self._persisted = 0.0
        self._stale: set[str] = set()
        self._settle_task: asyncio.Task[None] | None = None
        self._fast_handle: asyncio.Handle | None = None  # the one pending fast refresh
        self._fast_last = float("-inf")  # loop time of the last fast refresh
        # -- shared with the UI thread, under _lock
        self._lock = threading.Lock()
        self._rows: dict[str, PlanRow] = {}
        #: the plans behind the rows, as last read from the ledger (with their orders): what a preview translates
        #: from, after checking their versions against the ledger (DeskBridge._state_for). Never changed in place.
        self._plans: dict[str, TradePlan] = {}
        self._by_symbol: dict[str, set[str]] = {}
        self._dirty: dict[str, None] = {}  # insertion-ordered set
        self._new_marks: dict[str, Decimal] = {}
        self._markets: dict[str, MarketRules] = {}
        self._desk = DeskStatus.ACTIVE
        self._health: ConnectorHealth | None = None
        self._last_data_ts: float | None = None
        self._mark_ts: dict[str, float] = {}  # symbol -> when its newest mark was seen (stale marks, §3)
        self._venue_data_ts: float | None = None  # the venue's last data (a poll confirms unchanged marks too)
        self._events: deque[LogEvent] = deque(maxlen=5000)
        self._ready = False
        self._failed: str | None = None
        # -- a preview in the making (set on the desk-preview thread, read on the loop; see _yield_to_preview)
        self._previewing = 0  # the number of the preview being built, 0 when none is
        self._preview_count = 0
        self._preview_over: asyncio.Event | None = None  # (loop-only) set when the preview is built
        self._yielded_to = 0  # (loop-only) the last preview the pump held back for

    def _rt(self) -> Runtime:  # pragma: no cover - DeskBridge provides it
        raise NotImplementedError

    # ---------------------------------------------------------------------------------------------- UI reads

    def drain_changes(self, *, rows_only: bool = False) -> Changes:
        """Everything that changed since the last call (cheap: a swap under a lock). `rows_only`: the changed rows
        (and the current desk state and health); new marks and log events stay for the next full drain."""
        with self._lock:
            rows = [self._rows[pid] for pid in self._dirty if pid in self._rows]
            removed = [pid for pid in self._dirty if pid not in self._rows]
            self._dirty = {}
            events: list[LogEvent] = []
            marks: dict[str, Decimal] = {}
            if not rows_only:
                events = list(self._events)
                self._events.clear()
                marks, self._new_marks = self._new_marks, {}
            return Changes(ready=self._ready, failed=self._failed, rows=rows, removed=removed, desk=self._desk,
                           health=self._health, last_data_ts=self._last_data_ts, events=events, marks=marks)

    def rows(self) -> list[PlanRow]:
        """Every plan row, in ledger order, at the newest marks."""
        with self._lock:
            return [self._fresh(r) for r in self._rows.values()]

    def rows_of(self, plan_ids: Iterable[str]) -> PricedRows:
        """The rows of these plans (unknown ids left out) at the newest marks, each priced when first read."""
        with self._lock:
            rows = {pid: r for pid in plan_ids if (r := self._rows.get(pid)) is not None}
            marks = {s: m.mark_price for s, m in self._markets.items()}
        return PricedRows(rows, marks)

    def row(self, plan_id: str) -> PlanRow | None:
        with self._lock:
            r = self._rows.get(plan_id)
            return None if r is None else self._fresh(r)

    def _fresh(self, row: PlanRow) -> PlanRow:
        rules = self._markets.get(row.symbol)
        return row.at_mark(None if rules is None else rules.mark_price)

    def markets(self) -> dict[str, MarketRules]:
        """Market rules with the newest marks."""
        with self._lock:
            return dict(self._markets)

    def desk(self) -> DeskStatus:
        with self._lock:
            return self._desk

    def active_plan_ids(self) -> list[str]:
        with self._lock:
            return [r.plan_id for r in self._rows.values() if r.status == "ACTIVE"]

    def mark_times(self) -> dict[str, float]:
        """Symbol -> when its mark was last known current: its newest mark, or the venue's last data if later."""
        with self._lock:
            venue = self._venue_data_ts
            return {s: max(t, venue) if venue is not None else t for s, t in self._mark_ts.items()}

    def _event(self, level: str, text: str) -> None:
        with self._lock:
            self._events.append(LogEvent(self._clock(), level, text))

    # -- the fast path: a changed plan is re-read soon and the UI is told (coalesced; marks never come this way)
    def _notify_ui(self) -> None:
        hook = self.on_change
        if hook is not None:
            try:
                hook()
            except Exception:  # noqa: BLE001 - a UI that has gone away must not break the pump
                self.on_change = None

    def _mark_stale(self, plan_id: str) -> None:
        """The plan changed in the ledger: re-read it at once, or `fast_interval` after the last re-read, unless
        it is being worked on (then the flusher, and the end of that work, bring it)."""
        self._stale.add(plan_id)
        if self._fast_handle is not None or not self._at_rest([plan_id]):
            return
        loop = asyncio.get_running_loop()
        delay = self._fast_last + self.fast_interval - loop.time()
        self._fast_handle = loop.call_later(delay, self._fast_refresh) if delay > 0 else \
            loop.call_soon(self._fast_refresh)

    def _at_rest(self, plan_ids: Iterable[str]) -> set[str]:
        """The plans no send runs on and the supervisor neither has pending nor is adjusting."""
        rt = self._rt()
        busy = rt.handler.busy
        sup = rt.supervisor
        held = sup.working_on() if sup is not None else set()
        return {p for p in plan_ids if busy.get(p, 0) <= 0 and p not in held}

    def _fast_refresh(self) -> None:
        """Re-read the stale plans at rest (the others stay for the flusher) and tell the UI if a row changed."""
        self._fast_handle = None
        if not self._ready:  # the desk is still loading (_load_all reads every plan): the flusher takes them
            return
        self._fast_last = asyncio.get_running_loop().time()
        try:
            ids = self._at_rest(self._stale)
            if not ids:
                return
            self._stale -= ids
            changed = self._store(self._rt().ledger.state(sorted(ids), live_only=True).plans)
            with self._lock:  # the flusher may have stored one of them already, without telling the UI
                changed = changed or any(pid in self._dirty for pid in ids)
            if changed:
                self._notify_ui()
        except Exception as exc:
            self._event("error", f"refresh failed: {exc}")

    # -- the event pump: venue events -> the protection supervisor (ledger + invariant); marks coalesced
    def _supervisor(self) -> ProtectionSupervisor:
        rt = self._rt()
        if rt.supervisor is None:
            rt.supervisor = ProtectionSupervisor(rt.handler)
        sup = rt.supervisor
        if sup.on_change != self._mark_stale:
            sup.on_alert = self._event
            sup.on_change = self._mark_stale
            rt.handler.send_done.append(lambda _ids: self._kick(sup))  # after the supervisor's own callback
        return sup

    def _kick(self, sup: ProtectionSupervisor) -> None:
        """Let the supervisor look at what is pending (after an event, or when a send is over)."""
        if sup.pending and (self._settle_task is None or self._settle_task.done()):
            self._settle_task = asyncio.get_running_loop().create_task(self._settle(sup))

    async def _pump(self) -> None:
        rt = self._rt()
        sup = self._supervisor()
        try:
            async for ev in rt.connector.events():
                if self._previewing:
                    await self._yield_to_preview()
                try:
                    self._apply_event(ev, sup)
                except Exception as exc:  # one bad event must not stop the pump
                    self._event("error", f"event {type(ev).__name__} not applied: {exc}")
                await asyncio.sleep(0)  # a backlog must not starve previews and sends (a ready queue never yields)
        except asyncio.CancelledError:
            if self._settle_task is not None:
                self._settle_task.cancel()
            raise
        except Exception as exc:
            self._event("error", f"venue event stream ended: {exc}")
        else:
            self._event("warn", "venue event stream closed")

    async def _yield_to_preview(self) -> None:
        """(On the loop.) A key press waits for its preview; the feed can wait a moment for it. The preview is built
        on its own thread, and under a busy feed it got only the CPU the event pump left (Python runs one thread at
        a time): at 200 events/s a flatten of 2,000 plans took ~4 times its own CPU time. So the pump applies its
        next event only once the preview is built, at most `preview_precedence` seconds later (then it goes on,
        whatever the preview does). Nothing is dropped or reordered: the events wait in the connector's stream, in
        order. Sends, the supervisor's adjustments under way and the health poll are not held back."""
        number = self._previewing
        if not number or number == self._yielded_to:
            return
        self._yielded_to = number
        over = self._preview_over
        if over is None:
            over = self._preview_over = asyncio.Event()
        over.clear()
        if self._previewing != number:  # built meanwhile (its end was signalled before the clear)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(over.wait(), self.preview_precedence)

    def _preview_begins(self) -> None:
        """(On the desk-preview thread.) A preview is being built: the pump holds back (_yield_to_preview)."""
        self._preview_count += 1
        self._previewing = self._preview_count

    def _preview_ends(self, loop: asyncio.AbstractEventLoop | None) -> None:
        """(On the desk-preview thread.) The preview is built (or failed): the pump goes on."""
        self._previewing = 0
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closing: nothing waits
                loop.call_soon_threadsafe(self._wake_pump)

    def _wake_pump(self) -> None:
        # (a wake that comes after the next preview began is not its end: the pump keeps waiting for that one)
        if self._preview_over is not None and self._previewing != self._yielded_to:
            self._preview_over.set()

    def _apply_event(self, ev: object, sup: ProtectionSupervisor | None = None) -> None:
        rt = self._rt()
        if isinstance(ev, MarkPriceUpdated):
            self._pending_marks[ev.symbol] = ev.price
            with self._lock:
                self._last_data_ts = ev.ts or self._clock()
                now = self._clock()
                self._mark_ts[ev.symbol] = min(ev.ts, now) if ev.ts else now  # when the mark was true
        elif isinstance(ev, OrderUpdated):
            sup = sup or self._supervisor()
            plan_id = sup.apply(ev)
            if plan_id is None:
                return
            self._mark_stale(plan_id)
            self._kick(sup)
        elif isinstance(ev, OrderFilled):
            found = rt.ledger.find_order(ev.client_order_id)
            who = found[0] if found else "(not in the ledger)"
            role = f" {found[1].role}" if found else ""
            self._event("fill", f"fill {who}{role} {ev.side} {dec_str(plain(ev.quantity))} {ev.symbol} @ "
                                f"{dec_str(plain(ev.price))}")

    async def _settle(self, sup: ProtectionSupervisor) -> None:
        """Let the supervisor act on what the events asked for; plans a send is running on are retried until it
        is over (bounded by the pump's life: the task is cancelled with it)."""
        try:
            while True:
                await sup.settle()
                if not sup.pending:
                    return
                await asyncio.sleep(sup.settle_interval)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported, never fatal to the pump
            self._event("error", f"protection supervisor failed: {exc}")

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(self._mark_interval)
            try:
                self._flush_marks(persist=time.monotonic() - self._persisted >= self._persist_interval)
                self._refresh_stale()
            except Exception as exc:
                self._event("error", f"refresh failed: {exc}")

    def _flush_marks(self, *, persist: bool = False) -> None:
        """Newest marks into the view (every flush) and into the ledger (about once a second; always with
        `persist`)."""
        if self._pending_marks:
            marks, self._pending_marks = self._pending_marks, {}
            self._unpersisted.update(marks)
            with self._lock:
                for symbol, price in marks.items():
                    if symbol in self._markets:
                        self._markets[symbol] = self._markets[symbol].model_copy(update={"mark_price": price})
                    self._new_marks[symbol] = price
        if persist and self._unpersisted:
            marks, self._unpersisted = self._unpersisted, {}
            self._persisted = time.monotonic()
            ledger = self._rt().ledger
            for symbol, price in marks.items():
                with contextlib.suppress(Exception):
                    ledger.set_mark(symbol, price)

    def _refresh_stale(self, *, notify: bool = False) -> None:
        """Re-read the plans that changed; with `notify` (the fast path, the end of a send) tell the UI when a row
        changed (the flusher's refreshes do not: the UI's timer pulls those)."""
        if not self._stale:
            return
        ids, self._stale = sorted(self._stale), set()
        if self._store(self._rt().ledger.state(ids, live_only=True).plans) and notify:
            self._notify_ui()

    def _load_all(self) -> None:
        ledger = self._rt().ledger
        state = ledger.state(live_only=True)  # the view holds each plan's live orders (Ledger.state)
        with self._lock:
            self._markets = dict(state.markets)
            self._desk = state.desk.state
            now = self._clock()
            for symbol in state.markets:  # loaded from the venue just now (open_runtime)
                self._mark_ts.setdefault(symbol, now)
        self._store(state.plans)

    def _store(self, plans: Iterable[TradePlan]) -> bool:
        """Rows of the plans into the view; True when a row changed."""
        changed = False
        with self._lock:
            for plan in plans:
                self._plans[plan.plan_id] = plan  # (read in version order on this one thread: never older)
                rules = self._markets.get(plan.symbol)
                old = self._rows.get(plan.plan_id)
                if old is not None and old.version == plan.version:
                    continue  # every change to a plan bumps its version; marks travel on their own
                row = row_of(plan, rules.mark_price if rules else None, rules.step_size if rules else None)
                if old != row:
                    self._rows[plan.plan_id] = row
                    self._by_symbol.setdefault(plan.symbol, set()).add(plan.plan_id)
                    self._dirty[plan.plan_id] = None
                    changed = True
        return changed

    async def _poll_health(self) -> None:
        try:
            health = await asyncio.wait_for(self._rt().connector.health(), timeout=2.0)
        except Exception as exc:
            health = ConnectorHealth(ok=False, detail=f"no answer: {exc.__class__.__name__}")
        with self._lock:
            self._health = health
            now = self._clock()
            ts = health.last_data_ts
            if ts is not None and ts <= now + 1.0:  # (a venue on another clock, e.g. a test's, is not compared)
                self._venue_data_ts = max(self._venue_data_ts or ts, ts)  # every mark was current then
            if health.last_data_ts is not None and (self._last_data_ts is None
                                                    or health.last_data_ts > self._last_data_ts):
                self._last_data_ts = health.last_data_ts

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self._health_interval)
            await self._poll_health()
            try:
                self._notice_outside_changes()
            except Exception as exc:
                self._event("error", f"ledger check failed: {exc}")

    def _notice_outside_changes(self) -> None:
        """Another process (e.g. `plandesk flatten`) may have changed plans or the desk state in the ledger."""
        ledger = self._rt().ledger
        desk = ledger.desk()
        versions = ledger.plan_versions(ledger.plan_ids())
        with self._lock:
            if desk is not self._desk:
                self._desk = desk
                self._events.append(LogEvent(self._clock(), "desk", f"desk {desk} (changed in the ledger)"))
            changed = [pid for pid, v in versions.items() if (r := self._rows.get(pid)) is None or r.version != v]
        self._stale.update(changed)
