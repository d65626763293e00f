"""Nodes under construction, and building a whole trie from sorted key/value pairs.

New or changed nodes are kept as mutable :class:`PendingNode` objects until the whole change set is
in place; :class:`NodeWriter` then encodes each one exactly once, bottom-up, hashing the ones that
are 32 bytes or longer (shorter ones are inlined into their parent, as Substrate does).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from node.primitives.hashing import blake2_256
from node.trie.codec import EMPTY_ROOT, HASH_LEN, MAX_INLINE_VALUE, encode_branch, encode_leaf

NIBBLE = {c: i for i, c in enumerate("0123456789abcdef")}
HEX = "0123456789abcdef"


@dataclass(frozen=True, slots=True)
class TrieUpdate:
    root: bytes  # the new state root
    # hash -> encoding of every node (and V1 value node) created by the update; nodes the new
    # root shares with the old one are not repeated
    new_nodes: dict[bytes, bytes]


class PendingNode:
    """A node built or changed in memory, not yet encoded.

    ``children`` is None for a leaf, else 16 slots, each None, an encoded child reference (bytes:
    a hash, or an inline encoding) for an untouched subtree, or another PendingNode.
    ``value`` is the inline value or, when ``hashed``, the hash of a value node.
    """

    __slots__ = ("partial", "value", "hashed", "children")

    def __init__(
        self,
        partial: str,
        value: bytes | None,
        hashed: bool,
        children: list[Slot] | None,
    ) -> None:
        self.partial = partial
        self.value = value
        self.hashed = hashed
        self.children = children


Slot = None | bytes | PendingNode


class NodeWriter:
    """Encodes pending nodes and collects everything that must be stored, keyed by hash."""

    __slots__ = ("new_nodes", "max_inline")

    def __init__(self, state_version: int = 1) -> None:
        if state_version not in (0, 1):
            raise ValueError(f"unknown trie state version {state_version}")
        self.new_nodes: dict[bytes, bytes] = {}
        self.max_inline = MAX_INLINE_VALUE if state_version == 1 else None

    def value(self, raw: bytes) -> tuple[bytes, bool]:
        """How a new value sits in its node: inline, or (V1, > 32 bytes) as a value node's hash."""
        if self.max_inline is not None and len(raw) > self.max_inline:
            digest = blake2_256(raw)
            self.new_nodes[digest] = raw
            return digest, True
        return raw, False

    def encode(self, node: PendingNode) -> bytes:
        children = node.children
        if children is None:
            return encode_leaf(node.partial, node.value, node.hashed)  # type: ignore[arg-type]
        refs = [self.ref(c) if isinstance(c, PendingNode) else c for c in children]
        return encode_branch(node.partial, refs, node.value, node.hashed)

    def ref(self, node: PendingNode) -> bytes:
        encoded = self.encode(node)
        if len(encoded) < HASH_LEN:
            return encoded
        digest = blake2_256(encoded)
        self.new_nodes[digest] = encoded
        return digest

    def root(self, node: PendingNode | None) -> bytes:
        """The root is always stored by hash, however short its encoding."""
        if node is None:
            return EMPTY_ROOT
        encoded = self.encode(node)
        digest = blake2_256(encoded)
        self.new_nodes[digest] = encoded
        return digest


def ensure_recursion_room(longest_key: int) -> None:
    """Building, updating and encoding recurse once per trie level, a few frames each, and a path
    has at most one level per nibble of its key. Long nested keys (b"", b"a", b"aa", ...) would
    overflow Python's default limit, so raise it (never lower it) to fit the longest key."""
    need = 8 * longest_key + 1000
    if sys.getrecursionlimit() < need:
        sys.setrecursionlimit(need)


def common_prefix(a: str, b: str, start: int) -> int:
    """First nibble from ``start`` where ``a`` and ``b`` differ, or the shorter end."""
    end = min(len(a), len(b))
    if start < end and a[start] != b[start]:  # the usual case below the top of a trie
        return start
    if a[start:end] == b[start:end]:
        return end
    lo, hi = start, end - 1  # the answer lies in [start, end - 1]
    while lo < hi:
        mid = (lo + hi + 1) >> 1
        if a[start:mid] == b[start:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def build(
    items: list[tuple[str, bytes]], lo: int, hi: int, depth: int, writer: NodeWriter
) -> PendingNode:
    """The subtree for ``items[lo:hi]``: sorted, distinct hex keys sharing ``depth`` nibbles."""
    key, raw = items[lo]
    if hi - lo == 1:
        value, hashed = writer.value(raw)
        return PendingNode(key[depth:], value, hashed, None)
    cut = common_prefix(key, items[hi - 1][0], depth)
    children: list[Slot] = [None] * 16
    node = PendingNode(key[depth:cut], None, False, children)
    i = lo
    if len(key) == cut:  # this key ends at the branch; sorting put it first
        node.value, node.hashed = writer.value(raw)
        i += 1
    while i < hi:
        nibble = items[i][0][cut]
        j = i + 1
        while j < hi and items[j][0][cut] == nibble:
            j += 1
        children[NIBBLE[nibble]] = build(items, i, j, cut + 1, writer)
        i = j
    return node


def build_trie(
    items: Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]], state_version: int = 1
) -> TrieUpdate:
    """Every node of the trie holding ``items`` (a later duplicate key wins, as in trie-root)."""
    pairs = dict(items.items() if isinstance(items, Mapping) else items)
    sorted_items = sorted((bytes(k).hex(), bytes(v)) for k, v in pairs.items())
    if sorted_items:
        ensure_recursion_room(max(len(k) for k, _ in sorted_items) // 2)
    writer = NodeWriter(state_version)
    top = build(sorted_items, 0, len(sorted_items), 0, writer) if sorted_items else None
    root = writer.root(top)
    return TrieUpdate(root, writer.new_nodes)


def trie_root(
    items: Mapping[bytes, bytes] | Iterable[tuple[bytes, bytes]], state_version: int = 1
) -> bytes:
    """Substrate's ``trie_root`` (``LayoutV1`` by default, ``LayoutV0`` with state_version=0)."""
    return build_trie(items, state_version).root
