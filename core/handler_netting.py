"""A netted flatten (CLOSE_EXISTING with netting on): one venue close per symbol instead of one per plan.

Before the send (`consolidate`), per symbol with two plans or more to close, in ONE ledger transaction:
- plans of opposite signs offset internally at the mark (core.netting: no order crosses the book);
- what is left on the net's side is handed over, at the mark, to the plan with the largest share (the carrier), so
  that one plan holds the symbol's net;
each hand-over is a pair of internal fills recorded per plan (synthetic FILLED orders `NET.<n>` that never go to the
venue, so the venue's position and the sum of the plans' positions stay equal at every commit). The batch is then
translated again from that state: the other plans only cancel their orders, the carrier closes the net in one order.

After the send (`true_up`), the carrier's close is allocated back exactly (core.netting.SymbolNet.apply_fill): each
plan that handed over q takes its share of the close at the carrier's average fill price and its share of the fee,
as a pair of internal fills on each side (the carrier's fee share moves to the plan as a negative fee). Plans' realized
P&L then equals what each would have had with its own share of the one close. If the close only partly filled, the
filled part is allocated and the rest stays on the carrier, which the flatten's own rounds retry.

Not crash-atomic across the venue call: a process killed between the close and the true-up leaves every position
right (venue = ledger) and the P&L split at the mark instead of the fill price (the journal names the hand-overs)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal

from core.batch import ExecutionBatch
from core.directives import StrategyDirective
from core.ledger import Ledger
from core.ledger_schema import trusted
from core.models import Fill, Order, OrderRole, OrderStatus, OrderType, Side
from core.netting import SymbolNet, net_closes
from core.worker import translate


@dataclass
class Handover:
    symbol: str
    carrier: str
    mark: Decimal
    net: SymbolNet
    quantities: dict[str, Decimal]  # plan id -> quantity handed to the carrier
    fills_before: frozenset[str] = frozenset()  # the carrier's fills before the send (not the close's)


@dataclass
class NettedFlatten:
    batch: ExecutionBatch
    plan_ids: list[str] = field(default_factory=list)
    handovers: list[Handover] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _coid(directive_id: str, *parts: str) -> str:
    digest = hashlib.sha256("|".join((directive_id, *parts)).encode()).hexdigest()[:20]
    return f"NET.{digest}"


def _internal_fill(out: list[tuple[str, Order, Fill]], directive_id: str, plan_id: str, side: Side, qty: Decimal,
                   price: Decimal, fee: Decimal, *parts: str) -> None:
    """One internal fill on a plan: a synthetic order filled at once, collected into `out` (recorded together by
    Ledger.internal_fills in the caller's transaction)."""
    coid = _coid(directive_id, plan_id, *parts)
    order_id = "ORD_" + hashlib.sha256(coid.encode()).hexdigest()[:16]
    # built without re-validation (internal values; Ledger.internal_fills refuses a quantity or price not above 0)
    order = trusted(Order, {"order_id": order_id, "role": OrderRole.EXIT, "side": side, "type": OrderType.MARKET,
                            "quantity": qty, "price": None, "stop_price": None, "status": OrderStatus.PENDING,
                            "filled_quantity": Decimal(0), "client_order_id": coid, "time_in_force": None,
                            "reduce_only": False, "group_id": None, "reason": "internal (netted flatten)"})
    fill = trusted(Fill, {"fill_id": coid, "order_id": order_id, "side": side, "price": price, "quantity": qty,
                          "fee": fee, "time": ""})
    out.append((plan_id, order, fill))


def consolidate(ledger: Ledger, batch: ExecutionBatch, directive: StrategyDirective) -> NettedFlatten:
    """Offset and hand over per symbol (see the module doc); returns the batch to send instead of `batch`. Any
    failure rolls the hand-overs back (one ledger transaction) and the flatten goes per plan, with a note."""
    try:
        return _consolidate(ledger, batch, directive)
    except Exception as exc:  # noqa: BLE001 - a panic flatten must still go: per plan, as previewed
        return NettedFlatten(batch, list(batch.plan_versions), notes=[f"netting not used ({exc}); closing per plan"])


def _consolidate(ledger: Ledger, batch: ExecutionBatch, directive: StrategyDirective) -> NettedFlatten:
    did = batch.directive_id
    state = ledger.state(batch.plan_versions)
    held = [(p.plan_id, p.symbol, p.net_position) for p in state.plans if p.net_position != 0]
    steps = {s: r.step_size for s, r in state.markets.items()}
    nets = net_closes(held, steps)
    result = NettedFlatten(batch, list(batch.plan_versions))
    with ledger.transaction():
        for symbol, n in sorted(nets.items()):
            if sum(1 for q in n.positions.values() if q != 0) < 2:
                continue
            mark = state.markets[symbol].mark_price
            out: list[tuple[str, Order, Fill]] = []
            for pid, q in sorted(n.internal.items()):
                if q > 0:
                    side = Side.SELL if n.positions[pid] > 0 else Side.BUY
                    _internal_fill(out, did, pid, side, q, mark, Decimal(0), "offset")
            carrier = None
            handed: dict[str, Decimal] = {}
            if n.side is not None:
                carrier = max(n.external, key=lambda p: (n.external[p], p))
                for pid, q in sorted(n.external.items()):
                    if pid == carrier or q == 0:
                        continue
                    _internal_fill(out, did, pid, n.side, q, mark, Decimal(0), "handover")
                    handed[pid] = q
                if handed:  # the carrier takes over the lot in one internal fill
                    total = sum(handed.values(), Decimal(0))
                    _internal_fill(out, did, carrier, n.side.opposite, total, mark, Decimal(0), "takeover", symbol)
            ledger.internal_fills(out)
            offset = sum((q for pid, q in n.internal.items() if n.positions[pid] > 0), Decimal(0))
            result.notes.append(
                f"netted {symbol}: {offset} offset internally at {mark}; "
                + (f"net {n.close_quantity} closed by {carrier} for {len(handed) + 1} plans"
                   if carrier else "nothing left for the venue")
            )
            if carrier is not None and handed:
                before = frozenset(f.fill_id for f in ledger.state([carrier], fills=True).plans[0].fills)
                result.handovers.append(Handover(symbol, carrier, mark, n, handed, before))
    fresh = translate(directive, ledger.state())
    # every plan of the flatten stays in it (one made flat here must still be closed when its orders are gone)
    versions = {**ledger.plan_versions(batch.plan_versions), **fresh.plan_versions}
    result.batch = fresh.model_copy(update={"plan_versions": versions})
    return result


def true_up(ledger: Ledger, directive_id: str, netted: NettedFlatten) -> list[str]:
    """Allocate each carrier's close back to the plans that handed over (see the module doc). Returns notes; a
    failure is a note (positions are right either way; only the P&L split stays at the mark)."""
    try:
        return _true_up(ledger, directive_id, netted)
    except Exception as exc:  # noqa: BLE001 - never fail a finished flatten on the P&L split
        return [f"netting: the fill could not be allocated back ({exc}); P&L split at the mark"]


def _true_up(ledger: Ledger, directive_id: str, netted: NettedFlatten) -> list[str]:
    notes: list[str] = []
    for h in netted.handovers:
        plan = ledger.state([h.carrier], fills=True).plans[0]
        assert h.net.side is not None
        closes = [f for f in plan.fills if f.side is h.net.side and f.fill_id not in h.fills_before
                  and not f.fill_id.startswith("NET.")]
        filled = sum((f.quantity for f in closes), Decimal(0))
        if filled == 0:
            notes.append(f"netted {h.symbol}: the close has not filled; {h.carrier} holds the net")
            continue
        price = sum((f.price * f.quantity for f in closes), Decimal(0)) / filled
        fee = sum((f.fee for f in closes), Decimal(0))
        got = h.net.apply_fill(min(filled, h.net.remaining), fee)
        side = h.net.side
        moved, moved_fee = Decimal(0), Decimal(0)
        out: list[tuple[str, Order, Fill]] = []
        with ledger.transaction():
            for pid, (qty, fee_share) in sorted(got.items()):
                if pid == h.carrier or qty == 0:
                    continue
                # the plan buys back its hand-over at the mark and sells it at the close's price, with its fee share
                _internal_fill(out, directive_id, pid, side.opposite, qty, h.mark, Decimal(0), "reprice-in")
                _internal_fill(out, directive_id, pid, side, qty, price, fee_share, "reprice-out")
                moved, moved_fee = moved + qty, moved_fee + fee_share
            if moved:  # and the carrier the other side of those, in one pair (its fee share moves as a negative fee)
                _internal_fill(out, directive_id, h.carrier, side, moved, h.mark, Decimal(0), "give", h.symbol)
                _internal_fill(out, directive_id, h.carrier, side.opposite, moved, price, -moved_fee, "take",
                               h.symbol)
            ledger.internal_fills(out)
        notes.append(f"netted {h.symbol}: close of {filled} at {price:.8f} allocated to {len(got)} plans")
    with ledger.transaction():  # flat with no order left (also one left so by a killed run): CLOSED, one commit
        for pid in netted.plan_ids:
            ledger.close_if_flat(pid)
    return notes
