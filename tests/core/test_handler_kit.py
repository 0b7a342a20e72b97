"""The desk the ExecutionHandler tests run on: a Ledger, a Journal, the in-process paper exchange and the handler,
plus helpers to send directives the way the console does (preview with the worker, then send) and to check that
the ledger and the venue agree. The few tests at the bottom check the kit itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine
from core.batch import ExecutionBatch
from core.connector import VenueOrder
from core.directives import StrategyDirective
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import Order, OrderRole, Side, TradePlan
from core.outcomes import CommandOutcome, ExecutionReport
from core.worker import translate

D = Decimal
BTC = "BTCUSDT"


class RacingConnector(PaperConnector):
    """The paper connector with hooks that run on the venue just before a cancel is processed
    (after the request left us): the honest way to make a fill win the race against a cancel."""

    before_cancel: Callable[[str], None] | None = None

    async def cancel_order(self, symbol: str, client_order_id: str) -> VenueOrder:
        if self.before_cancel is not None:
            self.before_cancel(client_order_id)
        return await super().cancel_order(symbol, client_order_id)


@dataclass
class Desk:
    ledger: Ledger
    conn: PaperConnector
    handler: ExecutionHandler
    journal: Journal
    seen: list[CommandOutcome] = field(default_factory=list)

    @property
    def engine(self) -> PaperEngine:
        return self.conn.engine

    def preview(self, directive: StrategyDirective) -> ExecutionBatch:
        return translate(directive, self.ledger.state())

    async def send(self, directive: StrategyDirective, *, halt: bool = False,
                   batch: ExecutionBatch | None = None) -> ExecutionReport:
        batch = batch if batch is not None else self.preview(directive)
        assert batch.ok, batch.errors
        return await self.handler.send(batch, directive, halt_desk=halt, on_outcome=self.seen.append)

    def plan(self, plan_id: str) -> TradePlan:
        p = self.ledger.get_plan(plan_id)
        assert p is not None, plan_id
        return p

    def open(self, plan_id: str, role: OrderRole | None = None) -> list[Order]:
        return [o for o in self.plan(plan_id).open_orders if role is None or o.role is role]

    def venue_open(self, symbol: str | None = None) -> list[VenueOrder]:
        return self.engine.open_orders(symbol)

    def set_mark(self, symbol: str, price: str) -> None:
        """Move the venue's mark (matching runs at once) and the ledger's mark (what the worker previews from)."""
        self.engine.set_mark(symbol, D(price), time.time())
        self.ledger.set_mark(symbol, D(price))

    def sent(self, client_order_id: str | None = None) -> list[str]:
        """Client order ids the venue accepted, in order (engine.order_log)."""
        return [c for _s, c in self.engine.order_log if client_order_id is None or c == client_order_id]


async def make_desk(db: str | Path = ":memory:", *, latency: float = 0.0, conn: PaperConnector | None = None,
                    **handler_kw: Any) -> Desk:
    if conn is None:
        conn = PaperConnector(PaperEngine(DEFAULT_MARKETS()), latency=latency)
    ledger = Ledger(db)
    journal = Journal(ledger)
    for symbol, rules in (await conn.market_rules()).items():
        ledger.set_market(symbol, rules)
    handler_kw.setdefault("retry_delay", 0.001)
    handler = ExecutionHandler(ledger, conn, journal, **handler_kw)
    return Desk(ledger, conn, handler, journal)


def directive(did: str, scope: str, *plan_ids: str, **parts: Any) -> StrategyDirective:
    data: dict[str, Any] = {"directive_id": did, "scope": scope, **parts}
    if plan_ids:
        data["target_plan_ids"] = list(plan_ids)
    return StrategyDirective.model_validate(data)


def size_to(did: str, plan_id: str, target: str, **parts: Any) -> StrategyDirective:
    return directive(did, "MODIFY_EXISTING", plan_id, size_directive={"target_position_size": target}, **parts)


async def open_plan(desk: Desk, plan_id: str = "TPL_1", symbol: str = BTC, side: Side = Side.BUY,
                    size: str = "1", *, stop: str | None = "0.02", tp: str | None = None) -> ExecutionReport:
    """A plan opened through the handler: MARKET to `size`, with a stop at `stop` tolerance and a take profit."""
    desk.ledger.create_plan(plan_id, symbol, side)
    exit_: dict[str, str] = {}
    if stop is not None:
        exit_["stop_loss_tolerance"] = stop
    if tp is not None:
        exit_["take_profit_price"] = tp
    report = await desk.send(size_to(f"STR_OPEN_{plan_id}", plan_id, size, **({"exit_directive": exit_}
                                                                               if exit_ else {})))
    assert report.ok, report.summary()
    return report


def assert_consistent(desk: Desk) -> None:
    """The ledger and the venue agree: per symbol the venue position is the sum of the plans' positions, and the
    open orders are the same client order ids on both sides with the same remaining quantity."""
    plans = desk.ledger.plans()
    by_symbol: dict[str, Decimal] = {s: D(0) for s in desk.engine.markets}
    for p in plans:
        by_symbol[p.symbol] += p.net_position
    assert {s: q for s, q in desk.engine.positions().items()} == by_symbol
    ledger_open = {o.client_order_id: o.remaining for p in plans for o in p.open_orders}
    venue_open = {v.client_order_id: v.quantity - v.filled_quantity for v in desk.venue_open()}
    assert ledger_open == venue_open


# ---- the kit's own checks -----------------------------------------------------------------------------------

async def test_open_plan_puts_the_position_and_its_stop_on_both_sides() -> None:
    desk = await make_desk()
    await open_plan(desk)
    plan = desk.plan("TPL_1")
    assert plan.net_position == 1 and plan.avg_entry_price == D("100000")
    (stop,) = desk.open("TPL_1", OrderRole.STOP_LOSS)
    assert (stop.quantity, stop.stop_price) == (D(1), D("98000"))
    assert_consistent(desk)


async def test_racing_connector_runs_the_hook_before_the_venue_sees_the_cancel() -> None:
    desk = await make_desk(conn=RacingConnector(PaperEngine(DEFAULT_MARKETS())))
    await open_plan(desk)
    seen: list[tuple[str, int]] = []
    conn = desk.conn
    assert isinstance(conn, RacingConnector)
    conn.before_cancel = lambda coid: seen.append((coid, len(desk.venue_open())))
    (stop,) = desk.open("TPL_1")
    assert stop.client_order_id is not None
    await conn.cancel_order(BTC, stop.client_order_id)
    assert seen == [(stop.client_order_id, 1)] and desk.venue_open() == []
