"""ExecutionHandler: sends a batch through the connector it is given, in the right order, and records every outcome.

DESIGN.md section 3, in code:
- refuse a stale preview (plan versions changed) and a directive id that was already sent;
- write every order to the ledger (PENDING, with its client order id) before it is sent;
- per plan: cancels first; the new order only after they are confirmed, its quantity recomputed from the confirmed
  position; protective orders shrink before a reducing order and grow only after the entry filled, never above the
  position;
- plans run concurrently under a bound on requests in flight;
- an unknown outcome is resolved by looking the order up; only an order proven absent is placed again (same id);
- a flatten is done when the plans are flat with no open orders: it re-checks and retries in bounded rounds.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from decimal import Decimal

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch, ModifyOrder
from core.connector import ConnectorError, ConnectorErrorKind, IExecutionConnector, OrderRequest, VenueOrder
from core.decimals import dec_str, round_down_to
from core.directives import Scope, StrategyDirective
from core.handler_orders import OrderOps
from core.journal import Journal
from core.ledger import Ledger, LedgerError
from core.models import DeskStatus, ExecutionGroup, GroupStatus, OrderRole, PlanStatus
from core.outcomes import CommandOutcome, ExecutionReport, OutcomeStatus
from core.worker import translate

OutcomeCallback = Callable[[CommandOutcome], None]


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
        self.flatten_rounds = flatten_rounds
        self.flatten_deadline = flatten_deadline
        self.ops = OrderOps(
            ledger,
            connector,
            asyncio.Semaphore(max_in_flight),
            attempts=retry_attempts,
            delay=retry_delay,
            fill_timeout=fill_timeout,
        )

    def _journal(self, kind: str, directive_id: str | None, payload: dict[str, object]) -> None:
        if self.journal is not None:
            self.journal.append(kind, directive_id=directive_id, payload=payload)

    # ---- public -------------------------------------------------------------------------------------------
    async def recover(self) -> list[str]:
        from core.reconcile import sync

        notes = await sync(self.ledger, self.connector)
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
        report = ExecutionReport(batch.directive_id)
        refusal = self._refusal(batch)
        if refusal is None:
            try:
                self.ledger.mark_sent(batch.directive_id, batch.digest())
            except LedgerError:
                refusal = "this directive id was already sent; it is never sent twice"
        if refusal is not None:
            report.refused = refusal
            self._journal("refused", batch.directive_id, {"reason": refusal, "summary": refusal})
            return report
        self._journal("send", batch.directive_id, {
            "directive": directive.model_dump(mode="json"), "batch": batch.to_dict(), "digest": batch.digest(),
            "summary": f"{len(batch.commands)} commands",
        })
        if halt_desk:
            self.ledger.set_desk(DeskStatus.HALTED)
            report.halted = True
            self._journal("halt", batch.directive_id, {"summary": "desk HALTED by flatten-all"})
        await self._run(batch, directive, report, on_outcome, round_no=1)
        report.rounds = 1
        closing = self._closing_plans(batch, directive)
        if closing:
            await self._finish_flatten(closing, directive, report, on_outcome)
        self._journal("report", batch.directive_id, {**report.to_dict(), "summary": report.summary()})
        return report

    # ---- checks -------------------------------------------------------------------------------------------
    def _refusal(self, batch: ExecutionBatch) -> str | None:
        if batch.errors:
            return "the preview has errors: " + "; ".join(batch.errors)
        current = self.ledger.plan_versions(batch.plan_versions)
        stale = [
            f"{pid} (v{v} -> {current.get(pid, 'gone')})"
            for pid, v in batch.plan_versions.items()
            if current.get(pid) != v
        ]
        if stale:
            return "stale preview: " + ", ".join(stale) + " changed since the preview; preview again"
        if batch.scope is Scope.NEW_TRADE:
            for c in batch.commands:
                if self.ledger.get_plan(c.plan_id) is not None:
                    return f"stale preview: plan {c.plan_id} already exists; preview again"
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
    ) -> None:
        per_plan: dict[str, list[CancelOrder | ExecuteTrade | ModifyOrder]] = {}
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

        def emit(oc: CommandOutcome) -> None:
            if oc.status.is_final or oc.status is OutcomeStatus.UNKNOWN:
                self._journal("outcome", batch.directive_id, {**oc.to_dict(), "summary": f"#{oc.seq} {oc.action} "
                              f"{oc.plan_id} {oc.status} {oc.detail}".strip()})
            if on_outcome is not None:
                on_outcome(oc)

        await asyncio.gather(*(
            self._run_plan(batch.directive_id, directive, pid, cmds, outcomes, emit)
            for pid, cmds in per_plan.items()
        ))

    async def _run_plan(
        self,
        directive_id: str,
        directive: StrategyDirective,
        plan_id: str,
        cmds: list[CancelOrder | ExecuteTrade | ModifyOrder],
        outcomes: dict[int, CommandOutcome],
        emit: Callable[[CommandOutcome], None],
    ) -> None:
        ledger = self.ledger
        main = [c for c in cmds if isinstance(c, ExecuteTrade) and not c.role.is_protective]
        plan = ledger.get_plan(plan_id)
        if plan is None:
            first = main[0] if main else None
            if first is None:
                return
            direction = directive.entry_directive.direction if directive.entry_directive else None
            ledger.create_plan(plan_id, first.symbol, direction or first.side)
            plan = ledger.get_plan(plan_id)
            assert plan is not None
        elif plan.status is PlanStatus.CLOSED and any(c.role is OrderRole.ENTRY for c in main):
            ledger.reopen(plan_id)
        start_net = plan.net_position
        group_id = "EXG_" + hashlib.sha256(f"{directive_id}\x1f{plan_id}".encode()).hexdigest()[:16]
        if ledger.get_group(group_id) is None:
            ledger.add_group(plan_id, ExecutionGroup(group_id=group_id, directive_id=directive_id,
                                                     status=GroupStatus.ACTIVE))
        ops = self.ops
        cancels = [c for c in cmds if isinstance(c, CancelOrder)]
        modifies = [c for c in cmds if isinstance(c, ModifyOrder)]
        protective = [c for c in cmds if isinstance(c, ExecuteTrade) and c.role.is_protective]
        grow = [m for m in modifies if ops.grows(m)]
        early = [m for m in modifies if m not in grow]

        await asyncio.gather(*(ops.cancel(c, outcomes[c.seq], emit) for c in cancels))
        await asyncio.gather(*(ops.modify(directive_id, c, outcomes[c.seq], emit, group_id) for c in early))
        for c in main:
            await ops.trade(c, outcomes[c.seq], emit, group_id, start_net=start_net)
        await asyncio.gather(*(ops.modify(directive_id, c, outcomes[c.seq], emit, group_id) for c in grow))
        for c in protective:
            await ops.protect(c, outcomes[c.seq], emit, group_id)
        mine = [outcomes[c.seq] for c in cmds]
        bad = sum(1 for o in mine if o.status.is_bad)
        status = GroupStatus.COMPLETED if bad == 0 else (GroupStatus.FAILED if bad == len(mine) else
                                                         GroupStatus.PARTIAL)
        ledger.set_group_status(group_id, status)
        ledger.close_if_flat(plan_id)

    async def _finish_flatten(
        self,
        plan_ids: list[str],
        directive: StrategyDirective,
        report: ExecutionReport,
        on_outcome: OutcomeCallback | None,
    ) -> None:
        """Keep closing until every plan is flat with no open orders, within bounded rounds and time."""
        deadline = time.monotonic() + self.flatten_deadline
        round_no = 1
        while True:
            remaining = self._not_done(plan_ids)
            if not remaining:
                report.still_open = []
                return
            if round_no >= self.flatten_rounds or time.monotonic() >= deadline:
                report.still_open = [self._describe_open(pid) for pid in remaining]
                return
            round_no += 1
            report.rounds = round_no
            await asyncio.sleep(min(0.05 * round_no, 0.5))
            try:
                from core.reconcile import sync

                await sync(self.ledger, self.connector)
            except ConnectorError as exc:
                report.notes.append(f"round {round_no}: sync failed: {exc.reason}")
            remaining = self._not_done(plan_ids)
            if not remaining:
                continue
            retry = StrategyDirective(
                directive_id=f"{report.directive_id}-r{round_no}",
                scope=Scope.CLOSE_EXISTING,
                target_plan_ids=remaining,
                execution_directive=directive.execution_directive,
            )
            batch = translate(retry, self.ledger.state())
            if batch.errors:
                report.notes.append(f"round {round_no}: " + "; ".join(batch.errors))
                report.still_open = [self._describe_open(pid) for pid in remaining]
                return
            self._journal("retry", report.directive_id, {"round": round_no, "batch": batch.to_dict(),
                                                          "summary": f"round {round_no}: {len(remaining)} plans"})
            await self._run(batch, retry, report, on_outcome, round_no=round_no)

    def _not_done(self, plan_ids: list[str]) -> list[str]:
        out = []
        for pid in plan_ids:
            plan = self.ledger.get_plan(pid)
            if plan is None:
                continue
            if plan.net_position != 0 or plan.open_orders:
                rules = self.ledger.markets().get(plan.symbol)
                dust = rules is not None and not plan.open_orders and (
                    round_down_to(abs(plan.net_position), rules.step_size) * rules.mark_price < rules.min_notional
                )
                if not dust:
                    out.append(pid)
        return out

    def _describe_open(self, plan_id: str) -> str:
        plan = self.ledger.get_plan(plan_id)
        if plan is None:
            return f"{plan_id}: unknown"
        n = len(plan.open_orders)
        return f"{plan_id}: position {dec_str(plan.net_position)} {plan.symbol}, {n} open order{'s' * (n != 1)}"


__all__ = ["ExecutionHandler", "ExecutionReport", "CommandOutcome", "OutcomeStatus", "OrderRequest",
           "VenueOrder", "ConnectorErrorKind", "Decimal"]
