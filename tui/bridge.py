"""DeskBridge: the console's only way to the desk. It owns a background thread running its own asyncio loop; on it
live the connector, the ExecutionHandler, the Ledger and the Journal, and an event pump that applies venue events
to the ledger. Textual's event loop never does blocking I/O: the UI calls methods that return
concurrent.futures.Future and pulls `drain_changes()` a few times a second, and at once when `on_change` (called on
the bridge thread) says an order update or fill changed a row, or a send is over (tui.bridge_live).

Previews and the detail pane read through a second, read-only connection to the ledger on one "desk-preview"
thread: SQLite in WAL mode lets them read a consistent snapshot while the bridge thread writes (a commit that waits
for the disk must not delay a preview). A preview translates from the plans the view already holds, checked
against the ledger's plan versions on that connection; only the plans that changed are read again (_state_for).
Previews are computed at the newest marks, which the bridge keeps in memory and writes to the ledger about once a
second (and always before a send)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

from core.batch import ExecutionBatch
from core.connector import IExecutionConnector
from core.directives import Scope, StrategyDirective
from core.gc_hold import GcHold
from core.handler import ExecutionHandler
from core.journal import record_preview
from core.ledger import Ledger
from core.models import DeskStatus, LedgerState, TradePlan
from core.outcomes import CommandOutcome, ExecutionReport
from core.reconcile import sync
from tui.bridge_live import LiveView
from tui.bridge_view import PlanOrders, Preview, retry_note_of, stale_marks_of
from tui.runtime import Runtime, open_runtime

_SYMBOL = attrgetter("symbol")
T = TypeVar("T")
Seeder = Callable[[ExecutionHandler], Awaitable[Any]]
OutcomeSink = Callable[[CommandOutcome], None]

_LOGGERS = ("plandesk", "core", "connectors")
#: journal kind of a desk-state change, by the state it goes to (the payload names both ends: "desk ACTIVE -> REDUCING")
_DESK_VERB = {DeskStatus.HALTED: "halt", DeskStatus.REDUCING: "reduce", DeskStatus.ACTIVE: "resume"}


class _LogToBridge(logging.Handler):
    def __init__(self, bridge: DeskBridge) -> None:
        super().__init__(level=logging.WARNING)
        self.bridge = bridge

    def emit(self, record: logging.LogRecord) -> None:
        level = "error" if record.levelno >= logging.ERROR else "warn"
        self.bridge._event(level, record.getMessage())


class DeskBridge(LiveView):
    """See the module doc. `connector` is any IExecutionConnector; `db` the ledger file (the journal lives in it).

    `seed` (optional) runs once on the bridge loop after the ledger is open (e.g. core.demo.seed_demo_desk).
    `mark_interval` is how often coalesced marks and changed plans reach the view; `mark_persist_interval` how
    often marks are written to the ledger; `health_interval` how often the connector's health is asked and the
    ledger checked for changes made by another process."""

    #: seconds between a preview and its journal entry at the latest: writing a flatten of 2,000 plans (22,000
    #: commands, ~4 MB of JSON, ~70 ms of CPU on the bridge loop) must not compete with the console painting that
    #: preview, so the console asks for it once the preview is painted (journal_pending: the operator is reading,
    #: and the confirmation guard holds a send back anyway). It is always written before anything is sent after it
    #: (see _flush_journal).
    journal_delay: float = 1.0
    #: the longest a preview keeps the cyclic collector paused when the console never says it painted it
    gc_hold_limit: float = 2.0

    def __init__(
        self,
        connector: IExecutionConnector,
        db: str | Path,
        *,
        seed: Seeder | None = None,
        sync_on_start: bool = True,
        mark_interval: float = 0.25,
        mark_persist_interval: float = 1.0,
        health_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        adopt: bool = False,
        stale_after: float = 5.0,
    ) -> None:
        super().__init__(clock)
        self.stale_after = stale_after  # a preview priced from marks older than this says so (Preview.stale_marks)
        self.adopt = adopt  # a brand-new paper account mirrors the ledger first (tui.runtime.adopt_ledger_on_paper)
        self.connector = connector
        self.db = Path(db)
        self.name = getattr(connector, "name", type(connector).__name__)
        self._seed = seed
        self._sync_on_start = sync_on_start
        self._mark_interval = mark_interval
        self._persist_interval = mark_persist_interval
        self._reader: Ledger | None = None
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk-preview")
        #: the periodic and on-demand reads (realised P&L, a plan's detail, the foreign orders' ids) have a lane and
        #: a read-only connection of their own: a preview (F) never waits behind one of them
        self._side_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk-reads")
        self._side_reader: Ledger | None = None
        self._health_interval = health_interval
        self.runtime: Runtime | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._started: Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._log_handler: _LogToBridge | None = None
        #: previews not journaled yet, oldest first (loop-only): written `journal_delay` after the preview, and always
        #: before a send, a journal read or the shutdown (DeskBridge._flush_journal)
        self._unjournaled: list[tuple[StrategyDirective, ExecutionBatch]] = []
        self._journal_handle: asyncio.TimerHandle | None = None
        #: the collector pauses of the previews not painted yet (core.gc_hold)
        self._gc_holds: list[GcHold] = []

    # ---------------------------------------------------------------------------------------------- lifecycle

    @property
    def ledger(self) -> Ledger:
        assert self.runtime is not None, "bridge not started"
        return self.runtime.ledger

    @property
    def handler(self) -> ExecutionHandler:
        assert self.runtime is not None, "bridge not started"
        return self.runtime.handler

    @property
    def ready(self) -> bool:
        return self._ready

    def start(self) -> Future[None]:
        """Start the thread and open the desk (idempotent). The future resolves when the view is loaded."""
        if self._started is not None:
            return self._started
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=self._run_loop, name="desk-bridge", daemon=True)
        self._thread.start()
        self._log_handler = _LogToBridge(self)
        for name in _LOGGERS:
            logging.getLogger(name).addHandler(self._log_handler)
        self._started = asyncio.run_coroutine_threadsafe(self._boot(), loop)
        return self._started

    def _run_loop(self) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the pump, close the connector, ledger and journal, end the thread. Idempotent; blocks."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return
        if self._log_handler is not None:
            for name in _LOGGERS:
                logging.getLogger(name).removeHandler(self._log_handler)
        if loop.is_running():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()
        self._release_gc_holds()  # their timers went with the loop

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        """Run a coroutine on the bridge loop."""
        if self._loop is None:
            coro.close()
            raise RuntimeError("bridge not started")
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def _call(self, fn: Callable[[], T]) -> Future[T]:
        async def run() -> T:
            await self._ensure_ready()
            return fn()

        return self.submit(run())

    async def _ensure_ready(self) -> None:
        if self._started is not None and not self._ready:
            await asyncio.wrap_future(self._started)

    async def _boot(self) -> None:
        try:
            self.runtime = rt = await open_runtime(self.db, self.connector, sync=True, adopt=self.adopt,
                                                   supervise=False, clock=self._clock)  # fed by the pump (one consumer)
            self._reader = Ledger(self.db)
            for note in rt.adopt_notes:  # never silent: what the paper account could not reproduce
                self._event("error", f"paper mirror: {note}")
            self._tasks.append(asyncio.create_task(self._pump(), name="bridge-pump"))
            if self._seed is not None:
                await self._seed(rt.handler)
            if self._sync_on_start:
                for note in await sync(rt.ledger, rt.connector):
                    self._event("info", f"sync: {note}")
            self._load_all()
            await self._poll_health()
            self._tasks.append(asyncio.create_task(self._flusher(), name="bridge-flusher"))
            self._tasks.append(asyncio.create_task(self._health_loop(), name="bridge-health"))
            with self._lock:
                self._ready = True
        except BaseException as exc:
            with self._lock:
                self._failed = f"{exc.__class__.__name__}: {exc}"
            raise

    async def _shutdown(self) -> None:
        self._flush_journal()
        self.on_change = None
        if self._fast_handle is not None:
            self._fast_handle.cancel()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(BaseException):
                await task
        self._tasks.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._side_pool.shutdown(wait=True, cancel_futures=True)
        if self._reader is not None:
            self._reader.close()
        if self._side_reader is not None:
            self._side_reader.close()
        rt = self.runtime
        if rt is not None:
            with contextlib.suppress(Exception):
                await rt.close()
            with contextlib.suppress(Exception):
                rt.journal.close()

    # ---------------------------------------------------------------------------------------------- UI asks

    def preview(self, directive: StrategyDirective) -> Future[Preview]:
        """Translate the directive against the current ledger at the newest marks; the preview is journaled (on
        the bridge loop, before anything sent after it). The Preview carries the batch plus the orders it touches
        and the market rules it was computed with."""
        return self._pool.submit(self._preview, directive)

    def send(
        self,
        batch: ExecutionBatch,
        directive: StrategyDirective,
        *,
        halt_desk: bool = False,
        on_outcome: OutcomeSink | None = None,
    ) -> Future[ExecutionReport]:
        """Send a previewed batch. `on_outcome` is called ON THE BRIDGE THREAD with a copy of every outcome."""
        return self.submit(self._send(batch, directive, halt_desk, on_outcome))

    def set_desk(self, status: DeskStatus, *, why: str = "operator") -> Future[DeskStatus]:
        """Set the desk state; journaled as the transition it is ("desk ACTIVE -> REDUCING (operator)")."""
        status = DeskStatus(status)

        def run() -> DeskStatus:
            rt = self._rt()
            before = rt.ledger.desk()
            rt.ledger.set_desk(status)
            rt.journal.append(_DESK_VERB[status], directive_id=None, payload={
                "from": before.value, "to": status.value, "why": why,
                "summary": f"desk {before} -> {status} ({why})"})
            with self._lock:
                self._desk = status
            return status

        return self._call(run)

    def journal_event(self, kind: str, summary: str, payload: dict[str, Any] | None = None) -> Future[None]:
        """Journal what the console did or saw that is not a directive (its stop on a lost terminal), on the
        bridge's loop after the previews not journaled yet."""

        def run() -> None:
            self._flush_journal()
            self._rt().journal.append(kind, directive_id=None, payload={**(payload or {}), "summary": summary})

        return self._call(run)

    def journal_pending(self) -> None:
        """Write the previews not journaled yet now (on the bridge loop): the console calls it once a preview is
        painted."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is stopping: the shutdown writes them
                loop.call_soon_threadsafe(self._flush_journal)

    def plan_detail(self, plan_id: str) -> Future[TradePlan | None]:
        """The plan with its groups, orders and fills."""

        def run() -> TradePlan | None:
            found = self._side_read().state([plan_id], fills=True).plans
            return found[0] if found else None

        return self._side_pool.submit(run)

    def journal_entries(self, limit: int = 2000) -> Future[list[Any]]:
        """The newest journal entries (oldest first), read on the bridge's loop, never on the UI thread."""
        def run() -> list[Any]:
            self._flush_journal()
            return self._rt().journal.entries(limit=limit)

        return self._call(run)

    # ---------------------------------------------------------------------------------------------- on the loop

    def _rt(self) -> Runtime:
        if self.runtime is None:
            raise RuntimeError("the desk is not open yet")
        return self.runtime

    def _read(self) -> Ledger:
        """The read-only connection (on the desk-preview thread), once the desk is open."""
        if self._started is not None and not self._ready:
            self._started.result(timeout=120)
        if self._reader is None:
            raise RuntimeError("the desk is not open yet")
        return self._reader

    def _side_read(self) -> Ledger:
        """The side lane's read-only connection (on the desk-reads thread), opened on first use."""
        self._read()  # the desk is open
        if self._side_reader is None:
            self._side_reader = Ledger(self.db)
        return self._side_reader

    def _preview(self, directive: StrategyDirective) -> Preview:
        # A flatten of 2,000 plans makes 22,000 commands and a 20,000-order view: no collections over the whole
        # heap while they are made (nothing here forms cycles). The pause lasts until the console has painted
        # the preview (preview_painted) or gc_hold_limit has passed: the pass over what was made here comes after
        # the picture, not between the key and it.
        hold = GcHold()
        self._preview_begins()  # the venue event pump holds back meanwhile (LiveView._yield_to_preview)
        try:
            preview = self._build_preview(directive)
        except BaseException:
            hold.release()
            raise
        finally:
            self._preview_ends(self._loop)
        with self._lock:
            self._gc_holds.append(hold)
        loop = self._loop
        try:
            if loop is None:
                raise RuntimeError("no loop")
            loop.call_soon_threadsafe(loop.call_later, self.gc_hold_limit, hold.release)
        except RuntimeError:  # the loop is gone (or closing): nothing will paint it
            hold.release()
        return preview

    def preview_painted(self) -> None:
        """The console has painted a preview (the operator is reading it): the collector runs again, and the
        previews not journaled yet are written now."""
        self._release_gc_holds()
        self.journal_pending()

    def _release_gc_holds(self) -> None:
        with self._lock:
            holds, self._gc_holds = self._gc_holds, []
        for hold in holds:
            hold.release()

    def _build_preview(self, directive: StrategyDirective) -> Preview:
        from core.worker import translate

        reader = self._read()
        scope = self._scope_ids(directive, set(reader.limits().max_position))
        if directive.cancel_directive is not None:  # it names orders that may be history: the whole plans
            state = reader.state(scope)
        else:
            state = self._state_for(reader, scope)
        mark_ts = self.mark_times()
        with self._lock:
            newest = {s: r.mark_price for s, r in self._markets.items()}
        markets = {s: r if newest.get(s, r.mark_price) == r.mark_price else r.model_copy(
            update={"mark_price": newest[s]}) for s, r in state.markets.items()}
        state = state.model_copy(update={"markets": markets})
        batch = translate(directive, state)
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._queue_journal, directive, batch)
        touched = set(batch.plan_versions)
        plans = [p for p in state.plans if p.plan_id in touched]
        symbols = {p.symbol for p in plans} | set(map(_SYMBOL, batch.commands))  # (map: a flatten's 22,000)
        if directive.entry_directive is not None and directive.entry_directive.symbol:
            symbols.add(directive.entry_directive.symbol)
        priced = symbols | set(batch.marks)
        return Preview(batch=batch, orders=PlanOrders(plans), markets=markets, symbols=tuple(sorted(symbols)),
                       stale_marks=stale_marks_of(sorted(priced), mark_ts, self._clock(), self.stale_after),
                       retry_note=retry_note_of(directive, batch))

    def _state_for(self, reader: Ledger, plan_ids: list[str] | None) -> LedgerState:
        """What reader.state(plan_ids, live_only=True) returns, built from the plans the view already holds
        (self._plans, their live orders only): their versions are checked against the ledger first, and only the
        plans that changed since the view read them (or that it does not know) are read again. Every change to a
        plan bumps its version in the same transaction, so a plan at the ledger's version is the ledger's plan:
        the preview is never built from stale data (and the handler checks the versions again at send time,
        DESIGN §3). Markets, desk and limits are read after the versions, in the read of the changed plans."""
        if plan_ids is None:
            versions = reader.all_plan_versions()
            ids = list(versions)
        else:
            ids = list(dict.fromkeys(plan_ids))
            versions = reader.plan_versions(ids) if ids else {}
        rank: dict[str, int] | None = None
        with self._lock:
            held = {pid: p for pid in ids if (p := self._plans.get(pid)) is not None and p.version == versions.get(pid)}
            if plan_ids is not None and len(ids) > 1:  # ledger order, as reader.state gives it (= the rows' order)
                rank = {pid: i for i, pid in enumerate(self._rows)}
        again = [pid for pid in ids if pid in versions and pid not in held]
        fresh = reader.state(again, live_only=True)  # (with no plans: markets, desk and limits only)
        by_id = {p.plan_id: p for p in fresh.plans}
        found = [p for pid in ids if (p := held.get(pid) or by_id.get(pid)) is not None]
        if rank is not None:
            last = len(rank)
            found.sort(key=lambda p: rank.get(p.plan_id, last))
        return fresh.model_copy(update={"plans": found})

    def _queue_journal(self, directive: StrategyDirective, batch: ExecutionBatch) -> None:
        """(On the loop.) Journal the preview soon, off the moment the console paints it."""
        self._unjournaled.append((directive, batch))
        if self._journal_handle is None:
            assert self._loop is not None
            self._journal_handle = self._loop.call_later(self.journal_delay, self._flush_journal)

    def _flush_journal(self) -> None:
        """(On the loop.) Write every preview not journaled yet, in the order they were made."""
        if self._journal_handle is not None:
            self._journal_handle.cancel()
            self._journal_handle = None
        pending, self._unjournaled = self._unjournaled, []
        for directive, batch in pending:
            self._journal_preview(directive, batch)

    def _journal_preview(self, directive: StrategyDirective, batch: ExecutionBatch) -> None:
        try:
            record_preview(self._rt().journal, directive, batch)
        except Exception as exc:
            self._event("error", f"preview {batch.directive_id} not journaled: {exc}")

    def _scope_ids(self, directive: StrategyDirective, limited: set[str]) -> list[str] | None:
        """Plans the worker must see (None = all): the targets, plus every plan on their symbols where a position
        limit applies (the risk check sums the positions of a symbol). A close never adds exposure: targets only."""
        ids: list[str] = list(directive.target_plan_ids)
        with self._lock:
            if len(ids) > len(self._rows) // 2:
                return None
            if directive.scope is Scope.CLOSE_EXISTING:
                return ids
            if directive.scope is Scope.NEW_TRADE:
                symbol = directive.entry_directive.symbol if directive.entry_directive else None
                symbols = {symbol} if symbol else set()
            else:
                symbols = {self._rows[p].symbol for p in ids if p in self._rows}
            for s in symbols & limited:
                ids.extend(self._by_symbol.get(s, ()))
        return ids

    async def _send(self, batch: ExecutionBatch, directive: StrategyDirective, halt_desk: bool,
                    sink: OutcomeSink | None) -> ExecutionReport:
        await self._ensure_ready()
        self._flush_journal()  # the previews before this send (its own among them) are journaled before it
        rt = self._rt()
        self._flush_marks(persist=True)

        def on_outcome(oc: CommandOutcome) -> None:
            self._stale.add(oc.plan_id)  # (the plan is busy: the flusher samples it, the end of the send pushes it)
            if sink is not None:
                try:
                    sink(replace(oc))
                except Exception as exc:  # a broken UI sink must not break a send
                    self._event("error", f"outcome display failed: {exc}")

        if halt_desk:  # the handler halts the desk first thing: the header says so now, not at the next poll
            with self._lock:
                self._desk = DeskStatus.HALTED
        try:
            report = await rt.handler.send(batch, directive, halt_desk=halt_desk, on_outcome=on_outcome)
        finally:
            self._stale.update(batch.plan_versions)
            self._stale.update(c.plan_id for c in batch.commands)
            self._refresh_stale(notify=True)  # the send's end state: the UI pulls it now
        if report.halted:
            with self._lock:
                self._desk = DeskStatus.HALTED
        return report

    # ---------------------------------------------------------------------------------------------- read-only views
    # For the exposure pane (realised P&L) and the foreign orders screen: reads only; nothing here sends or cancels.

    def plan_pnl(self) -> Future[dict[str, Any]]:
        """Every plan's realised P&L and fees (tui.pnl.PlanPnL by plan id), on the read-only connection."""
        from tui.pnl import day_start, read_plan_pnl

        since = day_start(self._clock())
        return self._side_pool.submit(lambda: read_plan_pnl(self._side_read(), since))

    def foreign_orders(self) -> Future[Any]:
        """The venue's open orders that are not in our ledger (tui.foreign.ForeignListing)."""
        return self.submit(self._foreign_orders())

    async def _foreign_orders(self) -> Any:
        from tui.foreign import ForeignListing, known_client_ids

        await self._ensure_ready()
        rt = self._rt()
        venue = await rt.connector.open_orders()
        ours = await asyncio.wrap_future(self._side_pool.submit(
            lambda: known_client_ids(self._side_read(), (o.client_order_id for o in venue))))
        foreign = sorted((o for o in venue if o.client_order_id not in ours),
                         key=lambda o: (o.symbol, o.client_order_id))
        return ForeignListing(orders=foreign, venue_open=len(venue), cancel_all_off=sorted(rt.handler.foreign_seen))
