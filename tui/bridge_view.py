"""The console's in-memory view of the desk: one PlanRow per plan, and the batch of changes the UI pulls.

Pure data (no Textual, no asyncio): the bridge fills it on its own thread, the UI reads copies under a lock."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from core.batch import ExecutionBatch
from core.connector import ConnectorHealth
from core.decimals import dec_str, plain
from core.directives import Scope, StrategyDirective
from core.models import DeskStatus, MarketRules, Order, OrderRole, OrderType, PlanStatus, Side, TradePlan
from core.protective import unprotected_reason

QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "TUSD", "USD", "EUR", "BTC", "ETH", "BNB")


def quote_of(symbol: str) -> str:
    """Quote currency of a symbol (BTCUSDT -> USDT); '' when it cannot be told."""
    for q in QUOTES:
        if symbol.endswith(q) and len(symbol) > len(q):
            return q
    return ""


@dataclass(frozen=True)
class PlanRow:
    """What the plans table shows for one plan."""

    plan_id: str
    symbol: str
    side: Side
    net: Decimal
    avg_entry: Decimal
    mark: Decimal | None
    upnl: Decimal | None
    stop: Decimal | None
    take_profit: Decimal | None
    open_orders: int
    status: PlanStatus
    version: int
    #: why the plan is UNPROTECTED (holds a position and its stops do not cover it), or None when covered / flat
    unprotected: str | None = None

    def with_mark(self, mark: Decimal) -> PlanRow:
        return replace(self, mark=mark, upnl=unrealised(self.net, self.avg_entry, mark))

    def at_mark(self, mark: Decimal | None) -> PlanRow:
        """This row priced at `mark`: itself when there is no mark or it is priced at it already."""
        return self if mark is None or mark == self.mark else self.with_mark(mark)

    def matches(self, needle: str) -> bool:
        """Filter: case-insensitive substring of plan id, symbol, side (or long/short) or status."""
        if not needle:
            return True
        n = needle.lower()
        hay = f"{self.plan_id} {self.symbol} {self.side} {'long' if self.side is Side.BUY else 'short'} {self.status}"
        return n in hay.lower()


class PricedRows(Mapping[str, PlanRow]):
    """Plan rows at the marks of one moment, each priced (PlanRow.with_mark) when first read: a preview of 2,000
    plans keeps them all but paints a dozen, and pricing every row up front cost the key press ~25 ms."""

    def __init__(self, rows: dict[str, PlanRow], marks: dict[str, Decimal]) -> None:
        self._rows = rows
        self._marks = marks
        self._priced: dict[str, PlanRow] = {}

    def __getitem__(self, plan_id: str) -> PlanRow:
        done = self._priced.get(plan_id)
        if done is None:
            row = self._rows[plan_id]
            done = self._priced[plan_id] = row.at_mark(self._marks.get(row.symbol))
        return done

    def __contains__(self, plan_id: object) -> bool:
        return plan_id in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)


def unrealised(net: Decimal, avg: Decimal, mark: Decimal | None) -> Decimal | None:
    if mark is None:
        return None
    if net == 0:
        return Decimal(0)
    return (mark - avg) * net


def row_of(plan: TradePlan, mark: Decimal | None, step: Decimal | None = None) -> PlanRow:
    """The row of a plan; `step` (the symbol's step size) is what UNPROTECTED compares the stop cover to."""
    long = plan.direction is Side.BUY
    stops: list[Decimal] = []
    tps: list[Decimal] = []
    count = 0
    for o in plan.orders:
        if not o.is_open:
            continue
        count += 1
        if o.role is OrderRole.STOP_LOSS and o.stop_price is not None:
            stops.append(o.stop_price)
        elif o.role is OrderRole.TAKE_PROFIT:
            px = o.stop_price if o.type in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT) else o.price
            if px is not None:
                tps.append(px)
    # the stop that protects most (the tightest), and the nearest take profit
    stop = (max(stops) if long else min(stops)) if stops else None
    tp = (min(tps) if long else max(tps)) if tps else None
    return PlanRow(
        plan_id=plan.plan_id,
        symbol=plan.symbol,
        side=plan.direction,
        net=plan.net_position,
        avg_entry=plan.avg_entry_price,
        mark=mark,
        upnl=unrealised(plan.net_position, plan.avg_entry_price, mark),
        stop=stop,
        take_profit=tp,
        open_orders=count,
        status=plan.status,
        version=plan.version,
        unprotected=unprotected_reason(plan, step),
    )


@dataclass(frozen=True)
class LogEvent:
    """A line for the activity log: wall time, level (info/fill/warn/error) and text."""

    ts: float
    level: str
    text: str


@dataclass
class Changes:
    """What changed since the last drain. `rows` are new or changed plan rows (full rows; the UI diffs cells);
    `marks` are new marks, which move every row of their symbol without the rows being sent again."""

    ready: bool = False
    failed: str | None = None
    rows: list[PlanRow] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    desk: DeskStatus = DeskStatus.ACTIVE
    health: ConnectorHealth | None = None
    last_data_ts: float | None = None
    events: list[LogEvent] = field(default_factory=list)
    marks: dict[str, Decimal] = field(default_factory=dict)  # symbols whose mark moved: the newest mark


class PlanOrders(Mapping[str, Order]):
    """The orders of the plans a preview touches, by order id. The index over all of them is built when first
    needed (a lookup by id alone, len, iteration); `of(plan_id, order_id)` finds one in its plan without it. A
    flatten of 2,000 plans touches 20,000 orders, and building their index took ~8-14 ms of the key press to the
    preview painted, for the dozen rows on screen."""

    __slots__ = ("_index", "_plans")

    def __init__(self, plans: Iterable[TradePlan] = ()) -> None:
        self._plans = {p.plan_id: p for p in plans}
        self._index: dict[str, Order] | None = None

    def _all(self) -> dict[str, Order]:
        if self._index is None:
            self._index = {o.order_id: o for p in self._plans.values() for o in p.orders}
        return self._index

    def __getitem__(self, order_id: str) -> Order:
        return self._all()[order_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def of(self, plan_id: str, order_id: str) -> Order | None:
        """The order `order_id` of plan `plan_id` (looked for in the other plans too, should it not be there)."""
        plan = self._plans.get(plan_id)
        if plan is not None:
            for o in plan.orders:
                if o.order_id == order_id:
                    return o
        return self.get(order_id)


@dataclass(frozen=True)
class Preview:
    """A previewed batch and what was known when it was computed (the orders it touches, the market rules)."""

    batch: ExecutionBatch
    orders: PlanOrders = field(default_factory=PlanOrders)
    markets: dict[str, MarketRules] = field(default_factory=dict)
    symbols: tuple[str, ...] = ()  # of the plans it touches (also when it has no commands)
    #: symbol -> age in seconds of the mark the preview was priced from, only for marks older than the staleness limit
    stale_marks: dict[str, float] = field(default_factory=dict)
    #: when this preview replaced a stale one: one line per difference ("TPL_3: position -20 -> -22"), else empty
    changes: tuple[str, ...] = ()
    #: how a close is retried if it does not fill ("retries follow the mark inside the 2 % cap"), or None
    retry_note: str | None = None


def stale_marks_of(symbols: Iterable[str], mark_ts: dict[str, float], now: float, limit: float) -> dict[str, float]:
    """Symbol -> age in seconds of its newest mark, for the marks older than `limit` (a preview priced from them
    says so, per symbol). A symbol never seen has no entry."""
    out: dict[str, float] = {}
    for symbol in symbols:
        ts = mark_ts.get(symbol)
        if ts is not None and now - ts > limit:
            out[symbol] = round(now - ts, 1)
    return out


def retry_note_of(directive: StrategyDirective, batch: ExecutionBatch) -> str | None:
    """How the closes of a flatten are retried if they do not fill (DESIGN §3), for the preview; None elsewhere."""
    closing = directive.scope is Scope.CLOSE_EXISTING or (
        directive.scope is Scope.MODIFY_EXISTING and directive.size_directive is not None
        and directive.size_directive.target_position_size == 0)
    if not closing or not any(c.action == "EXECUTE_TRADE" for c in batch.commands):
        return None
    ex = directive.execution_directive
    cap = ex.max_total_slippage_pct if ex is not None else None
    if cap is None:
        return "retries at MARKET (no slippage cap)"
    return f"retries follow the mark inside the {dec_str(plain(cap * 100))}% cap"
