"""Errors raised by the state trie. All derive from ValueError: each one means bad bytes came in."""

from __future__ import annotations


class InvalidTrieNode(ValueError):
    """Bytes that are not a valid encoding of a trie node in Substrate's format."""


class MissingTrieNode(ValueError):
    """A node the trie needs is not in its store (or not in the proof it runs on)."""

    def __init__(self, node_hash: bytes) -> None:
        super().__init__(f"trie node 0x{node_hash.hex()} is not available")
        self.node_hash = node_hash


class InvalidProof(ValueError):
    """A storage proof that does not prove what it claims; the message says why."""
