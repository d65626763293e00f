"""Blocks from peers: re-executed and checked, forks kept, the longest finalized-rooted chain
best, the flat state always equal to the best block's trie, and finality never reverted."""

import dataclasses

import pytest

from node.primitives.header import Block, Header
from node.primitives.hashing import storage_prefix
from node.primitives.keys import dev_keypair
from node.service.chain import FinalityConflict, InvalidBlock, StaleBlock, UnknownParent
from tests.service.test_chain import open_chain, transfer


def build(chain, *senders, slot=None):
    slot = slot if slot is not None else chain.best.number + 1
    nonce = {}
    txs = []
    for s in senders:
        who = dev_keypair(s).public_key
        n = nonce.get(s, chain.executive.system.account(_overlay(chain), who).nonce)
        nonce[s] = n + 1
        txs.append((transfer(chain, s, n), False))
    return chain.build_block(txs, timestamp_ms=slot * 1000, slot=slot)


def _overlay(chain):
    from node.runtime.overlay import StateOverlay

    return StateOverlay(chain.db.state)


def flat_equals_trie(chain):
    prefix = storage_prefix("System", "Account")
    view = chain.state_at()
    trie = chain.state_trie(chain.best.state_root)
    flat = {k: chain.db.state(k) for k in chain.db.iter_state(b"")}
    via_trie = {k: trie.get(k) for k in trie.iter_keys(b"")}
    return flat == via_trie and list(view.keys(prefix))


@pytest.fixture
def pair(tmp_path):
    return open_chain(tmp_path / "a"), open_chain(tmp_path / "b")


def test_imported_blocks_reproduce_the_authors_state(pair):
    a, b = pair
    blocks = [build(a, "Alice", "Bob").block for _ in range(3)]
    for block in blocks:
        result = b.import_block(block)
        assert result.is_new_best
    assert b.best.hash == a.best.hash and b.best.state_root == a.best.state_root
    assert flat_equals_trie(b)


def test_importing_a_known_block_is_a_no_op(pair):
    a, b = pair
    block = build(a, "Alice").block
    b.import_block(block)
    assert b.import_block(block).already_known


def test_block_with_unknown_parent_waits_for_sync(pair):
    a, b = pair
    build(a)
    second = build(a).block
    with pytest.raises(UnknownParent):
        b.import_block(second)


def test_block_rejected_if_state_root_is_wrong(pair):
    a, b = pair
    block = build(a, "Alice").block
    h = block.header
    forged = Block(Header(h.parent_hash, h.number, bytes(32), h.extrinsics_root, h.digest), block.extrinsics)
    with pytest.raises(InvalidBlock, match="state root"):
        b.import_block(forged)
    assert b.best.number == 0 and b.header(forged.header.hash) is None


def test_block_rejected_if_body_does_not_match_extrinsics_root(pair):
    a, b = pair
    block = build(a, "Alice").block
    with pytest.raises(InvalidBlock, match="extrinsics root"):
        b.import_block(Block(block.header, block.extrinsics[:1]))


def test_block_rejected_if_an_extrinsic_has_a_bad_signature(pair):
    a, b = pair
    block = build(a, "Alice").block
    xt = bytearray(block.extrinsics[1])
    xt[40] ^= 1
    extrinsics = (block.extrinsics[0], bytes(xt))
    from node.primitives.header import extrinsics_root
    from node.service.chain import _ordered_root

    h = block.header
    forged = Block(Header(h.parent_hash, h.number, h.state_root, extrinsics_root(extrinsics, _ordered_root), h.digest), extrinsics)
    with pytest.raises(InvalidBlock, match="bad signature"):
        b.import_block(forged)


def test_block_rejected_without_its_timestamp_inherent(pair):
    a, b = pair
    block = build(a, "Alice").block
    from node.primitives.header import extrinsics_root
    from node.service.chain import _ordered_root

    extrinsics = block.extrinsics[1:]
    h = block.header
    forged = Block(Header(h.parent_hash, h.number, h.state_root, extrinsics_root(extrinsics, _ordered_root), h.digest), extrinsics)
    with pytest.raises(InvalidBlock):
        b.import_block(forged)


def test_longer_fork_becomes_best_and_the_flat_state_follows(pair):
    a, b = pair
    own = build(b, "Bob", slot=101)  # b's own block 1
    assert b.best.hash == own.hash
    fork = [build(a, "Alice").block for _ in range(2)]  # a's blocks 1 and 2
    first = b.import_block(fork[0])
    assert not first.is_new_best  # same height: the first seen stays best
    second = b.import_block(fork[1])
    assert second.is_new_best and second.retracted == [own.hash] and second.enacted == [fork[0].hash, fork[1].hash]
    assert b.best.hash == a.best.hash
    assert b.hash_at(1) == fork[0].hash and b.hash_at(2) == fork[1].hash
    assert flat_equals_trie(b)
    bob = dev_keypair("Bob").public_key
    assert b.executive.system.account(_overlay(b), bob).nonce == 0  # Bob's transfer was retracted


def test_finalizing_a_side_branch_moves_the_best_block(pair, tmp_path):
    a, b = pair
    fork = build(a, "Alice").block
    b.import_block(fork)
    own = build(b, "Bob", slot=101)  # b builds block 2 on the imported block 1
    assert own.block.header.parent_hash == fork.hash
    # A side block at height 1 from a third chain, then finalize it: best must move there.
    c_alone = build(open_chain(tmp_path / "c"), "Charlie", slot=55).block
    b.import_block(c_alone)
    b.finalize(c_alone.hash)
    assert b.best.hash == c_alone.hash and b.finalized.hash == c_alone.hash
    assert flat_equals_trie(b)
    with pytest.raises(FinalityConflict):
        b.finalize(fork.hash)
    with pytest.raises(StaleBlock, match="finalized chain"):
        b.import_block(build(a, "Alice").block)  # a's block 2 builds on the unfinalized fork

