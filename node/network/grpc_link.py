"""The bridge between one gRPC ``Connect`` stream (grpc's threads) and trio.

grpcio has no trio integration, so each stream crosses a thread boundary twice, each time through
a ``bridge.BridgeQueue`` bounded by ``link_buffer`` envelopes:

    TRIO SIDE (the node's one thread)           |  GRPC SIDE (threads)
    --------------------------------------------+------------------------------------------------
    send(data) ----> _outgoing ---------------> |  outgoing(): a generator grpc iterates in its
      (waits while full)                        |    own thread (server: the handler's worker
                                                |    thread; client: grpc's request consumer)
    receive() <----- _incoming <--------------- |  _pump(): in a trio.to_thread worker, blocks
      (waits while empty)                       |    on grpc's iterator of received envelopes
                                                |    (waits while _incoming is full)
    close(), run(): end or cancel the stream -> |  call.cancel() / context.cancel()

Backpressure both ways: when trio reads slowly the pump waits, grpc stops reading and HTTP/2 flow
control stalls the peer; when the peer reads slowly grpc stops iterating ``outgoing()``, the queue
fills and ``send`` waits. The grpc side touches no trio object; the queues wake trio through its
token.

Closing: ``close`` ends ``_outgoing`` after what is queued (so a goodbye still goes out) and the
stream ends gracefully; if it has not ended within CLOSE_GRACE seconds it is cancelled.
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable, Iterator

import grpc
import trio

from node.network.bridge import BridgeQueue
from node.network.link import LinkClosed

log = logging.getLogger("parawatt.network")

CLOSE_GRACE = 2.0  # seconds for a graceful end of stream before it is cancelled


class GrpcLink:
    def __init__(self, address: str, capacity: int, limiter: trio.CapacityLimiter):
        self.address = address
        self.identity: object | None = None  # server side: what verify_peer said of the TLS client
        self._limiter = limiter
        self._outgoing: BridgeQueue[bytes] = BridgeQueue(capacity)
        self._incoming: BridgeQueue[bytes] = BridgeQueue(capacity)
        self._closed = trio.Event()  # close() was called
        self._reason: str | None = None  # why we closed
        self._stream_end: str | None = None  # why the stream ended (set by the pump thread)
        self._source: Iterable[bytes] = ()
        self._cancel: Callable[[], object] = lambda: None
        self._alive: Callable[[], bool] = lambda: True
        self._after: Callable[[], object] = lambda: None

    def attach(
        self,
        source: Iterable[bytes],
        cancel: Callable[[], object],
        alive: Callable[[], bool],
        after: Callable[[], object] = lambda: None,
    ) -> None:
        """The stream's received envelopes, how to cancel it, whether it is still up, and what to
        release after it ends (client: the channel)."""
        self._source, self._cancel, self._alive, self._after = source, cancel, alive, after

    # -- TRIO SIDE ----------------------------------------------------------------------------
    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        pump_done = trio.Event()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._run_pump, pump_done)
                try:
                    await self._closed.wait()
                    with trio.move_on_after(CLOSE_GRACE):
                        await pump_done.wait()
                finally:
                    # Also when cancelled: the pump thread is waited for, so end its stream first.
                    self._outgoing.close()
                    self._incoming.close()
                    self._cancel()
        finally:
            self._after()

    async def _run_pump(self, done: trio.Event) -> None:
        try:
            # abandon_on_cancel=False: the thread is always waited for; cancelling the stream ends it.
            await trio.to_thread.run_sync(self._pump, limiter=self._limiter)
        finally:
            done.set()

    async def send(self, data: bytes) -> None:
        if self._closed.is_set() or not await self._outgoing.put(data):
            raise LinkClosed(self._why())

    async def receive(self) -> bytes:
        data = await self._incoming.get()
        if data is None:
            raise LinkClosed(self._why())
        return data

    def close(self, reason: str) -> None:
        if self._reason is None:
            self._reason = reason
        self._outgoing.end()  # outgoing() returns once it has sent what is queued
        self._incoming.close()  # nobody reads any more: a pump waiting to hand over stops
        self._closed.set()

    def _why(self) -> str:
        return self._reason or self._stream_end or "closed"

    # -- GRPC SIDE (threads) ------------------------------------------------------------------
    def outgoing(self) -> Iterator[bytes]:
        """The envelopes to send, for grpc to iterate; ends once closed and drained, or when
        grpc has ended the call (grpc cannot interrupt a generator, so it looks every POLL)."""
        queue = self._outgoing
        while True:
            data = queue.get_blocking()
            if data is not None:
                yield data
            elif queue.finished or not self._alive():
                return

    def _pump(self) -> None:
        """Read grpc's stream and hand each envelope to trio, until it ends."""
        reason = "the peer ended the stream"
        put = self._incoming.put_blocking
        try:
            for data in self._source:
                if not put(data):
                    reason = "closed"
                    break
        except grpc.RpcError as e:
            reason = _describe(e)
        except Exception as e:  # a bug, not the peer: say so, and end the link
            log.exception("gRPC stream from %s failed", self.address)
            reason = f"internal error: {e!r}"
        self._stream_end = reason
        self._incoming.end()  # trio reads what is left, then LinkClosed(reason)
        self._outgoing.close()  # nothing more can be sent on an ended stream


def _describe(error: grpc.RpcError) -> str:
    code = getattr(error, "code", None)
    details = getattr(error, "details", None)
    if callable(code) and callable(details):
        return f"{code().name}: {details()}"
    # grpc's server side gives no status: the peer cancelled, or an envelope broke grpc's limit
    return "the stream was broken off (cancelled, or an envelope over grpc's size limit)"
