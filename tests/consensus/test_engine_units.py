"""The two engines input by input: what they propose, what they vote for, how they treat
hostile input, later and earlier heights, and justifications from peers."""

from dataclasses import replace

import pytest

from node.consensus.authorities import AuthoritySet
from node.consensus.bft import BftEngine
from node.consensus.effects import AuthorBlock, Broadcast, Finalize, RequestBlock, ScheduleTimeout, TimeoutFired
from node.consensus.errors import BadSignature, NotAnAuthority, TooFewSignatures, WrongTarget
from node.consensus.finality import FinalityGadget
from node.consensus.justification import justification_from_precommits
from node.consensus.messages import Proposal, Step, Vote, sign_proposal, sign_vote
from node.consensus.tendermint import Timeouts, proposer_of
from tests.consensus.sim import keypairs

KEYS = keypairs(5)
AUTH = AuthoritySet.of(KEYS[:4])
G = b"\x00" * 32  # the finalized head both engines start from (number 0)
A1, A2, B1 = b"\xa1" * 32, b"\xa2" * 32, b"\xb1" * 32  # A1 <- A2 on one fork, B1 on another


def index_of(public_key):
    return next(i for i, k in enumerate(KEYS) if k.public_key == public_key)


def not_proposer(height, round_=0):
    return (index_of(proposer_of(AUTH, height, round_)) + 1) % 4


def votes(effects, step=None):
    return [e.message for e in effects if isinstance(e, Broadcast) and isinstance(e.message, Vote)
            and (step is None or e.message.step == step)]


def gadget(i, *blocks):
    g = FinalityGadget(AUTH, KEYS[i], G, 0, Timeouts())
    for block_hash, number, parent in blocks:
        g.apply_block(block_hash, number, parent)
    return g


def proposal(height, value, round_=0):
    return sign_proposal(KEYS[index_of(proposer_of(AUTH, height, round_))], AUTH, height, round_, value, -1)


def precommits(height, value, signers=(0, 1, 2), round_=0):
    return [sign_vote(KEYS[i], AUTH, Step.PRECOMMIT, height, round_, value) for i in signers]


# -- the finality gadget -------------------------------------------------------------------------


def test_gadget_waits_for_a_block_before_starting_a_height():
    g = gadget(0)
    assert g.start() == [] and not g.core.started
    out = g.apply_block(A1, 1, G)
    assert g.core.started and ScheduleTimeout(1, Step.PROPOSE, 0, Timeouts().propose_ms) in out  # node 0 waits for a proposal


def test_gadget_proposer_proposes_its_best_block():
    p = index_of(proposer_of(AUTH, 1, 0))
    g = gadget(p, (A1, 1, G), (A2, 2, A1), (B1, 1, G))
    out = g.start()
    (prop,) = [e.message for e in out if isinstance(e, Broadcast) and isinstance(e.message, Proposal)]
    assert prop.value == A2 and g.best_block() == A2


def test_gadget_prevotes_a_known_block_that_extends_the_finalized_one():
    g = gadget(not_proposer(1), (A1, 1, G), (A2, 2, A1))
    g.start()
    (v,) = votes(g.apply_message(proposal(1, A2)))
    assert v.value == A2


def test_gadget_waits_for_an_unknown_block_then_prevotes_it():
    g = gadget(not_proposer(1), (A1, 1, G))
    g.start()
    out = g.apply_message(proposal(1, A2))
    assert RequestBlock(A2) in out and not votes(out)
    (v,) = votes(g.apply_block(A2, 2, A1))
    assert v.value == A2


def test_gadget_prevotes_nil_for_a_block_off_the_finalized_chain():
    g = gadget(not_proposer(1), (A1, 1, G))
    g.start()
    g.apply_message(proposal(1, A2))  # unknown: waits
    (v,) = votes(g.apply_invalid_block(A2))
    assert v.value is None


def test_gadget_finalizes_on_a_quorum_of_precommits_and_moves_past_the_block():
    g = gadget(not_proposer(1), (A1, 1, G), (A2, 2, A1), (B1, 1, G))
    g.start()
    out = []
    for vote in precommits(1, A2):
        out += g.apply_message(vote)
    (fin,) = [e for e in out if isinstance(e, Finalize)]
    assert (fin.block_hash, fin.number, fin.justification.height) == (A2, 2, 1)
    assert g.height == 3 and g.finalized_hash == A2 and B1 not in g.blocks


def test_gadget_decision_on_an_unknown_block_waits_for_the_block():
    g = gadget(not_proposer(1), (A1, 1, G))
    out = []
    for vote in precommits(1, A2):
        out += g.apply_message(vote)
    assert RequestBlock(A2) in out and not [e for e in out if isinstance(e, Finalize)]
    out = g.apply_block(A2, 2, A1)
    assert [e.number for e in out if isinstance(e, Finalize)] == [2]


def test_gadget_catches_up_from_a_peers_justification():
    g = gadget(0, (A1, 1, G), (A2, 2, A1))
    j = justification_from_precommits(precommits(1, A2, round_=4), A2, 2)
    out = g.apply_message(j)
    assert [(e.block_hash, e.number) for e in out if isinstance(e, Finalize)] == [(A2, 2)]
    assert g.apply_message(j) == []  # already final: nothing to do


def test_gadget_never_finalizes_a_block_that_conflicts_with_its_finalized_one():
    g = gadget(0, (A1, 1, G), (B1, 1, G))
    g.apply_message(justification_from_precommits(precommits(1, A1), A1, 1))
    forged = justification_from_precommits(precommits(1, B1, signers=(1, 2, 3), round_=1), B1, 1)
    assert g.apply_message(forged) == []  # at or below the finalized number
    later = justification_from_precommits(precommits(2, b"\xb2" * 32, signers=(1, 2, 3)), b"\xb2" * 32, 2)
    out = g.apply_message(later)
    assert out == [RequestBlock(b"\xb2" * 32)]
    assert g.apply_block(b"\xb2" * 32, 2, B1) == []  # a child of a dead fork is never indexed
    assert g.finalized_hash == A1


def test_gadget_refuses_a_justification_whose_number_lies():
    g = gadget(0, (A1, 1, G), (A2, 2, A1))
    j = justification_from_precommits(precommits(1, A2), A2, 2)
    with pytest.raises(WrongTarget):
        g.apply_message(replace(j, target_number=5))


# -- bft ------------------------------------------------------------------------------------------


def bft(i):
    return BftEngine(AUTH, KEYS[i], G, 0, Timeouts())


def test_bft_proposer_asks_to_author_on_the_last_finalized_block_then_proposes_it():
    p = index_of(proposer_of(AUTH, 1, 0))
    e = bft(p)
    assert AuthorBlock(1, 0, G) in e.start()
    out = e.apply_authored(1, 0, A1)
    (prop,) = [x.message for x in out if isinstance(x, Broadcast) and isinstance(x.message, Proposal)]
    assert prop.value == A1 and [v.value for v in votes(out)] == [A1]


def test_bft_prevotes_nil_for_a_block_that_is_not_a_child_of_the_finalized_one():
    e = bft(not_proposer(1))
    e.start()
    e.apply_block(A1, 1, G)
    e.apply_block(A2, 2, A1)
    (v,) = votes(e.apply_message(proposal(1, A2)))
    assert v.value is None


def test_bft_decides_and_moves_to_the_next_height():
    e = bft(not_proposer(1))
    e.start()
    e.apply_block(A1, 1, G)
    out = []
    for vote in precommits(1, A1):
        out += e.apply_message(vote)
    (fin,) = [x for x in out if isinstance(x, Finalize)]
    assert (fin.block_hash, fin.number) == (A1, 1) and e.height == 2


def test_bft_jumps_heights_on_a_later_justification():
    e = bft(0)
    e.start()
    j = justification_from_precommits(precommits(7, A2), A2, 7)
    out = e.apply_message(j)
    assert [(x.block_hash, x.number) for x in out if isinstance(x, Finalize)] == [(A2, 7)]
    assert RequestBlock(A2) in out and e.height == 8


def test_bft_justification_rejected_if_its_target_is_not_the_block_at_its_height():
    e = bft(0)
    with pytest.raises(WrongTarget):
        e.apply_message(justification_from_precommits(precommits(7, A2), A2, 9))


# -- hostile input and other heights ----------------------------------------------------------------


@pytest.mark.parametrize("height", [1, 5])
def test_engine_rejects_a_vote_by_a_non_authority_and_changes_nothing(height):
    e = bft(0)
    e.start()
    outsider = sign_vote(KEYS[4], AUTH, Step.PREVOTE, height, 0, A1)
    with pytest.raises(NotAnAuthority):
        e.apply_message(outsider)
    assert e.core.total(0, Step.PREVOTE) == 0 and not e._buffer


def test_engine_rejects_a_forged_vote_and_a_forged_justification():
    e = bft(0)
    e.start()
    forged = replace(sign_vote(KEYS[1], AUTH, Step.PREVOTE, 1, 0, A1), value=A2)
    with pytest.raises(BadSignature):
        e.apply_message(forged)
    with pytest.raises(TooFewSignatures):
        e.apply_message(justification_from_precommits(precommits(1, A1, signers=(0, 1)), A1, 1))
    assert e.height == 1


def test_engine_keeps_messages_for_a_later_height_and_counts_them_when_it_gets_there():
    e = bft(not_proposer(1))
    e.start()
    e.apply_block(A1, 1, G)
    early = [sign_vote(KEYS[i], AUTH, Step.PREVOTE, 2, 0, None) for i in (1, 2, 3)]
    for vote in early:
        assert e.apply_message(vote) == []
    for vote in precommits(1, A1):
        e.apply_message(vote)
    assert e.height == 2 and e.core.count(0, Step.PREVOTE, None) == 3


def test_engine_buffers_only_a_few_messages_per_signer():
    e = bft(0)
    for r in range(40):
        e.apply_message(sign_vote(KEYS[1], AUTH, Step.PREVOTE, 9, r, None))
    assert len(e._buffer) == 16


def test_engine_restarted_after_a_decision_answers_a_laggard_with_the_stored_justification():
    decided = bft(not_proposer(1))
    decided.start()
    decided.apply_block(A1, 1, G)
    for vote in precommits(1, A1):
        decided.apply_message(vote)
    stored = decided.last_justification
    restarted = BftEngine(AUTH, KEYS[not_proposer(1)], A1, 1, Timeouts(), justification=stored)
    restarted.start()
    stale = sign_vote(KEYS[3], AUTH, Step.PREVOTE, 1, 2, None)
    assert restarted.apply_message(stale) == [Broadcast(stored)]


def test_engine_answers_a_laggard_with_its_last_justification_once_per_timer():
    e = bft(not_proposer(1))
    e.start()
    e.apply_block(A1, 1, G)
    for vote in precommits(1, A1):
        e.apply_message(vote)
    stale = sign_vote(KEYS[3], AUTH, Step.PREVOTE, 1, 2, None)
    assert e.apply_message(stale) == [Broadcast(e.last_justification)]
    assert e.apply_message(stale) == []
    e.apply_timeout(TimeoutFired(2, Step.PROPOSE, 0))
    assert e.apply_message(stale) == [Broadcast(e.last_justification)]
