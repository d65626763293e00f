"""SCALE type descriptors for the relay's candidate types, so calls that carry them are typed in
the metadata (polkadot.js and substrate-interface decode `ParaInclusion.enter` field by field).

Each descriptor declares the exact byte layout of its `relay.primitives` encoding for metadata,
but encodes and decodes with the primitives' own codecs, so the runtime works with the frozen
dataclasses (and the primitives' size limits) instead of generic dicts.
"""

from __future__ import annotations

from typing import Callable

from node.primitives.scale_types import U8, U32, U64, Array, Bytes, Composite, Field, H256, Sequence_, Tuple, Variant, VariantSpec
from relay.primitives import (
    HASH_LEN,
    INVALID,
    MAX_HEAD_DATA,
    MAX_MESSAGE_SIZE,
    MAX_REASON,
    SIGNATURE_LEN,
    VALID,
    BackedCandidate,
    CandidateCommitments,
    CandidateDescriptor,
    CandidateReceipt,
    Statement,
    decode_backed,
    decode_commitments,
    decode_descriptor,
    decode_receipt,
    decode_statement,
)

_PATH = "parawatt_relay::primitives::"


class WireType(Composite):
    """A composite whose values are a `relay.primitives` dataclass with its own codec."""

    def __init__(self, name: str, fields: list[Field], decode: Callable, check: Callable | None = None):
        super().__init__(_PATH + name, fields)

        def encode(value) -> bytes:
            if check is not None:
                check(value)
            return value.encode()

        self.encode = encode
        self.decode = decode


def _check_hashes(value, *names: str) -> None:
    for name in names:
        if len(getattr(value, name)) != HASH_LEN:
            raise ValueError(f"{type(value).__name__}.{name} must be {HASH_LEN} bytes")


def _check_descriptor(d: CandidateDescriptor) -> None:
    if not 0 <= d.para_id < 1 << 32:
        raise ValueError("para id must fit in u32")
    _check_hashes(d, "relay_parent", "parent_head_hash", "pov_hash", "collator")


def _check_statement(s: Statement) -> None:
    if len(s.reason) > MAX_REASON:
        raise ValueError(f"a statement reason is at most {MAX_REASON} bytes")
    if s.kind not in (VALID, INVALID):
        raise ValueError(f"unknown statement kind {s.kind}")
    if not 0 <= s.validator_index < 1 << 32:
        raise ValueError("validator index must fit in u32")
    if len(s.signature) != SIGNATURE_LEN:
        raise ValueError(f"a statement signature is {SIGNATURE_LEN} bytes")
    _check_hashes(s, "candidate_hash")


def _check_commitments(c: CandidateCommitments) -> None:
    if len(c.head_data) > MAX_HEAD_DATA:
        raise ValueError(f"head data is at most {MAX_HEAD_DATA} bytes")
    for batch in c.outbound:
        _check_hashes(batch, "head")
        if any(len(m) > MAX_MESSAGE_SIZE for m in batch.messages):
            raise ValueError(f"a message is at most {MAX_MESSAGE_SIZE} bytes")


def _check_receipt(r: CandidateReceipt) -> None:
    _check_descriptor(r.descriptor)
    _check_commitments(r.commitments)


def _check_backed(b: BackedCandidate) -> None:
    _check_receipt(b.receipt)
    for s in b.statements:
        _check_statement(s)


Key32 = Array(U8, HASH_LEN)
ValidatorSignature = Composite(_PATH + "ValidatorSignature", [Field(None, Array(U8, SIGNATURE_LEN), "[u8; 64]")])
StatementKind = Variant(
    _PATH + "StatementKind",
    [VariantSpec(VALID, "Valid", docs=("The candidate re-executed correctly.",)),
     VariantSpec(INVALID, "Invalid", docs=("The candidate failed re-execution.",))],
)

CandidateDescriptorType = WireType(
    "CandidateDescriptor",
    [
        Field("para_id", U32, "ParaId"),
        Field("relay_parent", H256, "Hash"),
        Field("parent_head_hash", H256, "Hash"),
        Field("pov_hash", H256, "Hash"),
        Field("collator", Key32, "CollatorId"),
    ],
    decode_descriptor,
    _check_descriptor,
)
OutboundBatchType = Composite(
    _PATH + "OutboundBatch",
    [
        Field("dest", U32, "ParaId"),
        Field("first", U64, "u64"),
        Field("messages", Sequence_(Bytes), "Vec<Vec<u8>>"),
        Field("head", H256, "Hash"),
    ],
)
CandidateCommitmentsType = WireType(
    "CandidateCommitments",
    [
        Field("head_data", Bytes, "HeadData"),
        Field("outbound", Sequence_(OutboundBatchType), "Vec<OutboundBatch>"),
        Field("processed", Sequence_(Tuple(U32, U64)), "Vec<(ParaId, u64)>"),
    ],
    decode_commitments,
    _check_commitments,
)
CandidateReceiptType = WireType(
    "CandidateReceipt",
    [Field("descriptor", CandidateDescriptorType, "CandidateDescriptor"),
     Field("commitments", CandidateCommitmentsType, "CandidateCommitments")],
    decode_receipt,
    _check_receipt,
)
StatementType = WireType(
    "Statement",
    [
        Field("kind", StatementKind, "StatementKind"),
        Field("candidate_hash", H256, "CandidateHash"),
        Field("validator_index", U32, "ValidatorIndex"),
        Field("reason", Bytes, "Vec<u8>"),
        Field("signature", ValidatorSignature, "ValidatorSignature"),
    ],
    decode_statement,
    _check_statement,
)
BackedCandidateType = WireType(
    "BackedCandidate",
    [Field("receipt", CandidateReceiptType, "CandidateReceipt"), Field("statements", Sequence_(StatementType), "Vec<Statement>")],
    decode_backed,
    _check_backed,
)
# An invalidity report: the candidate and the INVALID statements validators signed about it.
InvalidReportType = Tuple(CandidateReceiptType, Sequence_(StatementType))

__all__ = [
    "BackedCandidateType",
    "CandidateCommitmentsType",
    "CandidateDescriptorType",
    "CandidateReceiptType",
    "InvalidReportType",
    "StatementKind",
    "StatementType",
    "ValidatorSignature",
]
