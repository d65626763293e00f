"""The pool orders each sender's nonces, holds future ones, refuses duplicates and stays bounded."""

import pytest

from node.runtime.executive import ValidTransaction, nonce_tag
from node.service.txpool import AlreadyImported, PoolFull, TooLowPriority, TransactionPool


class FakeXt:
    def __init__(self, signer, nonce, tip=0):
        self.signer, self.nonce, self.tip = signer, nonce, tip
        self.hash = signer + nonce.to_bytes(4, "little") + tip.to_bytes(4, "little")


class FakeChecked:
    def __init__(self, signer, nonce, tip=0):
        self.xt = FakeXt(signer, nonce, tip)


def add(pool, signer, nonce, account_nonce=0, tip=0, death=2**64):
    checked = FakeChecked(signer, nonce, tip)
    valid = ValidTransaction(tip, (), (nonce_tag(signer, nonce),), 64, 1)
    return pool.submit(checked, valid, account_nonce, death), checked.xt.hash


A, B = b"A" * 32, b"B" * 32


def test_ready_yields_each_senders_nonces_in_order():
    pool = TransactionPool()
    add(pool, A, 0)
    add(pool, B, 0)
    add(pool, A, 1)
    order = [(tx.signer, tx.nonce) for tx in pool.ready()]
    assert order == [(A, 0), (B, 0), (A, 1)]


def test_a_gap_makes_later_nonces_future_until_it_closes():
    pool = TransactionPool()
    assert add(pool, A, 2)[0] == "future"
    assert [tx.nonce for tx in pool.ready()] == []
    add(pool, A, 0)
    assert add(pool, A, 1)[0] == "ready"
    assert [tx.nonce for tx in pool.ready()] == [0, 1, 2]


def test_a_transaction_back_from_a_retracted_block_is_ready_again_before_the_later_ones():
    pool = TransactionPool()
    _, first = add(pool, A, 0)
    add(pool, A, 1)
    pool.on_block([first], [], lambda signer: 1, 1)  # nonce 0 in a block; 1 waits
    assert [tx.nonce for tx in pool.ready()] == [1]
    add(pool, A, 0, account_nonce=0)  # a reorg retracted that block: the account is at 0 again
    assert [tx.nonce for tx in pool.ready()] == [0, 1]


def test_duplicate_is_refused():
    pool = TransactionPool()
    add(pool, A, 0)
    with pytest.raises(AlreadyImported):
        add(pool, A, 0)


def test_replacement_needs_a_higher_tip():
    pool = TransactionPool()
    add(pool, A, 0, tip=5)
    with pytest.raises(TooLowPriority):
        add(pool, A, 0, tip=5 - 1)
    add(pool, A, 0, tip=6)
    assert [tx.checked.xt.tip for tx in pool.ready()] == [6]


def test_full_pool_refuses_new_transactions():
    pool = TransactionPool(max_transactions=2)
    add(pool, A, 0)
    add(pool, A, 1)
    with pytest.raises(PoolFull):
        add(pool, B, 0)
    assert len(pool) == 2


def test_block_removes_included_and_stale_and_promotes_the_rest():
    pool = TransactionPool()
    _, h0 = add(pool, A, 0)
    _, h1 = add(pool, A, 1)
    add(pool, A, 2)
    dropped = pool.on_block([h0], [], lambda who: 2, block_number=1)  # nonce 1 went in elsewhere
    assert [tx.nonce for tx in dropped] == [1]
    assert [tx.nonce for tx in pool.ready()] == [2]


def test_expired_transactions_are_dropped():
    pool = TransactionPool()
    add(pool, A, 0, death=5)
    dropped = pool.on_block([], [], lambda who: 0, block_number=4)
    assert len(dropped) == 1 and len(pool) == 0


def test_higher_tip_goes_first_across_senders():
    pool = TransactionPool()
    add(pool, A, 0, tip=1)
    add(pool, B, 0, tip=9)
    assert [tx.signer for tx in pool.ready()] == [B, A]
