"""The collator's side of a candidate: turning an authored parachain block into a receipt and a
proof of validity (PoV) that relay validators can check without the parachain's state.

The proof is every trie node a stateless execution of the block needs: the nodes on the path of
each key it reads from the parent state, and the nodes computing its new state root loads. A
collator that imported the block has both from the import (`node.service.chain.BlockWitness`)
and only walks those paths again (`pov_from_witness`); the block's author executes it a second
time on a trie that records every node it reaches (`record_pov`), since what building the block
read also includes transactions it left out.
"""

from __future__ import annotations

from node.primitives.header import Block, Header
from node.runtime.block_execution import execute_block
from node.runtime.executive import Executive
from node.runtime.overlay import StateOverlay
from node.trie import MissingTrieNode, RecordingStore, Trie
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


def pov_from_witness(executive: Executive, chain, parent: Header, block: Block, witness) -> tuple[PoV, CandidateCommitments]:
    """What `record_candidate` gives, from the witness importing ``block`` on ``parent`` into
    ``chain`` left (reads, nodes its state root loaded, changes): the reads' paths are walked
    again through the chain's decoded-node cache; nothing is executed."""
    if witness.parent_root != parent.state_root:
        raise ValueError("the witness is of another parent state")
    touched = set(witness.touched)
    trie = chain.state_trie(parent.state_root, touched)
    node_store = chain.node_store
    for key in witness.reads:
        trie.get(key)
    proof = []
    for node_hash in sorted(touched):
        node = node_store.get(node_hash)
        if node is None:
            raise MissingTrieNode(node_hash)
        proof.append(node)
    outbound, processed = message_commitments(executive, witness.changes)
    return PoV(block.encode(), tuple(proof)), CandidateCommitments(block.header.encode(), outbound, processed)


def candidate_receipt(para_id: int, relay_parent: bytes, parent: Header, pov: PoV, commitments: CandidateCommitments,
                      collator: bytes) -> CandidateReceipt:
    return CandidateReceipt(CandidateDescriptor(para_id, relay_parent, parent.hash, pov.hash, collator), commitments)


def build_candidate(
    executive: Executive, node_store, para_id: int, relay_parent: bytes, parent: Header, block: Block, collator: bytes,
    *, verified: frozenset | set = frozenset(),
) -> tuple[CandidateReceipt, PoV]:
    pov, commitments = record_candidate(executive, node_store, parent, block, verified=verified)
    return candidate_receipt(para_id, relay_parent, parent, pov, commitments, collator), pov
