"""Checking storage read proofs, and running a trie on nothing but a proof's nodes.

A proof is an unordered list of encoded trie nodes and value nodes (Substrate's ``StorageProof``).
Its nodes are found by hash, so a forged or tampered node is simply never reached from the root.
As in polkadot-sdk's bridge proof checker, a read proof must also be tight: every node in it is
used to answer the queries, and none appears twice, so proofs cannot be padded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from node.primitives.hashing import blake2_256
from node.trie.codec import HASH_LEN
from node.trie.errors import InvalidProof, InvalidTrieNode, MissingTrieNode
from node.trie.trie import Trie


class ProofBackedStore:
    """A node store holding only the nodes of a proof, keyed by their hash.

    ``Trie(ProofBackedStore(proof), root)`` answers whatever the proof covers and raises
    :class:`MissingTrieNode` for anything else (stateless re-execution). ``unused()`` tells which
    nodes no read has touched yet, for callers that reject padded proofs.
    """

    __slots__ = ("nodes", "accessed", "duplicates")

    def __init__(self, proof: Iterable[bytes]) -> None:
        self.nodes: dict[bytes, bytes] = {}
        self.accessed: set[bytes] = set()
        self.duplicates = 0  # nodes given more than once
        for node in proof:
            if type(node) is not bytes:
                raise InvalidProof(f"a proof node must be bytes, not {type(node).__name__}")
            digest = blake2_256(node)
            if digest in self.nodes:
                self.duplicates += 1
            self.nodes[digest] = node

    def get(self, node_hash: bytes, /) -> bytes | None:
        data = self.nodes.get(node_hash)
        if data is not None:
            self.accessed.add(node_hash)
        return data

    def unused(self) -> set[bytes]:
        return self.nodes.keys() - self.accessed


def verify_read_proof(
    root: bytes, proof: Sequence[bytes], keys: Iterable[bytes]
) -> dict[bytes, bytes | None]:
    """Each key's value (None if absent) under ``root``, as proven by ``proof``.

    Raises :class:`InvalidProof` if the proof lacks a node the keys need, holds a node that does
    not decode, holds a node none of the keys needs, or holds a node twice."""
    if type(root) is not bytes or len(root) != HASH_LEN:
        raise InvalidProof("a state root is a 32-byte hash")
    store = ProofBackedStore(proof)
    if store.duplicates:
        raise InvalidProof(f"proof holds {store.duplicates} duplicate node(s)")
    trie = Trie(store, root)
    values: dict[bytes, bytes | None] = {}
    for key in keys:
        try:
            values[key] = trie.get(key)
        except MissingTrieNode as exc:
            raise InvalidProof(
                f"proof lacks node 0x{exc.node_hash.hex()} needed for key 0x{key.hex()}"
            ) from None
        except InvalidTrieNode as exc:
            raise InvalidProof(f"proof holds an undecodable node: {exc}") from None
    unused = store.unused()
    if unused:
        raise InvalidProof(f"proof holds {len(unused)} node(s) not needed for the queried keys")
    return values


def narrow_proof(root: bytes, nodes: Iterable[bytes], keys: Iterable[bytes]) -> list[bytes]:
    """The part of a proof (``nodes``, possibly covering more keys) that exactly ``keys`` need:
    a tight proof a verifier accepts. Raises :class:`MissingTrieNode` if ``nodes`` lack one."""
    store = ProofBackedStore(nodes)
    trie = Trie(store, root)
    for key in keys:
        trie.get(key)
    return [store.nodes[h] for h in store.accessed]
