"""The validator's side: re-execute a parachain candidate from its proof of validity alone.

Nothing but the PoV's trie nodes is available: a read that needs a node the proof lacks makes
the candidate invalid, and so does a node the execution never used (a padded proof). The new
state root must equal the block header's, the header must be the candidate's commitment, and so
must the messages the block sent and the inbound watermarks it moved.
Every refusal is an `InvalidCandidate` whose reason goes into the signed INVALID statement.
"""

from __future__ import annotations

from node.primitives.header import Block, Header
from node.primitives.scale import DecodeError
from node.runtime.block_execution import BlockExecutionError, check_extrinsics_root, execute_block
from node.runtime.executive import Executive
from node.runtime.overlay import StateOverlay
from node.trie import InvalidTrieNode, MissingTrieNode, ProofBackedStore, Trie
from relay.primitives import CandidateReceipt, PoV


class InvalidCandidate(Exception):
    """The candidate can never be backed; `reason` is short and goes on chain."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


def message_commitments(executive: Executive, changes) -> tuple[tuple, tuple]:
    """(outbound batches, processed watermarks) a block's execution committed to; a runtime
    without messaging commits to none."""
    messaging = executive.runtime.by_name.get("Messaging")
    return messaging.block_commitments(changes) if messaging is not None else ((), ())


def validate_candidate(executive: Executive, receipt: CandidateReceipt, pov: PoV, parent: Header) -> Header:
    """The new parachain header if the candidate is valid on top of ``parent`` (the head the
    relay has anchored); raises InvalidCandidate otherwise. ``executive`` is the parachain's."""
    d = receipt.descriptor
    if pov.hash != d.pov_hash:
        raise InvalidCandidate("the PoV does not match the descriptor's pov hash")
    if d.parent_head_hash != parent.hash:
        raise InvalidCandidate("the candidate does not build on the anchored head")
    try:
        block = Block.decode(pov.block)
    except (DecodeError, ValueError) as e:
        raise InvalidCandidate(f"the block does not decode: {e}") from None
    header = block.header
    if header.parent_hash != parent.hash or header.number != parent.number + 1:
        raise InvalidCandidate("the block is not a child of the anchored head")
    if receipt.commitments.head_data != header.encode():
        raise InvalidCandidate("the committed head is not the block's header")
    store = ProofBackedStore(pov.proof)
    trie = Trie(store, parent.state_root)
    state = StateOverlay(trie.get)
    try:
        check_extrinsics_root(block)
        execute_block(executive, state, block)
        root = trie.apply_changes(state.changes).root
    except MissingTrieNode:
        raise InvalidCandidate("the proof of validity lacks a trie node the block needs") from None
    except (InvalidTrieNode, DecodeError, ValueError) as e:
        raise InvalidCandidate(f"the proof of validity is malformed: {e}") from None
    except BlockExecutionError as e:
        raise InvalidCandidate(f"the block is invalid: {e}") from None
    if root != header.state_root:
        raise InvalidCandidate("the state root differs from the one execution gives")
    if message_commitments(executive, state.changes) != (receipt.commitments.outbound, receipt.commitments.processed):
        raise InvalidCandidate("the committed messages differ from what the block sends and processes")
    if store.duplicates:
        raise InvalidCandidate("the proof of validity repeats trie nodes")
    if store.unused():
        raise InvalidCandidate(f"the proof of validity carries {len(store.unused())} unused trie nodes")
    return header
