"""Per-symbol netting of a flatten: pure allocation (Decimal, exact to the step).

The plans being closed on one symbol hold signed positions. Their net is closed with ONE order at the venue; the rest
offsets internally: a long plan and a short plan close against each other at the mark without crossing the book
(recorded per plan as an internal transfer). The venue's fill is then allocated back to the plans on the net's side
pro rata to what each still has to close there, rounded down to the step, the remainder given step by step to the
largest first and never beyond what a plan has to close (so no plan ever ends with the wrong sign), and each plan
takes its share of the fee in proportion to its share of the fill. A partial fill is allocated the same way and the
rest stays to be retried: `SymbolNet.remaining` after `apply_fill`."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal

from core.models import Side

FEE_QUANTUM = Decimal("0.00000001")


class NettingError(ValueError):
    """A bad input to the allocation; the message names the field and the reason."""


def _steps(value: Decimal, step: Decimal, what: str) -> int:
    n = value / step
    if n != n.to_integral_value():
        raise NettingError(f"{what}: {value} is not a multiple of the step {step}")
    return int(n)


def allocate(total: Decimal, caps: dict[str, Decimal], step: Decimal) -> dict[str, Decimal]:
    """Split `total` over `caps` (plan id -> the most it may take, >= 0) pro rata to the caps, to the step: every
    share is a multiple of `step`, no share exceeds its cap, and the shares sum exactly to `total`."""
    if step <= 0:
        raise NettingError(f"step: must be greater than 0, got {step}")
    if total < 0:
        raise NettingError(f"total: must not be negative, got {total}")
    units = {pid: _steps(c, step, f"cap of {pid}") for pid, c in caps.items()}
    if any(u < 0 for u in units.values()):
        raise NettingError("caps: must not be negative")
    want = _steps(total, step, "total")
    whole = sum(units.values())
    if want > whole:
        raise NettingError(f"total: {total} is more than the plans can take ({whole * step})")
    if want == 0 or whole == 0:
        return {pid: Decimal(0) * step for pid in caps}
    shares = {pid: u * want // whole for pid, u in units.items()}
    left = want - sum(shares.values())
    for pid in sorted(units, key=lambda p: (-units[p], p)):  # the remainder to the largest first
        if left == 0:
            break
        extra = min(left, units[pid] - shares[pid])
        shares[pid] += extra
        left -= extra
    return {pid: shares[pid] * step for pid in caps}


def split_fee(fee: Decimal, quantities: dict[str, Decimal], quantum: Decimal = FEE_QUANTUM) -> dict[str, Decimal]:
    """Each plan's share of `fee` in proportion to its quantity, to `quantum`, summing exactly to `fee` (the
    remainder to the largest quantity)."""
    total_q = sum(quantities.values(), Decimal(0))
    if total_q <= 0 or fee == 0:
        return {pid: Decimal(0) for pid in quantities}
    shares = {pid: (fee * q / total_q).quantize(quantum, rounding=ROUND_DOWN) for pid, q in quantities.items()}
    rest = fee - sum(shares.values(), Decimal(0))
    largest = max(quantities, key=lambda p: (quantities[p], p))
    shares[largest] += rest
    return shares


@dataclass
class SymbolNet:
    """The netted close of one symbol. Quantities are unsigned; `side` is the venue close's side (None: the
    positions offset exactly, nothing goes to the venue)."""

    symbol: str
    step: Decimal
    positions: dict[str, Decimal]
    side: Side | None
    close_quantity: Decimal
    #: plan id -> quantity closed internally (against plans of the other sign), at the mark
    internal: dict[str, Decimal]
    #: plan id -> quantity this plan still has to close at the venue (its part of the net)
    external: dict[str, Decimal]
    #: plan id -> quantity filled at the venue so far, and its share of the fee
    filled: dict[str, Decimal] = field(default_factory=dict)
    fees: dict[str, Decimal] = field(default_factory=dict)

    @property
    def remaining(self) -> Decimal:
        """What is still to be closed at the venue (to retry after a partial fill)."""
        return self.close_quantity - sum(self.filled.values(), Decimal(0))

    def position_after(self, plan_id: str) -> Decimal:
        """The plan's position after the internal transfer and the fills so far."""
        pos = self.positions[plan_id]
        sign = 1 if pos > 0 else -1
        return pos - sign * (self.internal.get(plan_id, Decimal(0)) + self.filled.get(plan_id, Decimal(0)))

    def apply_fill(self, quantity: Decimal, fee: Decimal) -> dict[str, tuple[Decimal, Decimal]]:
        """Allocate one venue fill (of the close) to the plans: plan id -> (quantity, fee share). The rest stays in
        `remaining`."""
        if quantity < 0 or quantity > self.remaining:
            raise NettingError(f"fill quantity: {quantity} is not between 0 and the remaining {self.remaining}")
        caps = {pid: q - self.filled.get(pid, Decimal(0)) for pid, q in self.external.items()}
        shares = allocate(quantity, caps, self.step)
        fees = split_fee(fee, shares)
        for pid, q in shares.items():
            self.filled[pid] = self.filled.get(pid, Decimal(0)) + q
            self.fees[pid] = self.fees.get(pid, Decimal(0)) + fees[pid]
        return {pid: (shares[pid], fees[pid]) for pid in shares if shares[pid] or fees[pid]}


def net_symbol(symbol: str, positions: dict[str, Decimal], step: Decimal) -> SymbolNet:
    """The netted close of the plans `positions` (plan id -> signed position, multiples of `step`) on `symbol`."""
    for pid, pos in positions.items():
        _steps(abs(pos), step, f"position of {pid}")
    held = {pid: p for pid, p in positions.items() if p != 0}
    longs = {pid: p for pid, p in held.items() if p > 0}
    shorts = {pid: -p for pid, p in held.items() if p < 0}
    net = sum(held.values(), Decimal(0))
    if net > 0:
        side, big, small = Side.SELL, longs, shorts
    elif net < 0:
        side, big, small = Side.BUY, shorts, longs
    else:
        side, big, small = None, longs, shorts
    close = abs(net)
    external = allocate(close, big, step) if big else {}
    internal = {pid: q for pid, q in small.items()}
    for pid, q in big.items():
        internal[pid] = q - external.get(pid, Decimal(0))
    return SymbolNet(symbol, step, dict(positions), side, close, internal,
                     {pid: q for pid, q in external.items() if q > 0})


def net_closes(plans: list[tuple[str, str, Decimal]], steps: dict[str, Decimal]) -> dict[str, SymbolNet]:
    """(plan id, symbol, signed position) of the plans being closed -> one SymbolNet per symbol."""
    by_symbol: dict[str, dict[str, Decimal]] = {}
    for pid, symbol, pos in plans:
        if pid in by_symbol.get(symbol, {}):
            raise NettingError(f"plan {pid}: listed twice")
        by_symbol.setdefault(symbol, {})[pid] = pos
    missing = sorted(set(by_symbol) - set(steps))
    if missing:
        raise NettingError(f"step: no market rules for {', '.join(missing)}")
    return {s: net_symbol(s, ps, steps[s]) for s, ps in by_symbol.items()}
