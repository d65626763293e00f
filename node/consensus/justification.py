"""Justifications: the proof that a block is final, which every importer checks.

A justification carries more than 2/3 of the authorities' precommits from one round of one
height, each for the target block or a descendant of it. Why that proves finality: honest
authorities precommit a non-nil value in a round only after seeing a quorum of prevotes for it,
and two quorums share an honest authority, so all honest precommits of one round are for one
block ``B``. A quorum holds at least f+1 honest precommits for ``B``, which locks enough honest
authorities on ``B`` that no other block can ever be decided at that height: ``B`` is the
decision. The honest precommits in the justification name ``B``, and every precommit names the
target or a descendant of it, so the target is ``B`` or an ancestor of ``B``: final.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from node.consensus.authorities import MAX_AUTHORITIES, AuthoritySet
from node.consensus.errors import (
    BadJustificationSignature,
    DuplicateSigner,
    TooFewSignatures,
    UnknownSigner,
    WrongTarget,
)
from node.consensus.messages import HASH_LEN, MAX_ROUND, U32_MAX, U64_MAX, Step, Vote, signing_payload, vote_body
from node.primitives.keys import PUBLIC_KEY_LEN, SIGNATURE_LEN
from node.primitives.scale import DecodeError, decode_all, decode_compact, decode_fixed, decode_uint, encode_compact

IsDescendant = Callable[[bytes, bytes], bool]  # (ancestor hash, block hash) -> bool
_SIGNED_LEN = HASH_LEN + PUBLIC_KEY_LEN + SIGNATURE_LEN


@dataclass(frozen=True, slots=True)
class SignedPrecommit:
    value: bytes  # the block this precommit is for: the target or a descendant of it
    voter: bytes  # the authority's public key
    signature: bytes  # the precommit's signature (messages.vote_body)

    def __post_init__(self) -> None:
        if len(self.value) != HASH_LEN or len(self.voter) != PUBLIC_KEY_LEN or len(self.signature) != SIGNATURE_LEN:
            raise ValueError("a signed precommit is a 32-byte value, 32-byte voter and 64-byte signature")


@dataclass(frozen=True, slots=True)
class Justification:
    target_hash: bytes  # the block proved final
    target_number: int  # u32: its number
    height: int  # u64: the consensus height the precommits were cast at (first number it could finalize)
    round: int  # u32: the round they were cast in
    signatures: tuple[SignedPrecommit, ...]

    def __post_init__(self) -> None:
        if len(self.target_hash) != HASH_LEN:
            raise ValueError("target hash is 32 bytes")
        if not 0 <= self.target_number <= U32_MAX or not 0 <= self.height <= U64_MAX:
            raise ValueError("target number must fit in u32 and height in u64")
        if not 0 <= self.round <= MAX_ROUND:
            raise ValueError("round out of range")
        if not isinstance(self.signatures, tuple):
            object.__setattr__(self, "signatures", tuple(self.signatures))

    def precommits(self) -> tuple[Vote, ...]:
        """The signatures as the precommit votes they are."""
        return tuple(Vote(Step.PRECOMMIT, self.height, self.round, s.value, s.voter, s.signature) for s in self.signatures)

    def encode(self) -> bytes:
        return b"".join(
            (
                self.target_hash,
                self.target_number.to_bytes(4, "little"),
                self.height.to_bytes(8, "little"),
                self.round.to_bytes(4, "little"),
                encode_compact(len(self.signatures)),
                *(s.value + s.voter + s.signature for s in self.signatures),
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> Justification:
        return decode_all(decode_justification, data)


def decode_justification(data: bytes, offset: int) -> tuple[Justification, int]:
    target_hash, offset = decode_fixed(data, offset, HASH_LEN)
    target_number, offset = decode_uint(data, offset, 4)
    height, offset = decode_uint(data, offset, 8)
    round_, offset = decode_uint(data, offset, 4)
    if round_ > MAX_ROUND:
        raise DecodeError("round out of range")
    count, offset = decode_compact(data, offset)
    if count > MAX_AUTHORITIES or count * _SIGNED_LEN > len(data) - offset:
        raise DecodeError("signature count exceeds the limit or the input")
    signatures = []
    for _ in range(count):
        value, offset = decode_fixed(data, offset, HASH_LEN)
        voter, offset = decode_fixed(data, offset, PUBLIC_KEY_LEN)
        signature, offset = decode_fixed(data, offset, SIGNATURE_LEN)
        signatures.append(SignedPrecommit(value, voter, signature))
    return Justification(target_hash, target_number, height, round_, tuple(signatures)), offset


def justification_from_precommits(precommits: Iterable[Vote], target_hash: bytes, target_number: int) -> Justification:
    """A justification for ``target_hash`` from one round's precommits (a commit certificate)."""
    votes = list(precommits)
    if not votes:
        raise ValueError("a justification needs precommits")
    height, round_ = votes[0].height, votes[0].round
    if any(v.step != Step.PRECOMMIT or v.value is None or (v.height, v.round) != (height, round_) for v in votes):
        raise ValueError("a justification is made of non-nil precommits from one height and round")
    signatures = tuple(SignedPrecommit(v.value, v.voter, v.signature) for v in votes)
    return Justification(target_hash, target_number, height, round_, signatures)


def verify_justification(
    justification: Justification,
    authorities: AuthoritySet,
    is_descendant: IsDescendant,
    *,
    target: tuple[bytes, int] | None = None,
) -> None:
    """Raise InvalidJustification unless ``justification`` proves its target final.

    ``is_descendant(ancestor, block)`` answers from the importer's block tree; an importer that
    only accepts precommits for the target itself passes ``lambda a, b: False``. ``target``, when
    given, is the (hash, number) of the block the justification was offered for. Structure and
    membership are checked before any signature, so a forgery costs at most one failed check.
    """
    j = justification
    if target is not None and (j.target_hash, j.target_number) != target:
        raise WrongTarget("the justification is for another block")
    if j.target_number < j.height:
        raise WrongTarget(f"target {j.target_number} is below the height {j.height} it was decided at")
    seen: set[bytes] = set()
    for s in j.signatures:
        if s.voter not in authorities:
            raise UnknownSigner(f"{s.voter.hex()} is not an authority")
        if s.voter in seen:
            raise DuplicateSigner(f"{s.voter.hex()} signed twice")
        seen.add(s.voter)
        if s.value != j.target_hash and not is_descendant(j.target_hash, s.value):
            raise WrongTarget(f"a precommit for {s.value.hex()}, which does not descend from the target")
    if len(seen) < authorities.threshold:
        raise TooFewSignatures(f"{len(seen)} signatures; more than 2/3 means {authorities.threshold}")
    for s in j.signatures:
        payload = signing_payload(authorities, vote_body(Step.PRECOMMIT, j.height, j.round, s.value))
        if not authorities.verify(s.voter, payload, s.signature):
            raise BadJustificationSignature(f"bad precommit signature by {s.voter.hex()}")
