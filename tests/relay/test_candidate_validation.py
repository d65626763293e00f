"""Stateless re-execution of parachain candidates from their proof of validity alone."""

import dataclasses

import pytest

from node.primitives.header import Block, Header
from node.runtime.block_execution import ordered_root
from node.primitives.header import extrinsics_root
from parachains.collation import build_candidate, record_pov
from relay.primitives import CandidateCommitments, PoV, decode_pov
from relay.validation import InvalidCandidate, validate_candidate
from tests.service.test_chain import open_chain, transfer

PARA_ID = 2000
RELAY_PARENT = bytes([1]) * 32
COLLATOR = bytes([2]) * 32


@pytest.fixture
def candidate(tmp_path):
    chain = open_chain(tmp_path / "para")
    parent = chain.best
    built = chain.build_block([(transfer(chain, "Alice", 0), False), (transfer(chain, "Bob", 0), False)], timestamp_ms=6000, slot=6)
    receipt, pov = build_candidate(chain.executive, chain.node_store, PARA_ID, RELAY_PARENT, parent, built.block, COLLATOR)
    validator = open_chain(tmp_path / "validator")  # same runtime and genesis, none of the state
    return chain, validator.executive, parent, built.block, receipt, pov


def test_candidate_is_valid_from_its_proof_alone(candidate):
    chain, executive, parent, block, receipt, pov = candidate
    assert validate_candidate(executive, receipt, pov, parent) == block.header
    assert decode_pov(pov.encode()) == pov
    assert len(pov.proof) > 0


def test_candidate_rejected_if_the_proof_lacks_a_node(candidate):
    _, executive, parent, _, receipt, pov = candidate
    for i in range(len(pov.proof)):
        trimmed = PoV(pov.block, pov.proof[:i] + pov.proof[i + 1 :])
        receipt_i = dataclasses.replace(receipt, descriptor=dataclasses.replace(receipt.descriptor, pov_hash=trimmed.hash))
        with pytest.raises(InvalidCandidate, match="lacks a trie node|state root|malformed"):
            validate_candidate(executive, receipt_i, trimmed, parent)


def test_candidate_rejected_if_the_proof_is_padded(candidate):
    chain, executive, parent, _, receipt, pov = candidate
    padded = PoV(pov.block, pov.proof + (b"\x00" * 40,))
    receipt = dataclasses.replace(receipt, descriptor=dataclasses.replace(receipt.descriptor, pov_hash=padded.hash))
    with pytest.raises(InvalidCandidate, match="unused"):
        validate_candidate(executive, receipt, padded, parent)


def test_candidate_rejected_if_the_pov_hash_differs(candidate):
    _, executive, parent, _, receipt, pov = candidate
    with pytest.raises(InvalidCandidate, match="pov hash"):
        validate_candidate(executive, receipt, PoV(pov.block, pov.proof[:-1]), parent)


def forged(candidate, header: Header, extrinsics):
    chain, executive, parent, _, receipt, _ = candidate
    block = Block(header, tuple(extrinsics))
    pov = record_pov_tolerant(chain, parent, block)
    descriptor = dataclasses.replace(receipt.descriptor, pov_hash=pov.hash)
    return executive, dataclasses.replace(receipt, descriptor=descriptor, commitments=CandidateCommitments(header.encode())), pov, parent


def record_pov_tolerant(chain, parent, block):
    """A malicious collator's PoV: the nodes an honest execution reads, whatever the header says."""
    from node.runtime.overlay import StateOverlay
    from node.trie import RecordingStore, Trie
    from node.runtime.block_execution import execute_block, BlockExecutionError

    recorder = RecordingStore(chain.node_store)
    trie = Trie(recorder, parent.state_root)
    state = StateOverlay(trie.get)
    try:
        execute_block(chain.executive, state, block)
        trie.apply_changes(state.changes)
    except BlockExecutionError:
        pass
    return PoV(block.encode(), tuple(recorder.proof()))


def test_candidate_rejected_if_the_state_root_is_wrong(candidate):
    _, _, _, block, _, _ = candidate
    h = block.header
    executive, receipt, pov, parent = forged(candidate, dataclasses.replace(h, state_root=bytes(32)), block.extrinsics)
    with pytest.raises(InvalidCandidate, match="state root"):
        validate_candidate(executive, receipt, pov, parent)


def test_candidate_rejected_if_it_holds_an_invalid_transaction(candidate):
    _, _, _, block, _, _ = candidate
    bad = bytearray(block.extrinsics[1])
    bad[40] ^= 1
    extrinsics = (block.extrinsics[0], bytes(bad), block.extrinsics[2])
    h = dataclasses.replace(block.header, extrinsics_root=extrinsics_root(extrinsics, ordered_root))
    executive, receipt, pov, parent = forged(candidate, h, extrinsics)
    with pytest.raises(InvalidCandidate, match="bad signature"):
        validate_candidate(executive, receipt, pov, parent)


def test_candidate_rejected_if_the_commitment_is_not_the_header(candidate):
    _, executive, parent, _, receipt, pov = candidate
    other = dataclasses.replace(receipt, commitments=CandidateCommitments(b"\x00" * 10))
    with pytest.raises(InvalidCandidate, match="committed head"):
        validate_candidate(executive, other, pov, parent)


def test_candidate_rejected_if_it_does_not_build_on_the_anchored_head(candidate):
    chain, executive, parent, _, receipt, pov = candidate
    with pytest.raises(InvalidCandidate, match="anchored head"):
        validate_candidate(executive, receipt, pov, chain.best)


def test_candidate_rejected_if_the_block_does_not_decode(candidate):
    _, executive, parent, _, receipt, pov = candidate
    junk = PoV(b"\x01\x02", pov.proof)
    receipt = dataclasses.replace(receipt, descriptor=dataclasses.replace(receipt.descriptor, pov_hash=junk.hash))
    with pytest.raises(InvalidCandidate, match="does not decode"):
        validate_candidate(executive, receipt, junk, parent)
