"""ExecutionHandler: sends a batch through the connector it is given, in the right order, and records every outcome.

DESIGN.md section 3, in code:
- refuse a stale preview (plan versions changed, or the desk was halted since), and a directive id already sent;
- write every order to the ledger (PENDING, with its client order id) before it is sent;
- per plan: cancels first; the new order only after they are confirmed, its quantity recomputed from the confirmed
  position; protective orders shrink before a reducing order and grow only after the entry filled, never above the
  position;
- plans run concurrently under a bound on requests in flight; a flatten that cancels every ledger-open order of a
  symbol does it with one cancel-all call per symbol when the venue has one;
- an unknown outcome is resolved by looking the order up; only an order proven absent is placed again (same id);
- a flatten is done when the plans are flat with no open orders: it re-checks and retries in bounded rounds;
- flatten-all (halt_desk) halts the desk first thing, even when its batch is then refused as stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch, ModifyOrder
from core.connector import ConnectorError, IExecutionConnector
from core.directives import Scope, StrategyDirective
from core.gc_hold import gc_paused
from core.handler_cancel_all import cancel_all_calls
from core.handler_fills import record_fills
from core.handler_gc import old_objects_frozen
from core.handler_netting import consolidate, true_up
from core.handler_orders import OrderOps
from core.handler_restop import restore_stops
from core.handler_stale import retranslate, stale_plans
from core.journal import Journal, count_of
from core.ledger import Ledger, LedgerError
from core.ledger_schema import trusted
from core.models import (
    DeskStatus,
    ExecutionGroup,
    GroupStatus,
    MarketRules,
    OrderRole,
    OrderStatus,
    PlanStatus,
    TradePlan,
)
from core.outcomes import CommandOutcome, ExecutionReport, OutcomeStatus, round_entry
from core.pacing import PacedGate, limits_of
from core.reconcile import describe_open, not_done, sync
from core.worker import translate

OutcomeCallback = Callable[[CommandOutcome], None]
Cmd = CancelOrder | ExecuteTrade | ModifyOrder
log = logging.getLogger("plandesk.handler")


def _ignore(_oc: CommandOutcome) -> None:
    pass


@dataclass
class _Round:
    """What every plan of one round of a send shares."""

    directive: StrategyDirective
    directive_id: str
    report: ExecutionReport
    outcomes: dict[int, CommandOutcome]
    emit: Callable[[CommandOutcome], None]
    markets: dict[str, MarketRules]
    start: dict[str, TradePlan]  # the plans as the round started (versions checked against the preview)
    confirmed: dict[str, Decimal]  # the plans' net positions as read right after the round's cancel-all calls
    cancel_phase: asyncio.Task[None] | None  # those calls: every plan waits for them before its own cancels
    grouped: set[str] = field(default_factory=set)  # plans whose execution group the round already recorded

MAX_DIRECTIVE_ID = 64


def _group_status(outcomes: list[CommandOutcome], total: int) -> GroupStatus:
    """The status of a group of `total` commands of which `outcomes` are known (the others ended well)."""
    bad = sum(1 for o in outcomes if o.status.is_bad)
    return GroupStatus.COMPLETED if bad == 0 else GroupStatus.FAILED if bad == total else GroupStatus.PARTIAL


def _group_id(directive_id: str, plan_id: str) -> str:
    return "EXG_" + hashlib.sha256(f"{directive_id}\x1f{plan_id}".encode()).hexdigest()[:16]
ALREADY_SENT = "this directive id was already sent; it is never sent twice"


class ExecutionHandler:
    def __init__(
        self,
        ledger: Ledger,
        connector: IExecutionConnector,
        journal: Journal | None = None,
        *,
        max_in_flight: int = 16,
        flatten_rounds: int = 5,
        flatten_deadline: float = 30.0,
        retry_attempts: int = 4,
        retry_delay: float = 0.05,
        fill_timeout: float = 3.0,
    ) -> None:
        self.ledger = ledger
        self.connector = connector
        self.journal = journal
        #: plan id -> sends in progress on it (the ProtectionSupervisor leaves a plan alone while a send runs)
        self.busy: dict[str, int] = {}
        #: called with the plan ids of every send when it is over (the supervisor looks at them again)
        self.send_done: list[Callable[[list[str]], None]] = []
        #: symbols on which an order that is not ours was ever seen open: no cancel-all there (issue 13 item 5)
        self.foreign_seen: set[str] = set()
        self.flatten_rounds = flatten_rounds
        #: a flatten sends one netted close per symbol (core.handler_netting); the CLI sets it (--net/--no-net)
        self.netting = False
        self.flatten_deadline = flatten_deadline
        self.ops = OrderOps(
            ledger,
            connector,
            PacedGate(max_in_flight, limits_of(connector)),  # in-flight bound, the venue's rate limit, 429 pause
            attempts=retry_attempts,
            delay=retry_delay,
            fill_timeout=fill_timeout,
        )

    def _journal(self, kind: str, directive_id: str | None, payload: dict[str, object]) -> None:
        if self.journal is not None:
            self.journal.record(kind, directive_id=directive_id, payload=payload)

    def _journal_big(self, kind: str, directive_id: str | None, build: Callable[[], dict[str, object]]) -> None:
        """A journal entry whose payload holds every command or outcome of a batch: built and written with the
        cyclic garbage collector paused (its thousands of short-lived dicts hold no cycles; collections they
        would trigger scan the whole desk)."""
        if self.journal is not None:
            with gc_paused():
                self.journal.record(kind, directive_id=directive_id, payload=build())

    # ---- public -------------------------------------------------------------------------------------------
    async def recover(self) -> list[str]:
        """Resolve what a crash left behind (PENDING / UNKNOWN orders) and refresh live orders from the venue."""
        notes = await sync(self.ledger, self.connector, skip=self.ops.in_flight)
        if notes:
            self._journal("recover", None, {"notes": notes, "summary": f"{len(notes)} orders reconciled"})
        return notes

    async def send(
        self,
        batch: ExecutionBatch,
        directive: StrategyDirective,
        *,
        halt_desk: bool = False,
        on_outcome: OutcomeCallback | None = None,
    ) -> ExecutionReport:
        with old_objects_frozen():
            return await self._send(batch, directive, halt_desk=halt_desk, on_outcome=on_outcome)

    async def _send(
        self,
        batch: ExecutionBatch,
        directive: StrategyDirective,
        *,
        halt_desk: bool,
        on_outcome: OutcomeCallback | None,
    ) -> ExecutionReport:
        report = ExecutionReport(batch.directive_id)
        if halt_desk:  # flatten-all halts the desk in the same step, even when its batch is refused as stale
            self.ledger.set_desk(DeskStatus.HALTED)
            report.halted = True
        if directive.scope is Scope.CLOSE_EXISTING and not batch.errors and not self.ledger.was_sent(
                batch.directive_id):
            stale = stale_plans(batch, self.ledger.plan_versions(batch.plan_versions))
            if stale:  # a flatten is never refused for staleness: translated again from the confirmed state
                batch, report.differences = retranslate(batch, directive, self.ledger.state(), stale)
                self._journal("retranslated", batch.directive_id, {
                    "differences": report.differences,
                    "summary": f"flatten re-translated at send time: {len(report.differences)} plan(s) changed"})
        refusal = self._refusal(batch)
        digest = batch.digest()
        if refusal is None:
            try:
                self.ledger.mark_sent(batch.directive_id, digest)
            except LedgerError:
                refusal = ALREADY_SENT
        if refusal is not None:
            report.refused = refusal
            self._journal("refused", batch.directive_id, {"reason": refusal, "halted": report.halted,
                                                          "summary": refusal})
            return report
        preview_marks = dict(batch.marks)  # the marks the operator saw: every fill's slippage is measured from them
        netted = None
        if self.netting and directive.scope is Scope.CLOSE_EXISTING:  # one close per symbol (core.handler_netting)
            netted = consolidate(self.ledger, batch, directive)
            batch, report.notes = netted.batch, report.notes + netted.notes
        # both entries in one commit when the journal shares the ledger's connection (a journal on its own
        # connection must not wait for the ledger's write lock)
        shared = self.journal is not None and self.journal.shares(self.ledger)
        with self.ledger.transaction() if shared else contextlib.nullcontext():
            self._journal_big("send", batch.directive_id, lambda: {
                "directive": directive.model_dump(mode="json"), "batch": batch.to_dict(), "digest": digest,
                "summary": count_of(len(batch.commands), "command"),
            })
            if halt_desk:
                self._journal("halt", batch.directive_id, {"summary": "desk HALTED by flatten-all"})
        touched = set(batch.plan_versions) | {c.plan_id for c in batch.commands}
        for pid in touched:
            self.busy[pid] = self.busy.get(pid, 0) + 1
        try:
            await self._run(batch, directive, report, on_outcome, round_no=1, marks=preview_marks)
            report.rounds = 1
            closing = self._closing_plans(batch, directive)
            if closing:
                await self._finish_flatten(closing, directive, report, on_outcome, preview_marks)
            if netted is not None:
                report.notes.extend(true_up(self.ledger, batch.directive_id, netted))
            elif any(o.status is OutcomeStatus.UNKNOWN for o in report.outcomes):
                await self._resync(report, on_outcome, f"{batch.directive_id}: final lookup")
        finally:
            for pid in touched:
                self.busy[pid] -= 1
                if not self.busy[pid]:
                    del self.busy[pid]
            for cb in self.send_done:
                cb(sorted(touched))
        # the outcome of every command is in the per-plan "outcome" entries; the report keeps the exceptions
        self._journal_big("report", batch.directive_id,
                          lambda: {**report.to_dict(routine=False), "summary": report.summary()})
        return report

    # ---- checks -------------------------------------------------------------------------------------------
    def _refusal(self, batch: ExecutionBatch) -> str | None:
        if batch.errors:
            return "the preview has errors: " + "; ".join(batch.errors)
        if self.ledger.was_sent(batch.directive_id):
            return ALREADY_SENT
        stale = stale_plans(batch, self.ledger.plan_versions(batch.plan_versions))
        if stale:
            return "stale preview: " + ", ".join(stale) + " changed since the preview; preview again"
        if batch.scope is Scope.NEW_TRADE:
            for c in batch.commands:
                if self.ledger.get_plan(c.plan_id) is not None:
                    return f"stale preview: plan {c.plan_id} already exists; preview again"
        desk = self.ledger.desk()
        if desk is not DeskStatus.ACTIVE:  # the preview's rule again: the desk may have changed since the preview
            from core.risk import desk_refusal

            changed = {c.plan_id for c in batch.commands if isinstance(c, ModifyOrder)}
            roles = {o.order_id: o.role for p in self.ledger.state(changed).plans for o in p.orders} if changed else {}
            why = desk_refusal(batch, desk, roles)
            if why is not None:
                return f"stale preview: the desk is {desk}: {why} (preview again)"
        return None

    def _closing_plans(self, batch: ExecutionBatch, directive: StrategyDirective) -> list[str]:
        if directive.scope is Scope.CLOSE_EXISTING:
            return list(batch.plan_versions)
        size = directive.size_directive
        if directive.scope is Scope.MODIFY_EXISTING and size is not None and size.target_position_size == 0:
            return list(batch.plan_versions)
        return []

    # ---- running ------------------------------------------------------------------------------------------
    async def _run(
        self,
        batch: ExecutionBatch,
        directive: StrategyDirective,
        report: ExecutionReport,
        on_outcome: OutcomeCallback | None,
        *,
        round_no: int,
        marks: dict[str, Decimal] | None = None,
    ) -> None:
        per_plan: dict[str, list[Cmd]] = {}
        for c in batch.commands:
            per_plan.setdefault(c.plan_id, []).append(c)
        outcomes: dict[int, CommandOutcome] = {}
        for c in batch.commands:
            oc = CommandOutcome(
                seq=c.seq, action=str(c.action), plan_id=c.plan_id, symbol=c.symbol,
                order_id=getattr(c, "order_id", None), client_order_id=getattr(c, "client_order_id", None),
                round=round_no,
            )
            outcomes[c.seq] = oc
            report.outcomes.append(oc)
        state = self.ledger.state(per_plan)  # one read for every plan: the positions the batch was computed from
        plans = {p.plan_id: p for p in state.plans}
        rnd = _Round(directive, batch.directive_id, report, outcomes, on_outcome or _ignore, state.markets, plans,
                     {}, None)
        self._add_groups(rnd, per_plan)
        if self._closing_plans(batch, directive):
            rnd.cancel_phase = asyncio.create_task(self._cancel_phase(batch, rnd, list(per_plan)))
        await asyncio.gather(*(self._guarded(rnd, pid, cmds) for pid, cmds in per_plan.items()))
        if rnd.cancel_phase is not None:
            await rnd.cancel_phase  # (a batch without plans to run still finishes its cancel-all calls)
        record_fills(self.ledger, batch, outcomes, marks if marks is not None else batch.marks)
        self._journal_big("outcome", report.directive_id, lambda: round_entry(round_no, list(outcomes.values())))

    def _add_groups(self, rnd: _Round, per_plan: dict[str, list[Cmd]]) -> None:
        """Record the round's execution group of every existing plan in one transaction (one commit, not one per
        plan). A plan that is created or reopened by the round, or whose group cannot be added here, does it in its
        own run (where an error stays that plan's)."""
        wanted = [(plan_id, self._group(rnd.directive_id, plan_id)) for plan_id, cmds in per_plan.items()
                  if (plan := rnd.start.get(plan_id)) is not None and not (plan.status is PlanStatus.CLOSED and any(
                      isinstance(c, ExecuteTrade) and c.role is OrderRole.ENTRY for c in cmds))]
        try:
            rnd.grouped.update(self.ledger.add_groups(wanted))  # a plan the ledger does not know is left out
        except Exception:  # noqa: BLE001 - rolled back: every plan adds its own group
            log.exception("recording the execution groups failed")
            rnd.grouped.clear()

    @staticmethod
    def _group(directive_id: str, plan_id: str) -> ExecutionGroup:
        return trusted(ExecutionGroup, {"group_id": _group_id(directive_id, plan_id), "directive_id": directive_id,
                                        "status": GroupStatus.ACTIVE, "order_ids": []})  # all fields: no validation

    async def _cancel_phase(self, batch: ExecutionBatch, rnd: _Round, plan_ids: list[str]) -> None:
        """The cancel-all calls of a closing round (the plans set up their groups meanwhile). After them, one read
        for every plan: the state they confirmed, which a plan whose cancels were all done by them trades from."""
        try:
            if await cancel_all_calls(self, batch, rnd.report, rnd.start):
                rnd.confirmed.update(self.ledger.net_positions(plan_ids))
        except Exception as exc:  # noqa: BLE001 - the plans' own cancels still go
            log.exception("cancel-all phase failed")
            rnd.report.notes.append(f"cancel-all failed: {exc}; cancelling one by one")

    async def _guarded(self, rnd: _Round, plan_id: str, cmds: list[Cmd]) -> None:
        """One plan's run; an unexpected error fails that plan's unfinished commands, never the other plans."""
        try:
            await self._run_plan(rnd, plan_id, cmds)
        except Exception as exc:  # noqa: BLE001 - isolate one plan's failure from the others
            log.exception("plan %s: internal error", plan_id)
            rnd.report.notes.append(f"{plan_id}: internal error: {exc.__class__.__name__}: {exc}")
            for c in cmds:
                oc = rnd.outcomes[c.seq]
                if oc.status is OutcomeStatus.PENDING:
                    oc.status, oc.detail = OutcomeStatus.FAILED, f"internal error: {exc}"
                    rnd.emit(oc)

    async def _run_plan(self, rnd: _Round, plan_id: str, cmds: list[Cmd]) -> None:
        directive_id, outcomes, emit = rnd.directive_id, rnd.outcomes, rnd.emit
        plan = rnd.start.get(plan_id)
        ledger = self.ledger
        main = [c for c in cmds if isinstance(c, ExecuteTrade) and not c.role.is_protective]
        if plan is None:
            first = main[0] if main else None
            if first is None:
                return
            entry = rnd.directive.entry_directive
            direction = entry.direction if entry is not None else None
            ledger.create_plan(plan_id, first.symbol, direction or first.side)
            plan = ledger.get_plan(plan_id)
            assert plan is not None
        elif plan.status is PlanStatus.CLOSED and any(c.role is OrderRole.ENTRY for c in main):
            ledger.reopen(plan_id)
        start_net = plan.net_position
        group_id = _group_id(directive_id, plan_id)
        if plan_id not in rnd.grouped:
            try:
                ledger.add_group(plan_id, self._group(directive_id, plan_id))
            except LedgerError:
                if ledger.get_group(group_id) is None:
                    raise
        ops = self.ops
        cancels = [c for c in cmds if isinstance(c, CancelOrder)]
        modifies = [c for c in cmds if isinstance(c, ModifyOrder)]
        protective = [c for c in cmds if isinstance(c, ExecuteTrade) and c.role.is_protective]
        grow = [m for m in modifies if ops.grows(m)]
        early = [m for m in modifies if m not in grow]

        if rnd.cancel_phase is not None:
            await rnd.cancel_phase
        confirmed = rnd.confirmed.get(plan_id)
        by_all = [x for x in cancels if x.order_id in ops.cancelled_by_all]
        for x in by_all:  # confirmed by the batch's cancel-all call: nothing to await
            await ops.cancel(x, outcomes[x.seq], emit)
        rest = [x for x in cancels if x not in by_all]
        if rest:
            confirmed = None  # this plan's cancels go out now: trade from a fresh read after them
            await asyncio.gather(*(ops.cancel(x, outcomes[x.seq], emit) for x in rest))
        unconfirmed = [c.order_id for c in cancels if outcomes[c.seq].status.is_bad]
        if early:
            confirmed = None
            await asyncio.gather(*(ops.modify(directive_id, c, outcomes[c.seq], emit, group_id) for c in early))
        mine = [outcomes[c.seq] for c in cmds]
        last = main[-1] if main and not grow and not protective else None
        finished: list[GroupStatus] = []

        def finish() -> None:
            """The plan's closing writes, run with the last trade's answer (which then ends acknowledged): one
            commit for both. Nothing is awaited after it."""
            assert last is not None
            status = _group_status([o for o in mine if o is not outcomes[last.seq]], len(mine))
            ledger.finish_group(plan_id, group_id, status)
            finished.append(status)

        for c in main:
            await ops.trade(c, outcomes[c.seq], emit, group_id, start_net=start_net, unconfirmed=unconfirmed,
                            confirmed=confirmed, rules=rnd.markets.get(c.symbol), finish=finish if c is last else None)
            confirmed = None
        if grow:
            await asyncio.gather(*(ops.modify(directive_id, c, outcomes[c.seq], emit, group_id) for c in grow))
        for c in protective:
            await ops.protect(c, outcomes[c.seq], emit, group_id)
        status = _group_status(mine, len(mine))
        if finished and finished[-1] is status:
            return  # already written with the trade's answer
        def final() -> None:
            ledger.finish_group(plan_id, group_id, status)

        await ops.commits.run(final, urgent=False)  # with the other plans' writes of these loop turns: one commit

    # ---- flatten rounds -----------------------------------------------------------------------------------
    async def _finish_flatten(
        self,
        plan_ids: list[str],
        directive: StrategyDirective,
        report: ExecutionReport,
        on_outcome: OutcomeCallback | None,
        preview_marks: dict[str, Decimal],
    ) -> None:
        """Keep closing until every plan is flat with no open orders, within bounded rounds and time. Each retry
        prices its closes from the venue's mark at the retry, inside the same cap (DESIGN §3)."""
        deadline = time.monotonic() + self.flatten_deadline
        round_no = 1
        remaining = not_done(self.ledger, plan_ids)
        while remaining and round_no < self.flatten_rounds and time.monotonic() < deadline:
            round_no += 1
            report.rounds = round_no
            await asyncio.sleep(min(0.05 * round_no, 0.5))
            await self._resync(report, on_outcome, f"round {round_no}")
            remaining = not_done(self.ledger, plan_ids)
            if not remaining:
                break
            retry = StrategyDirective(
                directive_id=self._retry_id(report.directive_id, round_no),
                scope=Scope.CLOSE_EXISTING,
                target_plan_ids=remaining,
                execution_directive=directive.execution_directive,
            )
            # priced from the ledger's marks, which the _resync above has just refreshed from the venue
            batch = translate(retry, self.ledger.state())
            if batch.errors:
                report.notes.append(f"round {round_no}: " + "; ".join(batch.errors))
                break
            self._journal("retry", report.directive_id, {"round": round_no, "batch": batch.to_dict(),
                                                          "summary": f"round {round_no}: {len(remaining)} plans"})
            await self._run(batch, retry, report, on_outcome, round_no=round_no, marks=preview_marks)
            remaining = not_done(self.ledger, plan_ids)
        last_round: dict[str, int] = {}
        for o in report.outcomes:
            last_round[o.plan_id] = max(last_round.get(o.plan_id, 0), o.round)
        for o in report.outcomes:
            if o.status.is_bad and (o.plan_id not in remaining or o.round < last_round[o.plan_id]):
                o.superseded = True
        if remaining:  # a plan the flatten could not close gets its stop back (DESIGN §3a), loudly
            await restore_stops(self.ledger, self.ops, self.journal, report, remaining, on_outcome or _ignore,
                                lambda pid: _group_id(report.directive_id, pid), round_no + 1)
        report.still_open = [describe_open(self.ledger, pid) for pid in remaining]

    async def _resync(self, report: ExecutionReport, on_outcome: OutcomeCallback | None, what: str) -> None:
        """Look up what is unknown, refresh live orders from the venue, and settle UNKNOWN outcomes."""
        try:
            for note in await sync(self.ledger, self.connector, skip=self.ops.in_flight):
                if note.startswith("venue has open order") or "did not answer" in note:
                    report.notes.append(f"{what}: {note}")
        except ConnectorError as exc:
            report.notes.append(f"{what}: sync failed: {exc.reason}")
        for oc in report.outcomes:
            if oc.status is not OutcomeStatus.UNKNOWN or oc.client_order_id is None:
                continue
            found = self.ledger.find_order(oc.client_order_id)
            if found is not None and found[1].status not in (OrderStatus.PENDING, OrderStatus.UNKNOWN):
                oc.status, oc.detail = OutcomeStatus.RESOLVED, f"unknown -> looked up: {found[1].status}"
                self._journal("outcome", report.directive_id, round_entry(oc.round, [oc]))
                if on_outcome is not None:
                    on_outcome(oc)

    def _retry_id(self, base: str, round_no: int) -> str:
        """The derived directive id of a flatten retry round, `<id>-rN`: at most 64 characters and claimed in the
        ledger like a sent directive, so it can never share client order ids with a directive sent under that id."""
        for k in range(100):
            suffix = f"-r{round_no}" + (f"x{k}" if k else "")
            stem = base
            if len(stem) + len(suffix) > MAX_DIRECTIVE_ID:
                stem = base[: MAX_DIRECTIVE_ID - len(suffix) - 9] + "-" + hashlib.sha256(base.encode()).hexdigest()[:8]
            candidate = stem + suffix
            try:
                self.ledger.mark_sent(candidate, f"retry round {round_no} of {base}")
                return candidate
            except LedgerError:
                continue
        raise LedgerError(f"no free directive id for round {round_no} of {base}")


__all__ = ["ExecutionHandler"]
