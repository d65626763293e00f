"""The chain: genesis, block building and commit, finality, and state at any block.

Synchronous and free of networking: the node's services call it from trio. State for the best
block is read from the flat table (one RocksDB get per key); state at older blocks is read
through the trie from their header's state root, which is also what proofs are built from.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from node.primitives.extrinsic import decode_extrinsic, encode_unsigned
from node.primitives.hashing import blake2_256
from node.primitives.header import Block, DigestItem, Header, extrinsics_root
from node.primitives.scale import encode_compact
from node.runtime.errors import ExecutionFailed, TransactionValidityError, Future
from node.runtime.executive import MAX_BLOCK_LENGTH, MAX_BLOCK_WEIGHT, NORMAL_RATIO_PERCENT, CheckedExtrinsic, Executive
from node.runtime.overlay import StateOverlay
from node.runtime.runtime import InherentFailed, Runtime
from node.pallets.transaction_payment import EXTRINSIC_BASE_WEIGHT
from node.storage.db import BlockBatch, ChainDB
from node.trie import EMPTY_ROOT, Trie, trie_root

log = logging.getLogger("parawatt.chain")

GENESIS_PARENT = bytes(32)
AURA_ENGINE = b"aura"


class ChainError(Exception):
    pass


@dataclass
class BuiltBlock:
    block: Block
    hash: bytes
    included: list[bytes]  # extrinsic hashes, in block order (inherents excluded)
    rejected: dict[bytes, TransactionValidityError]  # refused now; Future ones stay in the pool
    changed_keys: frozenset[bytes]
    events: int = 0


class StateView:
    """Read-only state at one block."""

    def __init__(self, chain: "Chain", header: Header):
        self.chain = chain
        self.header = header
        self._is_best = header.hash == chain.best.hash
        self._trie = None

    @property
    def trie(self) -> Trie:
        if self._trie is None:
            self._trie = self.chain.state_trie(self.header.state_root)
        return self._trie

    def get(self, key: bytes) -> bytes | None:
        if self._is_best:
            return self.chain.db.state(key)
        return self.trie.get(key)

    def keys(self, prefix: bytes, start_after: bytes | None = None) -> Iterator[bytes]:
        if self._is_best:
            return self.chain.db.iter_state(prefix, start_after)
        return self.trie.iter_keys(prefix, start_after)

    def read_proof(self, keys: Iterable[bytes]) -> list[bytes]:
        return self.trie.read_proof(list(keys))


class Chain:
    def __init__(self, db: ChainDB, runtime: Runtime, genesis_config: dict):
        self.db = db
        self.runtime = runtime
        self.node_store = _DbNodes(db)
        self._trie_cache: dict = {}  # decoded trie nodes, shared by every root
        stored = db.meta("genesis")
        if stored is None:
            self._init_genesis(genesis_config)
        self.genesis_hash = db.meta("genesis")
        self.best = self._header_or_fail(db.meta("best"))
        self.finalized = self._header_or_fail(db.meta("finalized"))
        self.executive = Executive(runtime, self.genesis_hash)

    # -- genesis ------------------------------------------------------------------------------
    def _init_genesis(self, config: dict) -> None:
        state = self.runtime.build_genesis(config)
        update = Trie(self.node_store, EMPTY_ROOT).apply_changes(state)
        header = Header(GENESIS_PARENT, 0, update.root, EMPTY_ROOT, ())
        batch = BlockBatch()
        batch.put_block(header.hash, 0, header.encode(), encode_compact(0), canonical=True)
        batch.put_trie_nodes(update.new_nodes)
        batch.apply_state(state)
        for name in ("genesis", "best", "finalized"):
            batch.set_meta(name, header.hash)
        self.db.commit(batch)

    # -- reads --------------------------------------------------------------------------------
    def state_trie(self, root: bytes) -> Trie:
        """The trie at ``root``, sharing one decoded-node cache (nodes are content-addressed)."""
        return Trie(self.node_store, root, self._trie_cache)

    def _header_or_fail(self, block_hash: bytes | None) -> Header:
        header = self.header(block_hash) if block_hash else None
        if header is None:
            raise ChainError("database is missing a head block; it is not a Parawatt chain database")
        return header

    def header(self, block_hash: bytes) -> Header | None:
        raw = self.db.header(block_hash)
        return None if raw is None else Header.decode(raw)

    def hash_at(self, number: int) -> bytes | None:
        return self.db.canonical_hash(number)

    def block(self, block_hash: bytes) -> Block | None:
        header = self.header(block_hash)
        if header is None:
            return None
        body = self.db.body(block_hash)
        return Block.decode(header.encode() + body)

    def justification(self, block_hash: bytes) -> bytes | None:
        return self.db.justification(block_hash)

    def state_at(self, block_hash: bytes | None = None) -> StateView | None:
        header = self.best if block_hash is None else self.header(block_hash)
        return None if header is None else StateView(self, header)

    def best_block_hash_lookup(self) -> Callable[[int], bytes | None]:
        """Block hashes as a transaction validated on top of the best block sees them."""
        return self.hash_at

    # -- building -----------------------------------------------------------------------------
    def build_block(self, candidates: Iterable[tuple[CheckedExtrinsic, bool]], timestamp_ms: int, slot: int) -> BuiltBlock:
        """Build, execute and commit the next block on the best head.

        ``candidates`` yields (checked extrinsic, signature already verified) in the pool's order;
        the iteration stops when the block is full.
        """
        parent = self.best
        number = parent.number + 1
        overlay = StateOverlay(self.db.state)
        digest = (DigestItem.pre_runtime(AURA_ENGINE, slot.to_bytes(8, "little")),)
        ctx = self.executive.initialize_block(overlay, number, parent.hash, digest)

        timestamp_call = self.runtime.call_type.encode({"Timestamp": {"set": {"now": timestamp_ms}}})
        inherent = encode_unsigned(timestamp_call)
        extrinsics = [inherent]
        self.executive.apply_extrinsic(ctx, 0, self.executive.check_format(decode_extrinsic(inherent)))

        weight_left = MAX_BLOCK_WEIGHT * NORMAL_RATIO_PERCENT // 100
        length_left = MAX_BLOCK_LENGTH * NORMAL_RATIO_PERCENT // 100
        included: list[bytes] = []
        rejected: dict[bytes, TransactionValidityError] = {}
        for checked, verified in candidates:
            weight = checked.info.weight + EXTRINSIC_BASE_WEIGHT
            if weight > weight_left or checked.length > length_left:
                break
            try:
                # Its own storage transaction, so that a runtime bug in one extrinsic is rolled
                # back and dropped instead of corrupting the block or stopping the author.
                with overlay.transaction():
                    self.executive.apply_extrinsic(ctx, len(extrinsics), checked, signature_verified=verified)
            except TransactionValidityError as e:
                if not isinstance(e, Future):
                    rejected[checked.xt.hash] = e
                continue
            except Exception as e:
                log.error("dropped extrinsic 0x%s: the runtime failed applying it", checked.xt.hash.hex(), exc_info=True)
                rejected[checked.xt.hash] = ExecutionFailed(f"{type(e).__name__}: {e}")
                continue
            weight_left -= weight
            length_left -= checked.length
            extrinsics.append(checked.xt.data)
            included.append(checked.xt.hash)
        self.executive.finalize_block(ctx, len(extrinsics))
        return self._commit(parent, number, digest, extrinsics, overlay, included, rejected)

    def _commit(self, parent: Header, number: int, digest, extrinsics, overlay: StateOverlay, included, rejected) -> BuiltBlock:
        changes = overlay.changes
        update = self.state_trie(parent.state_root).apply_changes(changes)
        header = Header(parent.hash, number, update.root, extrinsics_root(extrinsics, _ordered_root), digest)
        body = encode_compact(len(extrinsics)) + b"".join(extrinsics)
        batch = BlockBatch()
        batch.put_block(header.hash, number, header.encode(), body, canonical=True)
        batch.put_trie_nodes(update.new_nodes)
        batch.apply_state(changes)
        batch.set_meta("best", header.hash)
        self.db.commit(batch)
        self.best = header
        return BuiltBlock(Block(header, tuple(extrinsics)), header.hash, included, rejected, frozenset(changes), len(overlay.events))

    # -- finality -----------------------------------------------------------------------------
    def finalize(self, block_hash: bytes) -> Header:
        header = self._header_or_fail(block_hash)
        if header.number < self.finalized.number:
            raise ChainError("finality never goes backwards")
        batch = BlockBatch()
        batch.set_meta("finalized", block_hash)
        self.db.commit(batch)
        self.finalized = header
        return header


class _DbNodes:
    """Trie nodes as the database stores them (the NodeStore protocol)."""

    __slots__ = ("get",)

    def __init__(self, db: ChainDB):
        self.get = db.trie_node


def _ordered_root(items: list[tuple[bytes, bytes]]) -> bytes:
    return trie_root(dict(items))


__all__ = ["Chain", "ChainError", "StateView", "BuiltBlock", "blake2_256", "InherentFailed"]
