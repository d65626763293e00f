"""verify_read_proof: every way to forge, truncate or pad a proof is rejected with a reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from node.primitives.hashing import blake2_256
from node.trie import EMPTY_ROOT, InvalidProof, MemoryStore, Trie, verify_read_proof
from node.trie.codec import Branch, Leaf, decode_node, encode_node

LONG = b"L" * 70  # stored as a value node; the 30-byte values make leaves too big to inline
ITEMS = {
    bytes([a, b]) + b"key": bytes([a, b]) * 15 for a in range(0, 256, 17) for b in range(0, 256, 51)
}
ITEMS[b"\x11\x33long"] = LONG
KEY, LONG_KEY, FAR_KEY, ABSENT = b"\x00\x00key", b"\x11\x33long", b"\xff\xffkey", b"\x00\x00kez"


@pytest.fixture(scope="module")
def trie() -> Trie:
    store = MemoryStore()
    update = Trie(store).apply_changes(ITEMS)
    store.update(update.new_nodes)
    return Trie(store, update.root)


def leaf_of(proof: list[bytes], value: bytes) -> int:
    for i, node in enumerate(proof):
        try:
            decoded = decode_node(node)
        except ValueError:
            continue
        if isinstance(decoded, Leaf) and decoded.value == value:
            return i
    raise LookupError("no leaf with that value")


def test_honest_proof_verifies(trie):
    keys = [KEY, LONG_KEY, ABSENT]
    proof = trie.read_proof(keys)
    assert verify_read_proof(trie.root, proof, keys) == {
        KEY: ITEMS[KEY],
        LONG_KEY: LONG,
        ABSENT: None,
    }


def test_proof_rejected_if_it_has_unused_nodes(trie):
    proof = trie.read_proof([KEY])
    extra = [n for n in trie.read_proof([FAR_KEY]) if n not in proof]
    with pytest.raises(InvalidProof, match="not needed"):
        verify_read_proof(trie.root, proof + extra[-1:], [KEY])


def test_proof_rejected_if_a_needed_node_is_missing(trie):
    proof = trie.read_proof([KEY, LONG_KEY])
    for i in range(len(proof)):
        with pytest.raises(InvalidProof, match="lacks node"):
            verify_read_proof(trie.root, proof[:i] + proof[i + 1 :], [KEY, LONG_KEY])


def test_proof_rejected_if_a_value_is_tampered(trie):
    proof = trie.read_proof([KEY])
    i = leaf_of(proof, ITEMS[KEY])
    leaf = decode_node(proof[i])
    proof[i] = encode_node(Leaf(leaf.partial, b"forged"))
    with pytest.raises(InvalidProof):
        verify_read_proof(trie.root, proof, [KEY])


def test_proof_rejected_if_a_value_node_is_tampered(trie):
    proof = trie.read_proof([LONG_KEY])
    proof[proof.index(LONG)] = b"F" * 70
    with pytest.raises(InvalidProof):
        verify_read_proof(trie.root, proof, [LONG_KEY])


def test_proof_rejected_if_a_node_is_tampered(trie):
    # Point a branch's child at a forged leaf that claims another value for the key.
    proof = trie.read_proof([KEY])
    i = leaf_of(proof, ITEMS[KEY])
    forged_leaf = encode_node(Leaf(decode_node(proof[i]).partial, b"forged" * 10))
    parent = next(
        j
        for j, n in enumerate(proof)
        if isinstance(decode_node(n), Branch) and blake2_256(proof[i]) in n
    )
    branch = decode_node(proof[parent])
    children = tuple(
        blake2_256(forged_leaf) if c == blake2_256(proof[i]) else c for c in branch.children
    )
    proof[parent] = encode_node(Branch(branch.partial, children, branch.value, branch.hashed))
    proof[i] = forged_leaf
    with pytest.raises(InvalidProof, match="lacks node"):
        verify_read_proof(trie.root, proof, [KEY])


def test_proof_rejected_if_the_root_is_wrong(trie):
    proof = trie.read_proof([KEY])
    with pytest.raises(InvalidProof, match="lacks node"):
        verify_read_proof(blake2_256(b"another root"), proof, [KEY])


def test_proof_rejected_if_it_has_duplicate_nodes(trie):
    proof = trie.read_proof([KEY])
    with pytest.raises(InvalidProof, match="duplicate"):
        verify_read_proof(trie.root, proof + proof[:1], [KEY])


def test_proof_rejected_if_it_has_garbage_bytes(trie):
    proof = trie.read_proof([KEY])
    with pytest.raises(InvalidProof, match="not needed"):
        verify_read_proof(trie.root, proof + [b"\x01\x02garbage"], [KEY])


def test_proof_rejected_if_the_root_node_does_not_decode():
    garbage = b"\x07not a trie node"
    with pytest.raises(InvalidProof, match="undecodable"):
        verify_read_proof(blake2_256(garbage), [garbage], [b"a"])


def test_proof_rejected_if_a_node_is_not_bytes(trie):
    proof = trie.read_proof([KEY])
    with pytest.raises(InvalidProof, match="bytes"):
        verify_read_proof(trie.root, proof + ["text"], [KEY])  # type: ignore[list-item]


def test_proof_rejected_if_the_root_is_not_32_bytes(trie):
    with pytest.raises(InvalidProof, match="32-byte"):
        verify_read_proof(trie.root[:31], trie.read_proof([KEY]), [KEY])


def test_proof_rejected_if_it_is_for_other_keys(trie):
    with pytest.raises(InvalidProof, match="lacks node"):
        verify_read_proof(trie.root, trie.read_proof([KEY]), [FAR_KEY])


def test_proof_rejected_if_no_key_is_asked(trie):
    with pytest.raises(InvalidProof, match="not needed"):
        verify_read_proof(trie.root, trie.read_proof([KEY]), [])


def test_empty_trie_needs_no_proof_nodes():
    assert verify_read_proof(EMPTY_ROOT, [], [b"a"]) == {b"a": None}
    # Substrate's recorder may include the empty node itself; that is the root, so it is used.
    assert verify_read_proof(EMPTY_ROOT, [b"\x00"], [b"a"]) == {b"a": None}


REAL = json.loads((Path(__file__).parent / "vectors.json").read_text())["proofs"][0]


def test_real_polkadot_proof_rejected_if_any_node_is_missing():
    root = bytes.fromhex(REAL["root"])
    proof = [bytes.fromhex(n) for n in REAL["proof"]]
    keys = [bytes.fromhex(k) for k in REAL["values"]]
    for i in range(len(proof)):
        with pytest.raises(InvalidProof):
            verify_read_proof(root, proof[:i] + proof[i + 1 :], keys)
