"""Equivocation: one authority signing two conflicting things, and the evidence that proves it.

Two offences: two blocks sealed by the author of one Aura slot (``SlotEquivocation``), and two
votes by one voter for one (height, round, step) with different values (``VoteEquivocation``).
Evidence carries both signed items, so anyone holding the authority set can verify it alone —
the Offences pallet does exactly that before recording it.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.consensus.authorities import AuthoritySet
from node.consensus.aura import slot_author, slot_of, unseal
from node.consensus.errors import ConsensusError, InvalidEvidence
from node.consensus.messages import Vote, decode_vote, verify_vote
from node.primitives.hashing import blake2_256
from node.primitives.header import Header, decode_header
from node.primitives.scale import DecodeError, decode_all, decode_uint

SLOT_WINDOW = 4096  # how many recent slots the detector remembers


@dataclass(frozen=True, slots=True)
class SlotEquivocation:
    slot: int  # u64: the slot both blocks claim
    offender: bytes  # the slot's author, who sealed both
    first: Header  # sealed
    second: Header  # sealed, a different block

    kind = "BlockEquivocation"

    @property
    def slot_or_round(self) -> int:
        return self.slot

    def offence_key(self) -> bytes:
        """One offence, however many block pairs show it: (kind, offender, slot)."""
        return blake2_256(b"\x00" + self.offender + self.slot.to_bytes(8, "little"))


@dataclass(frozen=True, slots=True)
class VoteEquivocation:
    first: Vote
    second: Vote  # same voter, height, round and step; another value

    kind = "VoteEquivocation"

    @property
    def offender(self) -> bytes:
        return self.first.voter

    @property
    def slot_or_round(self) -> int:
        return self.first.round

    def offence_key(self) -> bytes:
        v = self.first
        at = v.height.to_bytes(8, "little") + v.round.to_bytes(4, "little") + bytes((v.step,))
        return blake2_256(b"\x01" + v.voter + at)


Evidence = SlotEquivocation | VoteEquivocation


def check_vote_equivocation(first: Vote, second: Vote) -> VoteEquivocation | None:
    """Evidence if the two (already verified) votes conflict, else None."""
    if (first.voter, first.height, first.round, first.step) != (second.voter, second.height, second.round, second.step):
        return None
    if first.value == second.value:
        return None
    return VoteEquivocation(first, second)


# -- verification ------------------------------------------------------------------------------


def verify_evidence(evidence: Evidence, authorities: AuthoritySet) -> None:
    """Raise InvalidEvidence unless ``evidence`` proves its offender equivocated."""
    if isinstance(evidence, SlotEquivocation):
        _verify_slot_equivocation(evidence, authorities)
    elif isinstance(evidence, VoteEquivocation):
        _verify_vote_equivocation(evidence, authorities)
    else:
        raise InvalidEvidence(f"not evidence: {type(evidence).__name__}")


def _verify_slot_equivocation(e: SlotEquivocation, authorities: AuthoritySet) -> None:
    if e.first.hash == e.second.hash:
        raise InvalidEvidence("the two blocks are the same block")
    if e.offender != slot_author(authorities, e.slot):
        raise InvalidEvidence("the offender does not own the slot")
    for header in (e.first, e.second):
        try:
            pre_header, signature = unseal(header)
            slot = slot_of(pre_header)
        except ConsensusError as err:
            raise InvalidEvidence(f"not a sealed Aura header: {err}") from None
        if slot != e.slot:
            raise InvalidEvidence(f"a block claims slot {slot}, not {e.slot}")
        if not authorities.verify(e.offender, pre_header.hash, signature):
            raise InvalidEvidence("a seal is not the offender's signature")


def _verify_vote_equivocation(e: VoteEquivocation, authorities: AuthoritySet) -> None:
    if check_vote_equivocation(e.first, e.second) is None:
        raise InvalidEvidence("the votes are not by one voter for one height, round and step with two values")
    for vote in (e.first, e.second):
        try:
            verify_vote(vote, authorities)
        except ConsensusError as err:
            raise InvalidEvidence(f"a vote does not verify: {err}") from None


# -- SCALE: enum Evidence { Slot(u64, [u8; 32], Header, Header), Vote(Vote, Vote) } ----------------


def encode_evidence(evidence: Evidence) -> bytes:
    if isinstance(evidence, SlotEquivocation):
        head = b"\x00" + evidence.slot.to_bytes(8, "little") + evidence.offender
        return head + evidence.first.encode() + evidence.second.encode()
    if isinstance(evidence, VoteEquivocation):
        return b"\x01" + evidence.first.encode() + evidence.second.encode()
    raise TypeError(f"not evidence: {type(evidence).__name__}")


def _decode_evidence(data: bytes, offset: int) -> tuple[Evidence, int]:
    kind, offset = decode_uint(data, offset, 1)
    if kind == 0:
        slot, offset = decode_uint(data, offset, 8)
        offender, offset = data[offset : offset + 32], offset + 32
        if len(offender) != 32:
            raise DecodeError("unexpected end of input reading the offender")
        first, offset = decode_header(data, offset)
        second, offset = decode_header(data, offset)
        return SlotEquivocation(slot, bytes(offender), first, second), offset
    if kind == 1:
        first, offset = decode_vote(data, offset)
        second, offset = decode_vote(data, offset)
        return VoteEquivocation(first, second), offset
    raise DecodeError(f"unknown evidence kind {kind}")


def decode_evidence(data: bytes) -> Evidence:
    try:
        return decode_all(_decode_evidence, data)
    except (DecodeError, ValueError) as e:
        raise InvalidEvidence(f"evidence does not decode: {e}") from None


# -- detection ---------------------------------------------------------------------------------


class SlotEquivocationDetector:
    """Remembers the first block seen per (slot, author) over a window of recent slots, and
    returns evidence the first time a second block turns up for one of them."""

    def __init__(self, window: int = SLOT_WINDOW):
        self.window = window
        self._first: dict[tuple[int, bytes], Header] = {}
        self._reported: set[tuple[int, bytes]] = set()
        self._latest = 0

    def note_header(self, header: Header, slot: int, author: bytes) -> SlotEquivocation | None:
        """Call with every header that passed ``aura.verify_header`` (its slot and author)."""
        if slot + self.window < self._latest:
            return None  # older than the window: forgotten, so not judged
        self._latest = max(self._latest, slot)
        key = (slot, author)
        first = self._first.setdefault(key, header)
        if len(self._first) > 2 * self.window:
            self._prune()
        if first.hash == header.hash or key in self._reported:
            return None
        self._reported.add(key)
        return SlotEquivocation(slot, author, first, header)

    def _prune(self) -> None:
        oldest = self._latest - self.window
        self._first = {k: h for k, h in self._first.items() if k[0] >= oldest}
        self._reported = {k for k in self._reported if k[0] >= oldest}
