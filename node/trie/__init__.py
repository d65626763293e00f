"""Substrate-compatible base-16 Merkle-Patricia state trie (LayoutV1, Blake2-256).

- :mod:`node.trie.codec`  node encoding (byte-compatible with sp-trie's NodeCodec)
- :mod:`node.trie.trie`   :class:`Trie` over a content-addressed node store: reads, batch updates,
  ordered key iteration and read proofs
- :mod:`node.trie.proof`  :func:`verify_read_proof` and :class:`ProofBackedStore`
- :mod:`node.trie.store`  the :class:`NodeStore` protocol, :class:`MemoryStore`,
  :class:`RecordingStore`
"""

from node.trie.build import build_trie, trie_root
from node.trie.codec import EMPTY_ROOT
from node.trie.errors import InvalidProof, InvalidTrieNode, MissingTrieNode
from node.trie.proof import ProofBackedStore, narrow_proof, verify_read_proof
from node.trie.store import MemoryStore, NodeStore, RecordingStore
from node.trie.trie import Trie, TrieUpdate

__all__ = [
    "EMPTY_ROOT",
    "InvalidProof",
    "InvalidTrieNode",
    "MemoryStore",
    "MissingTrieNode",
    "NodeStore",
    "ProofBackedStore",
    "RecordingStore",
    "Trie",
    "TrieUpdate",
    "build_trie",
    "trie_root",
    "narrow_proof",
    "verify_read_proof",
]
