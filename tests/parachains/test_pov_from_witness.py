"""A collator that imported a block makes its proof of validity from what the import read,
without executing the block again; the proof is the one a recording re-execution gives."""

from __future__ import annotations

import pytest

from node.service.chain import MAX_WITNESSES
from parachains.collation import candidate_receipt, pov_from_witness, record_candidate
from relay.primitives import CandidateCommitments
from relay.validation import validate_candidate
from tests.service.test_chain import open_chain, transfer

PARA_ID = 2000
RELAY_PARENT = bytes([1]) * 32
COLLATOR = bytes([2]) * 32


@pytest.fixture
def chains(tmp_path):
    """An author and an importer of the same chain; the importer keeps witnesses."""
    author, importer = open_chain(tmp_path / "author"), open_chain(tmp_path / "importer")
    importer.witnesses = {}
    return author, importer


def build(author, nonce: int, *, overdraft: bool = False):
    txs = [(transfer(author, "Alice", nonce), False), (transfer(author, "Charlie", nonce), False)]
    if overdraft:  # valid (it pays its fee) but its dispatch fails: in the block, its writes rolled back
        txs.append((transfer(author, "Dave", nonce, value=10**30), False))
    return author.build_block(txs, timestamp_ms=6000 * (nonce + 1), slot=6 * (nonce + 1)).block


def test_pov_from_an_import_witness_is_the_recorded_one_and_validates(chains, tmp_path):
    author, importer = chains
    validator = open_chain(tmp_path / "validator")  # same runtime and genesis, none of the state
    for nonce in range(3):  # later blocks read state the earlier ones wrote
        parent = author.best
        block = build(author, nonce, overdraft=nonce == 1)
        importer.import_block(block)
        witness = importer.witnesses.pop(block.header.hash)
        pov, commitments = pov_from_witness(importer.executive, importer, parent, block, witness)
        recorded, recorded_commitments = record_candidate(author.executive, author.node_store, parent, block)
        assert sorted(pov.proof) == sorted(recorded.proof) and pov.block == recorded.block
        assert commitments == recorded_commitments == CandidateCommitments(block.header.encode())
        receipt = candidate_receipt(PARA_ID, RELAY_PARENT, parent, pov, commitments, COLLATOR)
        assert validate_candidate(validator.executive, receipt, pov, parent) == block.header


def test_a_witness_is_kept_only_when_asked(tmp_path):
    author, plain = open_chain(tmp_path / "a"), open_chain(tmp_path / "b")
    plain.import_block(build(author, 0))
    assert plain.witnesses is None


def test_witnesses_are_bounded(chains):
    author, importer = chains
    for nonce in range(MAX_WITNESSES + 3):
        importer.import_block(build(author, nonce))
    assert len(importer.witnesses) == MAX_WITNESSES
    assert author.best.hash in importer.witnesses  # the oldest went first


def test_pov_from_witness_refuses_a_witness_of_another_parent(chains):
    author, importer = chains
    first = build(author, 0)
    importer.import_block(first)
    second = build(author, 1)
    importer.import_block(second)
    witness = importer.witnesses[second.header.hash]
    with pytest.raises(ValueError, match="another parent"):
        pov_from_witness(importer.executive, importer, importer.header(first.header.parent_hash), second, witness)
