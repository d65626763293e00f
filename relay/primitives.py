"""What parachains and the relay exchange: candidates, their proofs of validity, and the
validators' statements about them. Pure types with SCALE encodings; no I/O.

The path of a parachain block (Polkadot's parachain protocol is the model):

1. A collator authors a parachain block and records every trie node its execution reads or
   writes against the parent state root: the proof of validity (`PoV`).
2. It sends the `CandidateReceipt` (what the block commits to) and the `PoV` to relay validators.
3. Each validator re-executes the block from the PoV alone, checks the commitments, and signs a
   `Statement` (Valid, or Invalid with a reason).
4. The relay block author puts candidates with enough Valid statements (`BackedCandidate`) into
   its block; the relay runtime checks the signatures and stores the new para head.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.primitives.hashing import blake2_256
from node.primitives.scale import (
    DecodeError,
    decode_all,
    decode_bytes,
    decode_compact,
    decode_fixed,
    decode_uint,
    encode_bytes,
    encode_compact,
)

HASH_LEN = 32
SIGNATURE_LEN = 64
MAX_HEAD_DATA = 16 * 1024
MAX_POV_NODES = 1 << 20
MAX_REASON = 256

ParaId = int  # u32: 2000 demand, 2001 DG, 2002 storage by default
DEFAULT_PARA_IDS = {"demand": 2000, "dg": 2001, "storage": 2002}


def _hash(data: bytes, offset: int) -> tuple[bytes, int]:
    return decode_fixed(data, offset, HASH_LEN)


def _decode_byte_strings(data: bytes, offset: int, max_count: int, what: str, *, max_size: int | None = None):
    """A SCALE Vec<Vec<u8>>, refusing a count beyond ``max_count`` or the input (each item takes
    at least a byte) before allocating, and any item over ``max_size``."""
    count, offset = decode_compact(data, offset)
    if count > min(max_count, len(data) - offset):
        raise DecodeError(f"{what} count exceeds the input")
    items = []
    for _ in range(count):
        item, offset = decode_bytes(data, offset)
        if max_size is not None and len(item) > max_size:
            raise DecodeError(f"{what} too large")
        items.append(item)
    return tuple(items), offset


MAX_MESSAGE_SIZE = 64 * 1024  # one cross-chain message, bytes
MAX_CANDIDATE_MESSAGES = 8192  # messages one candidate may send, over all channels
MAX_CHANNELS = 1024  # channel entries one candidate may list


@dataclass(frozen=True, slots=True)
class OutboundBatch:
    """The messages one parachain block queued for one destination: numbers ``first`` … and the
    queue head after them (`node.pallets.messaging.next_head` chained over ``messages``)."""

    dest: ParaId  # 0 is the relay
    first: int  # u64: the queue index of messages[0]
    messages: tuple[bytes, ...]
    head: bytes

    def encode(self) -> bytes:
        return (
            self.dest.to_bytes(4, "little") + self.first.to_bytes(8, "little")
            + encode_compact(len(self.messages)) + b"".join(encode_bytes(m) for m in self.messages) + self.head
        )


def decode_outbound_batch(data: bytes, offset: int) -> tuple[OutboundBatch, int]:
    dest, offset = decode_uint(data, offset, 4)
    first, offset = decode_uint(data, offset, 8)
    messages, offset = _decode_byte_strings(data, offset, MAX_CANDIDATE_MESSAGES, "message", max_size=MAX_MESSAGE_SIZE)
    head, offset = _hash(data, offset)
    return OutboundBatch(dest, first, tuple(messages), head), offset


@dataclass(frozen=True, slots=True)
class CandidateCommitments:
    """What the candidate's block commits to, checked by every validator against re-execution:
    its header, the messages it sent, and how far it processed each inbound queue."""

    head_data: bytes  # the new parachain header, SCALE-encoded; its blake2_256 is the new head
    outbound: tuple[OutboundBatch, ...] = ()  # messages sent by this block, per destination
    processed: tuple[tuple[ParaId, int], ...] = ()  # (source, inbound watermark) moved by this block

    def encode(self) -> bytes:
        return (
            encode_bytes(self.head_data)
            + encode_compact(len(self.outbound)) + b"".join(b.encode() for b in self.outbound)
            + encode_compact(len(self.processed))
            + b"".join(s.to_bytes(4, "little") + n.to_bytes(8, "little") for s, n in self.processed)
        )

    @property
    def head_hash(self) -> bytes:
        return blake2_256(self.head_data)


def decode_commitments(data: bytes, offset: int) -> tuple[CandidateCommitments, int]:
    head, offset = decode_bytes(data, offset)
    if len(head) > MAX_HEAD_DATA:
        raise DecodeError("head data too large")
    count, offset = decode_compact(data, offset)
    if count > MAX_CHANNELS:
        raise DecodeError("too many outbound channels")
    outbound = []
    for _ in range(count):
        batch, offset = decode_outbound_batch(data, offset)
        outbound.append(batch)
    if sum(len(b.messages) for b in outbound) > MAX_CANDIDATE_MESSAGES:
        raise DecodeError("too many messages in one candidate")
    count, offset = decode_compact(data, offset)
    if count > MAX_CHANNELS:
        raise DecodeError("too many inbound watermarks")
    processed = []
    for _ in range(count):
        source, offset = decode_uint(data, offset, 4)
        watermark, offset = decode_uint(data, offset, 8)
        processed.append((source, watermark))
    return CandidateCommitments(head, tuple(outbound), tuple(processed)), offset


@dataclass(frozen=True, slots=True)
class CandidateDescriptor:
    para_id: ParaId
    relay_parent: bytes  # the relay block the collator built against (its finalized view)
    parent_head_hash: bytes  # the parachain head the block builds on (hash of its parent header)
    pov_hash: bytes  # blake2_256 of the encoded PoV
    collator: bytes  # the collator's ed25519 public key (its identity key)

    def encode(self) -> bytes:
        return self.para_id.to_bytes(4, "little") + self.relay_parent + self.parent_head_hash + self.pov_hash + self.collator


def decode_descriptor(data: bytes, offset: int) -> tuple[CandidateDescriptor, int]:
    para_id, offset = decode_uint(data, offset, 4)
    relay_parent, offset = _hash(data, offset)
    parent_head, offset = _hash(data, offset)
    pov_hash, offset = _hash(data, offset)
    collator, offset = _hash(data, offset)
    return CandidateDescriptor(para_id, relay_parent, parent_head, pov_hash, collator), offset


@dataclass(frozen=True, slots=True)
class CandidateReceipt:
    descriptor: CandidateDescriptor
    commitments: CandidateCommitments

    def encode(self) -> bytes:
        return self.descriptor.encode() + self.commitments.encode()

    @property
    def hash(self) -> bytes:
        """The candidate hash every statement signs."""
        return blake2_256(self.encode())


def decode_receipt(data: bytes, offset: int) -> tuple[CandidateReceipt, int]:
    descriptor, offset = decode_descriptor(data, offset)
    commitments, offset = decode_commitments(data, offset)
    return CandidateReceipt(descriptor, commitments), offset


@dataclass(frozen=True, slots=True)
class PoV:
    """Proof of validity: the parachain block and the trie nodes its execution touched."""

    block: bytes  # the SCALE-encoded parachain Block (header ++ extrinsics)
    proof: tuple[bytes, ...]  # trie nodes against the parent header's state root

    def encode(self) -> bytes:
        return encode_bytes(self.block) + encode_compact(len(self.proof)) + b"".join(encode_bytes(n) for n in self.proof)

    @property
    def hash(self) -> bytes:
        return blake2_256(self.encode())


def decode_pov(data: bytes) -> PoV:
    def decode(data, offset):
        block, offset = decode_bytes(data, offset)
        nodes, offset = _decode_byte_strings(data, offset, MAX_POV_NODES, "proof node")
        return PoV(block, nodes), offset

    return decode_all(decode, data)


VALID, INVALID = 1, 2
STATEMENT_DOMAIN = b"parawatt/statement"


@dataclass(frozen=True, slots=True)
class Statement:
    """A validator's verdict on a candidate, signed with its ed25519 key."""

    kind: int  # VALID or INVALID
    candidate_hash: bytes
    validator_index: int  # u32, position in the relay's validator set
    reason: bytes = b""  # INVALID: why (UTF-8, at most MAX_REASON bytes)
    signature: bytes = b""

    def payload(self, relay_chain_id: bytes) -> bytes:
        """What is signed: domain, relay chain, verdict, candidate, reason."""
        return STATEMENT_DOMAIN + encode_bytes(relay_chain_id) + bytes((self.kind,)) + self.candidate_hash + encode_bytes(self.reason)

    def encode(self) -> bytes:
        return (
            bytes((self.kind,)) + self.candidate_hash + self.validator_index.to_bytes(4, "little")
            + encode_bytes(self.reason) + self.signature
        )


def decode_statement(data: bytes, offset: int) -> tuple[Statement, int]:
    kind, offset = decode_uint(data, offset, 1)
    if kind not in (VALID, INVALID):
        raise DecodeError(f"unknown statement kind {kind}")
    candidate, offset = _hash(data, offset)
    index, offset = decode_uint(data, offset, 4)
    reason, offset = decode_bytes(data, offset)
    if len(reason) > MAX_REASON:
        raise DecodeError("statement reason too long")
    signature, offset = decode_fixed(data, offset, SIGNATURE_LEN)
    return Statement(kind, candidate, index, reason, signature), offset


@dataclass(frozen=True, slots=True)
class BackedCandidate:
    """A candidate with the statements the relay block author collected for it."""

    receipt: CandidateReceipt
    statements: tuple[Statement, ...]

    def encode(self) -> bytes:
        return self.receipt.encode() + encode_compact(len(self.statements)) + b"".join(s.encode() for s in self.statements)


def decode_backed(data: bytes, offset: int) -> tuple[BackedCandidate, int]:
    receipt, offset = decode_receipt(data, offset)
    count, offset = decode_compact(data, offset)
    if count > 1024:
        raise DecodeError("too many statements")
    statements = []
    for _ in range(count):
        statement, offset = decode_statement(data, offset)
        statements.append(statement)
    return BackedCandidate(receipt, tuple(statements)), offset
