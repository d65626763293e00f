"""Signed proposals and votes on the wire: codec, envelope limits, and signature checks."""

from dataclasses import replace

import pytest

from node.consensus.authorities import AuthoritySet
from node.consensus.errors import BadSignature, MalformedMessage, NotAnAuthority
from node.consensus.justification import justification_from_precommits
from node.consensus.messages import Step, sign_proposal, sign_vote, verify_proposal, verify_vote
from node.consensus.wire import MAX_MESSAGE_LEN, decode_message, encode_message
from tests.consensus.sim import keypairs

KEYS = keypairs(5)
AUTHORITIES = AuthoritySet.of(KEYS[:4], chain_id=b"relay")
VALUE = b"\xab" * 32


def vote(step=Step.PREVOTE, value=VALUE, key=0, height=3, round_=1, authorities=AUTHORITIES):
    return sign_vote(KEYS[key], authorities, step, height, round_, value)


def test_messages_round_trip_through_the_envelope():
    proposal = sign_proposal(KEYS[0], AUTHORITIES, 3, 2, VALUE, 1)
    j = justification_from_precommits([vote(Step.PRECOMMIT, key=i) for i in range(3)], VALUE, 3)
    for message in (proposal, vote(), vote(Step.PRECOMMIT, None), j):
        assert decode_message(encode_message(message)) == message


def test_vote_verifies_under_its_authority_set():
    verify_vote(vote(), AUTHORITIES)
    verify_proposal(sign_proposal(KEYS[1], AUTHORITIES, 3, 0, VALUE, -1), AUTHORITIES)


def test_vote_rejected_if_signed_by_a_non_authority():
    with pytest.raises(NotAnAuthority):
        verify_vote(vote(key=4), AUTHORITIES)


@pytest.mark.parametrize(
    "change",
    [{"value": b"\xcd" * 32}, {"value": None}, {"round": 2}, {"height": 4}, {"step": Step.PRECOMMIT}],
)
def test_vote_rejected_if_any_signed_field_is_changed(change):
    with pytest.raises(BadSignature):
        verify_vote(replace(vote(), **change), AUTHORITIES)


def test_vote_rejected_if_it_claims_another_voter():
    with pytest.raises(BadSignature):
        verify_vote(replace(vote(key=0), voter=KEYS[1].public_key), AUTHORITIES)


def test_vote_for_one_chain_or_set_does_not_count_on_another():
    for other in (AuthoritySet.of(KEYS[:4], chain_id=b"dg"), AuthoritySet.of(KEYS[:4], chain_id=b"relay", set_id=1)):
        with pytest.raises(BadSignature):
            verify_vote(vote(), other)


def test_a_proposal_signature_never_passes_for_a_vote():
    p = sign_proposal(KEYS[0], AUTHORITIES, 3, 1, VALUE, -1)
    forged = replace(vote(key=0), signature=p.signature)
    with pytest.raises(BadSignature):
        verify_vote(forged, AUTHORITIES)


def good_vote_bytes():
    return encode_message(vote())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x07" + bytes(100),  # unknown kind
        good_vote_bytes()[:-1],  # truncated
        good_vote_bytes() + b"\x00",  # trailing byte
        b"\x01\x00" + good_vote_bytes()[2:],  # a vote with the propose step
        b"\x01\x03" + good_vote_bytes()[2:],  # no such step
        good_vote_bytes()[:14] + b"\x02" + good_vote_bytes()[15:],  # bad Option tag
        b"\x01" + bytes([1]) + bytes(8) + (2**32 - 1).to_bytes(4, "little") + b"\x00" + bytes(96),  # round overflow
        encode_message(sign_proposal(KEYS[0], AUTHORITIES, 3, 2, VALUE, 1))[:46] + b"\x01\x05\x00\x00\x00" + bytes(96),  # valid_round >= round
        b"\x02" + bytes(48) + b"\xfd\xff\xff\xff",  # a justification announcing more signatures than it has
        b"\x01" + bytes(MAX_MESSAGE_LEN),  # oversized
    ],
)
def test_malformed_message_rejected_with_a_typed_error(data):
    with pytest.raises(MalformedMessage):
        decode_message(data)


def test_building_a_message_with_bad_fields_is_refused():
    good = vote()
    for change in ({"value": b"short"}, {"round": -1}, {"height": 1 << 64}, {"signature": bytes(63)}, {"step": Step.PROPOSE}):
        with pytest.raises(ValueError):
            replace(good, **change)
