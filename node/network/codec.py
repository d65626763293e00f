"""Typed messages to and from the protobuf ``Envelope``: the edge where bytes become objects.

``decode_message`` is the only place peer bytes are parsed: it checks the size first, then the
protobuf structure, then every field through the message constructors, and turns any failure into
:class:`InvalidMessage` with the reason. Nothing else in the network touches protobuf objects.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError as ProtobufDecodeError

from node.network.messages import (
    MAX_MESSAGE_SIZE,
    BlockAnnounce,
    BlockData,
    BlockRequest,
    BlockResponse,
    ConsensusMessage,
    Direction,
    Disconnect,
    Envelope,
    Handshake,
    HandshakeAccepted,
    Head,
    InvalidMessage,
    Justification,
    Role,
    Transactions,
)
from node.network.proto import parawatt_network_pb2 as pb
from node.primitives.header import Header
from node.primitives.scale import DecodeError


def _head_pb(head: Head) -> pb.Head:
    return pb.Head(hash=head.hash, number=head.number)


def _block_data_pb(block: BlockData) -> pb.BlockData:
    out = pb.BlockData(hash=block.hash)
    if block.header is not None:
        out.header = block.header.encode()
    if block.body is not None:
        out.body.extrinsics.extend(block.body)
    if block.justification is not None:
        out.justification = block.justification
    return out


def _envelope(message: Envelope) -> pb.Envelope:
    if isinstance(message, Transactions):  # the hot path first
        return pb.Envelope(transactions=pb.Transactions(extrinsics=message.extrinsics))
    if isinstance(message, ConsensusMessage):
        return pb.Envelope(consensus=pb.Consensus(engine_id=message.engine_id, payload=message.payload))
    if isinstance(message, BlockAnnounce):
        return pb.Envelope(block_announce=pb.BlockAnnounce(header=message.header.encode(), is_best=message.is_best))
    if isinstance(message, Justification):
        return pb.Envelope(
            justification=pb.Justification(
                block_hash=message.block_hash, number=message.number, justification=message.justification
            )
        )
    if isinstance(message, BlockRequest):
        request = pb.BlockRequest(
            request_id=message.request_id,
            direction=int(message.direction),
            max_blocks=message.max_blocks,
            want_header=message.want_header,
            want_body=message.want_body,
            want_justification=message.want_justification,
        )
        if isinstance(message.start, bytes):
            request.start_hash = message.start
        else:
            request.start_number = message.start
        return pb.Envelope(block_request=request)
    if isinstance(message, BlockResponse):
        return pb.Envelope(
            block_response=pb.BlockResponse(
                request_id=message.request_id, blocks=[_block_data_pb(b) for b in message.blocks]
            )
        )
    if isinstance(message, Handshake):
        return pb.Envelope(
            handshake=pb.Handshake(
                protocol_version=message.protocol_version,
                genesis_hash=message.genesis_hash,
                chain_name=message.chain_name,
                roles=sorted(int(r) for r in message.roles),
                node_name=message.node_name,
                best=_head_pb(message.best),
                finalized=_head_pb(message.finalized),
                instance=message.instance,
                nonce=message.nonce,
                certificate=message.certificate,
                signature=message.signature,
            )
        )
    if isinstance(message, HandshakeAccepted):
        return pb.Envelope(handshake_accepted=pb.HandshakeAccepted())
    if isinstance(message, Disconnect):
        return pb.Envelope(disconnect=pb.Disconnect(reason=message.reason))
    raise TypeError(f"not a protocol message: {type(message).__name__}")


def encode_message(message: Envelope, max_size: int = MAX_MESSAGE_SIZE) -> bytes:
    """The envelope's bytes. Raises InvalidMessage if they would exceed ``max_size`` (a peer
    would refuse them), TypeError for an object that is not a protocol message."""
    data = _envelope(message).SerializeToString()
    if len(data) > max_size:
        raise InvalidMessage(f"{type(message).__name__} encodes to {len(data)} bytes, over the {max_size}-byte limit")
    return data


def encode_transactions(extrinsics: list[bytes] | tuple[bytes, ...]) -> bytes:
    """A Transactions envelope straight from already-checked extrinsics (the writer's hot path:
    it skips rebuilding and rechecking a Transactions object per batch)."""
    return pb.Envelope(transactions=pb.Transactions(extrinsics=extrinsics)).SerializeToString()


def _head(h: pb.Head) -> Head:
    return Head(h.hash, h.number)


def _header(data: bytes) -> Header:
    try:
        return Header.decode(data)
    except (DecodeError, ValueError) as e:
        raise InvalidMessage(f"bad block header: {e}") from None


def _handshake(m: pb.Handshake) -> Handshake:
    try:
        roles = frozenset(Role(r) for r in m.roles)
    except ValueError:
        raise InvalidMessage(f"unknown role in {list(m.roles)}") from None
    if not m.HasField("best") or not m.HasField("finalized"):
        raise InvalidMessage("handshake lacks best or finalized head")
    return Handshake(
        m.protocol_version, m.genesis_hash, m.chain_name, roles, m.node_name, _head(m.best), _head(m.finalized),
        m.instance, m.nonce, m.certificate, m.signature,
    )


def _direction(value: int) -> Direction:
    try:
        return Direction(value)
    except ValueError:
        raise InvalidMessage(f"unknown direction {value}") from None


def _block_request(m: pb.BlockRequest) -> BlockRequest:
    start_kind = m.WhichOneof("start")
    if start_kind is None:
        raise InvalidMessage("block request has no start")
    start = m.start_hash if start_kind == "start_hash" else m.start_number
    return BlockRequest(
        m.request_id, start, _direction(m.direction), m.max_blocks, m.want_header, m.want_body, m.want_justification
    )


def _block_data(m: pb.BlockData) -> BlockData:
    return BlockData(
        m.hash,
        _header(m.header) if m.HasField("header") else None,
        tuple(m.body.extrinsics) if m.HasField("body") else None,
        m.justification if m.HasField("justification") else None,
    )


_DECODERS = {
    "transactions": lambda m: Transactions(tuple(m.extrinsics)),
    "consensus": lambda m: ConsensusMessage(m.engine_id, m.payload),
    "block_announce": lambda m: BlockAnnounce(_header(m.header), m.is_best),
    "justification": lambda m: Justification(m.block_hash, m.number, m.justification),
    "block_request": _block_request,
    "block_response": lambda m: BlockResponse(m.request_id, tuple(_block_data(b) for b in m.blocks)),
    "handshake": _handshake,
    "handshake_accepted": lambda m: HandshakeAccepted(),
    "disconnect": lambda m: Disconnect(m.reason),
}


def decode_message(data: bytes, max_size: int = MAX_MESSAGE_SIZE) -> Envelope:
    """The typed message in one envelope from a peer; InvalidMessage(reason) if it is too large,
    not a protobuf Envelope, empty, or breaks a field rule."""
    if len(data) > max_size:
        raise InvalidMessage(f"message of {len(data)} bytes exceeds the {max_size}-byte limit")
    try:
        envelope = pb.Envelope.FromString(data)
    except ProtobufDecodeError as e:
        raise InvalidMessage(f"undecodable envelope ({e})") from None
    kind = envelope.WhichOneof("body")
    if kind is None:
        raise InvalidMessage("envelope carries no known message")
    return _DECODERS[kind](getattr(envelope, kind))
