"""Position arithmetic of a plan: what one fill does to net position, average entry price and realized P&L.

Pure functions on Decimals (no I/O), used by the ledger and easy to test on their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from core.decimals import MIN_EXPONENT, plain
from core.models import Side

_QUANTUM = Decimal(1).scaleb(MIN_EXPONENT)
_PREC = 60  # wide enough for 1e15 magnitudes with 18 decimals, products included


@dataclass(frozen=True)
class Position:
    net: Decimal  # signed: + long, - short
    avg: Decimal  # average entry price of the open position, 0 when flat
    realized: Decimal  # realized P&L after fees, in quote currency


def fit(d: Decimal) -> Decimal:
    """Keep at most 18 decimal places (what core.decimals accepts back on import); leave shorter values as they are."""
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp < MIN_EXPONENT:
        with localcontext() as ctx:
            ctx.prec = _PREC
            return plain(d.quantize(_QUANTUM, rounding=ROUND_HALF_EVEN))
    return d


def apply_fill_to_position(pos: Position, side: Side, quantity: Decimal, price: Decimal, fee: Decimal) -> Position:
    """Apply one fill (BUY adds, SELL subtracts).

    - Growing the position (from flat, or further on its own side): the average is weighted by quantity.
    - Reducing it: the average stays; realized P&L += (price - avg) x reduced quantity x sign(position).
    - Crossing zero (a venue overshoot) is recorded as the truth: the part beyond zero opens at the fill price.
    - Flat: the average is 0. The fee is always subtracted from realized P&L.
    """
    with localcontext() as ctx:
        ctx.prec = _PREC
        net, avg, realized = pos.net, pos.avg, pos.realized
        delta = quantity if side is Side.BUY else -quantity
        new_net = net + delta
        if net == 0:
            new_avg = price
        elif (net > 0) == (delta > 0):
            size = abs(net)
            new_avg = (size * avg + quantity * price) / (size + quantity)
        else:
            reduced = min(quantity, abs(net))
            realized += (price - avg) * reduced * (1 if net > 0 else -1)
            if new_net == 0:
                new_avg = Decimal(0)
            elif (new_net > 0) != (net > 0):
                new_avg = price
            else:
                new_avg = avg
        realized -= fee
        if new_net == 0:
            new_avg = Decimal(0)
        return Position(net=fit(new_net), avg=fit(new_avg), realized=fit(realized))
