"""Pacing: the pure plan shown in the preview, the gate the handler sends through (spaced to the venue's limits, one
pause of the Retry-After on a 429, then paced again), and a flatten through the real handler on a rate-limited paper
venue that answers one 429."""

from __future__ import annotations

import asyncio
import time

import pytest

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine
from core.connector import ConnectorError, ConnectorErrorKind, OrderRequest, VenueOrder
from core.models import PlanStatus
from core.pacing import BINANCE_SPOT, PacedGate, VenueLimits, close_forms_line, limits_of, plan_pacing
from tests.core.test_handler_kit import directive, make_desk, open_plan


def test_the_plan_of_a_flatten_at_binance_limits() -> None:
    plan = plan_pacing(BINANCE_SPOT, orders=1000, requests=1000)
    assert BINANCE_SPOT.bucket("orders") == (10, pytest.approx(10 / 90))  # 10 at once, then 90 per 10 s
    assert plan.seconds == pytest.approx(990 * 10 / 90 + 0.1)
    assert plan.text() == "~110 s"
    assert plan_pacing(None, orders=1000, requests=3000).seconds == pytest.approx(0.05)
    line = close_forms_line(BINANCE_SPOT, per_plan_closes=1000, cancels=3, symbols=3)
    assert line == "per plan: 1000 closes, ~110 s at the rate limit; netted: 3 closes, ~1 round trip"


@pytest.mark.parametrize("field,kw", [("orders", {"orders": 0}), ("orders_window", {"orders_window": 0}),
                                      ("round_trip", {"round_trip": -1.0})])
def test_bad_limits_name_the_field(field: str, kw: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=field):
        VenueLimits(**kw)  # type: ignore[arg-type]


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_orders_are_spaced_to_the_limit() -> None:
    t = FakeTime()
    gate = PacedGate(16, VenueLimits(orders=20, orders_window=1.0), clock=t.clock, sleep=t.sleep)
    starts = []
    for _ in range(5):
        async with gate.order():
            starts.append(t.now)
    sp = 1 / 18  # a burst of 2, then 18 per second: never more than 20 in any second
    assert starts == pytest.approx([100.0, 100.0, 100 + sp, 100 + 2 * sp, 100 + 3 * sp])
    before = t.now
    async with gate:  # a request that is not a new order is not held behind the order window
        assert t.now == pytest.approx(before)


async def test_a_429_pauses_once_for_the_retry_after_and_in_flight_429s_do_not_extend_it() -> None:
    t = FakeTime()
    gate = PacedGate(16, VenueLimits(orders=30, orders_window=1.0), clock=t.clock, sleep=t.sleep)
    limited = ConnectorError(ConnectorErrorKind.RATE_LIMITED, "429", retry_after=5.0)
    with pytest.raises(ConnectorError):  # three orders in flight at once (a burst of 3); all three come back 429
        async with gate.order(), gate.order(), gate.order():
            assert t.now == 100.0
            raise limited
    assert gate.pauses == 1 and gate.gate_until == pytest.approx(105.0)
    async with gate.order():
        assert t.now == pytest.approx(105.0)  # nothing went before the Retry-After
    async with gate.order():
        assert t.now == pytest.approx(105 + 1 / 27)  # and then paced again, without a new burst


def test_limits_come_from_the_connector() -> None:
    conn = PaperConnector(PaperEngine(DEFAULT_MARKETS()))
    assert limits_of(conn) is None
    conn.limits = BINANCE_SPOT
    assert limits_of(conn) is BINANCE_SPOT
    assert limits_of(object()) is None


class TimedConnector(PaperConnector):
    def __init__(self, engine: PaperEngine) -> None:
        super().__init__(engine)
        self.places: list[tuple[float, float, str]] = []  # (sent, answered, outcome)

    async def place_order(self, request: OrderRequest) -> VenueOrder:
        sent = time.monotonic()
        try:
            vo = await super().place_order(request)
        except ConnectorError as exc:
            self.places.append((sent, time.monotonic(), str(exc.kind)))
            raise
        self.places.append((sent, time.monotonic(), "ok"))
        return vo


async def test_a_flatten_through_the_handler_paces_and_waits_one_retry_after() -> None:
    """Eight closes through the real handler; the first one sent is answered 429 (Retry-After 0.4 s).

    What the gate promises, checked as the venue sees it and in a form no scheduler lag can break: one pause; nothing
    sent during the Retry-After; and after it no new burst - the k-th send after the pause goes no sooner than
    pause end + k x spacing (a loaded loop that wakes late may send a few of those at once, which the limit allows:
    they were due; it never sends them early). The limit is a burst of 2 then 18 a second: at most 2 closes can go
    before the 429 is answered unless the loop stalls for ~0.3 s, so several are always sent after the pause. (With
    the old burst of 10, all 8 closes fitted in the burst: on a loaded machine all of them were often sent before the
    429 came back, leaving only its retry after the pause, and the first sends after a late wake-up went together:
    the test failed on the interleaving, while the gate had kept every promise.)"""
    conn = TimedConnector(PaperEngine(DEFAULT_MARKETS()))
    conn.limits = VenueLimits(orders=20, orders_window=1.0, round_trip=0.0)  # 2 at once, then 1/18 s apart
    burst, spacing = conn.limits.bucket("orders")
    assert (burst, spacing) == (2, pytest.approx(1 / 18))
    desk = await make_desk(conn=conn)
    for i in range(8):
        await open_plan(desk, f"TPL_{i}", stop=None)
    conn.places.clear()
    conn.faults.retry_after = 0.4
    conn.faults.inject("rate_limited", op="place", count=1)
    ids = desk.ledger.plan_ids(PlanStatus.ACTIVE)
    t0 = time.monotonic()
    report = await desk.send(directive("STR_FLAT", "CLOSE_EXISTING", *ids), halt=True)
    wall = time.monotonic() - t0
    assert report.ok, report.summary()
    gate = desk.handler.ops.sem
    assert gate.pauses == 1
    kinds = [k for _s, _a, k in conn.places]
    assert kinds.count("rate_limited") == 1 and kinds.count("ok") == 8
    answered_429 = next(a for _s, a, k in conn.places if k == "rate_limited")
    later = sorted(s for s, _a, _k in conn.places if s > answered_429)
    assert gate.gate_until >= answered_429 + 0.4 - 1e-3
    assert later and later[0] >= gate.gate_until - 1e-4  # nothing sent during the Retry-After
    assert len(later) >= 2  # the 429's retry and the closes the limit held back
    assert all(s >= gate.gate_until + k * spacing - 1e-4 for k, s in enumerate(later))  # paced, no new burst
    assert 0.4 <= wall < 3.0
    assert all(p.net_position == 0 for p in desk.ledger.plans())


def test_gate_refuses_a_bad_bound() -> None:
    with pytest.raises(ValueError, match="max_in_flight"):
        asyncio.run(_make_gate(0))


async def _make_gate(n: int) -> PacedGate:
    return PacedGate(n)


def test_a_windowed_venue_is_not_spaced_and_its_estimate_counts_windows() -> None:
    lim = VenueLimits(orders=100, orders_window=10.0, requests=5400, requests_window=60.0, windowed=True)
    assert lim.bucket("orders") == (1, 0.0)
    assert plan_pacing(lim, orders=50, requests=60).seconds == lim.round_trip  # one window holds them all
    assert plan_pacing(lim, orders=1000, requests=1000).seconds == 90.0 + lim.round_trip  # 10 windows of 100


def test_the_binance_connector_states_its_limits() -> None:
    from connectors.binance.connector import BinanceConnector

    conn = BinanceConnector("http://127.0.0.1:9", "k" * 64, "s" * 64)
    lim = limits_of(conn)
    assert lim is not None and lim.windowed and lim.orders is not None and lim.orders_window > 0


async def test_a_sender_that_slept_through_a_whole_pause_books_again_after_it() -> None:
    """The race behind the loaded-machine failures of the flatten test above, made deterministic. Limit: a burst of 2,
    then 1/18 s apart. Two orders take the burst at t=100; a third books t=100+1/18 and sleeps; the first comes back
    429 (Retry-After 0.4 s: the gate closes until 100.4) and the loop is so busy that the sleeper wakes only at 100.41.
    Its slot lay inside the pause: it must book again behind the pause, like every other sender. The gate instead
    sees 'now >= gate_until' and lets it go at once with its void slot, beside the first booking after the pause:
    two sends at 100.41, where the gate promises the k-th send after a pause no sooner than pause end + k x spacing."""
    now = [100.0]
    woken = asyncio.Event()
    sleeping = asyncio.Event()

    async def sleep(seconds: float) -> None:  # the first sleeper oversleeps until the test wakes it
        if woken.is_set():
            now[0] += seconds
            return
        sleeping.set()
        await woken.wait()

    gate = PacedGate(16, VenueLimits(orders=20, orders_window=1.0), clock=lambda: now[0], sleep=sleep)
    spacing = 1 / 18
    sent: list[tuple[str, float]] = []
    first_in = asyncio.Event()
    answer_429 = asyncio.Event()

    async def first() -> None:
        with pytest.raises(ConnectorError):
            async with gate.order():
                sent.append(("first", now[0]))
                first_in.set()
                await answer_429.wait()
                raise ConnectorError(ConnectorErrorKind.RATE_LIMITED, "429", retry_after=0.4)

    async def third() -> None:
        async with gate.order():
            sent.append(("third", now[0]))

    t1 = asyncio.create_task(first())
    await first_in.wait()
    async with gate.order():
        sent.append(("second", now[0]))
    t3 = asyncio.create_task(third())
    await sleeping.wait()  # the third booked 100 + 1/18 and sleeps
    answer_429.set()
    await t1  # 429: the gate is closed until 100.4
    assert gate.pauses == 1 and gate.gate_until == pytest.approx(100.4)
    now[0] = 100.41  # the loop was busy: the sleeper wakes just after the whole pause
    woken.set()
    await t3
    async with gate.order():  # the first booking after the pause (the 429's retry)
        sent.append(("retry", now[0]))
    after = sorted(t for who, t in sent if who in ("third", "retry"))
    assert all(t >= gate.gate_until + k * spacing - 1e-9 for k, t in enumerate(after)), sent
