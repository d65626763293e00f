"""Node codec: Substrate's byte layout, round trips, and rejection of malformed nodes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.trie.codec import (
    EMPTY,
    EMPTY_NODE,
    Branch,
    Leaf,
    decode_node,
    encode_branch,
    encode_leaf,
    encode_node,
)
from node.trie.errors import InvalidTrieNode

H32 = bytes(range(32))


def test_leaf_layout_header_partial_value():
    # 0x40 | 3 nibbles, padded partial 0x0a 0xbc, Vec<u8> value
    assert encode_node(Leaf("abc", b"\x01\x02")) == bytes.fromhex("430abc080102")


def test_branch_layout_bitmap_value_then_children():
    children = [None] * 16
    children[0] = b"\x41\x00\x04\x07"  # inline leaf, 4 bytes
    children[15] = H32
    node = Branch("", tuple(children), b"\x09")
    expected = bytes.fromhex("c0018004091041000407") + b"\x80" + H32
    assert encode_node(node) == expected


def test_hashed_value_headers():
    assert encode_node(Leaf("", H32, hashed=True)) == b"\x20" + H32
    children = (b"\x40\x00",) + (None,) * 15
    assert encode_node(Branch("1", children, H32, hashed=True)) == (
        b"\x11\x01\x01\x00" + H32 + b"\x08\x40\x00"
    )


@pytest.mark.parametrize(
    "nibbles, header",
    [
        (62, "7e"),  # fits the 6-bit field
        (63, "7f00"),  # 63 needs the continuation byte
        (64, "7f01"),
        (63 + 254, "7ffe"),
        (63 + 255, "7fff00"),  # a 255 continues into another byte
        (63 + 255 + 3, "7fff03"),
    ],
)
def test_leaf_header_nibble_count_continuation(nibbles, header):
    encoded = encode_leaf("a" * nibbles, b"")
    assert encoded.startswith(bytes.fromhex(header))
    assert decode_node(encoded) == Leaf("a" * nibbles, b"")


@pytest.mark.parametrize(
    "nibbles, header",
    [(30, "3e"), (31, "3f00"), (32, "3f01")],  # hashed-value leaf: 5-bit field
)
def test_hashed_leaf_header_nibble_count_continuation(nibbles, header):
    encoded = encode_leaf("b" * nibbles, H32, hashed=True)
    assert encoded.startswith(bytes.fromhex(header))
    assert decode_node(encoded) == Leaf("b" * nibbles, H32, True)


@pytest.mark.parametrize(
    "nibbles, header",
    [(14, "1e"), (15, "1f00"), (16, "1f01")],  # hashed-value branch: 4-bit field
)
def test_hashed_branch_header_nibble_count_continuation(nibbles, header):
    children = (H32,) + (None,) * 15
    encoded = encode_branch("c" * nibbles, children, H32, hashed=True)
    assert encoded.startswith(bytes.fromhex(header))
    assert decode_node(encoded) == Branch("c" * nibbles, children, H32, True)


def test_empty_node_round_trips():
    assert encode_node(EMPTY) == EMPTY_NODE
    assert decode_node(EMPTY_NODE) == EMPTY


# --- round trips ------------------------------------------------------------------------------

partials = st.text("0123456789abcdef", max_size=70)
child_refs = st.one_of(st.binary(min_size=32, max_size=32), st.binary(min_size=1, max_size=31))


@st.composite
def nodes(draw):
    partial = draw(partials)
    hashed = draw(st.booleans())
    value = draw(st.binary(min_size=32, max_size=32) if hashed else st.binary(max_size=100))
    if draw(st.booleans()):
        return Leaf(partial, value, hashed)
    children = draw(st.lists(st.one_of(st.none(), child_refs), min_size=16, max_size=16))
    if all(c is None for c in children):
        children[draw(st.integers(0, 15))] = draw(child_refs)
    if draw(st.booleans()):
        value, hashed = None, False
    return Branch(partial, tuple(children), value, hashed)


@settings(deadline=None)  # shared CI machines: timing is not what is tested
@given(nodes())
def test_decode_inverts_encode(node):
    assert decode_node(encode_node(node)) == node


@settings(deadline=None)
@given(st.binary(max_size=80))
def test_decoder_accepts_only_what_it_would_encode_again(data):
    try:
        node = decode_node(data)
    except InvalidTrieNode:
        return
    assert encode_node(node) == data


@settings(deadline=None)
@given(nodes(), st.data())
def test_a_mutated_node_fails_to_decode_or_is_canonical(node, data):
    encoded = bytearray(encode_node(node))
    at = data.draw(st.integers(0, len(encoded) - 1))
    encoded[at] = data.draw(st.integers(0, 255))
    try:
        decoded = decode_node(bytes(encoded))
    except InvalidTrieNode:
        return
    assert encode_node(decoded) == encoded  # one node, one encoding: no malleable proofs


# --- malformed nodes --------------------------------------------------------------------------


@pytest.mark.parametrize("header", [0x01, 0x02, 0x05, 0x0F])
def test_decode_rejects_reserved_headers(header):
    # 0x01 is the compact-proof escape header; no other 0000xxxx header is a node
    with pytest.raises(InvalidTrieNode):
        decode_node(bytes([header, 0, 0, 0]))


def test_decode_rejects_empty_input():
    with pytest.raises(InvalidTrieNode):
        decode_node(b"")


def test_decode_rejects_trailing_bytes():
    good = encode_node(Leaf("ab", b"x"))
    with pytest.raises(InvalidTrieNode):
        decode_node(good + b"\x00")
    with pytest.raises(InvalidTrieNode):
        decode_node(EMPTY_NODE + b"\x00")


def test_decode_rejects_nonzero_padding_nibble():
    # 3 nibbles: the first byte's high nibble is padding and must be zero
    with pytest.raises(InvalidTrieNode):
        decode_node(bytes.fromhex("431abc0401"))


def test_decode_rejects_branch_without_children():
    # as sp-trie's node_with_no_children_fail_decoding
    with pytest.raises(InvalidTrieNode):
        decode_node(bytes.fromhex("c000000401"))


def test_decode_rejects_child_reference_longer_than_a_hash():
    with pytest.raises(InvalidTrieNode):
        decode_node(bytes.fromhex("800100") + b"\x84" + bytes(33))


def test_decode_rejects_empty_child_reference():
    with pytest.raises(InvalidTrieNode):
        decode_node(bytes.fromhex("80010000"))


def test_decode_rejects_non_canonical_compact_length():
    # value length 1 written in the two-byte compact mode
    with pytest.raises(InvalidTrieNode):
        decode_node(bytes.fromhex("4000050078"))


@settings(deadline=None)
@given(nodes())
def test_decode_rejects_every_truncation(node):
    data = encode_node(node)
    for cut in range(len(data)):
        with pytest.raises(InvalidTrieNode):
            decode_node(data[:cut])


def test_encode_rejects_branch_without_children():
    with pytest.raises(ValueError):
        encode_node(Branch("", (None,) * 16, b"v"))


def test_encode_rejects_hashed_value_that_is_not_a_hash():
    with pytest.raises(ValueError):
        encode_node(Leaf("", b"short", hashed=True))


def test_encode_rejects_oversized_child_reference():
    with pytest.raises(ValueError):
        encode_node(Branch("", (bytes(33),) + (None,) * 15))
