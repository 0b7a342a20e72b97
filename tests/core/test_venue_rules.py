"""The venue's own rules in the pure preview (MarketRules' optional venue fields, core.risk.venue_problems): what is
knowable is checked and named, what is not known is never guessed (no false error), and a close is never blocked
by a venue problem (a warning instead)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.ledger_schema import market_from_row
from core.models import LedgerState, MarketRules
from tests.core.conftest import BTC, directive, order, plan, run, state, trades

BAND = {"bid_up": "1.05", "bid_down": "0.95", "ask_up": "1.05", "ask_down": "0.95"}


def btc(**venue: Any) -> dict[str, Any]:
    return {"BTCUSDT": BTC | {"mark_price": "97000"} | venue}


def short_limit(price: str) -> Any:
    return directive("NEW_TRADE", entry_directive={"symbol": "BTCUSDT", "direction": "SELL", "order_type": "LIMIT",
                                                   "limit_price": price},
                     size_directive={"target_position_size": "0.1"})


def test_percent_price_by_side_names_symbol_filter_and_numbers() -> None:
    batch = run(short_limit("90000"), state(markets=btc(percent_price_by_side=BAND)))
    assert len(batch.errors) == 1
    assert batch.errors[0].endswith(": BTCUSDT: PERCENT_PRICE_BY_SIDE: SELL limit 90000 below 95% of the mark 97000 "
                                    "(min 92150)")
    batch = run(short_limit("102000"), state(markets=btc(percent_price_by_side=BAND)))
    assert batch.errors[0].endswith("SELL limit 102000 above 105% of the mark 97000 (max 101850)")
    assert run(short_limit("95000"), state(markets=btc(percent_price_by_side=BAND))).ok


def test_a_modified_take_profit_is_checked_with_its_side() -> None:
    s = state(plan("TPL_1", "1", orders=[order("ORD_TP", "TAKE_PROFIT", "SELL", "1", price="100000")]),
              markets=btc(percent_price_by_side=BAND))
    batch = run(directive("MODIFY_EXISTING", "TPL_1", exit_directive={"take_profit_price": "103000"}), s)
    assert batch.errors == ["TPL_1: BTCUSDT: PERCENT_PRICE_BY_SIDE: SELL limit 103000 above 105% of the mark 97000 "
                            "(max 101850)"]


def test_a_capped_close_beyond_the_band_is_moved_to_its_edge() -> None:
    s = state(plan("TPL_1", "1"), markets=btc(percent_price_by_side=BAND))
    d = directive("CLOSE_EXISTING", "TPL_1", execution_directive={"max_total_slippage_pct": "0.10"})
    batch = run(d, s)
    assert batch.ok and trades(batch)[0].price == Decimal("92150")
    assert batch.warnings == ["TPL_1: close limit 87300 moved to 92150, the edge of the venue's PERCENT_PRICE_BY_SIDE "
                              "band (inside the slippage cap)"]


def test_each_plan_of_a_flatten_gets_its_close_moved_to_the_band_edge_for_its_side() -> None:
    """The close price is worked out once per symbol and side (the worker's close_price): every plan still gets
    its own warning, and a short's close (a BUY) its own edge."""
    s = state(plan("TPL_1", "1"), plan("TPL_2", "0.5"), plan("TPL_3", "-1", direction="SELL"),
              markets=btc(percent_price_by_side=BAND))
    d = directive("CLOSE_EXISTING", "TPL_1", "TPL_2", "TPL_3", execution_directive={"max_total_slippage_pct": "0.10"})
    batch = run(d, s)
    assert batch.ok
    assert [(t.plan_id, t.side, t.price) for t in trades(batch)] == [
        ("TPL_1", "SELL", Decimal("92150")), ("TPL_2", "SELL", Decimal("92150")), ("TPL_3", "BUY", Decimal("101850"))]
    edge = "the edge of the venue's PERCENT_PRICE_BY_SIDE band (inside the slippage cap)"
    assert batch.warnings == [f"TPL_1: close limit 87300 moved to 92150, {edge}",
                              f"TPL_2: close limit 87300 moved to 92150, {edge}",
                              f"TPL_3: close limit 106700 moved to 101850, {edge}"]


def test_counts_take_the_batch_cancels_first_and_market_orders_do_not_rest() -> None:
    stops = [order(f"ORD_S{i}", "STOP_LOSS", "SELL", "0.1", stop="90000") for i in range(2)]
    s = state(plan("TPL_1", "0.2", orders=stops), plan("TPL_2", "0.2"),
              markets=btc(max_num_orders=3, max_num_algo_orders=2))
    stop = directive("MODIFY_EXISTING", "TPL_2", exit_directive={"stop_loss_price": "90000"})
    assert run(stop, s).errors == ["TPL_2: BTCUSDT: MAX_NUM_ALGO_ORDERS: 2 stops open + 1 new > 2"]
    both = directive("CLOSE_EXISTING", "TPL_1", "TPL_2")  # two cancels, two MARKET closes: never over
    assert run(both, s).ok and run(both, s).warnings == []
    grow = directive("MODIFY_EXISTING", "TPL_2", size_directive={"target_position_size": "0.3"})
    assert run(grow, s).ok  # 2 open + 1 MARKET (placed, then filled) <= 3


def test_cancel_only_refuses_a_stop_change_but_not_a_cancel() -> None:
    s = state(plan("TPL_1", "1", orders=[order("ORD_SL", "STOP_LOSS", "SELL", "1", stop="90000")]),
              markets=btc(symbol_status="HALT"))
    tighten = run(directive("MODIFY_EXISTING", "TPL_1", exit_directive={"stop_loss_price": "91000"}), s)
    assert tighten.errors == ["TPL_1: BTCUSDT: symbol status HALT: only cancels may be sent"]
    assert run(directive("MODIFY_EXISTING", "TPL_1", cancel_directive={"order_ids": ["ORD_SL"]}), s).ok
    close = run(directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "0"}), s)
    assert close.ok and close.commands == [] and "the close of 1 is not sent and ORD_SL stays open" in close.warnings[0]


def test_balances_absent_or_margin_mean_no_balance_check() -> None:
    big = directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "0.1"})  # sells 0.9
    unknown = state(plan("TPL_1", "1"), markets=btc())
    assert run(big, unknown).ok
    margin = state(plan("TPL_1", "1"), markets=btc(free_base="0", short_selling=True))
    assert run(big, margin).ok
    spot = state(plan("TPL_1", "1"), markets=btc(base_asset="BTC", free_base="0.5", locked_base="0"))
    assert run(big, spot).errors == ["TPL_1: insufficient free BTC: sell 0.9 needs 0.9, free 0.5"]


def test_a_buy_needs_free_quote() -> None:
    s = state(plan("TPL_1", "1"), markets=btc(quote_asset="USDT", free_quote="1000", locked_quote="50"))
    batch = run(directive("MODIFY_EXISTING", "TPL_1", size_directive={"target_position_size": "1.5"}), s)
    assert batch.errors == ["TPL_1: insufficient free USDT: buy 0.5 needs 48500, free 1000 (50 locked by open orders "
                            "that this batch does not cancel first)"]


def test_the_contract_snapshot_reads_and_writes_as_before() -> None:
    snap = {"markets": {"BTCUSDT": {"mark_price": "102000", "tick_size": "0.01", "step_size": "0.00001",
                                    "min_notional": "5"}}, "plans": [], "desk": {"state": "ACTIVE"}}
    dumped = LedgerState.model_validate(snap).model_dump(mode="json")
    assert dumped["markets"] == snap["markets"]
    full = LedgerState.model_validate({"markets": btc(symbol_status="TRADING", percent_price_by_side=BAND,
                                                      max_num_orders=200)})
    assert LedgerState.model_validate(full.model_dump(mode="json")) == full


def test_rules_read_from_the_ledgers_four_columns_have_no_venue_facts() -> None:
    rules = market_from_row(("BTCUSDT", "97000", "0.01", "0.00001", "5"))
    assert rules.trading and rules.percent_price_by_side is None and rules.free_base is None
    assert rules == MarketRules(mark_price=Decimal(97000), tick_size=Decimal("0.01"), step_size=Decimal("0.00001"),
                                min_notional=Decimal(5))
    assert rules != MarketRules(mark_price=Decimal(97000), tick_size=Decimal("0.01"), step_size=Decimal("0.00001"),
                                min_notional=Decimal(5), symbol_status="TRADING")
    assert rules.model_dump(mode="json") == MarketRules(mark_price=Decimal(97000), tick_size=Decimal("0.01"),
                                                        step_size=Decimal("0.00001"),
                                                        min_notional=Decimal(5)).model_dump(mode="json")
