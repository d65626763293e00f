"""The typed messages of the node-to-node protocol (``proto/parawatt_network.proto``).

Every message is a frozen dataclass that checks its own fields when built, so a message decoded
from a peer (``codec.decode_message``) and one built locally obey the same rules, and code past
the network edge only ever sees well-formed objects. A rule broken raises :class:`InvalidMessage`.

Only the envelope's structure is checked here: header bytes must be a SCALE header (decoded once,
here) and each extrinsic's compact length prefix must match its size, but seals, signatures,
justifications and consensus payloads are for the chain and consensus layers to verify.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Union

from node.primitives.header import Header
from node.primitives.scale import DecodeError, decode_compact

PROTOCOL_VERSION = 1
MAX_MESSAGE_SIZE = 16 * 1024 * 1024  # one envelope, encoded
MAX_BLOCKS_PER_REQUEST = 128
HASH_LEN = 32
ENGINE_ID_LEN = 4
NONCE_LEN = 32
U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
# The certificate authority's rule for node names: safe in logs, file names and URIs.
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_CHAIN_NAME = 128
MAX_CERTIFICATE = 16 * 1024
MAX_SIGNATURE = 128
MAX_REASON = 256


class InvalidMessage(ValueError):
    """Bytes or fields that do not make a valid protocol message; ``reason`` says which rule."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Role(enum.IntEnum):
    FULL = 1  # imports and serves blocks
    AUTHORITY = 2  # authors blocks and votes (relay validator, para collator)


class Direction(enum.IntEnum):
    ASCENDING = 1  # start, its child, its grandchild, ...
    DESCENDING = 2  # start, its parent, ...


def _check_hash(value: bytes, what: str) -> None:
    if not isinstance(value, bytes) or len(value) != HASH_LEN:
        raise InvalidMessage(f"{what} must be {HASH_LEN} bytes")


def _check_u32(value: int, what: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= U32_MAX:
        raise InvalidMessage(f"{what} must be a u32")


def _check_extrinsic(xt: bytes, what: str) -> None:
    """An extrinsic as blocks and pools keep it: compact length prefix, then exactly that many bytes."""
    if not isinstance(xt, bytes) or not xt:
        raise InvalidMessage(f"{what}: empty extrinsic")
    try:
        length, body = decode_compact(xt, 0)
    except DecodeError:
        raise InvalidMessage(f"{what}: extrinsic has no valid length prefix") from None
    if body + length != len(xt):
        raise InvalidMessage(f"{what}: extrinsic length prefix says {length} bytes, has {len(xt) - body}")


def check_node_name(name: str) -> None:
    if not isinstance(name, str) or NODE_NAME.fullmatch(name) is None:
        raise InvalidMessage(f"node name {str(name)[:80]!r} is not [A-Za-z0-9][A-Za-z0-9._-]{{0,63}}")


@dataclass(frozen=True, slots=True)
class Head:
    hash: bytes  # block hash
    number: int  # its height

    def __post_init__(self) -> None:
        _check_hash(self.hash, "head hash")
        _check_u32(self.number, "head number")


@dataclass(frozen=True, slots=True)
class Handshake:
    """The first envelope each way on every connection; never delivered to the node."""

    protocol_version: int
    genesis_hash: bytes  # peers on another genesis are refused
    chain_name: str
    roles: frozenset[Role]
    node_name: str  # the peer's name; under mTLS it must match its certificate
    best: Head
    finalized: Head
    instance: int = 0  # random per process start: a restarted peer differs from a duplicate link
    nonce: bytes = b""  # dialer: a fresh challenge the listener signs (gRPC with mTLS)
    certificate: bytes = b""  # listener: its PEM certificate (gRPC with mTLS)
    signature: bytes = b""  # listener: identity-key signature over the dialer's nonce

    def __post_init__(self) -> None:
        _check_u32(self.protocol_version, "protocol version")
        if self.protocol_version == 0:
            raise InvalidMessage("protocol version 0 is not a version")
        _check_hash(self.genesis_hash, "genesis hash")
        if not isinstance(self.chain_name, str) or not 0 < len(self.chain_name) <= MAX_CHAIN_NAME:
            raise InvalidMessage(f"chain name must be 1..{MAX_CHAIN_NAME} characters")
        if not self.chain_name.isprintable():
            raise InvalidMessage("chain name has unprintable characters")
        if not isinstance(self.roles, frozenset):
            object.__setattr__(self, "roles", frozenset(self.roles))
        if not self.roles or not all(isinstance(r, Role) for r in self.roles):
            raise InvalidMessage("roles must be a non-empty set of known roles")
        check_node_name(self.node_name)
        if not isinstance(self.best, Head) or not isinstance(self.finalized, Head):
            raise InvalidMessage("best and finalized must be heads")
        if self.finalized.number > self.best.number:
            raise InvalidMessage("finalized head is above the best head")
        if not isinstance(self.instance, int) or not 0 <= self.instance <= U64_MAX:
            raise InvalidMessage("instance must be a u64")
        if self.nonce and len(self.nonce) != NONCE_LEN:
            raise InvalidMessage(f"nonce must be empty or {NONCE_LEN} bytes")
        if len(self.certificate) > MAX_CERTIFICATE or len(self.signature) > MAX_SIGNATURE:
            raise InvalidMessage("certificate or signature too large")


@dataclass(frozen=True, slots=True)
class HandshakeAccepted:
    """The dialer's last word in the handshake: it accepts the listener, the link is up. Until
    it arrives the listener does not count the dialer as a peer."""


@dataclass(frozen=True, slots=True)
class BlockAnnounce:
    header: Header  # decoded from SCALE at the edge
    is_best: bool  # the sender's new best block


@dataclass(frozen=True, slots=True)
class BlockRequest:
    request_id: int  # echoed by the response; Network.request assigns it
    start: bytes | int  # a block hash (32 bytes) or a block number
    direction: Direction = Direction.ASCENDING
    max_blocks: int = MAX_BLOCKS_PER_REQUEST
    want_header: bool = True
    want_body: bool = True
    want_justification: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.request_id, int) or not 0 <= self.request_id <= U64_MAX:
            raise InvalidMessage("request id must be a u64")
        if isinstance(self.start, bytes):
            _check_hash(self.start, "start hash")
        else:
            _check_u32(self.start, "start number")
        if not isinstance(self.direction, Direction):
            raise InvalidMessage("unknown direction")
        if not isinstance(self.max_blocks, int) or not 1 <= self.max_blocks <= MAX_BLOCKS_PER_REQUEST:
            raise InvalidMessage(f"max blocks must be 1..{MAX_BLOCKS_PER_REQUEST}")
        if not (self.want_header or self.want_body or self.want_justification):
            raise InvalidMessage("a block request must want a header, a body or a justification")


@dataclass(frozen=True, slots=True)
class BlockData:
    hash: bytes
    header: Header | None = None  # present if requested
    body: tuple[bytes, ...] | None = None  # the extrinsics, present if requested
    justification: bytes | None = None  # present if requested and the block has one

    def __post_init__(self) -> None:
        _check_hash(self.hash, "block hash")
        if self.header is not None and self.header.hash != self.hash:
            raise InvalidMessage("block hash does not match its header")
        if self.body is not None:
            if not isinstance(self.body, tuple):
                object.__setattr__(self, "body", tuple(self.body))
            for xt in self.body:
                _check_extrinsic(xt, "block body")
        if self.justification is not None and not self.justification:
            raise InvalidMessage("empty justification (leave it out instead)")


@dataclass(frozen=True, slots=True)
class BlockResponse:
    request_id: int
    blocks: tuple[BlockData, ...]  # in the requested direction; empty if the start is unknown

    def __post_init__(self) -> None:
        if not isinstance(self.request_id, int) or not 0 <= self.request_id <= U64_MAX:
            raise InvalidMessage("request id must be a u64")
        if not isinstance(self.blocks, tuple):
            object.__setattr__(self, "blocks", tuple(self.blocks))
        if len(self.blocks) > MAX_BLOCKS_PER_REQUEST:
            raise InvalidMessage(f"more than {MAX_BLOCKS_PER_REQUEST} blocks in one response")


@dataclass(frozen=True, slots=True)
class Transactions:
    """A batch of extrinsics for the pool. The sender's writer merges queued batches and splits
    large ones (``NetworkConfig.tx_batch_bytes``), so callers need not batch themselves."""

    extrinsics: tuple[bytes, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.extrinsics, tuple):
            object.__setattr__(self, "extrinsics", tuple(self.extrinsics))
        if not self.extrinsics:
            raise InvalidMessage("empty transaction batch")
        for xt in self.extrinsics:
            _check_extrinsic(xt, "transactions")


@dataclass(frozen=True, slots=True)
class ConsensusMessage:
    engine_id: bytes  # 4 bytes, e.g. b"aura"; the consensus layer dispatches on it
    payload: bytes  # SCALE, defined and verified by that engine

    def __post_init__(self) -> None:
        if not isinstance(self.engine_id, bytes) or len(self.engine_id) != ENGINE_ID_LEN:
            raise InvalidMessage(f"engine id must be {ENGINE_ID_LEN} bytes")
        if not isinstance(self.payload, bytes):
            raise InvalidMessage("consensus payload must be bytes")


@dataclass(frozen=True, slots=True)
class Justification:
    block_hash: bytes
    number: int
    justification: bytes  # engine-defined proof of finality, verified by the importer

    def __post_init__(self) -> None:
        _check_hash(self.block_hash, "justified block hash")
        _check_u32(self.number, "justified block number")
        if not isinstance(self.justification, bytes) or not self.justification:
            raise InvalidMessage("empty justification")


@dataclass(frozen=True, slots=True)
class Disconnect:
    """Why the sender is closing the connection; logged, never delivered to the node."""

    reason: str

    def __post_init__(self) -> None:
        if not isinstance(self.reason, str) or len(self.reason) > MAX_REASON:
            raise InvalidMessage(f"disconnect reason must be at most {MAX_REASON} characters")


# What the node sends and receives; the handshake messages and Disconnect stay inside the network.
Message = Union[BlockAnnounce, BlockRequest, BlockResponse, Transactions, ConsensusMessage, Justification]
MESSAGE_TYPES = (BlockAnnounce, BlockRequest, BlockResponse, Transactions, ConsensusMessage, Justification)
Envelope = Union[Message, Handshake, HandshakeAccepted, Disconnect]
