"""Wiring: the only place that picks a connector and hands it, with the ledger and journal, to the handler."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.connector import IExecutionConnector
from core.handler import ExecutionHandler
from core.journal import Journal
from core.ledger import Ledger
from core.models import TimeInForce
from core.supervisor import ProtectionSupervisor
from tui.inputs import InputError


@dataclass
class Runtime:
    ledger: Ledger
    journal: Journal
    connector: IExecutionConnector
    handler: ExecutionHandler
    extra: Any = None  # e.g. the simulator server to stop
    #: keeps the protection invariant (DESIGN §3a) from the venue's events; see open_runtime(supervise=...)
    supervisor: ProtectionSupervisor | None = None
    supervisor_task: asyncio.Task[None] | None = field(default=None, repr=False)
    #: what mirroring the ledger on a fresh paper account could not reproduce (each also journaled): alerts
    adopt_notes: list[str] = field(default_factory=list)

    def start_supervisor(self) -> None:
        """Run the supervisor on the venue's event stream as a task of the running loop (stopped by close)."""
        if self.supervisor is None:
            self.supervisor = ProtectionSupervisor(self.handler)
        if self.supervisor_task is None:
            self.supervisor_task = asyncio.get_running_loop().create_task(self.supervisor.run(),
                                                                          name="protection-supervisor")

    async def close(self) -> None:
        task, self.supervisor_task = self.supervisor_task, None
        if task is not None:
            if self.supervisor is not None:  # what a running send left pending is done before we let go
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self.supervisor.settle(), timeout=5.0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self.connector.close()
        if self.extra is not None and hasattr(self.extra, "stop"):
            self.extra.stop()
        self.ledger.close()


def paper_state_path(db: Path) -> Path:
    return db.with_name(db.name + ".paper.json")


def is_new_paper_account(db: Path) -> bool:
    return not paper_state_path(db).exists()


def make_connector(name: str, db: Path, *, base_url: str | None = None, key_file: Path | None = None,
                   tick_interval: float | None = None, latency: float = 0.0) -> IExecutionConnector:
    if name == "paper":
        from connectors.paper.connector import PaperConnector

        return PaperConnector.open(paper_state_path(db), tick_interval=tick_interval, latency=latency)
    if name == "binance":
        from connectors.binance.connector import BinanceConnector
        from connectors.binance.credentials import load_credentials

        if not base_url:
            raise InputError("--base-url is required with --connector binance")
        try:
            key, secret = load_credentials(key_file)
        except Exception as exc:  # noqa: BLE001 - credentials errors carry their own clear message
            raise InputError(str(exc)) from None
        conn: IExecutionConnector = BinanceConnector(base_url, key, secret)
        return conn
    raise InputError(f"--connector: unknown connector {name!r} (paper or binance)")


async def open_runtime(db: Path, connector: IExecutionConnector, *, sync: bool = True,
                       adopt: bool = False, supervise: bool = True,
                       clock: Callable[[], float] | None = None) -> Runtime:
    """Open the ledger beside the venue, load the venue's market rules into it and reconcile.

    `supervise`: run the ProtectionSupervisor on the venue's events while the runtime is open (what `plandesk
    send` / `flatten` get by default). The console passes False and feeds `rt.supervisor` from its own pump.

    `clock` (epoch seconds; default the system clock): the journal stamps its entries with it, so a console on an
    injected clock journals in that clock's time.

    `adopt`: the venue is a brand-new paper account; give it the ledger's positions and open orders first, so a
    desk imported from a snapshot can be worked on paper (a real venue is never 'adopted')."""
    start = getattr(connector, "start", None)
    if start is not None:
        await start()
    ledger = Ledger(db)
    # the journal writes through the ledger's connection: the supervisor's notes (two per entry fill under a busy
    # feed) go in the group commit of the ledger writes they describe instead of a commit each
    journal = Journal(ledger, clock=None if clock is None else lambda: datetime.fromtimestamp(clock(), UTC))
    notes = await adopt_ledger_on_paper(ledger, connector, journal) if adopt else []
    for symbol, rules in (await connector.market_rules()).items():
        ledger.set_market(symbol, rules)
    handler = ExecutionHandler(ledger, connector, journal)
    rt = Runtime(ledger, journal, connector, handler, supervisor=ProtectionSupervisor(handler), adopt_notes=notes)
    if supervise:
        rt.start_supervisor()  # subscribed before the recovery, so no event in between is missed
    if sync:
        await handler.recover()
    return rt


async def adopt_ledger_on_paper(ledger: Ledger, connector: IExecutionConnector,
                                journal: Journal | None = None) -> list[str]:
    """Mirror the ledger on a fresh paper account: each symbol's net position bought/sold at the mark, then each
    open order placed with its client order id (one is assigned where the ledger has none).

    The paper account nets each symbol: where plans of both directions share a symbol, a plan's reduce-only stop
    or take profit may not reduce the account's net position (or may exceed it), and the venue would refuse it
    ("ReduceOnly Order is rejected"). Such an order is placed without reduce-only, so every plan keeps its
    protection (journaled). Returns what could not be reproduced at all; each is journaled too, its ledger order
    is marked as refused, and a plan that loses its stop shows UNPROTECTED."""
    import hashlib
    import re
    import time

    from core.connector import ConnectorError, OrderRequest
    from core.decimals import round_down_to
    from core.models import OrderStatus, OrderType, Side

    engine = getattr(connector, "engine", None)
    if engine is not None:  # the paper venue starts from the ledger's markets and marks
        for symbol, rules in ledger.markets().items():
            if symbol in engine.markets:
                engine.set_mark(symbol, rules.mark_price, time.time())
            else:
                engine.add_market(symbol, rules)
    engine_markets = await connector.market_rules()
    notes: list[str] = []
    plans = ledger.plans()
    net: dict[str, Decimal] = {}
    for p in plans:
        net[p.symbol] = net.get(p.symbol, Decimal(0)) + p.net_position
    for symbol, position in sorted(net.items()):
        rules = engine_markets.get(symbol)
        if rules is None or position == 0:
            continue
        qty = round_down_to(abs(position), rules.step_size)
        coid = "adopt-" + hashlib.sha256(symbol.encode()).hexdigest()[:20]
        try:
            await connector.place_order(OrderRequest(symbol=symbol, side=Side.BUY if position > 0 else Side.SELL,
                                                     order_type=OrderType.MARKET, quantity=qty,
                                                     client_order_id=coid))
        except ConnectorError as exc:
            notes.append(f"{symbol}: position {position} not mirrored: {exc.reason}")
    held = await connector.positions()
    relaxed: list[str] = []
    for p in plans:
        for o in p.open_orders:
            coid = o.client_order_id
            if coid is None:
                ok = re.fullmatch(r"[.A-Za-z0-9:/_-]{1,36}", o.order_id) is not None
                coid = o.order_id if ok else "pd-" + hashlib.sha256(o.order_id.encode()).hexdigest()[:29]
                ledger.update_order(o.order_id, client_order_id=coid)
            reduce_only = o.reduce_only
            pos = held.get(p.symbol, Decimal(0))
            if reduce_only and (pos * o.side.sign >= 0 or o.remaining > abs(pos)):
                reduce_only = False  # the netted account cannot hold it reduce-only; the plan keeps its order
                relaxed.append(o.order_id)
            try:
                await connector.place_order(OrderRequest(
                    symbol=p.symbol, side=o.side, order_type=o.type, quantity=o.remaining, client_order_id=coid,
                    price=o.price, stop_price=o.stop_price, time_in_force=o.time_in_force or (
                        TimeInForce.GTC if o.type in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None),
                    reduce_only=reduce_only))
            except ConnectorError as exc:
                ledger.update_order(o.order_id, status=OrderStatus.REJECTED if o.status is OrderStatus.PENDING
                                    else OrderStatus.CANCELLED, reason=f"paper venue refused it: {exc.reason}")
                what = f"{p.plan_id} {o.role} {o.order_id}"
                notes.append(f"{what} not reproduced on paper: {exc.reason}"
                             + (" (the plan is UNPROTECTED)" if o.role.is_protective else ""))
                if journal is not None:
                    journal.append("protection_gone" if o.role.is_protective else "adopt", directive_id=None,
                                   payload={"plan_id": p.plan_id, "order_id": o.order_id, "reason": exc.reason,
                                            "summary": notes[-1]})
    if journal is not None:
        journal.append("adopt", directive_id=None, payload={
            "relaxed_reduce_only": relaxed, "problems": notes,
            "summary": f"ledger mirrored on a fresh paper account: {len(plans)} plans, {len(notes)} problem(s), "
                       f"{len(relaxed)} protective order(s) placed without reduce-only (the account nets each "
                       f"symbol)"})
    return notes
