"""market.md's matching rules, one small book per rule (and per decision the engine documents)."""

from __future__ import annotations

from bridge.auction import Auction, GridTrade, Trade
from bridge.orders import Side
from tests.bridge.books import PERIOD, TARIFF, buy, run, sell

FULL = 1_000_000


def peer(result):  # (round, buy, sell, quantity, price)
    return [(t.round, t.buy, t.sell, t.quantity, t.price) for t in result.trades]


# --- transaction price ---------------------------------------------------------------------------


def test_price_is_credit_weighted_toward_the_bid_for_a_creditworthy_seller():
    result = run([buy(10, 100, owner="b"), sell(10, 40, owner="s")], {"b": 250_000, "s": 750_000})
    # ξ = 0.75: price = 0.75·100 + 0.25·40 = 85
    assert result.trades == (Trade(1, 0, 1, "b", "s", 10, 85, 750_000),)


def test_price_is_credit_weighted_toward_the_ask_for_a_creditworthy_buyer():
    result = run([sell(10, 40, owner="s"), buy(10, 100, owner="b")], {"b": 750_000, "s": 250_000})
    assert (result.trades[0].price, result.trades[0].xi) == (55, 250_000)


def test_price_splits_evenly_when_both_credits_are_zero():
    result = run([buy(10, 101), sell(10, 40)], {"b": 0, "s": 0})
    assert (result.trades[0].price, result.trades[0].xi) == (70, 500_000)  # 141 // 2


def test_price_division_rounds_toward_zero():
    # (1·100 + 2·41) / 3 = 60.67 → 60; ξ = 1/3 → 333333
    result = run([buy(1, 100), sell(1, 41)], {"b": 2, "s": 1})
    assert (result.trades[0].price, result.trades[0].xi) == (60, 333_333)


def test_price_uses_standing_prices_not_reserves_in_round_one():
    result = run([buy(5, 60, reserve=99), sell(5, 50, reserve=10)], {"b": FULL, "s": FULL})
    assert result.trades[0].price == 55


# --- round 1 priority ----------------------------------------------------------------------------


def test_incoming_buy_takes_the_lowest_ask_first():
    orders = [sell(5, 60, owner="s1"), sell(5, 50, owner="s2"), buy(5, 70, owner="b")]
    result = run(orders, {"s1": FULL, "s2": FULL, "b": FULL})
    assert peer(result)[0][:4] == (1, 2, 1, 5)


def test_incoming_sell_takes_the_highest_bid_first():
    orders = [buy(5, 60, owner="b1"), buy(5, 70, owner="b2"), sell(5, 50, owner="s")]
    result = run(orders, {"b1": FULL, "b2": FULL, "s": FULL})
    assert peer(result)[0][:4] == (1, 1, 2, 5)


def test_equal_price_serves_higher_credit_first():
    orders = [sell(5, 50, owner="low"), sell(5, 50, owner="high"), buy(5, 50, owner="b")]
    result = run(orders, {"low": 400_000, "high": 900_000, "b": FULL})
    assert result.trades[0].seller == "high"


def test_equal_price_and_credit_serves_earlier_arrival_first():
    orders = [buy(5, 50, owner="x"), buy(5, 50, owner="y"), sell(5, 50, owner="s")]
    result = run(orders, {"x": 500_000, "y": 500_000, "s": FULL})
    assert result.trades[0].buyer == "x"


def test_price_priority_beats_credit_priority():
    orders = [buy(5, 51, owner="poor"), buy(5, 50, owner="rich"), sell(5, 50, owner="s")]
    result = run(orders, {"poor": 0, "rich": FULL, "s": FULL})
    assert result.trades[0].buyer == "poor"


def test_match_stops_at_the_first_ask_above_the_bid():
    orders = [sell(5, 50, owner="s1"), sell(5, 61, owner="s2"), buy(10, 60, owner="b")]
    result = run(orders, {"s1": FULL, "s2": FULL, "b": FULL})
    assert [t for t in result.trades if t.round == 1] == [Trade(1, 2, 0, "b", "s1", 5, 55, 500_000)]


def test_remainders_keep_matching_then_rest():
    auction = Auction(
        PERIOD, TARIFF, {"s1": FULL, "s2": FULL, "b": FULL, "s3": FULL}, exclusion_threshold=0
    )
    auction.place(sell(3, 50, owner="s1"))
    auction.place(sell(4, 52, owner="s2"))
    made = auction.place(buy(10, 60, owner="b"))
    assert [(t.sell, t.quantity) for t in made] == [(0, 3), (1, 4)]
    # the buy's 3 left rest at 60 and are hit by a later sell
    assert [(t.buy, t.quantity, t.price) for t in auction.place(sell(5, 58, owner="s3"))] == [
        (2, 3, 59)
    ]


def test_orders_that_do_not_cross_rest_without_trading():
    auction = Auction(PERIOD, TARIFF, {"b": FULL, "s": FULL}, exclusion_threshold=0)
    assert auction.place(buy(5, 49)) == ()
    assert auction.place(sell(5, 50)) == ()


def test_a_buy_may_match_a_sell_of_the_same_owner():
    result = run(
        [sell(5, 50, owner="bat", chain="storage"), buy(5, 60, owner="bat", chain="storage")],
        {"bat": FULL},
    )
    assert result.trades == (Trade(1, 1, 0, "bat", "bat", 5, 55, 500_000),)


# --- round 2 -------------------------------------------------------------------------------------


def test_round_two_resubmits_unfilled_buys_at_reserve_against_standing_asks():
    orders = [buy(10, 40, reserve=70, owner="b"), sell(10, 60, reserve=30, owner="s")]
    result = run(orders, {"b": FULL, "s": FULL})
    # λ_b = the buy's reserve 70, λ_s = the ask's standing offer 60
    assert peer(result) == [(2, 0, 1, 10, 65)]


def test_round_two_serves_the_highest_reserve_first():
    orders = [
        buy(10, 40, reserve=62, owner="b1"),
        buy(10, 40, reserve=70, owner="b2"),
        sell(10, 60, owner="s"),
    ]
    result = run(orders, {"b1": FULL, "b2": FULL, "s": FULL})
    assert [t.buyer for t in result.trades] == ["b2"]
    assert result.grid == (GridTrade(0, "b1", Side.BUY, 10, TARIFF.grid_sale),)


def test_round_two_breaks_reserve_ties_by_credit_then_arrival():
    orders = [
        buy(5, 40, reserve=70, owner="early"),
        buy(5, 40, reserve=70, owner="late"),
        buy(5, 40, reserve=70, owner="rich"),
        sell(10, 60, owner="s"),
    ]
    result = run(orders, {"early": 500_000, "late": 500_000, "rich": 900_000, "s": FULL})
    assert [t.buyer for t in result.trades] == ["rich", "early"]


def test_round_two_sells_match_bids_resting_at_their_reserve():
    # The buy's reserve 55 does not reach the ask's offer 60, so it rests at 55; the sell's
    # reserve 50 then meets it, priced from both reserves.
    orders = [buy(10, 40, reserve=55, owner="b"), sell(10, 60, reserve=50, owner="s")]
    result = run(orders, {"b": FULL, "s": FULL})
    assert peer(result) == [(2, 0, 1, 10, 52)]  # (55 + 50) // 2


def test_round_two_serves_the_lowest_sell_reserve_first():
    orders = [
        sell(10, 90, reserve=58, owner="s1"),
        sell(10, 90, reserve=52, owner="s2"),
        buy(10, 40, reserve=60, owner="b"),
    ]
    result = run(orders, {"s1": FULL, "s2": FULL, "b": FULL})
    assert [(t.round, t.seller, t.price) for t in result.trades] == [(2, "s2", 56)]


def test_round_two_leaves_orders_whose_reserves_do_not_cross_to_the_grid():
    orders = [buy(10, 40, reserve=50, owner="b"), sell(10, 60, reserve=51, owner="s")]
    result = run(orders, {"b": FULL, "s": FULL})
    assert result.trades == ()
    assert result.grid == (
        GridTrade(0, "b", Side.BUY, 10, TARIFF.grid_sale),
        GridTrade(1, "s", Side.SELL, 10, TARIFF.grid_purchase),
    )


def test_round_one_fills_before_round_two_sees_the_book():
    orders = [buy(5, 40, reserve=70, owner="b"), sell(5, 60, owner="s"), buy(5, 60, owner="b2")]
    result = run(orders, {"b": FULL, "s": FULL, "b2": FULL})
    assert [t.round for t in result.trades] == [
        1
    ]  # b2 takes the ask in round 1, b goes to the grid
    assert result.grid[0].order == 0


# --- grid absorption -----------------------------------------------------------------------------


def test_grid_supplies_unmet_demand_at_the_sale_price_and_buys_surplus_at_the_purchase_price():
    orders = [buy(10, 60, owner="b"), sell(4, 60, owner="s1"), sell(20, 90, reserve=80, owner="s2")]
    result = run(orders, {"b": FULL, "s1": FULL, "s2": FULL})
    assert result.grid == (
        GridTrade(0, "b", Side.BUY, 6, TARIFF.grid_sale),
        GridTrade(2, "s2", Side.SELL, 20, TARIFF.grid_purchase),
    )


def test_an_empty_period_makes_no_trades():
    result = run([], {})
    assert (result.trades, result.grid) == ((), ())


# --- tie-lines -----------------------------------------------------------------------------------


def test_tie_line_trades_only_what_fits_and_the_rest_matches_elsewhere():
    orders = [
        sell(10, 50, owner="pv", chain="dg"),  # best ask, but behind a 4-unit tie-line
        sell(10, 55, owner="bat", chain="storage"),
        buy(10, 60, owner="load", chain="demand"),
    ]
    result = run(orders, {"pv": FULL, "bat": FULL, "load": FULL}, tie_lines={("dg", "demand"): 4})
    assert [(t.seller, t.quantity) for t in result.trades] == [("pv", 4), ("bat", 6)]


def test_full_tie_line_skips_that_chain_without_moving_its_orders():
    orders = [
        sell(10, 50, owner="pv", chain="dg"),
        buy(5, 60, owner="load", chain="demand"),
        buy(5, 60, owner="ev", chain="storage"),
    ]
    result = run(orders, {"pv": FULL, "load": FULL, "ev": FULL}, tie_lines={("dg", "demand"): 0})
    assert [(t.buyer, t.quantity) for t in result.trades] == [("ev", 5)]
    assert result.grid[0] == GridTrade(0, "pv", Side.SELL, 5, TARIFF.grid_purchase)


def test_tie_line_is_directed_from_seller_chain_to_buyer_chain():
    orders = [sell(10, 50, owner="pv", chain="dg"), buy(10, 60, owner="load", chain="demand")]
    result = run(orders, {"pv": FULL, "load": FULL}, tie_lines={("demand", "dg"): 0})
    assert [t.quantity for t in result.trades] == [10]


def test_tie_line_limit_counts_both_rounds():
    orders = [
        sell(10, 50, owner="pv", chain="dg"),
        buy(6, 60, owner="load", chain="demand"),
        buy(6, 40, reserve=60, owner="ev", chain="demand"),
    ]
    result = run(orders, {"pv": FULL, "load": FULL, "ev": FULL}, tie_lines={("dg", "demand"): 8})
    assert [(t.round, t.quantity) for t in result.trades] == [(1, 6), (2, 2)]


def test_trades_within_one_chain_are_never_capped():
    orders = [sell(10, 50, owner="s", chain="storage"), buy(10, 60, owner="b", chain="storage")]
    result = run(orders, {"s": FULL, "b": FULL}, tie_lines={("dg", "storage"): 0})
    assert [t.quantity for t in result.trades] == [10]
