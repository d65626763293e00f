"""The chain: genesis, building and importing blocks, forks and finality, state at any block.

Synchronous and free of networking: the node's services call it from trio.

State. Every block's state lives in the trie (all nodes kept: an archive node), so any block's
state can be read and proven from its header's state root. The best block's state is also kept
flat (one RocksDB read per key) for the hot path. On a reorg the flat table is rewritten for
exactly the keys the retracted and enacted blocks changed, read from the new best block's trie;
each block stores the list of keys it changed for that purpose.

Fork choice: the longest chain that contains the last finalized block; among equals, the first
seen stays best. Finality never goes backwards and may move the best block onto its branch.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from node.primitives.extrinsic import decode_extrinsic, encode_unsigned
from node.primitives.header import Block, DigestItem, Header, extrinsics_root
from node.primitives.scale import encode_compact
from node.runtime.errors import ExecutionFailed, Future, TransactionValidityError
from node.runtime.executive import MAX_BLOCK_LENGTH, MAX_BLOCK_WEIGHT, NORMAL_RATIO_PERCENT, CheckedExtrinsic, Executive
from node.runtime.block_execution import BlockExecutionError, check_extrinsics_root, execute_block, ordered_root
from node.runtime.overlay import StateOverlay
from node.runtime.runtime import Runtime
from node.pallets.transaction_payment import EXTRINSIC_BASE_WEIGHT
from node.storage.db import BlockBatch, ChainDB
from node.trie import EMPTY_ROOT, Trie, trie_root
from node.primitives.scale_types import Bytes, Sequence_

log = logging.getLogger("parawatt.chain")

GENESIS_PARENT = bytes(32)
AURA_ENGINE = b"aura"
_KEY_LIST = Sequence_(Bytes)


class ChainError(Exception):
    pass


class UnknownParent(ChainError):
    """The parent is not known yet: sync should fetch it first."""


class InvalidBlock(ChainError):
    """A block that must never be imported; `reason` says why."""


class StaleBlock(InvalidBlock):
    """A block on a fork that finality has left behind. Never imported, but no fault of the
    peer that sent it: it may have been authored before the competing block was finalized."""


class FinalityConflict(ChainError):
    """Finalizing a block that does not descend from the last finalized one."""


@dataclass
class BuiltBlock:
    block: Block
    hash: bytes
    included: list[bytes]  # extrinsic hashes, in block order (inherents excluded)
    rejected: dict[bytes, TransactionValidityError]  # refused now; Future ones stay in the pool
    changed_keys: frozenset[bytes]
    events: int = 0


@dataclass(frozen=True, slots=True)
class BlockWitness:
    """What importing a block used of its parent's state: the keys its execution read from the
    parent state (reads its own writes answered are not among them), the trie nodes computing
    its state root loaded, and its storage changes. Exactly what a stateless re-execution of the
    block needs, so a parachain collator makes the block's proof of validity from it without
    executing the block again (`parachains.collation.pov_from_witness`)."""

    parent_root: bytes
    reads: frozenset[bytes]
    touched: frozenset[bytes]  # hashes of trie nodes (and value nodes) apply_changes loaded
    changes: dict


MAX_WITNESSES = 32  # imported blocks whose witness is kept (oldest dropped first; ~1 MB each at 1,000 transactions)


@dataclass
class ImportResult:
    hash: bytes
    number: int
    is_new_best: bool
    already_known: bool = False
    retracted: list[bytes] = field(default_factory=list)  # old-best branch blocks, newest first
    enacted: list[bytes] = field(default_factory=list)  # new-best branch blocks, oldest first
    changed_keys: frozenset[bytes] = frozenset()  # flat-state keys the new best changed


def genesis_header(runtime: Runtime, config: dict) -> Header:
    """The genesis header a chain with this runtime and genesis config starts from (a relay
    chain spec carries its parachains' genesis heads)."""
    state = runtime.build_genesis(config)
    return Header(GENESIS_PARENT, 0, trie_root(state), EMPTY_ROOT, ())


class StateView:
    """Read-only state at one block."""

    def __init__(self, chain: "Chain", header: Header):
        self.chain = chain
        self.header = header
        self._is_best = header.hash == chain.best.hash
        self._trie: Trie | None = None

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
        if db.meta("genesis") is None:
            self._init_genesis(genesis_config)
        self.genesis_hash = db.meta("genesis")
        self.best = self._header_or_fail(db.meta("best"))
        self.finalized = self._header_or_fail(db.meta("finalized"))
        self.executive = Executive(runtime, self.genesis_hash)
        # Block hash -> BlockWitness of each imported block, kept while not None (parachain
        # collators turn it on; whoever uses a witness removes it).
        self.witnesses: dict[bytes, BlockWitness] | None = None

    # -- genesis ------------------------------------------------------------------------------
    def _init_genesis(self, config: dict) -> None:
        state = self.runtime.build_genesis(config)
        update = Trie(self.node_store, EMPTY_ROOT).apply_changes(state)
        header = genesis_header(self.runtime, config)
        if header.state_root != update.root:
            raise ChainError("genesis state root differs between the trie builder and the updater")
        batch = BlockBatch()
        batch.put_block(header.hash, 0, header.encode(), encode_compact(0), canonical=True)
        batch.put_trie_nodes(update.new_nodes)
        batch.apply_state(state)
        for name in ("genesis", "best", "finalized"):
            batch.set_meta(name, header.hash)
        self.db.commit(batch)

    # -- reads --------------------------------------------------------------------------------
    def state_trie(self, root: bytes, touched: set | None = None) -> Trie:
        """The trie at ``root``, sharing one decoded-node cache (nodes are content-addressed);
        ``touched`` collects the stored nodes it reaches (`Trie`)."""
        return Trie(self.node_store, root, self._trie_cache, touched)

    def _header_or_fail(self, block_hash: bytes | None) -> Header:
        header = self.header(block_hash) if block_hash else None
        if header is None:
            raise ChainError("database is missing a head block; it is not a Parawatt chain database")
        return header

    def header(self, block_hash: bytes) -> Header | None:
        raw = self.db.header(block_hash)
        return None if raw is None else Header.decode(raw)

    def hash_at(self, number: int) -> bytes | None:
        """The hash of the best chain's block at ``number``."""
        return self.db.canonical_hash(number)

    def block(self, block_hash: bytes) -> Block | None:
        header = self.header(block_hash)
        if header is None:
            return None
        return Block.decode(header.encode() + self.db.body(block_hash))

    def justification(self, block_hash: bytes) -> bytes | None:
        return self.db.justification(block_hash)

    def state_at(self, block_hash: bytes | None = None) -> StateView | None:
        header = self.best if block_hash is None else self.header(block_hash)
        return None if header is None else StateView(self, header)

    def best_block_hash_lookup(self) -> Callable[[int], bytes | None]:
        """Block hashes as a transaction validated on top of the best block sees them."""
        return self.hash_at

    def ancestor_at(self, header: Header, number: int) -> Header | None:
        """``header``'s ancestor at height ``number`` (itself if equal)."""
        if number > header.number:
            return None
        while header.number > number:
            canonical = self.hash_at(header.number)
            if canonical == header.hash:  # on the best chain: jump straight there
                h = self.hash_at(number)
                return None if h is None else self.header(h)
            header = self.header(header.parent_hash)
            if header is None:
                return None
        return header

    def is_descendant(self, header: Header, ancestor: Header) -> bool:
        found = self.ancestor_at(header, ancestor.number)
        return found is not None and found.hash == ancestor.hash

    # -- executing ----------------------------------------------------------------------------
    def _parent_state(self, parent: Header, reads: set | None = None) -> StateOverlay:
        """An overlay on ``parent``'s state; ``reads`` (if given) collects every key it reads
        from that state."""
        read = self.db.state if parent.hash == self.best.hash else self.state_trie(parent.state_root).get
        if reads is not None:
            inner, note = read, reads.add

            def read(key: bytes) -> bytes | None:
                note(key)
                return inner(key)
        return StateOverlay(read)

    def build_block(
        self,
        candidates: Iterable[tuple[CheckedExtrinsic, bool]],
        timestamp_ms: int,
        slot: int,
        *,
        seal: Callable[[Header], Header] | None = None,
        inherents: Callable[[StateOverlay], Iterable[bytes]] | Iterable[bytes] = (),
    ) -> BuiltBlock:
        """Build, execute and commit the next block on the best head.

        ``candidates`` yields (checked extrinsic, signature already verified) in the pool's
        order; iteration stops when the block is full. ``seal`` signs the finished header
        (consensus engines add their Seal digest item); unsealed blocks are for dev chains.
        ``inherents`` are further unsigned calls the author adds after the timestamp, or a
        function of the block's state (after the timestamp) that returns them — so the author can
        check them against exactly the state they will run on (a failing inherent would make the
        block invalid).
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
        for call in inherents(overlay) if callable(inherents) else inherents:
            data = encode_unsigned(call)
            self.executive.apply_extrinsic(ctx, len(extrinsics), self.executive.check_format(decode_extrinsic(data)))
            extrinsics.append(data)

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

        update = self.state_trie(parent.state_root).apply_changes(overlay.changes)
        header = Header(parent.hash, number, update.root, extrinsics_root(extrinsics, _ordered_root), digest)
        if seal is not None:
            header = seal(header)
        block = Block(header, tuple(extrinsics))
        self._commit(block, overlay.changes, update.new_nodes, None)
        return BuiltBlock(block, header.hash, included, rejected, frozenset(overlay.changes), len(overlay.events))

    def import_block(self, block: Block, *, justification: bytes | None = None, verified: frozenset[bytes] | set = frozenset()) -> ImportResult:
        """Execute a block from a peer against its parent's state and store it.

        The caller has checked the consensus seal. Every extrinsic is re-checked here (signature
        included, unless its hash is in ``verified``: the pool has checked it already); the block
        is refused whole (InvalidBlock) if any is invalid, an inherent fails, or the state or
        extrinsics root differs from what execution gives.
        """
        header = block.header
        if self.db.header(header.hash) is not None:
            return ImportResult(header.hash, header.number, False, already_known=True)
        parent = self.header(header.parent_hash)
        if parent is None:
            raise UnknownParent(f"parent 0x{header.parent_hash.hex()} of #{header.number} is unknown")
        if header.number != parent.number + 1:
            raise InvalidBlock(f"block number {header.number} does not follow its parent's {parent.number}")
        if header.number <= self.finalized.number or not self.is_descendant(parent, self.finalized):
            raise StaleBlock("the block is not on the finalized chain")
        witness = self.witnesses is not None
        reads, touched = (set(), set()) if witness else (None, None)
        overlay = self._parent_state(parent, reads)
        try:
            check_extrinsics_root(block)
            execute_block(self.executive, overlay, block, verified=verified)
        except BlockExecutionError as e:
            raise InvalidBlock(str(e)) from None
        update = self.state_trie(parent.state_root, touched).apply_changes(overlay.changes)
        if update.root != header.state_root:
            raise InvalidBlock(f"state root mismatch: header has 0x{header.state_root.hex()}, execution gives 0x{update.root.hex()}")
        result = self._commit(block, overlay.changes, update.new_nodes, justification)
        if witness and self.witnesses is not None:
            self.witnesses[header.hash] = BlockWitness(parent.state_root, frozenset(reads), frozenset(touched), overlay.changes)
            while len(self.witnesses) > MAX_WITNESSES:
                del self.witnesses[next(iter(self.witnesses))]
        return result

    # -- committing ---------------------------------------------------------------------------
    def _commit(self, block: Block, changes: dict, new_nodes: dict, justification: bytes | None) -> ImportResult:
        """Store the block; make it best if it is longer than the current best (one batch)."""
        header = block.header
        batch = BlockBatch()
        body = encode_compact(len(block.extrinsics)) + b"".join(block.extrinsics)
        batch.put_block(header.hash, header.number, header.encode(), body, canonical=False)
        batch.put_changed_keys(header.hash, _KEY_LIST.encode(list(changes)))
        batch.put_trie_nodes(new_nodes)
        if justification is not None:
            batch.put_justification(header.hash, justification)
        result = ImportResult(header.hash, header.number, False)
        if header.number > self.best.number:
            if header.parent_hash == self.best.hash:
                batch.apply_state(changes)
                batch.set_canonical(header.number, header.hash)
                result.enacted, result.changed_keys = [header.hash], frozenset(changes)
            else:
                self._reorg_into(batch, header, result, pending=(header.hash, changes, new_nodes))
            batch.set_meta("best", header.hash)
            result.is_new_best = True
        self.db.commit(batch)
        if result.is_new_best:
            self.best = header
        return result

    def _reorg_into(self, batch: BlockBatch, new_best: Header, result: ImportResult, pending=None) -> None:
        """Move the flat state and the canonical index from the current best to ``new_best``."""
        old, new = self.best, new_best
        retracted, enacted = [], []
        while old.number > new.number:
            retracted.append(old)
            old = self.header(old.parent_hash)
        while new.number > old.number:
            enacted.append(new)
            new = self.header(new.parent_hash)
        while old.hash != new.hash:
            retracted.append(old)
            enacted.append(new)
            old, new = self.header(old.parent_hash), self.header(new.parent_hash)
        enacted.reverse()
        keys: set[bytes] = set()
        for h in retracted + enacted:
            if pending is not None and h.hash == pending[0]:
                keys.update(pending[1])
            else:
                keys.update(_KEY_LIST.decode_all(self.db.changed_keys(h.hash)))
        # The new best's trie is the truth. A block being committed has its nodes in the same
        # batch, not yet in the database, so reads look at those first.
        store = self.node_store if pending is None else _PendingNodes(pending[2], self.db)
        trie = Trie(store, new_best.state_root, self._trie_cache)
        batch.apply_state({key: trie.get(key) for key in keys})
        for h in enacted:
            batch.set_canonical(h.number, h.hash)
        for number in range(new_best.number + 1, self.best.number + 1):
            batch.clear_canonical(number)
        result.retracted = [h.hash for h in retracted]
        result.enacted = [h.hash for h in enacted]
        result.changed_keys = frozenset(keys)

    def set_best(self, block_hash: bytes) -> None:
        """Make ``block_hash`` (a descendant of the finalized block) the best block, e.g. for a
        bft proposer building beside an undecided proposal at the same height."""
        header = self._header_or_fail(block_hash)
        if header.hash == self.best.hash:
            return
        if not self.is_descendant(header, self.finalized):
            raise FinalityConflict("the best block must descend from the finalized one")
        batch = BlockBatch()
        self._reorg_into(batch, header, ImportResult(block_hash, header.number, True))
        batch.set_meta("best", block_hash)
        self.db.commit(batch)
        self.best = header

    def unfinalized_headers(self) -> list[Header]:
        """The best chain's blocks above the finalized one, oldest first."""
        return [self._header_or_fail(self.hash_at(n)) for n in range(self.finalized.number + 1, self.best.number + 1)]

    # -- finality -----------------------------------------------------------------------------
    def finalize(self, block_hash: bytes, justification: bytes | None = None) -> Header:
        """Finalize ``block_hash`` (and so its ancestors). If it is not on the best chain, the
        best block moves to it: a finalized block is never reverted."""
        header = self._header_or_fail(block_hash)
        if header.number < self.finalized.number or not self.is_descendant(header, self.finalized):
            raise FinalityConflict(f"#{header.number} 0x{block_hash.hex()[:12]} does not descend from the finalized #{self.finalized.number}")
        batch = BlockBatch()
        batch.set_meta("finalized", block_hash)
        if justification is not None:
            batch.put_justification(block_hash, justification)
        moved = None
        if not self.is_descendant(self.best, header):
            moved = ImportResult(block_hash, header.number, True)
            self._reorg_into(batch, header, moved)
            batch.set_meta("best", block_hash)
        self.db.commit(batch)
        self.finalized = header
        if moved is not None:
            self.best = header
        return header


class _PendingNodes:
    """Trie nodes of a block being committed, in front of the database's."""

    __slots__ = ("_new", "_db")

    def __init__(self, new_nodes: dict, db: ChainDB):
        self._new, self._db = new_nodes, db

    def get(self, node_hash: bytes) -> bytes | None:
        node = self._new.get(node_hash)
        return node if node is not None else self._db.trie_node(node_hash)


class _DbNodes:
    """Trie nodes as the database stores them (the NodeStore protocol)."""

    __slots__ = ("get",)

    def __init__(self, db: ChainDB):
        self.get = db.trie_node


_ordered_root = ordered_root  # the extrinsics root's ordered trie (kept for callers)
