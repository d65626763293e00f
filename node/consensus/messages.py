"""Signed consensus messages: proposals and votes, and the envelope they travel in.

Every message signs ``DOMAIN ++ authorities.context ++ body`` where ``body`` is the message's
SCALE encoding without its signer and signature. The body starts with the step byte, so a
proposal can never pass for a vote, nor a prevote for a precommit. Values are opaque 32-byte
block hashes; a vote for no value (nil) has ``value = None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from node.consensus.authorities import AuthoritySet
from node.consensus.errors import BadSignature, NotAnAuthority
from node.primitives.keys import PUBLIC_KEY_LEN, SIGNATURE_LEN, Keypair
from node.primitives.scale import DecodeError, decode_fixed, decode_uint

HASH_LEN = 32
DOMAIN = b"parawatt/tendermint/v1"
U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
MAX_ROUND = U32_MAX - 1  # so that round + 1 still fits


class Step(IntEnum):
    PROPOSE = 0
    PREVOTE = 1
    PRECOMMIT = 2


def _check_common(height: int, round_: int, value: bytes | None, signer: bytes, signature: bytes) -> None:
    if not 0 <= height <= U64_MAX:
        raise ValueError("height must fit in u64")
    if not 0 <= round_ <= MAX_ROUND:
        raise ValueError("round must fit in u32")
    if value is not None and len(value) != HASH_LEN:
        raise ValueError("a value is a 32-byte hash")
    if len(signer) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        raise ValueError("signer is 32 bytes and signature 64")


def encode_option_hash(value: bytes | None) -> bytes:
    return b"\x00" if value is None else b"\x01" + value


def decode_option_hash(data: bytes, offset: int) -> tuple[bytes | None, int]:
    tag, offset = decode_uint(data, offset, 1)
    if tag == 0:
        return None, offset
    if tag != 1:
        raise DecodeError(f"invalid Option tag {tag}")
    return decode_fixed(data, offset, HASH_LEN)


@dataclass(frozen=True, slots=True)
class Vote:
    step: Step  # PREVOTE or PRECOMMIT
    height: int  # u64: which decision this vote is for
    round: int  # u32
    value: bytes | None  # the block hash voted for, or None for nil
    voter: bytes  # the authority's public key
    signature: bytes  # over DOMAIN ++ context ++ body()

    def __post_init__(self) -> None:
        if self.step not in (Step.PREVOTE, Step.PRECOMMIT):
            raise ValueError("a vote is a prevote or a precommit")
        object.__setattr__(self, "step", Step(self.step))
        _check_common(self.height, self.round, self.value, self.voter, self.signature)

    def body(self) -> bytes:
        return vote_body(self.step, self.height, self.round, self.value)

    def encode(self) -> bytes:
        return self.body() + self.voter + self.signature


def vote_body(step: Step, height: int, round_: int, value: bytes | None) -> bytes:
    return bytes((step,)) + height.to_bytes(8, "little") + round_.to_bytes(4, "little") + encode_option_hash(value)


def decode_vote(data: bytes, offset: int) -> tuple[Vote, int]:
    step, offset = decode_uint(data, offset, 1)
    if step not in (Step.PREVOTE, Step.PRECOMMIT):
        raise DecodeError(f"invalid vote step {step}")
    height, offset = decode_uint(data, offset, 8)
    round_, offset = decode_uint(data, offset, 4)
    if round_ > MAX_ROUND:
        raise DecodeError("round out of range")
    value, offset = decode_option_hash(data, offset)
    voter, offset = decode_fixed(data, offset, PUBLIC_KEY_LEN)
    signature, offset = decode_fixed(data, offset, SIGNATURE_LEN)
    return Vote(Step(step), height, round_, value, voter, signature), offset


@dataclass(frozen=True, slots=True)
class Proposal:
    height: int  # u64
    round: int  # u32
    value: bytes  # the proposed block hash
    valid_round: int  # -1 (none), else the earlier round in which the value had a polka
    proposer: bytes  # the round's proposer's public key
    signature: bytes

    def __post_init__(self) -> None:
        _check_common(self.height, self.round, self.value, self.proposer, self.signature)
        if not -1 <= self.valid_round < self.round:
            raise ValueError("valid_round is -1 or an earlier round")

    def body(self) -> bytes:
        return proposal_body(self.height, self.round, self.value, self.valid_round)

    def encode(self) -> bytes:
        return self.body() + self.proposer + self.signature


def proposal_body(height: int, round_: int, value: bytes, valid_round: int) -> bytes:
    vr = b"\x00" if valid_round < 0 else b"\x01" + valid_round.to_bytes(4, "little")
    return bytes((Step.PROPOSE,)) + height.to_bytes(8, "little") + round_.to_bytes(4, "little") + value + vr


def decode_proposal(data: bytes, offset: int) -> tuple[Proposal, int]:
    step, offset = decode_uint(data, offset, 1)
    if step != Step.PROPOSE:
        raise DecodeError(f"invalid proposal step {step}")
    height, offset = decode_uint(data, offset, 8)
    round_, offset = decode_uint(data, offset, 4)
    value, offset = decode_fixed(data, offset, HASH_LEN)
    tag, offset = decode_uint(data, offset, 1)
    if tag == 0:
        valid_round = -1
    elif tag == 1:
        valid_round, offset = decode_uint(data, offset, 4)
    else:
        raise DecodeError(f"invalid Option tag {tag}")
    if round_ > MAX_ROUND or valid_round >= round_:
        raise DecodeError("round out of range, or valid_round not before round")
    proposer, offset = decode_fixed(data, offset, PUBLIC_KEY_LEN)
    signature, offset = decode_fixed(data, offset, SIGNATURE_LEN)
    return Proposal(height, round_, value, valid_round, proposer, signature), offset


# -- signing and verifying ---------------------------------------------------------------------


def signing_payload(authorities: AuthoritySet, body: bytes) -> bytes:
    return DOMAIN + authorities.context + body


def sign_vote(
    keypair: Keypair, authorities: AuthoritySet, step: Step, height: int, round_: int, value: bytes | None
) -> Vote:
    signature = keypair.sign(signing_payload(authorities, vote_body(step, height, round_, value)))
    return Vote(step, height, round_, value, keypair.public_key, signature)


def sign_proposal(
    keypair: Keypair, authorities: AuthoritySet, height: int, round_: int, value: bytes, valid_round: int
) -> Proposal:
    signature = keypair.sign(signing_payload(authorities, proposal_body(height, round_, value, valid_round)))
    return Proposal(height, round_, value, valid_round, keypair.public_key, signature)


def _verify_signed(authorities: AuthoritySet, signer: bytes, body: bytes, signature: bytes) -> None:
    if signer not in authorities:
        raise NotAnAuthority(f"{signer.hex()} is not an authority")
    if not authorities.verify(signer, signing_payload(authorities, body), signature):
        raise BadSignature(f"bad signature by {signer.hex()}")


def verify_vote(vote: Vote, authorities: AuthoritySet) -> None:
    _verify_signed(authorities, vote.voter, vote.body(), vote.signature)


def verify_proposal(proposal: Proposal, authorities: AuthoritySet) -> None:
    _verify_signed(authorities, proposal.proposer, proposal.body(), proposal.signature)
