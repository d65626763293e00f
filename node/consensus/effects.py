"""What the consensus state machines ask the node to do, and the timer input they get back.

The state machines never act on the world: every ``apply_*`` returns a list of these effects,
in order, for the node to carry out. Timers are effects too: ``ScheduleTimeout`` asks the node
to call back with ``TimeoutFired`` after ``duration_ms``; a timer that fires late or for a round
already left is harmless (the state machine ignores it).
"""

from __future__ import annotations

from dataclasses import dataclass

from node.consensus.equivocation import Evidence
from node.consensus.justification import Justification
from node.consensus.messages import Proposal, Step, Vote
from node.consensus.voter_state import VoterState


@dataclass(frozen=True, slots=True)
class Broadcast:
    """Send to every peer: a proposal, a vote, or a justification (catch-up for laggards)."""

    message: Proposal | Vote | Justification


@dataclass(frozen=True, slots=True)
class ScheduleTimeout:
    height: int
    step: Step
    round: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class TimeoutFired:
    """Input: the timer from the ``ScheduleTimeout`` with the same fields has expired."""

    height: int
    step: Step
    round: int


@dataclass(frozen=True, slots=True)
class RequestValue:
    """Tendermint core: this node proposes in (height, round) and needs a value to propose."""

    height: int
    round: int


@dataclass(frozen=True, slots=True)
class ValidateValue:
    """Tendermint core: answer ``apply_verdict(value, valid)`` once the value is judged."""

    height: int
    value: bytes


@dataclass(frozen=True, slots=True)
class Decide:
    """Tendermint core: ``value`` is decided at ``height``; ``commit_certificate`` holds more
    than 2/3 precommits for it from one round."""

    height: int
    value: bytes
    commit_certificate: tuple[Vote, ...]


@dataclass(frozen=True, slots=True)
class PersistVoterState:
    """Write ``state`` to disk before carrying out the effects after it (a write-ahead log):
    it always precedes the ``Broadcast`` of something this node signed. A restarted node passes
    it back (``resume=``) so it keeps its lock and never signs twice in a round."""

    state: VoterState


@dataclass(frozen=True, slots=True)
class ReportEquivocation:
    """Two conflicting signed items by one authority; put the evidence on chain (Offences)."""

    evidence: Evidence


# -- engine-level effects (bft, finality) -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Finalize:
    """The block is final; store the justification with it and never revert it."""

    block_hash: bytes
    number: int
    justification: Justification


@dataclass(frozen=True, slots=True)
class RequestBlock:
    """Consensus refers to a block this node lacks: fetch and import it, then ``apply_block``."""

    block_hash: bytes


@dataclass(frozen=True, slots=True)
class AuthorBlock:
    """bft: this node proposes at (height, round): build a block on ``parent_hash`` and call
    ``apply_authored``."""

    height: int
    round: int
    parent_hash: bytes


Effect = (
    Broadcast | ScheduleTimeout | RequestValue | ValidateValue | Decide | PersistVoterState | ReportEquivocation
    | Finalize | RequestBlock | AuthorBlock
)
