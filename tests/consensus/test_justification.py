"""verify_justification: what every importer runs. One test per way to forge a justification."""

from dataclasses import replace

import pytest

from node.consensus.authorities import AuthoritySet
from node.consensus.errors import (
    BadJustificationSignature,
    DuplicateSigner,
    TooFewSignatures,
    UnknownSigner,
    WrongTarget,
)
from node.consensus.justification import (
    Justification,
    SignedPrecommit,
    justification_from_precommits,
    verify_justification,
)
from node.consensus.messages import Step, sign_vote
from node.primitives.scale import DecodeError
from tests.consensus.sim import keypairs

KEYS = keypairs(5)
AUTHORITIES = AuthoritySet.of(KEYS[:4], chain_id=b"relay")
TARGET, CHILD, OTHER = b"\x11" * 32, b"\x22" * 32, b"\x33" * 32
HEIGHT, ROUND, NUMBER = 7, 2, 9


def is_descendant(ancestor, block):
    return (ancestor, block) == (TARGET, CHILD)


def precommit(key, value=TARGET, height=HEIGHT, round_=ROUND):
    return sign_vote(KEYS[key], AUTHORITIES, Step.PRECOMMIT, height, round_, value)


def justification(*keys, values=None):
    values = values or [TARGET] * len(keys)
    return justification_from_precommits([precommit(k, v) for k, v in zip(keys, values)], TARGET, NUMBER)


def check(j, **kw):
    verify_justification(j, AUTHORITIES, is_descendant, **kw)


def test_justification_with_a_quorum_for_the_target_verifies():
    check(justification(0, 1, 2))
    check(justification(3, 2, 1, 0), target=(TARGET, NUMBER))


def test_justification_counts_precommits_for_descendants_of_the_target():
    check(justification(0, 1, 2, values=[TARGET, CHILD, CHILD]))


def test_justification_round_trips_through_scale():
    j = justification(0, 1, 2, values=[TARGET, CHILD, TARGET])
    assert Justification.decode(j.encode()) == j
    with pytest.raises(DecodeError):
        Justification.decode(j.encode() + b"\x00")


def test_justification_rejected_if_signed_by_a_non_authority():
    j = justification(0, 1, 2)
    outsider = precommit(4)
    forged = replace(j, signatures=j.signatures + (SignedPrecommit(TARGET, outsider.voter, outsider.signature),))
    with pytest.raises(UnknownSigner):
        check(forged)


def test_justification_rejected_if_an_authority_signs_twice():
    j = justification(0, 1)
    with pytest.raises(DuplicateSigner):
        check(replace(j, signatures=j.signatures + (j.signatures[0],)))


def test_justification_rejected_if_an_authority_signs_twice_for_different_blocks():
    j = justification(0, 1, values=[TARGET, TARGET])
    again = precommit(1, CHILD)
    with pytest.raises(DuplicateSigner):
        check(replace(j, signatures=j.signatures + (SignedPrecommit(CHILD, again.voter, again.signature),)))


def test_justification_rejected_if_it_has_too_few_signatures():
    with pytest.raises(TooFewSignatures):
        check(justification(0, 1))
    with pytest.raises(TooFewSignatures):
        check(replace(justification(0), signatures=()))


def test_justification_rejected_if_a_precommit_is_for_a_block_off_the_target_chain():
    with pytest.raises(WrongTarget):
        check(justification(0, 1, 2, values=[TARGET, TARGET, OTHER]))


def test_justification_rejected_if_it_is_for_another_block():
    j = justification(0, 1, 2)
    with pytest.raises(WrongTarget):
        check(j, target=(OTHER, NUMBER))
    with pytest.raises(WrongTarget):
        check(j, target=(TARGET, NUMBER + 1))


def test_justification_rejected_if_its_target_is_relabelled():
    # The precommits are for TARGET; claiming them for OTHER fails (OTHER is not their ancestor).
    with pytest.raises(WrongTarget):
        check(replace(justification(0, 1, 2), target_hash=OTHER))


def test_justification_rejected_if_its_target_is_below_its_height():
    with pytest.raises(WrongTarget):
        check(replace(justification(0, 1, 2), target_number=HEIGHT - 1))


def test_justification_rejected_if_a_signature_is_bad():
    j = justification(0, 1, 2)
    bad = replace(j.signatures[1], signature=bytes(64))
    with pytest.raises(BadJustificationSignature):
        check(replace(j, signatures=(j.signatures[0], bad, j.signatures[2])))


def test_justification_rejected_if_a_signature_is_moved_to_another_voter():
    j = justification(0, 1, 2)
    moved = SignedPrecommit(TARGET, KEYS[3].public_key, j.signatures[2].signature)
    with pytest.raises(BadJustificationSignature):
        check(replace(j, signatures=j.signatures[:2] + (moved,)))


@pytest.mark.parametrize("change", [{"round": ROUND + 1}, {"height": HEIGHT - 1}])
def test_justification_rejected_if_its_round_or_height_is_changed(change):
    with pytest.raises(BadJustificationSignature):
        check(replace(justification(0, 1, 2), **change))


def test_justification_rejected_if_made_of_prevotes():
    prevotes = [sign_vote(KEYS[k], AUTHORITIES, Step.PREVOTE, HEIGHT, ROUND, TARGET) for k in range(3)]
    forged = Justification(TARGET, NUMBER, HEIGHT, ROUND, tuple(SignedPrecommit(TARGET, v.voter, v.signature) for v in prevotes))
    with pytest.raises(BadJustificationSignature):
        check(forged)


def test_justification_rejected_if_signed_for_another_chain():
    other = AuthoritySet.of(KEYS[:4], chain_id=b"dg")
    votes = [sign_vote(KEYS[k], other, Step.PRECOMMIT, HEIGHT, ROUND, TARGET) for k in range(3)]
    with pytest.raises(BadJustificationSignature):
        check(justification_from_precommits(votes, TARGET, NUMBER))
