"""The handshake every connection starts with, before any other message is accepted.

Three steps: the dialer sends its Handshake (with a fresh nonce); the listener checks it and
answers with its own Handshake, or with a Disconnect saying why it refuses; the dialer checks that
and answers HandshakeAccepted or a Disconnect. Only then does either side count the other as a
peer, so a refused node is never briefly "connected". Either side refuses a peer on another
genesis or protocol version, itself, or a banned peer; the transport may add an authentication
check (gRPC: the certificate and signature).
"""

from __future__ import annotations

from node.network.codec import decode_message
from node.network.link import Link
from node.network.messages import PROTOCOL_VERSION, Disconnect, Handshake, HandshakeAccepted, InvalidMessage


class PeerRefused(Exception):
    """The peer answered our handshake with a Disconnect."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Refusal(Exception):
    """We refuse the peer; ``reason`` is logged and sent to it."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ConnectedToSelf(Refusal):
    """The link leads back to this very node (our address is among our bootnodes)."""

    def __init__(self) -> None:
        super().__init__("connected to ourselves")


async def receive_handshake(link: Link, max_size: int, expected: type = Handshake):
    """The peer's next handshake step (``expected``). Raises PeerRefused, InvalidMessage or
    LinkClosed."""
    message = decode_message(await link.receive(), max_size)
    if isinstance(message, Disconnect):
        raise PeerRefused(message.reason or "no reason given")
    if not isinstance(message, expected):
        raise InvalidMessage(f"expected {expected.__name__}, got {type(message).__name__}")
    return message


async def receive_acceptance(link: Link, max_size: int) -> None:
    await receive_handshake(link, max_size, HandshakeAccepted)


def check_compatible(local: Handshake, remote: Handshake) -> None:
    """Raise Refusal unless the two nodes can talk: same protocol and genesis, not the same node."""
    if remote.protocol_version != PROTOCOL_VERSION:
        raise Refusal(f"protocol version {remote.protocol_version}, we speak {PROTOCOL_VERSION}")
    if remote.genesis_hash != local.genesis_hash:
        raise Refusal(
            f"genesis 0x{remote.genesis_hash.hex()} ({remote.chain_name}) is not ours, "
            f"0x{local.genesis_hash.hex()} ({local.chain_name})"
        )
    if remote.node_name == local.node_name:
        if remote.instance == local.instance:
            raise ConnectedToSelf()
        raise Refusal(f"another node calls itself {remote.node_name!r}, our name")
