"""The Tendermint core's rules, input by input: voting, locking, round changes, restarts."""

import pytest

from node.consensus.authorities import AuthoritySet
from node.consensus.effects import (
    Broadcast,
    Decide,
    PersistVoterState,
    ReportEquivocation,
    RequestValue,
    ScheduleTimeout,
    TimeoutFired,
    ValidateValue,
)
from node.consensus.equivocation import verify_evidence
from node.consensus.errors import NotTheProposer, WrongHeight
from node.consensus.messages import Proposal, Step, Vote, sign_proposal, sign_vote, verify_vote
from node.consensus.tendermint import Tendermint, Timeouts
from node.consensus.voter_state import VoterState
from tests.consensus.sim import keypairs

KEYS = keypairs(4)
AUTH = AuthoritySet.of(KEYS)
H = 1  # at height 1 the proposer of round r is KEYS[(1 + r) % 4]
X, Y = b"x" * 32, b"y" * 32
PV, PC = Step.PREVOTE, Step.PRECOMMIT


def core(i=0, **kw):
    return Tendermint(H, AUTH, KEYS[i], Timeouts(), **kw)


def vote(i, step, value, round_=0):
    return sign_vote(KEYS[i], AUTH, step, H, round_, value)


def proposal(value, round_=0, valid_round=-1):
    return sign_proposal(KEYS[(H + round_) % 4], AUTH, H, round_, value, valid_round)


def sent(effects, kind=Vote):
    return [e.message for e in effects if isinstance(e, Broadcast) and isinstance(e.message, kind)]


def my_vote(effects, step):
    (v,) = [m for m in sent(effects) if m.step == step]
    return v


def feed(c, *messages):
    out = []
    for m in messages:
        out += c.apply_proposal(m) if isinstance(m, Proposal) else c.apply_vote(m)
    return out


def lock_on(c, value, round_=0):
    """Bring core 0 (not the proposer) to precommit ``value`` in ``round_``."""
    out = c.start() if not c.started else []
    out += feed(c, proposal(value, round_))
    out += c.apply_verdict(value, True)
    out += feed(c, vote(1, PV, value, round_), vote(2, PV, value, round_))
    assert c.locked_value == value and c.locked_round == round_
    return out


def test_non_proposer_waits_with_a_propose_timeout_and_proposer_asks_for_a_value():
    out = core(0).start()
    assert out == [ScheduleTimeout(H, Step.PROPOSE, 0, Timeouts().propose_ms)]
    assert RequestValue(H, 0) in core(1).start()


def test_proposer_proposes_its_value_and_prevotes_it():
    c = core(1)
    c.start()
    out = c.apply_value(0, X)
    (p,) = sent(out, Proposal)
    assert (p.value, p.valid_round, p.round) == (X, -1, 0)
    assert my_vote(out, PV).value == X
    # The write-ahead record precedes every signature that leaves the node.
    kinds = [type(e) for e in out if isinstance(e, (Broadcast, PersistVoterState))]
    assert kinds == [PersistVoterState, Broadcast, PersistVoterState, Broadcast]


def test_proposal_is_prevoted_only_after_a_valid_verdict():
    c = core(0)
    c.start()
    out = feed(c, proposal(X))
    assert ValidateValue(H, X) in out and not sent(out)
    assert my_vote(c.apply_verdict(X, True), PV).value == X


def test_invalid_value_gets_a_nil_prevote():
    c = core(0)
    c.start()
    feed(c, proposal(X))
    assert my_vote(c.apply_verdict(X, False), PV).value is None


def test_silent_proposer_gets_a_nil_prevote_on_timeout():
    c = core(0)
    c.start()
    assert my_vote(c.apply_timeout(TimeoutFired(H, Step.PROPOSE, 0)), PV).value is None


def test_polka_locks_and_precommits_then_quorum_of_precommits_decides():
    c = core(0)
    out = lock_on(c, X)
    assert my_vote(out, PC).value == X
    out = feed(c, vote(1, PC, X), vote(2, PC, X))
    (decision,) = [e for e in out if isinstance(e, Decide)]
    assert (decision.height, decision.value) == (H, X)
    assert {v.voter for v in decision.commit_certificate} == {KEYS[i].public_key for i in (0, 1, 2)}
    for v in decision.commit_certificate:
        verify_vote(v, AUTH)
        assert (v.step, v.value, v.round) == (PC, X, 0)


def test_quorum_of_precommits_decides_even_without_the_proposal():
    c = core(0)
    out = feed(c, *(vote(i, PC, X, round_=3) for i in (1, 2, 3)))
    assert [e.value for e in out if isinstance(e, Decide)] == [X]


def test_nil_polka_leads_to_a_nil_precommit_and_round_change_on_timeout():
    c = core(0)
    c.start()
    c.apply_timeout(TimeoutFired(H, Step.PROPOSE, 0))
    out = feed(c, vote(1, PV, None), vote(2, PV, None))
    assert my_vote(out, PC).value is None
    out = feed(c, vote(1, PC, None), vote(2, PC, None))
    assert ScheduleTimeout(H, PC, 0, Timeouts().precommit_ms) in out
    out = c.apply_timeout(TimeoutFired(H, PC, 0))
    assert c.round == 1
    assert ScheduleTimeout(H, Step.PROPOSE, 1, Timeouts().duration(Step.PROPOSE, 1)) in out


def test_timeouts_grow_with_the_round():
    t = Timeouts(propose_ms=1000, increment_ms=250)
    assert [t.duration(Step.PROPOSE, r) for r in range(3)] == [1000, 1250, 1500]


def test_mixed_prevotes_lead_to_a_nil_precommit_after_the_prevote_timeout():
    c = core(0)
    c.start()
    c.apply_timeout(TimeoutFired(H, Step.PROPOSE, 0))
    out = feed(c, vote(1, PV, X), vote(2, PV, Y))
    assert ScheduleTimeout(H, PV, 0, Timeouts().prevote_ms) in out and not sent(out)
    assert my_vote(c.apply_timeout(TimeoutFired(H, PV, 0)), PC).value is None


def move_to_round(c, round_):
    """Round change through f+1 messages from the later round."""
    if not c.started:
        c.start()
    feed(c, vote(2, PC, None, round_), vote(3, PC, None, round_))
    assert c.round == round_


def test_locked_node_prevotes_nil_for_another_value():
    c = core(0)
    lock_on(c, X)
    move_to_round(c, 1)
    out = feed(c, proposal(Y, round_=1))
    out += c.apply_verdict(Y, True)
    assert my_vote(out, PV).value is None


def test_locked_node_prevotes_its_locked_value_again():
    c = core(0)
    lock_on(c, X)
    move_to_round(c, 1)
    assert my_vote(feed(c, proposal(X, round_=1)), PV).value == X


def test_locked_node_unlocks_for_a_polka_from_a_later_round():
    c = core(0)
    lock_on(c, X)
    move_to_round(c, 2)
    feed(c, *(vote(i, PV, Y, round_=1) for i in (1, 2, 3)))
    out = feed(c, proposal(Y, round_=2, valid_round=1))
    out += c.apply_verdict(Y, True)
    assert my_vote(out, PV).value == Y


def test_locked_node_ignores_a_polka_older_than_its_lock():
    c = core(0)
    move_to_round(c, 1)
    lock_on(c, X, round_=1)
    move_to_round(c, 2)
    feed(c, *(vote(i, PV, Y, round_=0) for i in (1, 2, 3)))
    out = feed(c, proposal(Y, round_=2, valid_round=0))
    out += c.apply_verdict(Y, True)
    assert my_vote(out, PV).value is None


def test_proposer_reproposes_its_valid_value_with_its_round():
    c = core(0)  # KEYS[0] proposes in round 3 (H + 3 = 4)
    lock_on(c, X)
    out = feed(c, vote(2, PC, None, 3), vote(3, PC, None, 3))
    (p,) = sent(out, Proposal)
    assert (p.value, p.valid_round, p.round) == (X, 0, 3)
    assert not [e for e in out if isinstance(e, RequestValue)]


def test_one_message_from_a_later_round_does_not_move_a_node():
    c = core(0)
    c.start()
    feed(c, vote(3, PV, None, 5))
    assert c.round == 0


def test_double_vote_is_reported_once_and_counted_once():
    c = core(0)
    c.start()
    out = feed(c, vote(1, PV, X), vote(1, PV, Y), vote(1, PV, None))
    reports = [e.evidence for e in out if isinstance(e, ReportEquivocation)]
    assert len(reports) == 1
    verify_evidence(reports[0], AUTH)
    assert (c.count(0, PV, X), c.count(0, PV, Y), c.count(0, PV, None)) == (1, 0, 0)


def test_repeated_identical_vote_is_ignored():
    c = core(0)
    c.start()
    feed(c, vote(1, PV, X))
    assert feed(c, vote(1, PV, X)) == []
    assert c.count(0, PV, X) == 1


def test_proposal_rejected_if_not_from_the_rounds_proposer():
    c = core(0)
    wrong = sign_proposal(KEYS[3], AUTH, H, 0, X, -1)
    with pytest.raises(NotTheProposer):
        c.apply_proposal(wrong)


def test_message_rejected_if_for_another_height():
    c = core(0)
    with pytest.raises(WrongHeight):
        c.apply_vote(sign_vote(KEYS[1], AUTH, PV, H + 1, 0, X))
    with pytest.raises(WrongHeight):
        c.apply_proposal(sign_proposal(KEYS[2], AUTH, H + 1, 0, X, -1))


def test_second_proposal_for_a_round_is_not_counted():
    c = core(0)
    c.start()
    feed(c, proposal(X))
    c.apply_verdict(X, True)
    assert feed(c, proposal(Y)) == []


def test_stalled_step_rebroadcasts_own_votes_and_waits_again():
    c = core(0)
    c.start()
    first = c.apply_timeout(TimeoutFired(H, Step.PROPOSE, 0))
    mine = my_vote(first, PV)
    out = c.apply_timeout(TimeoutFired(H, PV, 0))
    assert sent(out) == [mine]
    assert ScheduleTimeout(H, PV, 0, Timeouts().prevote_ms) in out


def test_restart_resumes_locked_in_the_round_after_the_last_signed_one():
    c = core(0)
    out = lock_on(c, X)
    state = [e.state for e in out if isinstance(e, PersistVoterState)][-1]
    assert VoterState.decode(state.encode()) == state
    restarted = core(0, resume=state)
    restarted.start()
    assert restarted.round == 1 and restarted.locked_value == X
    out = feed(restarted, proposal(Y, round_=1))
    out += restarted.apply_verdict(Y, True)
    assert my_vote(out, PV).value is None


def test_persisted_lock_carries_its_valid_value_and_polka():
    c = core(0)
    out = lock_on(c, X)
    state = [e.state for e in out if isinstance(e, PersistVoterState)][-1]
    assert (state.valid_value, state.valid_round) == (X, 0)
    assert sorted(v.voter for v in state.polka) == sorted(KEYS[i].public_key for i in (0, 1, 2))
    assert VoterState.decode(state.encode()) == state


def test_voter_state_written_before_polkas_were_kept_still_decodes():
    state = VoterState(H, 2, X, 1, X, 1)
    old = state.encode()[:-1]  # without the (empty) polka list
    assert VoterState.decode(old) == state


def test_restarted_locked_node_reproposes_its_value_with_the_polka_so_peers_that_missed_it_prevote_it():
    c = core(0)
    out = lock_on(c, X)
    state = VoterState.decode([e.state for e in out if isinstance(e, PersistVoterState)][-1].encode())
    restarted = core(0, resume=state)
    out = restarted.start() + feed(restarted, vote(2, PC, None, 3), vote(3, PC, None, 3))  # round 3: KEYS[0] proposes
    (p,) = sent(out, Proposal)
    assert (p.value, p.valid_round) == (X, 0)
    polka = [v for v in sent(out) if (v.step, v.round, v.value) == (PV, 0, X)]
    assert len(polka) == 3
    peer = core(1)  # saw nothing of round 0
    move_to_round(peer, 3)
    out = feed(peer, p, *polka) + peer.apply_verdict(X, True)
    assert my_vote(out, PV).value == X


def test_stalled_locked_node_rebroadcasts_the_polka_of_its_lock():
    c = core(0)
    lock_on(c, X)
    out = c.apply_timeout(TimeoutFired(H, PC, 0))
    assert {v.voter for v in sent(out) if (v.step, v.value) == (PV, X)} == {KEYS[i].public_key for i in (0, 1, 2)}


def test_non_authority_follows_and_decides_without_voting():
    outsider = keypairs(5)[4]
    c = Tendermint(H, AUTH, outsider)
    out = c.start()
    out += feed(c, proposal(X), *(vote(i, PV, X) for i in (1, 2, 3)))
    out += c.apply_verdict(X, True)
    out += feed(c, *(vote(i, PC, X) for i in (1, 2, 3)))
    assert not sent(out) and c.decision.value == X
