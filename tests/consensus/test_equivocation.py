"""Equivocation evidence: detection, standalone verification, each forgery refused, codec."""

from dataclasses import replace

import pytest

from node.consensus import aura
from node.consensus.authorities import AuthoritySet
from node.consensus.equivocation import (
    SlotEquivocation,
    SlotEquivocationDetector,
    VoteEquivocation,
    check_vote_equivocation,
    decode_evidence,
    encode_evidence,
    verify_evidence,
)
from node.consensus.errors import InvalidEvidence
from node.consensus.messages import Step, sign_vote
from node.primitives.header import Header
from tests.consensus.sim import GENESIS, keypairs

KEYS = keypairs(5)
AUTH = AuthoritySet.of(KEYS[:4])
X, Y = b"x" * 32, b"y" * 32


def block(slot, root=b"\x01", key=None):
    pre = Header(GENESIS.hash, 1, root * 32, bytes(32), (aura.pre_digest(slot),))
    return aura.seal(pre, key or KEYS[slot % 4])


def vote(key=1, value=X, round_=2, step=Step.PREVOTE, height=5, authorities=AUTH):
    return sign_vote(KEYS[key], authorities, step, height, round_, value)


def slot_evidence(slot=6):
    return SlotEquivocation(slot, KEYS[slot % 4].public_key, block(slot), block(slot, b"\x02"))


def test_detector_reports_a_second_block_for_a_slot_once():
    d = SlotEquivocationDetector()
    author = KEYS[2].public_key
    first, second, third = block(6), block(6, b"\x02"), block(6, b"\x03")
    assert d.note_header(first, 6, author) is None
    assert d.note_header(first, 6, author) is None  # the same block again is no offence
    evidence = d.note_header(second, 6, author)
    assert evidence == SlotEquivocation(6, author, first, second)
    verify_evidence(evidence, AUTH)
    assert d.note_header(third, 6, author) is None  # one offence per slot


def test_detector_forgets_slots_outside_its_window():
    d = SlotEquivocationDetector(window=10)
    d.note_header(block(100), 100, KEYS[0].public_key)
    assert d.note_header(block(6), 6, KEYS[2].public_key) is None
    assert d.note_header(block(6, b"\x02"), 6, KEYS[2].public_key) is None
    for slot in range(101, 140):  # enough to prune
        d.note_header(block(slot), slot, KEYS[slot % 4].public_key)
    assert len(d._first) <= 2 * 10 + 1


def test_vote_equivocation_is_detected_only_for_one_height_round_and_step():
    assert check_vote_equivocation(vote(value=X), vote(value=Y)) is not None
    assert check_vote_equivocation(vote(value=X), vote(value=None)) is not None
    assert check_vote_equivocation(vote(value=X), vote(value=X)) is None
    assert check_vote_equivocation(vote(value=X), vote(value=Y, round_=3)) is None
    assert check_vote_equivocation(vote(value=X), vote(value=Y, height=6)) is None
    assert check_vote_equivocation(vote(value=X), vote(value=Y, step=Step.PRECOMMIT)) is None
    assert check_vote_equivocation(vote(value=X), vote(key=2, value=Y)) is None


def test_evidence_verifies_standalone_and_round_trips():
    for evidence in (slot_evidence(), VoteEquivocation(vote(value=X), vote(value=None))):
        verify_evidence(evidence, AUTH)
        assert decode_evidence(encode_evidence(evidence)) == evidence


def test_offence_key_names_the_offence_not_the_proof():
    a = VoteEquivocation(vote(value=X), vote(value=Y))
    b = VoteEquivocation(vote(value=None), vote(value=X))
    assert a.offence_key() == b.offence_key()
    assert a.offence_key() != VoteEquivocation(vote(value=X, round_=3), vote(value=Y, round_=3)).offence_key()
    assert (a.kind, a.offender, a.slot_or_round) == ("VoteEquivocation", KEYS[1].public_key, 2)


def test_evidence_rejected_if_both_blocks_are_the_same():
    e = slot_evidence()
    with pytest.raises(InvalidEvidence):
        verify_evidence(replace(e, second=e.first), AUTH)


def test_evidence_rejected_if_the_offender_does_not_own_the_slot():
    e = slot_evidence(6)
    with pytest.raises(InvalidEvidence):
        verify_evidence(replace(e, offender=KEYS[1].public_key), AUTH)


def test_evidence_rejected_if_a_block_is_for_another_slot():
    e = slot_evidence(6)
    with pytest.raises(InvalidEvidence):
        verify_evidence(replace(e, second=block(10, b"\x02")), AUTH)  # slot 10 has the same author


def test_evidence_rejected_if_a_block_is_sealed_by_someone_else():
    e = slot_evidence(6)
    with pytest.raises(InvalidEvidence):
        verify_evidence(replace(e, second=block(6, b"\x02", key=KEYS[1])), AUTH)


def test_evidence_rejected_if_a_block_is_unsealed():
    e = slot_evidence(6)
    unsealed = Header(GENESIS.hash, 1, b"\x02" * 32, bytes(32), (aura.pre_digest(6),))
    with pytest.raises(InvalidEvidence):
        verify_evidence(replace(e, second=unsealed), AUTH)


@pytest.mark.parametrize(
    "second",
    [
        {"value": X},  # the same vote
        {"value": Y, "round_": 3},
        {"value": Y, "step": Step.PRECOMMIT},
        {"value": Y, "key": 2},
    ],
)
def test_vote_evidence_rejected_if_the_votes_do_not_conflict(second):
    with pytest.raises(InvalidEvidence):
        verify_evidence(VoteEquivocation(vote(value=X), vote(**second)), AUTH)


def test_vote_evidence_rejected_if_a_signature_is_bad():
    with pytest.raises(InvalidEvidence):
        verify_evidence(VoteEquivocation(vote(value=X), replace(vote(value=Y), signature=bytes(64))), AUTH)


def test_vote_evidence_rejected_if_the_voter_is_not_an_authority():
    with pytest.raises(InvalidEvidence):
        verify_evidence(VoteEquivocation(vote(key=4, value=X), vote(key=4, value=Y)), AUTH)


def test_vote_evidence_rejected_if_signed_for_another_chain():
    other = AuthoritySet.of(KEYS[:4], chain_id=b"other")
    with pytest.raises(InvalidEvidence):
        verify_evidence(VoteEquivocation(vote(value=X, authorities=other), vote(value=Y, authorities=other)), AUTH)


@pytest.mark.parametrize("data", [b"", b"\x02", b"\x00" + bytes(8), encode_evidence(slot_evidence()) + b"\x00", b"\x01" + bytes(10)])
def test_evidence_decode_rejects_malformed_bytes(data):
    with pytest.raises(InvalidEvidence):
        decode_evidence(data)
