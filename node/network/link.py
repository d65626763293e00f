"""A link: one established byte stream to a peer, as each transport provides it.

The peer set (``peerset.py``) runs the protocol over links and never knows which transport made
them; a link moves encoded envelopes, in order, until either side closes it.
"""

from __future__ import annotations

from typing import Protocol

import trio


class LinkClosed(Exception):
    """The link is gone (closed by either side, or the transport failed); ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Link(Protocol):
    address: str  # the remote end, for logs and PeerInfo

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Whatever must run while the link is open (gRPC: the thread reading the stream).
        Started before the handshake; returns once the link is closed."""

    async def send(self, data: bytes) -> None:
        """Queue one envelope, waiting while the link's buffer is full. Raises LinkClosed."""

    async def receive(self) -> bytes:
        """The next envelope from the peer. Raises LinkClosed at the end."""

    def close(self, reason: str) -> None:
        """Close both directions without waiting; idempotent; the first reason is kept."""
