"""One connected peer: its send queue, the writer that batches and encodes, the reader that decodes.

Everything here runs in trio. The reader decodes each envelope once and hands typed messages to
``deliver`` (the peer set); an envelope that fails to decode is reported with the reason and
skipped, and the connection stays up unless the peer's score falls to the ban threshold.
"""

from __future__ import annotations

import logging
from typing import Awaitable, Callable, Literal

import trio

from node.network.codec import decode_message, encode_message, encode_transactions
from node.network.link import Link
from node.network.messages import (
    Disconnect,
    Envelope,
    Handshake,
    HandshakeAccepted,
    Head,
    InvalidMessage,
    Message,
    Role,
    Transactions,
)
from node.network.reputation import Penalty
from node.network.transport import NetworkConfig, PeerInfo

log = logging.getLogger("parawatt.network")


class Session:
    def __init__(
        self,
        remote: Handshake,
        link: Link,
        direction: Literal["inbound", "outbound"],
        dialer: str,
        config: NetworkConfig,
        replaces: Session | None = None,
    ):
        self.name = remote.node_name
        self.instance = remote.instance
        self.roles: frozenset[Role] = remote.roles
        self.best: Head = remote.best
        self.finalized: Head = remote.finalized
        self.link = link
        self.direction = direction
        self.dialer = dialer  # who opened the link: settles duplicate connections
        self.config = config
        # Bounded by config.send_queue; send() refuses (returns False) when it is full. A session
        # replacing a stale link to the same peer takes over its queue, so nothing queued is lost.
        if replaces is not None:
            self.outbox_send, self.outbox = replaces.outbox_send, replaces.outbox
        else:
            self.outbox_send, self.outbox = trio.open_memory_channel[Message](config.send_queue)
        self.scope = trio.CancelScope()
        self.close_reason: str | None = None
        self.sent = self.received = self.dropped = 0

    def info(self, score: int) -> PeerInfo:
        return PeerInfo(
            self.name, self.link.address, self.direction, self.roles, self.best, self.finalized, score,
            self.sent, self.received, self.dropped,
        )

    def close(self, reason: str) -> None:
        """End the session (its tasks are cancelled); the first reason is the one logged and sent."""
        if self.close_reason is None:
            self.close_reason = reason
        self.scope.cancel()

    # -- writer -------------------------------------------------------------------------------
    async def write(self) -> None:
        """Encode queued messages onto the link in order. Consecutive Transactions are merged
        into envelopes of up to ``tx_batch_bytes`` (and a large batch is split to that size), so
        gossip costs few envelopes however the node chops it."""
        pending: Message | None = None
        while True:
            message = pending if pending is not None else await self.outbox.receive()
            pending = None
            if not isinstance(message, Transactions):
                await self._write_envelope(message)
                continue
            batch = list(message.extrinsics)
            size = sum(map(len, batch))
            while size < self.config.tx_batch_bytes:
                try:
                    queued = self.outbox.receive_nowait()
                except trio.WouldBlock:
                    break
                if not isinstance(queued, Transactions):
                    pending = queued
                    break
                batch.extend(queued.extrinsics)
                size += sum(map(len, queued.extrinsics))
            for chunk in _chunks(batch, self.config.tx_batch_bytes):
                await self._write_bytes(encode_transactions(chunk))

    async def _write_envelope(self, message: Envelope) -> None:
        try:
            data = encode_message(message, self.config.max_message_size)
        except InvalidMessage as e:  # our own message is too large: drop it, keep the peer
            log.error("not sending to %s: %s", self.name, e.reason)
            return
        await self._write_bytes(data)

    async def _write_bytes(self, data: bytes) -> None:
        if len(data) > self.config.max_message_size:
            log.error("not sending to %s: an envelope of %d bytes is over the limit", self.name, len(data))
            return
        await self.link.send(data)
        self.sent += 1

    # -- reader -------------------------------------------------------------------------------
    async def read(
        self,
        deliver: Callable[[Session, Message], Awaitable[None]],
        report: Callable[[str, int, str], None],
    ) -> None:
        """Decode envelopes from the link and deliver them, until the link closes or the peer
        says goodbye. ``deliver`` may wait (the inbound queue is full): that is the backpressure."""
        limit = self.config.max_message_size
        while True:
            data = await self.link.receive()
            self.received += 1
            try:
                message = decode_message(data, limit)
            except InvalidMessage as e:
                penalty = Penalty.OVERSIZED if len(data) > limit else Penalty.UNDECODABLE
                report(self.name, penalty, f"invalid message: {e.reason}")
                continue
            if isinstance(message, Disconnect):
                self.close(f"the peer closed: {message.reason or 'no reason given'}")
                return
            if isinstance(message, (Handshake, HandshakeAccepted)):
                report(self.name, Penalty.PROTOCOL_VIOLATION, "a second handshake on one connection")
                continue
            await deliver(self, message)


def _chunks(items: list[bytes], max_bytes: int):
    chunk: list[bytes] = []
    size = 0
    for item in items:
        if chunk and size + len(item) > max_bytes:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += len(item)
    if chunk:
        yield chunk
