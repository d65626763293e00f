"""The protocol's messages at the edge: every type round-trips, and every broken rule is refused
with InvalidMessage naming it, whether the bytes come from a peer or the object is built locally."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.network.codec import decode_message, encode_message, encode_transactions
from node.network.messages import (
    MAX_BLOCKS_PER_REQUEST,
    MAX_MESSAGE_SIZE,
    PROTOCOL_VERSION,
    BlockAnnounce,
    BlockData,
    BlockRequest,
    BlockResponse,
    ConsensusMessage,
    Direction,
    Disconnect,
    Handshake,
    HandshakeAccepted,
    Head,
    InvalidMessage,
    Justification,
    Role,
    Transactions,
)
from node.network.proto import parawatt_network_pb2 as pb
from node.primitives.header import CONSENSUS, DigestItem, Header
from node.primitives.scale import encode_compact

H = bytes(range(32))


def xt(body: bytes = b"transfer") -> bytes:
    return encode_compact(len(body)) + body


HEADER = Header(H, 7, bytes(32), bytes(32), (DigestItem(CONSENSUS, b"aura", b"\x01\x02"),))
HANDSHAKE = Handshake(
    PROTOCOL_VERSION, H, "parawatt-dev", frozenset({Role.FULL, Role.AUTHORITY}), "alice",
    Head(HEADER.hash, 7), Head(H, 3), 2**63 + 5, bytes(32), b"-----BEGIN CERTIFICATE-----", bytes(64),
)

EVERY_MESSAGE = [
    HANDSHAKE,
    HandshakeAccepted(),
    BlockAnnounce(HEADER, True),
    BlockRequest(1, H, Direction.DESCENDING, 16, want_header=True, want_body=False, want_justification=True),
    BlockRequest(2**64 - 1, 0),
    BlockResponse(9, (BlockData(HEADER.hash, HEADER, (xt(), xt(b"x")), b"just"), BlockData(H, None, (), None))),
    BlockResponse(10, ()),
    Transactions((xt(), xt(b"second"))),
    ConsensusMessage(b"aura", b""),
    Justification(H, 2**32 - 1, b"proof"),
    Disconnect("too many peers"),
]


@pytest.mark.parametrize("message", EVERY_MESSAGE, ids=lambda m: type(m).__name__)
def test_every_message_survives_encode_and_decode(message):
    assert decode_message(encode_message(message)) == message


def test_block_data_keeps_an_empty_body_apart_from_no_body():
    with_empty = BlockResponse(1, (BlockData(H, None, (), None),))
    without = BlockResponse(1, (BlockData(H, None, None, None),))
    assert decode_message(encode_message(with_empty)).blocks[0].body == ()
    assert decode_message(encode_message(without)).blocks[0].body is None


def test_transactions_envelope_from_the_fast_path_equals_the_typed_one():
    txs = [xt(), xt(b"more")]
    assert encode_transactions(txs) == encode_message(Transactions(tuple(txs)))


def reject(envelope: pb.Envelope | bytes, reason: str) -> None:
    data = envelope if isinstance(envelope, bytes) else envelope.SerializeToString()
    with pytest.raises(InvalidMessage, match=reason):
        decode_message(data)


def test_envelope_over_the_size_limit_is_rejected_before_parsing():
    reject(b"\x00" * (MAX_MESSAGE_SIZE + 1), "exceeds")


def test_bytes_that_are_not_an_envelope_are_rejected():
    reject(b"\xff\xff\xff\xff", "undecodable")


def test_envelope_without_a_message_is_rejected():
    reject(pb.Envelope(), "no known message")
    reject(b"\xa0\x06\x00", "no known message")  # an unknown field only (a future message kind)


def handshake_pb(**changes) -> pb.Envelope:
    fields = dict(
        protocol_version=1, genesis_hash=H, chain_name="c", roles=[pb.ROLE_FULL], node_name="alice",
        best=pb.Head(hash=H, number=5), finalized=pb.Head(hash=H, number=5),
    )
    fields.update(changes)
    return pb.Envelope(handshake=pb.Handshake(**fields))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (dict(protocol_version=0), "protocol version 0"),
        (dict(genesis_hash=H[:31]), "genesis hash must be 32 bytes"),
        (dict(chain_name=""), "chain name"),
        (dict(chain_name="x" * 129), "chain name"),
        (dict(chain_name="bad\nname"), "unprintable"),
        (dict(roles=[]), "roles"),
        (dict(roles=[pb.ROLE_UNSPECIFIED]), "unknown role"),
        (dict(roles=[7]), "unknown role"),
        (dict(node_name=""), "node name"),
        (dict(node_name="-alice"), "node name"),
        (dict(node_name="al ice"), "node name"),
        (dict(node_name="a" * 65), "node name"),
        (dict(best=pb.Head(hash=H, number=1)), "finalized head is above the best head"),
        (dict(best=pb.Head(hash=b"", number=5)), "head hash"),
        (dict(nonce=b"short"), "nonce"),
        (dict(certificate=bytes(20_000)), "certificate or signature too large"),
    ],
)
def test_handshake_breaking_a_rule_is_rejected(changes, reason):
    reject(handshake_pb(**changes), reason)


def test_handshake_without_heads_is_rejected():
    envelope = handshake_pb()
    envelope.handshake.ClearField("finalized")
    reject(envelope, "lacks best or finalized")


def test_announce_with_bytes_that_are_not_a_header_is_rejected():
    reject(pb.Envelope(block_announce=pb.BlockAnnounce(header=b"\x01\x02", is_best=True)), "bad block header")
    trailing = HEADER.encode() + b"\x00"
    reject(pb.Envelope(block_announce=pb.BlockAnnounce(header=trailing)), "bad block header")


def request_pb(**changes) -> pb.Envelope:
    fields = dict(request_id=1, start_number=5, direction=pb.DIRECTION_ASCENDING, max_blocks=8, want_header=True)
    fields.update(changes)
    return pb.Envelope(block_request=pb.BlockRequest(**fields))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        (dict(start_number=None), "no start"),
        (dict(start_number=None, start_hash=b"\x01" * 31), "start hash"),
        (dict(direction=pb.DIRECTION_UNSPECIFIED), "unknown direction"),
        (dict(direction=9), "unknown direction"),
        (dict(max_blocks=0), "max blocks"),
        (dict(max_blocks=MAX_BLOCKS_PER_REQUEST + 1), "max blocks"),
        (dict(want_header=False), "must want"),
    ],
)
def test_block_request_breaking_a_rule_is_rejected(changes, reason):
    if changes.get("start_number", 0) is None:
        del changes["start_number"]
        fields = dict(request_id=1, direction=pb.DIRECTION_ASCENDING, max_blocks=8, want_header=True)
        fields.update(changes)
        reject(pb.Envelope(block_request=pb.BlockRequest(**fields)), reason)
    else:
        reject(request_pb(**changes), reason)


def test_block_whose_hash_does_not_match_its_header_is_rejected():
    block = pb.BlockData(hash=H, header=HEADER.encode())
    reject(pb.Envelope(block_response=pb.BlockResponse(request_id=1, blocks=[block])), "does not match its header")


def test_response_with_more_blocks_than_any_request_may_ask_is_rejected():
    blocks = [pb.BlockData(hash=H)] * (MAX_BLOCKS_PER_REQUEST + 1)
    reject(pb.Envelope(block_response=pb.BlockResponse(request_id=1, blocks=blocks)), "more than")


def test_block_with_an_empty_justification_is_rejected():
    reject(pb.Envelope(block_response=pb.BlockResponse(blocks=[pb.BlockData(hash=H, justification=b"")])), "empty justification")


@pytest.mark.parametrize(
    ("extrinsic", "reason"),
    [
        (b"", "empty extrinsic"),
        (encode_compact(10) + b"short", "length prefix says 10"),
        (encode_compact(1) + b"two", "length prefix says 1"),
        (b"\x03", "no valid length prefix"),
    ],
)
def test_extrinsic_whose_length_prefix_lies_is_rejected(extrinsic, reason):
    reject(pb.Envelope(transactions=pb.Transactions(extrinsics=[xt(), extrinsic])), reason)
    body = pb.Body(extrinsics=[extrinsic])
    reject(pb.Envelope(block_response=pb.BlockResponse(blocks=[pb.BlockData(hash=H, body=body)])), reason)


def test_empty_transaction_batch_is_rejected():
    reject(pb.Envelope(transactions=pb.Transactions()), "empty transaction batch")


def test_consensus_message_needs_a_four_byte_engine_id():
    reject(pb.Envelope(consensus=pb.Consensus(engine_id=b"bft", payload=b"x")), "engine id")


def test_justification_rules():
    reject(pb.Envelope(justification=pb.Justification(block_hash=H[:5], number=1, justification=b"j")), "justified block hash")
    reject(pb.Envelope(justification=pb.Justification(block_hash=H, number=1)), "empty justification")


def test_long_disconnect_reason_is_rejected():
    reject(pb.Envelope(disconnect=pb.Disconnect(reason="x" * 257)), "disconnect reason")


def test_local_messages_obey_the_same_rules():
    with pytest.raises(InvalidMessage, match="empty transaction batch"):
        Transactions(())
    with pytest.raises(InvalidMessage, match="head number"):
        Head(H, 2**32)
    with pytest.raises(InvalidMessage, match="request id"):
        BlockRequest(-1, 0)
    with pytest.raises(InvalidMessage, match="start number"):
        BlockRequest(1, True)


def test_encoding_a_message_over_the_limit_is_refused():
    with pytest.raises(InvalidMessage, match="over the"):
        encode_message(ConsensusMessage(b"aura", bytes(2000)), max_size=1000)
    with pytest.raises(TypeError):
        encode_message("not a message")  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_decode_or_raise_invalid_message(data):
    try:
        message = decode_message(data)
    except InvalidMessage:
        return
    assert decode_message(encode_message(message)) == message


def test_text_field_that_is_not_utf8_is_rejected():
    handshake = bytes([0x2A, 0x02, 0xFF, 0xFE])  # node_name = b"\xff\xfe"
    reject(bytes([0x0A, len(handshake)]) + handshake, "undecodable")
