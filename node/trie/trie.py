"""A read-only view of one state root over a node store, plus batch updates that yield new roots.

A ``Trie`` never writes: :meth:`Trie.apply_changes` returns the new root and the nodes it created
(:class:`TrieUpdate`), and the caller persists them and opens a new ``Trie`` on the new root.

Proof recording: wrap the store, ``rec = RecordingStore(db); trie = Trie(rec, parent_root)``, run
the block's reads and its ``apply_changes`` on that fresh trie, and ``rec.proof()`` is the proof of
validity's state part; a validator replays the same calls on
``Trie(ProofBackedStore(proof), parent_root)`` and gets the same answers and root, or
:class:`MissingTrieNode` if the proof lacks a node.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from operator import itemgetter

from node.trie.build import HEX, NIBBLE, NodeWriter, TrieUpdate, ensure_recursion_room
from node.trie.codec import EMPTY_ROOT, HASH_LEN, Branch, Empty, Leaf, decode_node
from node.trie.errors import InvalidTrieNode, MissingTrieNode
from node.trie.store import NodeStore, RecordingStore
from node.trie.update import Updater

__all__ = ["Trie", "TrieUpdate"]

# Decoded nodes kept per Trie (content-addressed, so never stale). A full branch costs ~1.3 KB
# decoded, so this bounds the cache near 85 MB; a block's update touches far fewer nodes.
_CACHE_LIMIT = 65_536


class Trie:
    __slots__ = ("store", "root", "_cache", "_touched")

    def __init__(self, store: NodeStore, root: bytes = EMPTY_ROOT, cache: dict | None = None,
                 touched: set | None = None) -> None:
        """``cache`` (decoded nodes by hash) may be shared by tries over the same store: nodes
        are content-addressed, so one cache serves every root. ``touched``, if given, collects
        the hash of every stored node (and value node) this trie reaches, cached or not: the
        same set a `RecordingStore` under a cache-less trie would record, without the store
        reads and decoding."""
        if type(root) is not bytes or len(root) != HASH_LEN:
            raise ValueError("a trie root is a 32-byte hash")
        self.store = store
        self.root = root
        self._cache: dict[bytes, Leaf | Branch] = {} if cache is None else cache
        self._touched = touched

    # --- reads ---------------------------------------------------------------------------------

    def get(self, key: bytes) -> bytes | None:
        path = key.hex()
        node = self._root_node()
        depth = 0
        while node is not None:
            partial = node.partial
            if not path.startswith(partial, depth):
                return None
            depth += len(partial)
            if depth == len(path):
                if node.value is None:
                    return None
                return self._value(node.value) if node.hashed else node.value
            if isinstance(node, Leaf):
                return None
            child = node.children[NIBBLE[path[depth]]]
            if child is None:
                return None
            depth += 1
            node = self._load(child)
        return None

    def iter_keys(self, prefix: bytes = b"", start_after: bytes | None = None) -> Iterator[bytes]:
        """Keys starting with ``prefix`` and greater than ``start_after``, in ascending order.

        Lazy: only nodes on the way to the keys actually taken are loaded, so paging with
        ``start_after`` (state_getKeysPaged) costs the page, not the keys before it."""
        want = prefix.hex()
        after = start_after.hex() if start_after is not None else None

        def wanted(path: str) -> bool:  # may the subtree below ``path`` hold a key to yield?
            if not (path.startswith(want) or want.startswith(path)):
                return False
            return after is None or path > after or after.startswith(path)

        root = self._root_node()
        stack: list[tuple[Leaf | Branch | bytes, str]] = [] if root is None else [(root, "")]
        while stack:
            ref, base = stack.pop()
            node = self._load(ref) if isinstance(ref, bytes) else ref
            path = base + node.partial
            if not wanted(path):
                continue
            if (
                node.value is not None
                and not len(path) & 1
                and path.startswith(want)
                and (after is None or path > after)
            ):
                yield bytes.fromhex(path)
            if isinstance(node, Branch):
                for index in range(15, -1, -1):
                    child = node.children[index]
                    if child is not None and wanted(path + HEX[index]):
                        stack.append((child, path + HEX[index]))

    def read_proof(self, keys: Iterable[bytes]) -> list[bytes]:
        """Encoded nodes (and value nodes) proving each key's value or absence; no duplicates."""
        recorder = RecordingStore(self.store)
        trie = Trie(recorder, self.root)
        for key in keys:
            trie.get(key)
        return recorder.proof()

    # --- writes --------------------------------------------------------------------------------

    def apply_changes(self, changes: Mapping[bytes, bytes | None]) -> TrieUpdate:
        """The root after setting (bytes) or deleting (None) every key in ``changes`` at once.

        Values over 32 bytes become separate value nodes (state version 1). Nothing is written:
        persist ``new_nodes`` to make the new root readable."""
        items = []
        for key, value in changes.items():
            if not isinstance(key, bytes) or not (value is None or isinstance(value, bytes)):
                raise TypeError("trie changes map bytes keys to bytes values or None")
            items.append((key.hex(), value))
        if not items:
            return TrieUpdate(self.root, {})
        items.sort(key=itemgetter(0))
        ensure_recursion_room(max(len(k) for k, _ in items) // 2)
        writer = NodeWriter()
        slot = None if self.root == EMPTY_ROOT else self.root
        new = Updater(self._load, writer).apply(slot, 0, items, 0, len(items))
        if isinstance(new, bytes):  # only ever the old root itself: nothing changed
            return TrieUpdate(self.root, {})
        return TrieUpdate(writer.root(new), writer.new_nodes)

    # --- node access ---------------------------------------------------------------------------

    def _root_node(self) -> Leaf | Branch | None:
        if self.root == EMPTY_ROOT:
            # Nothing to load, but ask anyway so a recorder or proof sees the (optional) empty node.
            self.store.get(EMPTY_ROOT)
            return None
        return self._load(self.root)

    def _load(self, ref: bytes) -> Leaf | Branch:
        """The node a child reference (or the root hash) points to."""
        if self._touched is not None and len(ref) == HASH_LEN:
            self._touched.add(ref)
        cached = self._cache.get(ref)
        if cached is not None:
            return cached
        if len(ref) < HASH_LEN:  # inline child: the reference is the node itself
            data = ref
        else:
            stored = self.store.get(ref)
            if stored is None:
                raise MissingTrieNode(ref)
            data = stored
        node = decode_node(data)
        if isinstance(node, Empty):
            raise InvalidTrieNode("an empty node where a trie node is required")
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[ref] = node
        return node

    def _value(self, value_hash: bytes) -> bytes:
        if self._touched is not None:
            self._touched.add(value_hash)
        value = self.store.get(value_hash)
        if value is None:
            raise MissingTrieNode(value_hash)
        return value
