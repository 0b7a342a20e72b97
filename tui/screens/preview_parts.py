"""What the preview shows, computed without Textual: one row per command, the summary, the outcome cells."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.batch import CancelOrder, ExecuteTrade, ExecutionBatch, ModifyOrder
from core.models import MarketRules, OrderType, TimeInForce
from core.outcomes import CommandOutcome, OutcomeStatus
from tui.bridge_view import PlanOrders, PlanRow, Preview, quote_of
from tui.widgets.fmt import DASH, money, num, signed

Cell = tuple[str, str]
BatchCommand = ExecuteTrade | ModifyOrder | CancelOrder

COMMAND_COLUMNS: list[tuple[str, int, bool]] = [
    ("#", 4, True),
    ("action", 13, False),
    ("plan", 14, False),
    ("symbol", 9, False),
    ("side", 4, False),
    ("quantity", 19, True),
    ("type", 11, False),
    ("price / stop", 25, True),
    ("reduce", 6, False),
    ("outcome", 0, False),
]

PLAN_COLUMNS: list[tuple[str, int, bool]] = [
    ("plan", 14, False),
    ("symbol", 9, False),
    ("side", 5, False),
    ("net at preview", 15, True),
    ("net now", 15, True),
    ("orders", 6, True),
    ("status", 0, False),
]

ACTION_STYLE = {"EXECUTE_TRADE": "bold green", "MODIFY_ORDER": "bold cyan", "CANCEL_ORDER": "bold yellow"}

OUTCOME = {
    OutcomeStatus.PENDING: ("… sending", "yellow"),
    OutcomeStatus.ACKNOWLEDGED: ("✓ acknowledged", "green"),
    OutcomeStatus.REJECTED: ("✗ REJECTED", "bold red"),
    OutcomeStatus.UNKNOWN: ("? unknown", "bold yellow"),
    OutcomeStatus.RESOLVED: ("✓ resolved", "cyan"),
    OutcomeStatus.SKIPPED: ("– skipped", "dim"),
    OutcomeStatus.FAILED: ("✗ FAILED", "bold red"),
}


@dataclass(frozen=True)
class Summary:
    cancels: int
    modifies: int
    places: int
    calls: int
    notional: dict[str, Decimal]  # per quote currency
    slippage_cost: dict[str, Decimal]  # worst case of the slippage cap, per quote currency
    uncapped: int  # market orders that reduce or close without a cap

    def text(self) -> str:
        parts = [f"cancel {self.cancels}", f"modify {self.modifies}", f"place {self.places}"]
        notional = " + ".join(f"{money(v)} {q}".strip() for q, v in sorted(self.notional.items())) or "0"
        parts.append(f"notional {notional}")
        if self.slippage_cost:
            cost = " + ".join(f"{money(v)} {q}".strip() for q, v in sorted(self.slippage_cost.items()))
            parts.append(f"slippage cap worst case {cost}")
        elif self.uncapped:
            parts.append(f"{self.uncapped} market order{'s' * (self.uncapped != 1)} without a slippage cap")
        else:
            parts.append("no slippage exposure")
        parts.append(f"{self.calls} exchange call{'s' * (self.calls != 1)}")
        return " · ".join(parts)


def summarize(batch: ExecutionBatch, markets: dict[str, MarketRules]) -> Summary:
    notional: dict[str, Decimal] = {}
    cost: dict[str, Decimal] = {}
    uncapped = 0
    places = cancels = modifies = 0
    kinds: dict[type, int] = {}  # 0 cancel, 1 modify, 2 trade: a flatten of 2,000 plans has 20,000+ commands
    per_symbol: dict[str, tuple[str, Decimal | None]] = {}  # symbol -> (quote, mark)
    for c in batch.commands:
        kind = kinds.get(type(c))
        if kind is None:
            kind = kinds[type(c)] = 2 if isinstance(c, ExecuteTrade) else 0 if isinstance(c, CancelOrder) else 1
        if kind != 2:
            if kind == 0:
                cancels += 1
            else:
                modifies += 1
            continue
        assert isinstance(c, ExecuteTrade)
        places += 1
        if c.role.is_protective:
            continue  # a stop or take profit covers the trade's position: it is not more exposure on top of it
        known = per_symbol.get(c.symbol)
        if known is None:
            rules = markets.get(c.symbol)
            known = per_symbol[c.symbol] = (quote_of(c.symbol), rules.mark_price if rules is not None else None)
        q, mark = known
        px = c.price if c.price is not None else (c.stop_price if c.stop_price is not None else mark)
        if px is not None:
            notional[q] = notional.get(q, Decimal(0)) + abs(c.quantity * px)
        if c.order_type is OrderType.LIMIT and c.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
            if mark is not None and c.price is not None:
                cost[q] = cost.get(q, Decimal(0)) + abs(mark - c.price) * c.quantity
        elif c.order_type is OrderType.MARKET:
            uncapped += 1
    return Summary(cancels=cancels, modifies=modifies, places=places, calls=len(batch.commands),
                   notional=notional, slippage_cost=cost, uncapped=uncapped)


def _arrow(old: Decimal | None, new: Decimal | None) -> str:
    if new is None:
        return num(old)
    if old is None or old == new:
        return num(new)
    return f"{num(old)} → {num(new)}"


def command_cells(c: BatchCommand, orders: PlanOrders) -> list[Cell]:
    action = str(c.action)
    head: list[Cell] = [(str(c.seq), "dim"), (action, ACTION_STYLE.get(action, "")), (c.plan_id, "bold"),
                        (c.symbol, "")]
    if isinstance(c, ExecuteTrade):
        if c.order_type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT):
            px = f"stop {num(c.stop_price)}" + (f" @ {num(c.price)}" if c.price is not None else "")
        elif c.price is not None:
            px = num(c.price) + (f" {c.time_in_force}" if c.time_in_force else "")
        else:
            px = "market"
        otype = str(c.order_type)
        return head + [(str(c.side), "green" if c.side == "BUY" else "magenta"), (num(c.quantity), "bold"),
                       (otype, ""), (px, ""), ("yes" if c.reduce_only else "no", "" if c.reduce_only else "yellow")]
    o = orders.of(c.plan_id, c.order_id)
    side = str(o.side) if o else "?"
    otype = str(o.type) if o else "?"
    reduce = ("yes" if o.reduce_only else "no", "") if o else ("?", "dim")
    if isinstance(c, ModifyOrder):
        qty = _arrow(o.remaining if o else None, c.quantity)
        if c.stop_price is not None:
            px = "stop " + _arrow(o.stop_price if o else None, c.stop_price)
        elif c.price is not None:
            px = _arrow(o.price if o else None, c.price)
        elif o is not None and o.stop_price is not None:
            px = f"stop {num(o.stop_price)}"
        else:
            px = num(o.price) if o is not None and o.price is not None else DASH
        return head + [(side, ""), (qty, "bold"), (otype, ""), (px, "bold"), reduce]
    qty = num(o.remaining) if o else "?"
    px = (f"stop {num(o.stop_price)}" if o and o.stop_price is not None else num(o.price) if o else "?")
    return head + [(side, "dim"), (qty, "dim"), (otype, "dim"), (px, "dim"), (reduce[0], "dim")]


def expired_unfilled(oc: CommandOutcome) -> bool:
    """A trade the venue took but that filled nothing (an IOC that expired): not a success."""
    if oc.action != "EXECUTE_TRADE" or not oc.status.is_final or oc.status.is_bad:
        return False
    return (oc.filled_quantity is not None and oc.filled_quantity == 0) or (
        oc.filled_quantity is None and "EXPIRED" in oc.detail.upper())


def outcome_cell(oc: CommandOutcome | None) -> Cell:
    if oc is None:
        return ("", "")
    text, style = OUTCOME.get(oc.status, (str(oc.status), ""))
    if expired_unfilled(oc):
        text, style = "✗ EXPIRED UNFILLED", "bold red"
    if oc.fill_price is not None:
        text = f"{text} @ {num(oc.fill_price)}"
        if oc.slippage is not None:
            text += f" slip {oc.slippage * 100:+.2f} %"
    if oc.detail:
        text = f"{text}: {oc.detail}"
    if oc.round > 1:
        text = f"r{oc.round} {text}"
    return (text, style)


def retry_cells(oc: CommandOutcome) -> list[Cell]:
    """A command of a later flatten round (not in the preview): what is known from its outcome."""
    return [(str(oc.seq), "dim"), (oc.action, ACTION_STYLE.get(oc.action, "")), (oc.plan_id, "bold"),
            (oc.symbol, ""), ("", ""), ("", ""), ("", ""), ("", ""), ("", ""), outcome_cell(oc)]


def _orders(row: PlanRow | None) -> str:
    if row is None:
        return "? open orders"
    n = row.open_orders
    return f"{n} open order{'s' * (n != 1)}"


def plan_cells(before: PlanRow | None, now: PlanRow | None, phase: str) -> list[Cell]:
    """A plan of a close / flatten: `phase` is "ready" (not sent yet), "sending", "done" or "refused"."""
    r = now or before
    assert r is not None
    flat = now is not None and now.net == 0 and now.open_orders == 0
    if phase == "ready":
        n = now.open_orders if now else 0
        status: Cell = (f"to close: cancel {n} order{'s' * (n != 1)}" + (", close the position" if r.net else ""),
                        "dim")
    elif phase == "refused":
        status = ("not sent", "bold red")
    elif flat:
        status = ("✓ flat, no open orders", "bold green")
    elif phase == "done":
        status = (f"✗ STILL OPEN: position {signed(now.net if now else None)}, {_orders(now)}", "bold red")
    else:
        status = (f"closing… position {signed(now.net if now else None)}, {_orders(now)}", "yellow")
    return [(r.plan_id, "bold"), (r.symbol, ""), ("LONG" if r.side == "BUY" else "SHORT", ""),
            (signed(before.net if before else None), "dim"), (signed(now.net if now else None), "bold"),
            (str(now.open_orders if now else "?"), ""), status]


def send_order(batch: ExecutionBatch) -> list[int]:
    """Indices of the batch's commands in the order the handler sends them (DESIGN §3), plan by plan: its cancels
    first; then, when its trade reduces the position, the protective orders shrink before it; when it adds, they
    grow after it has filled. One pass over the batch (a flatten of 2,000 plans has 20,000+ commands)."""
    groups: dict[str, tuple[list[int], list[int], list[int], list[bool]]] = {}
    for i, c in enumerate(batch.commands):
        g = groups.get(c.plan_id)
        if g is None:
            g = groups[c.plan_id] = ([], [], [], [False])
        if isinstance(c, CancelOrder):
            g[0].append(i)
        elif isinstance(c, ModifyOrder):
            g[1].append(i)
        else:
            g[2].append(i)
            if c.reduce_only and not c.role.is_protective:
                g[3][0] = True
    out: list[int] = []
    for cancels, modifies, trades, (reduces,) in groups.values():
        out += cancels
        out += (modifies + trades) if reduces else (trades + modifies)
    return out


def command_keys(preview: Preview, order: Sequence[int]) -> list[tuple[int, int]]:
    """Row keys of the commands table, in send order: (round, seq); round 1 is the previewed batch."""
    commands = preview.batch.commands
    return [(1, commands[i].seq) for i in order]


def command_row(preview: Preview, index: int) -> Sequence[Cell]:
    """Cells of the index-th command, computed when the row is first painted (a flatten may have thousands)."""
    return [*command_cells(preview.batch.commands[index], preview.orders)[:9], outcome_cell(None)]
