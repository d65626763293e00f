"""The packed priority key orders exactly like market.md's (price, credit, arrival) rule."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bridge.book import MAX_ORDERS, Book, key_price, key_seq, priority_key
from bridge.orders import MAX_PRICE, PPM, Side

prices = st.integers(1, MAX_PRICE)
credits = st.integers(0, PPM)
seqs = st.integers(0, MAX_ORDERS - 1)
entries = st.lists(
    st.tuples(prices | st.integers(1, 5), credits | st.sampled_from([0, PPM]), seqs), max_size=30
)


def spec_rank(side, price, credit, seq):
    return (-price if side is Side.BUY else price, -credit, seq)


@given(st.sampled_from(Side), entries)
def test_key_order_is_price_then_credit_then_arrival(side, items):
    items = list({e[2]: e for e in items}.values())  # arrival indices are unique
    by_key = sorted(items, key=lambda e: priority_key(side, *e))
    assert by_key == sorted(items, key=lambda e: spec_rank(side, *e))


@given(st.sampled_from(Side), prices, credits, seqs)
def test_key_gives_back_its_price_and_arrival(side, price, credit, seq):
    key = priority_key(side, price, credit, seq)
    assert (key_price(side, key), key_seq(key)) == (price, seq)


@given(
    st.sampled_from(Side),
    st.lists(st.tuples(st.integers(1, 9), credits, st.sampled_from("xyz")), max_size=30),
)
def test_best_is_the_best_head_across_chain_partitions(side, items):
    book = Book(side)
    keys = {}
    for seq, (price, credit, chain) in enumerate(items):
        keys[book.add(chain, price, credit, seq)] = chain
    assert book.keys() == sorted(keys)
    assert len(book) == len(items)
    found = book.best()
    if not items:
        assert found is None
        return
    assert found == (min(keys), keys[min(keys)])
    blocked = {keys[min(keys)]}
    rest = [k for k, c in keys.items() if c not in blocked]
    assert book.best(blocked) == ((min(rest), keys[min(rest)]) if rest else None)


def test_pop_best_and_drain_empty_the_book():
    book = Book(Side.SELL)
    book.add("dg", 5, 0, 0)
    book.add("dg", 4, 0, 1)
    book.add("storage", 6, 0, 2)
    assert key_seq(book.pop_best("dg")) == 1
    assert sorted(book.drain()) == [0, 2]
    assert len(book) == 0 and book.best() is None
