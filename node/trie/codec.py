"""Trie node encoding, byte-compatible with Substrate's ``sp_trie::NodeCodec`` (no extension nodes).

A node starts with a header: a kind prefix in the high bits and the partial-key length in nibbles in
the low bits, continued in extra bytes when it does not fit::

    00000000  empty trie (the whole encoding is this one byte)
    01xxxxxx  leaf, inline value                 001xxxxx  leaf, hashed value (V1)
    10xxxxxx  branch without value               0001xxxx  branch, hashed value (V1)
    11xxxxxx  branch, inline value               other 0000xxxx headers are not allowed

then the partial key (nibbles packed two per byte, an odd count padded with a zero nibble in
front), then for a branch a u16 little-endian child bitmap, then the value (SCALE ``Vec<u8>``, or
its 32-byte hash), then each present child as a ``Vec<u8>`` holding either the child's hash (32
bytes) or, when the child's encoding is shorter than 32 bytes, that encoding inline.

Partial keys are carried as strings of lowercase hex digits, one digit per nibble: slicing,
comparing and prefix tests on them run at C speed, and ``bytes.hex()`` is the key-to-nibbles map.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from node.primitives.hashing import blake2_256
from node.primitives.scale import DecodeError, decode_compact, encode_compact
from node.trie.errors import InvalidTrieNode

HASH_LEN = 32
# Substrate's TRIE_VALUE_NODE_THRESHOLD is 33: in V1, values of 33 bytes or more live in a
# separate value node keyed by their hash, and the trie node holds only that hash.
MAX_INLINE_VALUE = 32
EMPTY_NODE = b"\x00"
EMPTY_ROOT = blake2_256(EMPTY_NODE)

_U8 = [bytes((i,)) for i in range(256)]
_HEX_DIGITS = frozenset("0123456789abcdef")
# Indices of the set bits of a bitmap byte, for the low (children 0-7) and high (8-15) byte.
_SET_BITS = [tuple(i for i in range(8) if b >> i & 1) for b in range(256)]
_SET_BITS_HIGH = [tuple(i + 8 for i in range(8) if b >> i & 1) for b in range(256)]


@dataclass(frozen=True, slots=True)
class Empty:
    """The empty trie; only ever a root."""


@dataclass(frozen=True, slots=True)
class Leaf:
    partial: str  # rest of the key below the parent, one lowercase hex digit per nibble
    value: bytes  # the value itself, or its blake2_256 hash when ``hashed``
    hashed: bool = False


@dataclass(frozen=True, slots=True)
class Branch:
    partial: str  # nibbles shared by every key below this node, after the parent's child index
    # 16 child references by next nibble: a 32-byte node hash, or an inline node encoding < 32 bytes
    children: tuple[bytes | None, ...]
    value: bytes | None = None  # value stored at this node's own key, or its hash when ``hashed``
    hashed: bool = False


Node = Empty | Leaf | Branch
EMPTY = Empty()


# --- encoding ---------------------------------------------------------------------------------


def _header(prefix: int, bits: int, nibbles: int) -> bytes:
    mask = (1 << bits) - 1
    if nibbles < mask:
        return _U8[prefix | nibbles]
    out = bytearray((prefix | mask,))
    rest = nibbles - mask + 1
    while rest >= 256:
        out.append(255)
        rest -= 255
    out.append(rest - 1)
    return bytes(out)


def _pack(partial: str) -> bytes:
    return bytes.fromhex(partial if not len(partial) & 1 else "0" + partial)


def encode_leaf(partial: str, value: bytes, hashed: bool = False) -> bytes:
    if hashed:
        return _header(0x20, 5, len(partial)) + _pack(partial) + value
    return _header(0x40, 6, len(partial)) + _pack(partial) + encode_compact(len(value)) + value


def encode_branch(
    partial: str,
    children: Sequence[bytes | None],
    value: bytes | None = None,
    hashed: bool = False,
) -> bytes:
    if value is None:
        head, val = _header(0x80, 6, len(partial)), b""
    elif hashed:
        head, val = _header(0x10, 4, len(partial)), value
    else:
        head, val = _header(0xC0, 6, len(partial)), encode_compact(len(value)) + value
    parts = [head, _pack(partial), b"", val]
    bitmap = 0
    bit = 1
    for child in children:
        if child is not None:
            bitmap |= bit
            parts.append(_U8[len(child) << 2])  # compact length: one byte for <= 32
            parts.append(child)
        bit <<= 1
    parts[2] = bitmap.to_bytes(2, "little")
    return b"".join(parts)


def encode_node(node: Node) -> bytes:
    """Encode a node, checking it is one Substrate could have written."""
    if isinstance(node, Empty):
        return EMPTY_NODE
    if not isinstance(node, (Leaf, Branch)):
        raise TypeError(f"not a trie node: {type(node).__name__}")
    if not _HEX_DIGITS.issuperset(node.partial):
        raise ValueError("partial key must be lowercase hex digits, one per nibble")
    if node.hashed and (node.value is None or len(node.value) != HASH_LEN):
        raise ValueError("a hashed value must be a 32-byte hash")
    if isinstance(node, Leaf):
        return encode_leaf(node.partial, node.value, node.hashed)
    if len(node.children) != 16 or not any(c is not None for c in node.children):
        raise ValueError("a branch has 16 child slots and at least one child")
    if any(c is not None and not 0 < len(c) <= HASH_LEN for c in node.children):
        raise ValueError("a child reference is a 32-byte hash or an inline node under 32 bytes")
    return encode_branch(node.partial, node.children, node.value, node.hashed)


# --- decoding ---------------------------------------------------------------------------------


def decode_node(data: bytes) -> Node:
    """Decode one node; anything Substrate would not accept (plus trailing bytes) is rejected."""
    if type(data) is not bytes:
        data = bytes(data)
    try:
        return _decode(data)
    except (IndexError, DecodeError) as exc:
        raise InvalidTrieNode(f"truncated or malformed trie node: {exc}") from None


def _kind(first: int) -> tuple[int, bool, bool, bool] | None:
    """(nibble-count mask, is leaf, has value, value hashed) for a header byte."""
    if first >> 6 == 1:
        return 0x3F, True, True, False
    if first >> 6 == 2:
        return 0x3F, False, False, False
    if first >> 6 == 3:
        return 0x3F, False, True, False
    if first >> 5 == 1:
        return 0x1F, True, True, True
    if first >> 4 == 1:
        return 0x0F, False, True, True
    return None  # 0x00 is the empty node; 0x01 (compact-proof escape) to 0x0f are not allowed


_KINDS = [_kind(b) for b in range(256)]


def _decode(data: bytes) -> Node:
    first = data[0]
    kind = _KINDS[first]
    if kind is None:
        if first == 0 and len(data) == 1:
            return EMPTY
        if first == 0:
            raise InvalidTrieNode("trailing bytes after the empty node")
        raise InvalidTrieNode(f"unknown node header 0x{first:02x}")
    mask, leaf, has_value, hashed = kind
    nibbles = first & mask
    pos = 1
    if nibbles == mask:
        nibbles -= 1
        while True:
            b = data[pos]
            pos += 1
            if b < 255:
                nibbles += b + 1
                break
            nibbles += 255
    end = pos + ((nibbles + 1) >> 1)
    if end > len(data):
        raise InvalidTrieNode("partial key runs past the end of the node")
    partial = data[pos:end].hex()
    if nibbles & 1:
        if partial[0] != "0":
            raise InvalidTrieNode("non-zero padding nibble in partial key")
        partial = partial[1:]
    pos = end

    if leaf:
        value, pos = _decode_value(data, pos, hashed)
        if pos != len(data):
            raise InvalidTrieNode("trailing bytes after a leaf")
        return Leaf(partial, value, hashed)

    if pos + 2 > len(data):
        raise InvalidTrieNode("branch bitmap runs past the end of the node")
    low, high = data[pos], data[pos + 1]
    pos += 2
    if not low | high:
        raise InvalidTrieNode("branch without children")
    branch_value = None
    if has_value:
        branch_value, pos = _decode_value(data, pos, hashed)
    children: list[bytes | None] = [None] * 16
    for i in _SET_BITS[low] + _SET_BITS_HIGH[high]:
        # A reference is at most 32 bytes, so its compact length is one byte in mode 0.
        size = data[pos]
        if size & 3 or not 0 < size <= HASH_LEN << 2:
            raise InvalidTrieNode("child reference is not a 32-byte hash or a short inline node")
        pos += 1
        end = pos + (size >> 2)
        if end > len(data):
            raise InvalidTrieNode("child reference runs past the end of the node")
        children[i] = data[pos:end]
        pos = end
    if pos != len(data):
        raise InvalidTrieNode("trailing bytes after a branch")
    return Branch(partial, tuple(children), branch_value, hashed)


def _decode_value(data: bytes, pos: int, hashed: bool) -> tuple[bytes, int]:
    if hashed:
        end = pos + HASH_LEN
    elif not data[pos] & 3:  # short value: one-byte compact length
        end = pos + 1 + (data[pos] >> 2)
        pos += 1
    else:
        size, pos = decode_compact(data, pos)
        if size >= 1 << 32:
            raise InvalidTrieNode("value length does not fit Compact<u32>")
        end = pos + size
    if end > len(data):
        raise InvalidTrieNode("value runs past the end of the node")
    return data[pos:end], end
