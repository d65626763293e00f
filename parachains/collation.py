"""The collator's side of a candidate: turning an authored parachain block into a receipt and a
proof of validity (PoV) that relay validators can check without the parachain's state.

The block is executed a second time on a trie that records every node read or written, starting
from the parent's state root; those nodes are the PoV's proof. (The first execution, on the
fast flat state, is what built the block.)
"""

from __future__ import annotations

from node.primitives.header import Block, Header
from node.runtime.block_execution import execute_block
from node.runtime.executive import Executive
from node.runtime.overlay import StateOverlay
from node.trie import RecordingStore, Trie
from relay.primitives import CandidateCommitments, CandidateDescriptor, CandidateReceipt, PoV
from relay.validation import message_commitments


def record_pov(executive: Executive, node_store, parent: Header, block: Block, *, verified: frozenset | set = frozenset()) -> tuple[PoV, dict]:
    """The proof of validity of ``block``: every trie node its execution on ``parent``'s state
    touched; and the storage changes it made. ``node_store`` reads the parachain's trie nodes
    (the node's database). Signatures whose extrinsic hash is in ``verified`` are not checked
    again (a block already in the node's chain had them checked when it was built or imported)."""
    recorder = RecordingStore(node_store)
    trie = Trie(recorder, parent.state_root)  # no shared cache: every read must reach the recorder
    state = StateOverlay(trie.get)
    execute_block(executive, state, block, verified=verified)
    trie.apply_changes(state.changes)  # records the nodes the new root is computed from
    return PoV(block.encode(), tuple(recorder.proof())), state.changes


def record_candidate(executive: Executive, node_store, parent: Header, block: Block, *,
                     verified: frozenset | set = frozenset()) -> tuple[PoV, CandidateCommitments]:
    """The relay-parent-independent part of a candidate: its PoV and commitments (what a
    collator may keep and resend with a newer relay parent)."""
    pov, changes = record_pov(executive, node_store, parent, block, verified=verified)
    outbound, processed = message_commitments(executive, changes)
    return pov, CandidateCommitments(block.header.encode(), outbound, processed)


def candidate_receipt(para_id: int, relay_parent: bytes, parent: Header, pov: PoV, commitments: CandidateCommitments,
                      collator: bytes) -> CandidateReceipt:
    return CandidateReceipt(CandidateDescriptor(para_id, relay_parent, parent.hash, pov.hash, collator), commitments)


def build_candidate(
    executive: Executive, node_store, para_id: int, relay_parent: bytes, parent: Header, block: Block, collator: bytes,
    *, verified: frozenset | set = frozenset(),
) -> tuple[CandidateReceipt, PoV]:
    pov, commitments = record_candidate(executive, node_store, parent, block, verified=verified)
    return candidate_receipt(para_id, relay_parent, parent, pov, commitments, collator), pov
