"""The chain on RocksDB: blocks commit atomically, a reopened database resumes where it was,
and state at any block is readable and provable."""

import pytest

from node.cli import dev_node_config
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import decode_extrinsic, sign_extrinsic
from node.primitives.hashing import storage_prefix
from node.primitives.keys import dev_keypair
from node.service.chain import Chain
from node.storage.db import ChainDB
from node.trie import InvalidProof, verify_read_proof


def open_chain(path):
    config = dev_node_config(path, rpc_port=0, block_time_ms=1000)
    return Chain(ChainDB(path / "db"), config.runtime, config.genesis)


def transfer(chain, sender, nonce, value=10**12):
    runtime = chain.runtime
    call = runtime.call_type.encode({"Balances": {"transfer_keep_alive": {"dest": {"Id": dev_keypair("Bob").public_key}, "value": value}}})
    v = runtime.version
    xt = sign_extrinsic(dev_keypair(sender), call, nonce, IMMORTAL, 0, v.spec_version, v.transaction_version, chain.genesis_hash)
    return chain.executive.check_format(decode_extrinsic(xt))


def account_key(chain, who):
    return chain.runtime.pallet("System").Account.key(who)


def test_genesis_is_deterministic(tmp_path):
    a, b = open_chain(tmp_path / "a"), open_chain(tmp_path / "b")
    assert a.genesis_hash == b.genesis_hash and a.best.number == 0
    assert a.best.state_root == b.best.state_root


def test_built_block_links_to_its_parent_and_includes_transfers(tmp_path):
    chain = open_chain(tmp_path)
    genesis = chain.best
    built = chain.build_block([(transfer(chain, "Alice", 0), False)], timestamp_ms=6000, slot=6)
    header = built.block.header
    assert header.parent_hash == genesis.hash and header.number == 1
    assert len(built.included) == 1 and len(built.block.extrinsics) == 2  # timestamp + transfer
    assert chain.best.hash == built.hash == header.hash
    assert chain.hash_at(1) == built.hash


def test_reopened_database_resumes_from_the_last_committed_block(tmp_path):
    chain = open_chain(tmp_path)
    for n in range(3):
        chain.build_block([(transfer(chain, "Alice", n), False)], timestamp_ms=6000 * (n + 1), slot=n + 1)
    best, root = chain.best.hash, chain.best.state_root
    chain.db.close()
    again = open_chain(tmp_path)
    assert again.best.hash == best and again.best.state_root == root
    built = again.build_block([(transfer(again, "Alice", 3), False)], timestamp_ms=6000 * 4, slot=4)
    assert built.block.header.parent_hash == best and built.included


def test_state_at_an_old_block_reads_through_the_trie(tmp_path):
    chain = open_chain(tmp_path)
    alice = dev_keypair("Alice").public_key
    key = account_key(chain, alice)
    at_genesis = chain.state_at(chain.genesis_hash).get(key)
    chain.build_block([(transfer(chain, "Alice", 0), False)], timestamp_ms=6000, slot=1)
    assert chain.state_at(chain.genesis_hash).get(key) == at_genesis
    assert chain.state_at().get(key) != at_genesis
    assert chain.state_at(chain.best.hash).trie.get(key) == chain.state_at().get(key)  # flat == trie


def test_read_proof_verifies_against_the_header_state_root(tmp_path):
    chain = open_chain(tmp_path)
    chain.build_block([(transfer(chain, "Alice", 0), False)], timestamp_ms=6000, slot=1)
    alice = account_key(chain, dev_keypair("Alice").public_key)
    absent = account_key(chain, bytes(32))
    view = chain.state_at()
    proof = view.read_proof([alice, absent])
    proven = verify_read_proof(chain.best.state_root, proof, [alice, absent])
    assert proven == {alice: view.get(alice), absent: None}
    with pytest.raises(InvalidProof):
        verify_read_proof(chain.genesis_hash, proof, [alice])


def test_keys_are_listed_in_order_after_a_start_key(tmp_path):
    chain = open_chain(tmp_path)
    prefix = storage_prefix("System", "Account")
    keys = list(chain.state_at().keys(prefix))
    assert keys == sorted(keys) and len(keys) == 6
    assert list(chain.state_at().keys(prefix, keys[2])) == keys[3:]
    assert list(chain.state_at(chain.genesis_hash).keys(prefix, keys[2])) == keys[3:]  # via the trie


def test_finality_never_goes_backwards(tmp_path):
    from node.service.chain import ChainError

    chain = open_chain(tmp_path)
    first = chain.build_block([], timestamp_ms=6000, slot=1)
    second = chain.build_block([], timestamp_ms=12000, slot=2)
    chain.finalize(second.hash)
    with pytest.raises(ChainError):
        chain.finalize(first.hash)
