"""Where trie nodes live: any content-addressed map from a node's blake2_256 hash to its encoding.

The trie only ever reads its store; writes come back from :meth:`Trie.apply_changes` as
``new_nodes`` for the caller to persist (RocksDB, memory, ...). Value nodes (V1 values over 32
bytes) share the same key space: they are stored under the hash of the value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class NodeStore(Protocol):
    def get(self, node_hash: bytes, /) -> bytes | None:
        """The encoding stored under ``node_hash``, or None if there is none."""


class MemoryStore:
    """A dict-backed store, for tests, genesis building and proofs."""

    __slots__ = ("nodes",)

    def __init__(self, nodes: Mapping[bytes, bytes] | None = None) -> None:
        self.nodes: dict[bytes, bytes] = dict(nodes or {})

    def get(self, node_hash: bytes, /) -> bytes | None:
        return self.nodes.get(node_hash)

    def update(self, new_nodes: Mapping[bytes, bytes]) -> None:
        self.nodes.update(new_nodes)


class RecordingStore:
    """Wraps a store and remembers every node read through it, in first-read order.

    Run a block through a *fresh* ``Trie(RecordingStore(db), parent_root)`` — every ``get``,
    absent-key lookup, ``iter_keys`` step and ``apply_changes`` goes through the store, so
    :meth:`proof` is then exactly the set of nodes a validator needs to redo the same work on a
    :class:`~node.trie.proof.ProofBackedStore`. Any cache must sit *below* this wrapper, or the
    reads it serves are not recorded.
    """

    __slots__ = ("inner", "recorded")

    def __init__(self, inner: NodeStore) -> None:
        self.inner = inner
        self.recorded: dict[bytes, bytes] = {}

    def get(self, node_hash: bytes, /) -> bytes | None:
        data = self.inner.get(node_hash)
        if data is not None:
            self.recorded[node_hash] = data
        return data

    def proof(self) -> list[bytes]:
        """The recorded node encodings, without duplicates."""
        return list(self.recorded.values())
