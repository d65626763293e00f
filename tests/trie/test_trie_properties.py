"""Properties against a dict model: roots, reads, iteration, proofs and stateless replay."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from node.trie import (
    MemoryStore,
    ProofBackedStore,
    RecordingStore,
    Trie,
    trie_root,
    verify_read_proof,
)

# Few distinct bytes and short keys, so keys share prefixes, nest and collide often;
# value sizes straddle the 32-byte inline limit.
keys = st.lists(st.sampled_from([0x00, 0x01, 0x10, 0x1F, 0xAB, 0xFF]), max_size=5).map(bytes)
values = st.one_of(
    st.binary(max_size=3), st.binary(min_size=31, max_size=34), st.binary(min_size=60, max_size=80)
)
key_values = st.dictionaries(keys, values, max_size=40)
batches = st.lists(st.dictionaries(keys, st.one_of(st.none(), values), max_size=25), max_size=6)
RELAXED = settings(deadline=None, max_examples=150)  # shared CI machines: timing is not tested


def apply_all(store: MemoryStore, trie: Trie, batch: dict[bytes, bytes | None]) -> Trie:
    update = trie.apply_changes(batch)
    store.update(update.new_nodes)
    return Trie(store, update.root)


@RELAXED
@given(key_values, st.randoms(use_true_random=False), st.integers(1, 8))
def test_root_is_independent_of_insertion_order_and_batching(items, rng, n_batches):
    order = list(items.items())
    rng.shuffle(order)
    store = MemoryStore()
    trie = Trie(store)
    for b in range(n_batches):
        trie = apply_all(store, trie, dict(order[b::n_batches]))
    assert trie.root == trie_root(items)


@RELAXED
@given(batches)
def test_trie_matches_a_dict_model_through_inserts_and_deletes(history):
    store = MemoryStore()
    trie = Trie(store)
    model: dict[bytes, bytes] = {}
    touched: set[bytes] = set()
    for batch in history:
        trie = apply_all(store, trie, batch)
        for key, value in batch.items():
            touched.add(key)
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value
        assert trie.root == trie_root(model)
    for key in touched | {b"", b"\x00", b"\xab\xab"}:
        assert trie.get(key) == model.get(key)
    assert list(trie.iter_keys()) == sorted(model)


@RELAXED
@given(key_values, keys, st.one_of(st.none(), keys))
def test_iter_keys_matches_the_model(items, prefix, start_after):
    store = MemoryStore()
    trie = apply_all(store, Trie(store), items)
    expected = sorted(
        k for k in items if k.startswith(prefix) and (start_after is None or k > start_after)
    )
    assert list(trie.iter_keys(prefix, start_after)) == expected


@RELAXED
@given(key_values, st.lists(keys, max_size=8))
def test_read_proofs_verify_for_present_and_absent_keys(items, extra):
    store = MemoryStore()
    trie = apply_all(store, Trie(store), items)
    queried = list(items)[:4] + extra
    proof = trie.read_proof(queried)
    assert len(proof) == len(set(proof))
    assert verify_read_proof(trie.root, proof, queried) == {k: items.get(k) for k in queried}


@RELAXED
@given(
    key_values,
    st.lists(keys, max_size=6),
    st.dictionaries(keys, st.one_of(st.none(), values), max_size=15),
)
def test_recorded_work_replays_on_its_proof_alone(items, reads, writes):
    store = MemoryStore()
    base = apply_all(store, Trie(store), items)
    recorder = RecordingStore(store)
    trie = Trie(recorder, base.root)
    seen = [trie.get(k) for k in reads]
    update = trie.apply_changes(writes)

    replay = Trie(ProofBackedStore(recorder.proof()), base.root)
    assert [replay.get(k) for k in reads] == seen
    assert replay.apply_changes(writes).root == update.root
