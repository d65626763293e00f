"""Trie reads, batch updates, key iteration, proofs and recording, on hand-picked cases."""

from __future__ import annotations

import random

import pytest

from node.primitives.hashing import blake2_256
from node.trie import (
    EMPTY_ROOT,
    InvalidTrieNode,
    MemoryStore,
    MissingTrieNode,
    ProofBackedStore,
    RecordingStore,
    Trie,
    trie_root,
    verify_read_proof,
)
from node.trie.codec import Branch, decode_node


def make(items: dict[bytes, bytes]) -> tuple[Trie, MemoryStore]:
    store = MemoryStore()
    update = Trie(store).apply_changes(items)
    store.update(update.new_nodes)
    return Trie(store, update.root), store


def reachable(store: MemoryStore, root: bytes) -> set[bytes]:
    """Hashes of every stored node and value node under ``root``."""
    seen: set[bytes] = set()
    todo = [root]
    while todo:
        ref = todo.pop()
        if len(ref) == 32:
            seen.add(ref)
            node = decode_node(store.nodes[ref])
        else:
            node = decode_node(ref)
        if node.hashed:
            seen.add(node.value)
        if isinstance(node, Branch):
            todo.extend(c for c in node.children if c is not None)
    return seen


ITEMS = {
    b"": b"root value",
    b"do": b"verb",
    b"dog": b"puppy",
    b"doge": b"coin" * 20,  # 80 bytes: a value node
    b"horse": b"stallion",
    b"\x00\x01": b"",
    b"\xff" * 40: b"x" * 33,
}


def test_get_finds_every_key_and_nothing_else():
    trie, _ = make(ITEMS)
    for key, value in ITEMS.items():
        assert trie.get(key) == value
    for absent in [b"d", b"dogs", b"hors", b"horses", b"\x00", b"\x00\x01\x02", b"\xff" * 39]:
        assert trie.get(absent) is None


def test_values_over_32_bytes_are_stored_as_value_nodes():
    update = Trie(MemoryStore()).apply_changes({b"a": b"x" * 33, b"b": b"y" * 32})
    assert update.new_nodes[blake2_256(b"x" * 33)] == b"x" * 33
    assert blake2_256(b"y" * 32) not in update.new_nodes


def test_deleting_every_key_gives_the_empty_root():
    trie, _ = make(ITEMS)
    update = trie.apply_changes({key: None for key in ITEMS})
    assert update.root == EMPTY_ROOT
    assert update.new_nodes == {}


def test_changes_that_change_nothing_create_no_nodes():
    trie, _ = make(ITEMS)
    update = trie.apply_changes(
        {b"dog": b"puppy", b"doge": b"coin" * 20, b"cat": None, b"dogs": None}
    )
    assert update.root == trie.root
    assert update.new_nodes == {}


def test_new_nodes_are_exactly_what_the_new_root_adds():
    trie, store = make(ITEMS)
    before = reachable(store, trie.root)
    update = trie.apply_changes({b"dog": None, b"dot": b"z" * 50, b"horse": b"mare"})
    store.update(update.new_nodes)
    after = reachable(store, update.root)
    assert set(update.new_nodes) == after - before


def test_apply_changes_leaves_the_trie_and_store_untouched():
    trie, store = make(ITEMS)
    nodes_before = dict(store.nodes)
    update = trie.apply_changes({b"dog": b"wolf", b"do": None})
    assert trie.root != update.root
    assert store.nodes == nodes_before
    assert trie.get(b"dog") == b"puppy"


def test_apply_changes_rejects_keys_and_values_that_are_not_bytes():
    trie, _ = make(ITEMS)
    with pytest.raises(TypeError):
        trie.apply_changes({"dog": b"x"})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        trie.apply_changes({b"dog": 5})  # type: ignore[dict-item]


def test_trie_rejects_a_root_that_is_not_32_bytes():
    with pytest.raises(ValueError):
        Trie(MemoryStore(), b"\x00" * 31)


def test_a_node_missing_from_the_store_raises_missing_trie_node():
    trie, store = make(ITEMS)
    del store.nodes[trie.root]
    with pytest.raises(MissingTrieNode) as info:
        Trie(store, trie.root).get(b"dog")
    assert info.value.node_hash == trie.root


def test_a_corrupt_stored_node_raises_invalid_trie_node():
    store = MemoryStore()
    root = blake2_256(b"\x05garbage")
    store.nodes[root] = b"\x05garbage"
    with pytest.raises(InvalidTrieNode):
        Trie(store, root).get(b"a")


def test_a_stored_empty_node_below_the_root_is_rejected():
    store = MemoryStore({blake2_256(b"\x00"): b"\x00"})
    branch = bytes.fromhex("800100") + b"\x80" + blake2_256(b"\x00")
    store.nodes[blake2_256(branch)] = branch
    with pytest.raises(InvalidTrieNode):
        Trie(store, blake2_256(branch)).get(b"\x00")


# --- iteration --------------------------------------------------------------------------------


def test_iter_keys_lists_all_keys_in_order():
    trie, _ = make(ITEMS)
    assert list(trie.iter_keys()) == sorted(ITEMS)


@pytest.mark.parametrize(
    "prefix, start_after",
    [
        (b"do", None),
        (b"do", b"dog"),
        (b"", b"do"),
        (b"", b"dogz"),
        (b"h", None),
        (b"x", None),
        (b"", b"\xff" * 41),
        (b"dog", b"do"),
        (b"", b""),
    ],
)
def test_iter_keys_filters_by_prefix_and_start(prefix, start_after):
    trie, _ = make(ITEMS)
    expected = sorted(
        k for k in ITEMS if k.startswith(prefix) and (start_after is None or k > start_after)
    )
    assert list(trie.iter_keys(prefix, start_after)) == expected


def test_iter_keys_of_the_empty_trie_is_empty():
    assert list(Trie(MemoryStore()).iter_keys()) == []


def test_a_page_of_keys_reads_only_the_nodes_it_needs():
    rng = random.Random(1)
    items = {rng.randbytes(32): b"v" for _ in range(5000)}
    trie, store = make(items)
    start = sorted(items)[2500]
    recorder = RecordingStore(store)
    page = []
    for key in Trie(recorder, trie.root).iter_keys(b"", start):
        page.append(key)
        if len(page) == 10:
            break
    assert page == sorted(items)[2501:2511]
    assert len(recorder.recorded) < 40  # two root-to-leaf paths, not half the trie


# --- proofs and recording ---------------------------------------------------------------------


def test_read_proof_proves_presence_absence_and_hashed_values():
    trie, _ = make(ITEMS)
    keys = [b"doge", b"dog", b"cat", b"", b"\xff" * 40]
    proof = trie.read_proof(keys)
    assert len(proof) == len(set(proof))
    assert b"coin" * 20 in proof  # the value node of the hashed value
    assert verify_read_proof(trie.root, proof, keys) == {k: ITEMS.get(k) for k in keys}


def test_read_proof_of_the_empty_trie_is_empty():
    assert Trie(MemoryStore()).read_proof([b"a"]) == []


def test_recording_store_records_absent_key_lookups():
    trie, store = make(ITEMS)
    recorder = RecordingStore(store)
    assert Trie(recorder, trie.root).get(b"dogs") is None
    proof = recorder.proof()
    assert verify_read_proof(trie.root, proof, [b"dogs"]) == {b"dogs": None}


def test_a_recorded_block_replays_statelessly_on_its_proof():
    rng = random.Random(3)
    items = {
        rng.randbytes(rng.randint(1, 6)): rng.randbytes(rng.choice([4, 40])) for _ in range(300)
    }
    trie, store = make(items)
    keys = sorted(items)
    reads = [keys[5], keys[77], b"absent key"]
    writes = {keys[10]: None, keys[11]: None, keys[200]: b"new" * 20, b"fresh": b"f"}

    recorder = RecordingStore(store)
    block_trie = Trie(recorder, trie.root)
    values = [block_trie.get(k) for k in reads]
    update = block_trie.apply_changes(writes)
    proof = recorder.proof()

    replay = Trie(ProofBackedStore(proof), trie.root)
    assert [replay.get(k) for k in reads] == values
    assert replay.apply_changes(writes).root == update.root
    assert len(proof) < len(store.nodes) // 4


def test_replay_without_a_recorded_node_raises_missing_trie_node():
    trie, store = make(ITEMS)
    recorder = RecordingStore(store)
    Trie(recorder, trie.root).apply_changes({b"dog": None, b"do": None})
    proof = recorder.proof()
    for dropped in range(len(proof)):
        partial = proof[:dropped] + proof[dropped + 1 :]
        with pytest.raises(MissingTrieNode):
            Trie(ProofBackedStore(partial), trie.root).apply_changes({b"dog": None, b"do": None})


def test_deleting_a_key_records_the_sibling_it_merges_with():
    # "abc" and "abd" under branch "ab": deleting "abc" merges the branch with leaf "abd",
    # which must be read (and so recorded) to rebuild it with the longer partial key.
    items = {b"ab" + b"c" * 40: b"1" * 40, b"ab" + b"d" * 40: b"2" * 40}
    trie, store = make(items)
    recorder = RecordingStore(store)
    update = Trie(recorder, trie.root).apply_changes({b"ab" + b"c" * 40: None})
    assert update.root == trie_root({b"ab" + b"d" * 40: b"2" * 40})
    replay = Trie(ProofBackedStore(recorder.proof()), trie.root)
    assert replay.apply_changes({b"ab" + b"c" * 40: None}).root == update.root


def test_deeply_nested_keys_do_not_overflow_the_stack():
    # b"", b"\x01", b"\x01\x01", ...: one trie level per byte, deeper than Python's default limit
    items = {b"\x01" * n: b"%d" % n for n in range(600)}
    trie, store = make(items)
    assert trie.root == trie_root(items)
    assert trie.get(b"\x01" * 599) == b"599"
    assert list(trie.iter_keys(b"\x01" * 590)) == [b"\x01" * n for n in range(590, 600)]
    odd = {k: None for k in list(items)[1::2]}
    assert trie.apply_changes(odd).root == trie_root(
        {k: v for k, v in items.items() if k not in odd}
    )
