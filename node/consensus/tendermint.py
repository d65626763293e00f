"""Agreement on one value at one height: Tendermint's propose / prevote / precommit rounds.

The rules are those of "The latest gossip on BFT consensus" (Buchman, Kwon, Milosevic, 2018),
Algorithm 1, for one height, with values as 32-byte hashes. With ``n`` authorities, ``f < n/3``
of them faulty and ``q = floor(2n/3) + 1``:

- Safety. A decision needs q precommits for a value in one round, and an honest authority
  precommits ``v`` in round ``r`` only after q prevotes for ``v`` in ``r`` (a polka), then stays
  locked on ``v``: in later rounds it prevotes only ``v``, unless shown a polka for another value
  from a round at or after its lock. Two quorums share an honest authority, so one round has at
  most one polka; once q precommit ``v`` in ``r``, at least f+1 honest are locked on ``v`` and
  no later round can gather a polka (hence a decision) for anything else. Timing never matters.
- Liveness (after the network stabilises). Timeouts grow with the round, a round's proposer
  re-proposes the latest polka value (valid value), and f+1 messages from a higher round pull a
  node into it. Each message is counted once per signer; a second, different one is reported as
  equivocation and ignored.

Departures from the paper, each safe because safety rests on vote counting alone:
- A decision needs only q precommits for a hash (not the proposal): fetching the block is the
  node's job (``RequestBlock``). Locking likewise needs the polka and a "valid" verdict.
- Lossy links: on entering prevote or precommit a node also schedules that step's timeout; if it
  fires before the step has a quorum, the node re-broadcasts its own messages of the round and
  waits again. That is the retransmission Tendermint's gossip layer would otherwise provide.
- A proposal of a valid value (``valid_round >= 0``) goes out with the prevotes of its polka, and
  so does every re-broadcast; the polka is also in the persisted voter state. Peers accept the
  re-proposal only with that polka; without it, a node locked on a value whose polka the others
  never saw (or lost in a restart) would prevote nothing else, and the height never decides.
- The proposer schedules a propose timeout too, since its value may arrive late (or never).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

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
from node.consensus.equivocation import check_vote_equivocation
from node.consensus.errors import NotTheProposer, WrongHeight
from node.consensus.messages import MAX_ROUND, Proposal, Step, Vote, sign_proposal, sign_vote, verify_proposal, verify_vote
from node.consensus.voter_state import VoterState
from node.primitives.keys import Keypair

PROPOSE, PREVOTE, PRECOMMIT = Step.PROPOSE, Step.PREVOTE, Step.PRECOMMIT
MAX_ROUNDS_PER_SIGNER = 256  # rounds remembered per signer: bounds what a Byzantine one can make us store


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Step timeouts in milliseconds; each round adds ``increment_ms`` so that, once the network
    is timely, some round is long enough for a decision."""

    propose_ms: int = 1000
    prevote_ms: int = 500
    precommit_ms: int = 500
    increment_ms: int = 250

    def duration(self, step: Step, round_: int) -> int:
        base = (self.propose_ms, self.prevote_ms, self.precommit_ms)[step]
        return base + round_ * self.increment_ms


def proposer_of(authorities: AuthoritySet, height: int, round_: int) -> bytes:
    """Round-robin by height + round, so the proposer changes each height and each round."""
    return authorities.at(height + round_)


class Tendermint:
    """One height's agreement. Feed it inputs through ``apply_*``; each returns effects."""

    def __init__(
        self,
        height: int,
        authorities: AuthoritySet,
        keypair: Keypair | None = None,
        timeouts: Timeouts = Timeouts(),
        resume: VoterState | None = None,
    ):
        self.height = height
        self.authorities = authorities
        # A node whose key is not an authority follows along and decides, but never votes.
        self.keypair = keypair if keypair is not None and keypair.public_key in authorities else None
        self.timeouts = timeouts
        self.quorum = authorities.threshold
        self.started = False
        self.round = 0
        self.step = PROPOSE
        self.locked_value: bytes | None = None
        self.locked_round = -1
        self.valid_value: bytes | None = None
        self.valid_round = -1
        self.decision: Decide | None = None
        self._proposals: dict[int, Proposal] = {}
        self._votes: dict[tuple[int, Step], dict[bytes, Vote]] = {}
        self._tally: dict[tuple[int, Step], Counter] = {}
        self._round_signers: dict[int, set[bytes]] = {}
        self._signer_rounds: dict[bytes, set[int]] = {}
        self._verdicts: dict[bytes, bool] = {}
        self._asked: set[bytes] = set()
        self._own: dict[int, list[Proposal | Vote]] = {}
        self._done: set[tuple[str, int]] = set()  # "for the first time" rules already run, per round
        self._reported: set[tuple[bytes, int, Step]] = set()
        self._fresh_precommit_rounds: set[int] = set()
        self._awaiting_value = -1
        self._first_round = 0
        if resume is not None and resume.height == height:
            # Restarted: keep the lock, and never sign again in a round we may have signed in.
            self.locked_value, self.locked_round = resume.locked_value, resume.locked_round
            self.valid_value, self.valid_round = resume.valid_value, resume.valid_round
            self._first_round = min(resume.round + 1, MAX_ROUND)
            for vote in resume.polka:  # written by this node: verified when they came in
                if vote.height == height and vote.step == PREVOTE:
                    self._store(vote, [])

    # -- queries ---------------------------------------------------------------------------
    def proposer(self, round_: int) -> bytes:
        return proposer_of(self.authorities, self.height, round_)

    def count(self, round_: int, step: Step, value: bytes | None) -> int:
        tally = self._tally.get((round_, step))
        return tally[value] if tally else 0

    def total(self, round_: int, step: Step) -> int:
        return len(self._votes.get((round_, step), ()))

    # -- inputs ----------------------------------------------------------------------------
    def start(self) -> list:
        """Enter round 0. Messages that arrived before are already counted."""
        if self.started:
            return []
        self.started = True
        effects: list = []
        self._start_round(self._first_round, effects)
        return effects + self._progress()

    def apply_proposal(self, proposal: Proposal) -> list:
        """A signed proposal from a peer. Raises InvalidMessage if it must not be counted."""
        if proposal.height != self.height:
            raise WrongHeight(f"proposal for height {proposal.height}, deciding {self.height}")
        if proposal.proposer != self.proposer(proposal.round):
            raise NotTheProposer(f"{proposal.proposer.hex()} does not propose in round {proposal.round}")
        verify_proposal(proposal, self.authorities)
        if self.decision is not None or proposal.round in self._proposals:
            return []  # done, or a repeat; a second proposal for a round is never counted
        if not self._admit(proposal.proposer, proposal.round):
            return []
        self._proposals[proposal.round] = proposal
        self._round_signers.setdefault(proposal.round, set()).add(proposal.proposer)
        effects: list = []
        self._want_verdict(proposal.value, effects)
        return effects + self._progress()

    def apply_vote(self, vote: Vote) -> list:
        """A signed prevote or precommit. Raises InvalidMessage if it must not be counted."""
        if vote.height != self.height:
            raise WrongHeight(f"vote for height {vote.height}, deciding {self.height}")
        verify_vote(vote, self.authorities)
        if self.decision is not None:
            return []
        effects: list = []
        self._store(vote, effects)
        return effects + self._progress()

    def apply_timeout(self, timeout: TimeoutFired) -> list:
        if self.decision is not None or not self.started or timeout.height != self.height or timeout.round != self.round:
            return []  # a timer for a round already left
        r, effects = self.round, []
        if timeout.step == PROPOSE and self.step == PROPOSE:
            self._vote(PREVOTE, None, effects)
        elif timeout.step == PREVOTE and self.step == PREVOTE:
            if self.total(r, PREVOTE) >= self.quorum:
                self._vote(PRECOMMIT, None, effects)
            else:
                self._rebroadcast(PREVOTE, effects)
        elif timeout.step == PRECOMMIT:
            if self.total(r, PRECOMMIT) >= self.quorum:
                self._start_round(r + 1, effects)
            elif self.step == PRECOMMIT:
                self._rebroadcast(PRECOMMIT, effects)
        return effects + self._progress()

    def apply_verdict(self, value: bytes, valid: bool) -> list:
        """The answer to ``ValidateValue``: is ``value`` a block this node may vote for?"""
        if self.decision is not None or value in self._verdicts:
            return []
        self._verdicts[value] = bool(valid)
        return self._progress()

    def apply_value(self, round_: int, value: bytes) -> list:
        """The answer to ``RequestValue``: what this node proposes in ``round_``."""
        if self.decision is not None or round_ != self._awaiting_value or round_ != self.round or self.step != PROPOSE:
            return []
        self._awaiting_value = -1
        effects: list = []
        self._propose(value, -1, effects)
        return effects + self._progress()

    # -- bookkeeping -----------------------------------------------------------------------
    def _admit(self, signer: bytes, round_: int) -> bool:
        rounds = self._signer_rounds.setdefault(signer, set())
        if round_ in rounds:
            return True
        if len(rounds) >= MAX_ROUNDS_PER_SIGNER:
            return False
        rounds.add(round_)
        return True

    def _store(self, vote: Vote, effects: list) -> None:
        key = (vote.round, vote.step)
        votes = self._votes.setdefault(key, {})
        first = votes.get(vote.voter)
        if first is not None:
            tag = (vote.voter, vote.round, vote.step)
            if first.value != vote.value and tag not in self._reported:
                self._reported.add(tag)
                effects.append(ReportEquivocation(check_vote_equivocation(first, vote)))
            return
        if not self._admit(vote.voter, vote.round):
            return
        votes[vote.voter] = vote
        self._tally.setdefault(key, Counter())[vote.value] += 1
        self._round_signers.setdefault(vote.round, set()).add(vote.voter)
        if vote.step == PRECOMMIT and vote.value is not None:
            self._fresh_precommit_rounds.add(vote.round)

    def _want_verdict(self, value: bytes, effects: list) -> None:
        if value not in self._verdicts and value not in self._asked:
            self._asked.add(value)
            effects.append(ValidateValue(self.height, value))

    def _schedule(self, step: Step, effects: list) -> None:
        effects.append(ScheduleTimeout(self.height, step, self.round, self.timeouts.duration(step, self.round)))

    # -- actions ---------------------------------------------------------------------------
    def _start_round(self, round_: int, effects: list) -> None:
        self.round, self.step = min(round_, MAX_ROUND), PROPOSE
        if self.keypair is not None and self.proposer(self.round) == self.keypair.public_key:
            if self.valid_value is not None:
                self._propose(self.valid_value, self.valid_round, effects)
                return
            self._awaiting_value = self.round
            effects.append(RequestValue(self.height, self.round))
        self._schedule(PROPOSE, effects)

    def _propose(self, value: bytes, valid_round: int, effects: list) -> None:
        proposal = sign_proposal(self.keypair, self.authorities, self.height, self.round, value, valid_round)
        self._proposals.setdefault(self.round, proposal)
        self._round_signers.setdefault(self.round, set()).add(proposal.proposer)
        self._verdicts.setdefault(value, True)  # the proposer vouches for its own value
        self._own.setdefault(self.round, []).append(proposal)
        effects.append(self._voter_state())
        effects.append(Broadcast(proposal))
        if valid_round >= 0:
            effects.extend(Broadcast(v) for v in self._polka_votes(valid_round, value))

    def _vote(self, step: Step, value: bytes | None, effects: list) -> None:
        """Cast this node's vote for the current round and move to ``step``."""
        self.step = step
        if self.keypair is not None:
            vote = sign_vote(self.keypair, self.authorities, step, self.height, self.round, value)
            self._store(vote, effects)
            self._own.setdefault(self.round, []).append(vote)
            effects.append(self._voter_state())
            effects.append(Broadcast(vote))
        self._schedule(step, effects)  # retransmission if the step stalls (see module doc)

    def _voter_state(self) -> PersistVoterState:
        polka = self._polka_votes(self.valid_round, self.valid_value)
        return PersistVoterState(
            VoterState(self.height, self.round, self.locked_value, self.locked_round, self.valid_value, self.valid_round, polka)
        )

    def _polka_votes(self, round_: int, value: bytes | None) -> tuple[Vote, ...]:
        """The prevotes for ``value`` in ``round_`` this node holds (a polka once there are q)."""
        if value is None or round_ < 0:
            return ()
        return tuple(v for v in self._votes.get((round_, PREVOTE), {}).values() if v.value == value)

    def _rebroadcast(self, step: Step, effects: list) -> None:
        rounds = dict.fromkeys((self.round, self.locked_round, self.valid_round))  # ordered, unique
        for r in rounds:
            effects.extend(Broadcast(m) for m in self._own.get(r, ()))
        own = {id(m) for m in self._own.get(self.valid_round, ())}
        effects.extend(Broadcast(v) for v in self._polka_votes(self.valid_round, self.valid_value) if id(v) not in own)
        self._schedule(step, effects)

    def _decide(self, round_: int, value: bytes, effects: list) -> None:
        certificate = tuple(v for v in self._votes[(round_, PRECOMMIT)].values() if v.value == value)
        self.decision = Decide(self.height, value, certificate)
        effects.append(self.decision)

    # -- the rules -------------------------------------------------------------------------
    def _progress(self) -> list:
        """Run the rules until none applies; return what they did."""
        effects: list = []
        while self.decision is None:
            if self._check_decision(effects) or not self.started:
                break
            if not (self._skip_round(effects) or self._step_rules(effects)):
                break
        return effects

    def _check_decision(self, effects: list) -> bool:
        rounds, self._fresh_precommit_rounds = self._fresh_precommit_rounds, set()
        for r in sorted(rounds):
            for value, count in self._tally[(r, PRECOMMIT)].items():
                if value is not None and count >= self.quorum:
                    self._decide(r, value, effects)
                    return True
        return False

    def _skip_round(self, effects: list) -> bool:
        """f+1 signers in a later round: at least one honest node is there, so go too."""
        f = self.authorities.max_faulty
        later = [r for r, signers in self._round_signers.items() if r > self.round and len(signers) > f]
        if not later:
            return False
        self._start_round(max(later), effects)
        return True

    def _step_rules(self, effects: list) -> bool:
        r, q = self.round, self.quorum
        proposal = self._proposals.get(r)
        if self.step == PROPOSE and proposal is not None:
            v, vr = proposal.value, proposal.valid_round
            verdict = self._verdicts.get(v)
            if verdict is None:
                self._want_verdict(v, effects)
            elif vr == -1:
                ok = verdict and (self.locked_round == -1 or self.locked_value == v)
                self._vote(PREVOTE, v if ok else None, effects)
                return True
            elif self.count(vr, PREVOTE, v) >= q:
                ok = verdict and (self.locked_round <= vr or self.locked_value == v)
                self._vote(PREVOTE, v if ok else None, effects)
                return True
        if self.step >= PREVOTE and ("polka", r) not in self._done:
            v = self._polka(r)
            if v is not None:
                verdict = self._verdicts.get(v)
                if verdict is None:
                    self._want_verdict(v, effects)
                elif verdict:
                    self._done.add(("polka", r))
                    self.valid_value, self.valid_round = v, r  # before the vote: its persisted state keeps them
                    if self.step == PREVOTE:
                        self.locked_value, self.locked_round = v, r
                        self._vote(PRECOMMIT, v, effects)
                    return True
        if self.step == PREVOTE:
            if self.count(r, PREVOTE, None) >= q:
                self._vote(PRECOMMIT, None, effects)
                return True
            if ("prevote-timer", r) not in self._done and self.total(r, PREVOTE) >= q:
                self._done.add(("prevote-timer", r))
                self._schedule(PREVOTE, effects)
        if ("precommit-timer", r) not in self._done and self.total(r, PRECOMMIT) >= q:
            self._done.add(("precommit-timer", r))
            self._schedule(PRECOMMIT, effects)
        return False

    def _polka(self, round_: int) -> bytes | None:
        tally = self._tally.get((round_, PREVOTE))
        if tally:
            for value, count in tally.items():
                if value is not None and count >= self.quorum:
                    return value
        return None
