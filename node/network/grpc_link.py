"""The bridge between one gRPC ``Connect`` stream (grpc's threads) and trio.

grpcio has no trio integration, so each stream crosses a thread boundary twice:

    TRIO SIDE (the node's one thread)           |  GRPC SIDE (threads)
    --------------------------------------------+------------------------------------------------
    send(data) --> _outgoing: queue.Queue,      |  outgoing(): a generator grpc iterates in its
                   bounded (link_buffer)        |    own thread (server: the handler's worker;
                                                |    client: grpc's request-consumer thread)
    receive() <-- _incoming: trio channel,      |  _pump(): runs in a trio.to_thread worker,
                  bounded (link_buffer)         |    blocks on grpc's iterator of received
                                                |    envelopes, hands each over with
                                                |    trio.from_thread.run (waits while full)
    close() / run(): end the stream             |  call.cancel() / context.cancel()

Backpressure both ways: when trio is slow the pump waits, grpc stops reading and HTTP/2 flow control
stalls the peer; when the peer is slow grpc stops iterating ``outgoing()``, the queue fills and
``send`` waits (in a worker thread, so trio never blocks). Nothing on the grpc side touches trio
objects except through ``trio.from_thread``.

Closing: ``close`` queues an end marker after the envelopes already queued (so a goodbye gets
out), and the stream ends gracefully; if it has not ended within CLOSE_GRACE seconds, or the queue
was full, the stream is cancelled.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from typing import Callable, Iterable, Iterator

import grpc
import trio

from node.network.link import LinkClosed

log = logging.getLogger("parawatt.network")

CLOSE_GRACE = 2.0  # seconds for a graceful end of stream before it is cancelled
_POLL = 0.5  # how often outgoing() and a blocked send() look at the closing flag
_END = object()


class GrpcLink:
    def __init__(self, address: str, capacity: int, limiter: trio.CapacityLimiter):
        self.address = address
        self.identity: object | None = None  # server side: what verify_peer said of the TLS client
        self._limiter = limiter
        self._outgoing: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._incoming = Inbox(capacity)
        self._closing = threading.Event()  # read by both sides
        self._closed_event = trio.Event()  # trio side: close() was called
        self._reason: str | None = None
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
                    await self._closed_event.wait()
                    self._incoming.close()  # nobody reads any more: a pump waiting to hand over stops
                    if self._end_outgoing():
                        with trio.move_on_after(CLOSE_GRACE):
                            await pump_done.wait()
                finally:
                    # Also when cancelled: the pump thread is waited for, so end its stream first.
                    self._closing.set()
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
        if self._closing.is_set():
            raise LinkClosed(self._reason or "closed")
        try:
            self._outgoing.put_nowait(data)
        except queue.Full:
            await trio.to_thread.run_sync(self._put_blocking, data, limiter=self._limiter)
        else:
            await trio.lowlevel.checkpoint()

    async def receive(self) -> bytes:
        data = await self._incoming.get()
        if data is None:
            raise LinkClosed(self._reason or "the stream ended")
        return data

    def close(self, reason: str) -> None:
        if self._reason is None:
            self._reason = reason
        self._closing.set()  # outgoing() ends once the queue is drained, even if run() never ran
        self._closed_event.set()

    def _end_outgoing(self) -> bool:
        """Queue the end marker after what is queued; False if the queue is full (peer stuck)."""
        try:
            self._outgoing.put_nowait(_END)
        except queue.Full:
            return False
        return True

    def _finish(self, reason: str) -> None:
        """The pump is done: the stream ended or failed."""
        if self._reason is None:
            self._reason = reason
        self._incoming.end()

    # -- GRPC SIDE (threads) ------------------------------------------------------------------
    def outgoing(self) -> Iterator[bytes]:
        """The envelopes to send, for grpc to iterate; ends at the end marker, or when nothing is
        left once closing, or when grpc has ended the call (grpc cannot interrupt a generator)."""
        while True:
            try:
                item = self._outgoing.get(timeout=_POLL)
            except queue.Empty:
                if self._closing.is_set() or not self._alive():
                    return
                continue
            if item is _END:
                return
            yield item  # type: ignore[misc]

    def _put_blocking(self, data: bytes) -> None:
        while not self._closing.is_set():
            try:
                self._outgoing.put(data, timeout=_POLL)
                return
            except queue.Full:
                continue
        raise LinkClosed(self._reason or "closed")

    def _pump(self) -> None:
        """Read grpc's stream and hand each envelope to trio, until it ends."""
        reason = "the peer ended the stream"
        put = self._incoming.put
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
        try:
            trio.from_thread.run_sync(self._finish, reason)
        except (trio.RunFinishedError, trio.Cancelled):
            pass


class Inbox:
    """A bounded queue from one grpc thread to one trio task.

    ``put`` (thread) blocks while the inbox is full and wakes the trio side only when it sleeps,
    through ``TrioToken.run_sync_soon``: under load a whole burst crosses with one wakeup instead
    of a ``trio.from_thread`` round trip per envelope.
    """

    def __init__(self, capacity: int):
        self._capacity = capacity
        self._items: deque[bytes] = deque()
        self._lock = threading.Condition()
        self._token = trio.lowlevel.current_trio_token()
        self._sleeper: trio.Event | None = None
        self._ended = False  # no more puts: the stream ended
        self._closed = False  # no more gets: trio stopped reading

    # GRPC SIDE
    def put(self, data: bytes) -> bool:
        """Queue one envelope, waiting while full; False once trio has stopped reading."""
        with self._lock:
            while len(self._items) >= self._capacity and not self._closed:
                self._lock.wait(_POLL)
            if self._closed:
                return False
            self._items.append(data)
            sleeper, self._sleeper = self._sleeper, None
        if sleeper is not None:
            self._token.run_sync_soon(sleeper.set)
        return True

    # TRIO SIDE
    async def get(self) -> bytes | None:
        """The next envelope, or None once the stream has ended and the inbox is empty."""
        while True:
            with self._lock:
                if self._items:
                    if len(self._items) == self._capacity:
                        self._lock.notify()
                    data = self._items.popleft()
                    break
                if self._ended or self._closed:
                    data = None
                    break
                sleeper = self._sleeper = trio.Event()
            await sleeper.wait()
        await trio.lowlevel.checkpoint()
        return data

    def end(self) -> None:
        with self._lock:
            self._ended = True
            sleeper, self._sleeper = self._sleeper, None
        if sleeper is not None:
            sleeper.set()

    def close(self) -> None:
        """Trio stops reading: a waiting put returns False and later ones drop their envelope."""
        with self._lock:
            self._closed = True
            self._items.clear()
            self._lock.notify_all()
            sleeper, self._sleeper = self._sleeper, None
        if sleeper is not None:
            sleeper.set()


def _describe(error: grpc.RpcError) -> str:
    code = getattr(error, "code", None)
    details = getattr(error, "details", None)
    if callable(code) and callable(details):
        return f"{code().name}: {details()}"
    return "the stream failed"
