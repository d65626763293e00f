"""Properties of the engine over generated books (hypothesis)."""

from __future__ import annotations

from collections import defaultdict

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.auction import Auction
from bridge.orders import Side
from bridge.report import encode_json
from tests.bridge.books import PERIOD, TARIFF, books, credits, run, tie_lines
from tests.bridge.reference import reference_auction

thorough = settings(max_examples=300, deadline=None)


@thorough
@given(books, credits, tie_lines | st.none())
def test_engine_matches_the_reference_model(orders, creds, lines):
    result = run(orders, creds, tie_lines=lines)
    trades, grid = reference_auction(orders, creds, TARIFF.grid_sale, TARIFF.grid_purchase, lines)
    assert [(t.round, t.buy, t.sell, t.quantity, t.price, t.xi) for t in result.trades] == trades
    assert [(g.order, g.side, g.quantity, g.price) for g in result.grid] == grid


@thorough
@given(books, credits, tie_lines | st.none())
def test_no_trade_is_priced_outside_ask_and_bid(orders, creds, lines):
    for t in run(orders, creds, tie_lines=lines).trades:
        b, s = orders[t.buy], orders[t.sell]
        assert b.side is Side.BUY and s.side is Side.SELL
        if t.round == 1:  # standing offers
            assert s.price <= t.price <= b.price
        else:  # the ask is the seller's offer or reserve, the bid the buyer's reserve
            assert s.reserve <= t.price <= b.reserve
        assert 0 <= t.xi <= 1_000_000


@thorough
@given(books, credits, tie_lines | st.none())
def test_energy_balances_per_order(orders, creds, lines):
    result = run(orders, creds, tie_lines=lines)
    filled = defaultdict(int)
    for t in result.trades:
        assert t.quantity > 0
        filled[t.buy] += t.quantity
        filled[t.sell] += t.quantity
    for g in result.grid:
        assert g.quantity > 0 and g.side is orders[g.order].side
        filled[g.order] += g.quantity
    assert [filled[i] for i in range(len(orders))] == [o.quantity for o in orders]


@thorough
@given(books, credits, tie_lines | st.none())
def test_grid_prices_are_the_tou_tariff(orders, creds, lines):
    for g in run(orders, creds, tie_lines=lines).grid:
        assert g.price == (TARIFF.grid_sale if g.side is Side.BUY else TARIFF.grid_purchase)


@thorough
@given(books, credits)
def test_book_never_rests_crossed_after_round_one(orders, creds):
    auction = Auction(PERIOD, TARIFF, creds, exclusion_threshold=0)
    left = [o.quantity for o in orders]
    for order in orders:
        for t in auction.place(order):
            left[t.buy] -= t.quantity
            left[t.sell] -= t.quantity
    bids = [o.price for o, q in zip(orders, left, strict=True) if q and o.side is Side.BUY]
    asks = [o.price for o, q in zip(orders, left, strict=True) if q and o.side is Side.SELL]
    assert not bids or not asks or max(bids) < min(asks)


@thorough
@given(books, credits)
def test_no_two_grid_orders_could_still_trade_at_their_reserves(orders, creds):
    grid = run(orders, creds).grid
    buys = [orders[g.order].reserve for g in grid if g.side is Side.BUY]
    sells = [orders[g.order].reserve for g in grid if g.side is Side.SELL]
    assert not buys or not sells or max(buys) < min(sells)


@thorough
@given(books, credits, tie_lines | st.none())
def test_round_one_trades_all_come_before_round_two(orders, creds, lines):
    rounds = [t.round for t in run(orders, creds, tie_lines=lines).trades]
    assert rounds == sorted(rounds)


@thorough
@given(books, credits)
def test_each_incoming_order_takes_resting_orders_in_priority_order(orders, creds):
    """Within one arrival's round-1 fills: prices get worse, and at a price credit falls, then
    arrival rises."""
    auction = Auction(PERIOD, TARIFF, creds, exclusion_threshold=0)
    for order in orders:
        made = auction.place(order)
        buying = order.side is Side.BUY
        others = [t.sell if buying else t.buy for t in made]
        keys = [
            (orders[i].price if buying else -orders[i].price, -creds[orders[i].owner], i)
            for i in others
        ]
        assert keys == sorted(keys)


@thorough
@given(books, credits, tie_lines)
def test_tie_line_limits_are_respected(orders, creds, lines):
    moved = defaultdict(int)
    for t in run(orders, creds, tie_lines=lines).trades:
        moved[(orders[t.sell].chain, orders[t.buy].chain)] += t.quantity
    for pair, cap in lines.items():
        assert moved[pair] <= cap


@thorough
@given(books, credits, tie_lines | st.none())
def test_same_inputs_give_the_same_bytes(orders, creds, lines):
    first = encode_json(run(orders, creds, tie_lines=lines))
    again = encode_json(run(list(orders), dict(reversed(creds.items())), tie_lines=lines))
    assert first == again
