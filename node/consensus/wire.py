"""The envelope consensus messages travel in between nodes: ``ConsensusMessage``.

``0 = Proposal, 1 = Vote, 2 = Justification``, then the message's own encoding. Bytes from a peer
are decoded once here, with a size limit first; anything else raises MalformedMessage.
"""

from __future__ import annotations

from node.consensus.errors import MalformedMessage
from node.consensus.justification import Justification, decode_justification
from node.consensus.messages import Proposal, Vote, decode_proposal, decode_vote
from node.primitives.scale import DecodeError

MAX_MESSAGE_LEN = 256 * 1024  # a justification of MAX_AUTHORITIES signatures fits with room

ConsensusMessage = Proposal | Vote | Justification

_KINDS = {Proposal: 0, Vote: 1, Justification: 2}
_DECODERS = {0: decode_proposal, 1: decode_vote, 2: decode_justification}


def encode_message(message: ConsensusMessage) -> bytes:
    kind = _KINDS.get(type(message))
    if kind is None:
        raise TypeError(f"not a consensus message: {type(message).__name__}")
    return bytes((kind,)) + message.encode()


def decode_message(data: bytes) -> ConsensusMessage:
    if len(data) > MAX_MESSAGE_LEN:
        raise MalformedMessage(f"{len(data)} bytes exceeds the {MAX_MESSAGE_LEN}-byte message limit")
    if not data:
        raise MalformedMessage("empty message")
    decoder = _DECODERS.get(data[0])
    if decoder is None:
        raise MalformedMessage(f"unknown consensus message kind {data[0]}")
    try:
        message, end = decoder(data, 1)
    except (DecodeError, ValueError) as e:
        raise MalformedMessage(str(e)) from None
    if end != len(data):
        raise MalformedMessage(f"{len(data) - end} trailing bytes after a consensus message")
    return message
