"""One client connection and its subscriptions.

Outbound messages of a WebSocket connection go through one bounded FIFO queue that a writer task
drains into the socket:

- responses are queued with a blocking ``await``: a client that sends requests faster than it
  reads answers stops being read (back-pressure through hypercorn to TCP);
- notifications are queued without blocking (:meth:`Subscription.send` is called from the chain's
  own tasks, which must never wait for a slow client). When the queue is full the client is not
  keeping up: the **connection is closed** (WebSocket close code 1008). Every subscription of the
  connection becomes ``closed`` at once, queued messages are dropped, and the close callbacks run
  from the connection's task, never from inside ``send()``. We close the connection rather than
  silently dropping the one subscription (what sc-rpc does) so the client sees an error instead of
  waiting forever, e.g. for the ``inBlock`` of an extrinsic it watches.

A subscription id reaches the client before any of its notifications: notifications sent while
the subscribe call is still being answered (including the handler's initial ones) are held by the
subscription and queued right after the response that carries its id.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from typing import Any, Callable

import orjson
import trio

log = logging.getLogger("node.rpc")

# 16 alphanumerics like jsonrpsee's RandomStringIdProvider, from one CSPRNG read.
_ID_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_ID_TABLE = bytes(_ID_ALPHABET[i % len(_ID_ALPHABET)] for i in range(256))
_connection_ids = itertools.count(1)


def new_subscription_id() -> str:
    return secrets.token_bytes(16).translate(_ID_TABLE).decode()


class Subscription:
    """A client's subscription; the subscribe handler keeps it and calls :meth:`send`."""

    __slots__ = ("id", "kind", "_conn", "_prefix", "_closed", "_held", "_close_callbacks")

    def __init__(self, conn: Connection, kind: str, notification: str) -> None:
        self.id = new_subscription_id()
        self.kind = kind  # the canonical subscribe method; unsubscribe must match it
        self._conn = conn
        # Every notification starts with the same bytes; only the result is encoded per send.
        self._prefix = b'{"jsonrpc":"2.0","method":%s,"params":{"subscription":"%s","result":' % (
            orjson.dumps(notification),
            self.id.encode(),
        )
        self._closed = False
        self._held: list[bytes] | None = []  # notifications waiting for the id to be sent
        self._close_callbacks: list[Callable[[], Any]] = []

    @property
    def closed(self) -> bool:
        return self._closed

    def send(self, result: Any) -> bool:
        """Queue a notification without blocking. False if the subscription is closed (also when
        this send overflowed the connection's queue); the owner may then forget it.

        Call it from a task of the server's trio run, not from another thread. ``result`` must be
        encodable by orjson; a TypeError is raised to the caller otherwise.
        """
        if self._closed:
            return False
        data = self._prefix + orjson.dumps(result) + b"}}"
        held = self._held
        if held is not None:
            held.append(data)
            if len(held) > self._conn.max_queued:
                self._conn._overflow()
                return False
            return True
        return self._conn._push(data)

    def on_close(self, callback: Callable[[], Any]) -> None:
        """Run ``callback()`` once when the subscription ends: unsubscribe, :meth:`close`, or the
        connection going away. Runs at once if it has already ended."""
        if self._closed and not self._close_callbacks:
            _run_callback(callback)
        else:
            self._close_callbacks.append(callback)

    def close(self) -> None:
        """End the subscription from the server side (no message is sent to the client)."""
        self._conn._subscriptions.pop(self.id, None)
        self._finish()

    def _release(self) -> None:
        """The id has been queued: send what was held back, in order."""
        held, self._held = self._held, None
        if held and not self._closed:
            for data in held:
                if not self._conn._push(data):
                    break

    def _finish(self) -> None:
        self._closed = True
        callbacks, self._close_callbacks = self._close_callbacks, []
        for callback in callbacks:
            _run_callback(callback)


def _run_callback(callback: Callable[[], Any]) -> None:
    try:
        callback()
    except Exception:
        log.exception("subscription close callback failed")


class Connection:
    """What a handler knows about the client calling it.

    ``outbound`` is the send side of the connection's queue; HTTP requests have none and cannot
    subscribe.
    """

    def __init__(
        self,
        transport: str,
        outbound: trio.MemorySendChannel[bytes] | None = None,
        *,
        max_queued: int = 0,
        on_overflow: Callable[[], Any] | None = None,
    ) -> None:
        self.id = next(_connection_ids)
        self.transport = transport
        self.max_queued = max_queued
        self.closed = False
        self.overflowed = False
        self._outbound = outbound
        self._on_overflow = on_overflow
        self._subscriptions: dict[str, Subscription] = {}

    @property
    def supports_subscriptions(self) -> bool:
        return self._outbound is not None

    @property
    def subscription_count(self) -> int:
        return len(self._subscriptions)

    def open_subscription(self, kind: str, notification: str) -> Subscription:
        sub = Subscription(self, kind, notification)
        if self.closed:
            sub._closed = True
        else:
            self._subscriptions[sub.id] = sub
        return sub

    def close_subscription(self, subscription_id: str, kind: str) -> bool:
        """Unsubscribe: False if this connection has no such subscription of that kind."""
        sub = self._subscriptions.get(subscription_id)
        if sub is None or sub.kind != kind:
            return False
        sub.close()
        return True

    async def respond(self, data: bytes) -> None:
        """Queue a response, waiting while the queue is full."""
        if self._outbound is None or self.closed:
            return
        try:
            await self._outbound.send(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    async def deliver(self, response: bytes | None, opened: list[Subscription]) -> None:
        """Queue the answer to a message, then the notifications its new subscriptions held."""
        if response is not None:
            await self.respond(response)
        for sub in opened:
            sub._release()

    def _push(self, data: bytes) -> bool:
        if self.closed:
            return False
        try:
            self._outbound.send_nowait(data)  # type: ignore[union-attr]
        except trio.WouldBlock:
            self._overflow()
            return False
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True

    def _overflow(self) -> None:
        if self.closed:
            return
        log.warning("rpc connection %d: outbound queue full, closing the connection", self.id)
        self.overflowed = True
        self._mark_closed()
        if self._on_overflow is not None:
            self._on_overflow()

    def _mark_closed(self) -> None:
        self.closed = True
        for sub in self._subscriptions.values():
            sub._closed = True

    def close(self) -> None:
        """The connection is gone: end every subscription and run its close callbacks."""
        self._mark_closed()
        subs, self._subscriptions = self._subscriptions, {}
        for sub in subs.values():
            sub._finish()
