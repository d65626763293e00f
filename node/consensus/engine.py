"""A chain of Tendermint heights: the part the ``bft`` and ``finality`` engines share.

Height ``h`` is always "the lowest block number the next decision can have", i.e. the last
finalized number + 1, so a restarted node knows its height from its finalized block alone. The
engine keeps a small index of the blocks the node has imported above the last finalized one
(hash -> number, parent), answers the core's questions from it (``ValidateValue``,
``RequestValue``), turns decisions into ``Finalize`` with a justification, and moves on.

Messages for a later height are verified and kept (a few per signer) until the engine gets
there; a message for an earlier height means its sender is behind, so the engine sends it the
last justification (at most once per timer, to bound the cost of such messages).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque

from node.consensus.authorities import AuthoritySet
from node.consensus.effects import (
    Broadcast,
    Decide,
    Finalize,
    RequestBlock,
    RequestValue,
    TimeoutFired,
    ValidateValue,
)
from node.consensus.errors import WrongTarget
from node.consensus.justification import Justification, justification_from_precommits, verify_justification
from node.consensus.messages import Proposal, Vote, verify_proposal, verify_vote
from node.consensus.tendermint import Tendermint, Timeouts
from node.consensus.voter_state import VoterState
from node.primitives.keys import Keypair

MAX_BUFFERED_PER_SIGNER = 16


class BlockIndex:
    """The imported blocks at or above the last finalized one: hash -> (number, parent hash)."""

    def __init__(self, root_hash: bytes, root_number: int):
        self.root = root_hash
        self._blocks: dict[bytes, tuple[int, bytes | None]] = {root_hash: (root_number, None)}

    def __contains__(self, block_hash: object) -> bool:
        return block_hash in self._blocks

    def number_of(self, block_hash: bytes) -> int | None:
        entry = self._blocks.get(block_hash)
        return None if entry is None else entry[0]

    def parent_of(self, block_hash: bytes) -> bytes | None:
        entry = self._blocks.get(block_hash)
        return None if entry is None else entry[1]

    def add(self, block_hash: bytes, number: int, parent_hash: bytes) -> None:
        """Index a child of an indexed block; anything else (a dead fork, an orphan) is ignored,
        so every indexed block descends from the root."""
        parent = self._blocks.get(parent_hash)
        if block_hash not in self._blocks and parent is not None and number == parent[0] + 1:
            self._blocks[block_hash] = (number, parent_hash)

    def is_descendant(self, ancestor: bytes, block_hash: bytes) -> bool:
        """True iff ``block_hash`` strictly descends from ``ancestor`` (both indexed)."""
        target = self._blocks.get(ancestor)
        entry = self._blocks.get(block_hash)
        if target is None or entry is None:
            return False
        while entry[0] > target[0]:
            if entry[1] == ancestor:
                return True
            entry = self._blocks[entry[1]]
        return False

    def best(self) -> bytes:
        """The highest indexed block (lowest hash on a tie); the root if there is none above it."""
        best, best_number = self.root, self._blocks[self.root][0]
        for block_hash, (number, _) in self._blocks.items():
            if number > best_number or (number == best_number and best != self.root and block_hash < best):
                best, best_number = block_hash, number
        return best

    def reroot(self, root_hash: bytes, root_number: int) -> None:
        """Make ``root_hash`` the new finalized root and forget everything not descending from it."""
        keep = {root_hash: (root_number, None)}
        for block_hash, entry in sorted(self._blocks.items(), key=lambda item: item[1][0]):
            if entry[0] > root_number and entry[1] in keep:
                keep[block_hash] = entry
        self.root, self._blocks = root_hash, keep


class Engine(ABC):
    """Base of ``BftEngine`` and ``FinalityGadget``; subclasses say what a valid value is, what
    to propose, and the number of a decided block."""

    def __init__(
        self,
        authorities: AuthoritySet,
        keypair: Keypair | None,
        finalized_hash: bytes,
        finalized_number: int,
        timeouts: Timeouts = Timeouts(),
        resume: VoterState | None = None,
        justification: Justification | None = None,
    ):
        """``resume``: the last ``PersistVoterState`` this node wrote before it stopped;
        ``justification``: the one that finalized ``finalized_hash`` (as stored), so that a node
        restarted after a decision can still bring a peer that missed it up to date — without
        it, two authorities of two would wait for each other at different heights forever."""
        self.authorities = authorities
        self.keypair = keypair
        self.timeouts = timeouts
        self.blocks = BlockIndex(finalized_hash, finalized_number)
        self.finalized_hash, self.finalized_number = finalized_hash, finalized_number
        self.last_justification: Justification | None = justification
        self.core = Tendermint(finalized_number + 1, authorities, keypair, timeouts, resume)
        self.started = False
        self._buffer: dict[tuple, Proposal | Vote] = {}
        self._unknown: set[bytes] = set()  # values the core asked about that this node lacks
        self._pending_decision: Decide | None = None
        self._pending_justification: Justification | None = None
        self._helped = False

    @property
    def height(self) -> int:
        return self.core.height

    # -- subclass hooks --------------------------------------------------------------------
    @abstractmethod
    def _verdict(self, value: bytes) -> bool | None:
        """Is ``value`` acceptable (None: cannot tell yet, the block is missing)?"""

    @abstractmethod
    def _on_request_value(self, request: RequestValue) -> list:
        """This node proposes: the effects that produce its value."""

    @abstractmethod
    def _decided_number(self, value: bytes, height: int) -> int | None:
        """The block number of a decided value (None if the block is not here yet)."""

    @abstractmethod
    def _justified_number(self, justification: Justification) -> int | None:
        """The block number a justification finalizes (None if the block is not here yet)."""

    def _ready(self) -> bool:
        """May the current height start before any peer message arrives for it?"""
        return True

    def _is_descendant(self, ancestor: bytes, block_hash: bytes) -> bool:
        return self.blocks.is_descendant(ancestor, block_hash)

    # -- inputs ----------------------------------------------------------------------------
    def start(self) -> list:
        self.started = True
        return self._drive(self.core.start()) if self._ready() else []

    def apply_message(self, message: Proposal | Vote | Justification) -> list:
        """A decoded message from a peer. Raises ConsensusError if it is invalid."""
        if isinstance(message, Justification):
            return self.apply_justification(message)
        if message.height == self.core.height and self.core.decision is None:
            effects = message_into(self.core, message)
            if self.started and not self.core.started:
                effects += self.core.start()  # peers are at this height already: join them
            return self._drive(effects)
        _verify(message, self.authorities)
        if message.height > self.core.height:
            self._keep(message)
            return []
        if message.height < self.core.height and self.last_justification is not None and not self._helped:
            self._helped = True
            return [Broadcast(self.last_justification)]
        return []

    def apply_timeout(self, timeout: TimeoutFired) -> list:
        self._helped = False
        if timeout.height != self.core.height:
            return []
        return self._drive(self.core.apply_timeout(timeout))

    def apply_block(self, block_hash: bytes, number: int, parent_hash: bytes) -> list:
        """The node imported this block (it executed and its seal or proposal checked out)."""
        self.blocks.add(block_hash, number, parent_hash)
        if block_hash not in self.blocks:
            # Not on top of the last finalized block: consensus can never use it. A justification
            # waiting for it proves a conflicting finality (more than f faulty): drop it, never revert.
            if self._pending_justification is not None and self._pending_justification.target_hash == block_hash:
                self._pending_justification = None
            return []
        effects: list = []
        pending = self._pending_decision
        if pending is not None and pending.value == block_hash:
            self._pending_decision = None
            effects += self._drive([pending])
        pending_j = self._pending_justification
        if pending_j is not None and pending_j.target_hash == block_hash:
            self._pending_justification = None
            effects += self.apply_justification(pending_j)
        if block_hash in self._unknown:
            verdict = self._verdict(block_hash)
            if verdict is not None:
                self._unknown.discard(block_hash)
                effects += self._drive(self.core.apply_verdict(block_hash, verdict))
        return effects + self._on_new_block(block_hash)

    def apply_invalid_block(self, block_hash: bytes) -> list:
        """The node could not import this block: never vote for it."""
        self._unknown.discard(block_hash)
        return self._drive(self.core.apply_verdict(block_hash, False))

    def apply_justification(self, justification: Justification) -> list:
        """A justification from a peer (catch-up). Raises InvalidJustification if it is forged."""
        verify_justification(justification, self.authorities, self._is_descendant)
        if justification.target_number <= self.finalized_number:
            return []
        number = self._justified_number(justification)
        if number is None:
            keep = self._pending_justification
            if keep is None or keep.target_number < justification.target_number:
                self._pending_justification = justification
            return [RequestBlock(justification.target_hash)]
        return self._finalize(justification.target_hash, number, justification)

    def _on_new_block(self, block_hash: bytes) -> list:
        return []

    # -- the core's effects ----------------------------------------------------------------
    def _drive(self, effects: list) -> list:
        """Answer the core's questions and decisions here; pass the rest to the node."""
        out: list = []
        queue = deque(effects)
        while queue:
            effect = queue.popleft()
            if isinstance(effect, ValidateValue):
                if effect.height != self.core.height:
                    continue
                verdict = self._verdict(effect.value)
                if verdict is None:
                    self._unknown.add(effect.value)
                    out.append(RequestBlock(effect.value))
                else:
                    queue.extend(self.core.apply_verdict(effect.value, verdict))
            elif isinstance(effect, RequestValue):
                if effect.height == self.core.height:
                    queue.extend(self._on_request_value(effect))
            elif isinstance(effect, Decide):
                number = self._decided_number(effect.value, effect.height)
                if number is None:
                    self._pending_decision = effect
                    out.append(RequestBlock(effect.value))
                else:
                    j = justification_from_precommits(effect.commit_certificate, effect.value, number)
                    out.extend(self._finalize(effect.value, number, j))
            else:
                out.append(effect)
        return out

    def _finalize(self, block_hash: bytes, number: int, justification: Justification) -> list:
        if block_hash != self.finalized_hash and not self._extends_finalized(block_hash, number):
            raise WrongTarget("the justified block does not extend the last finalized block")
        effects: list = [Finalize(block_hash, number, justification)]
        if block_hash not in self.blocks:
            effects.append(RequestBlock(block_hash))
        self.last_justification = justification
        self.finalized_hash, self.finalized_number = block_hash, number
        self.blocks.reroot(block_hash, number)
        self.core = Tendermint(number + 1, self.authorities, self.keypair, self.timeouts)
        self._unknown.clear()
        self._pending_decision = None
        if self._pending_justification is not None and self._pending_justification.target_number <= number:
            self._pending_justification = None
        if self.started and self._ready():
            effects += self._drive(self.core.start())
        return effects + self._replay()

    def _extends_finalized(self, block_hash: bytes, number: int) -> bool:
        return self.blocks.is_descendant(self.finalized_hash, block_hash)

    # -- messages for later heights --------------------------------------------------------
    def _keep(self, message: Proposal | Vote) -> None:
        signer = message.proposer if isinstance(message, Proposal) else message.voter
        if sum(1 for key in self._buffer if key[0] == signer) >= MAX_BUFFERED_PER_SIGNER:
            return
        step = message.step if isinstance(message, Vote) else -1
        self._buffer.setdefault((signer, message.height, message.round, step), message)

    def _replay(self) -> list:
        height = self.core.height
        ready = [m for m in self._buffer.values() if m.height == height]
        self._buffer = {k: m for k, m in self._buffer.items() if m.height > height}
        effects: list = []
        for message in ready:
            effects += self.apply_message(message)
        return effects


def message_into(core: Tendermint, message: Proposal | Vote) -> list:
    if isinstance(message, Proposal):
        return core.apply_proposal(message)
    return core.apply_vote(message)


def _verify(message: Proposal | Vote, authorities: AuthoritySet) -> None:
    if isinstance(message, Proposal):
        verify_proposal(message, authorities)
    else:
        verify_vote(message, authorities)
