"""A bounded FIFO between one trio task and grpc's threads.

One side is trio (``put``/``get``, async), the other a thread (``put_blocking``/``get_blocking``).
A thread wakes trio with ``TrioToken.run_sync_soon`` only when the trio side is actually waiting,
and a trio producer waiting on a full queue is woken only once the queue has drained to half: so a
burst crosses the boundary with a few wakeups rather than a thread round trip per item.

Two ways to end it: ``end()`` (the producer is done: the consumer drains what is left and then
gets None) and ``close()`` (the consumer is gone: queued items are dropped, producers are refused).
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Generic, TypeVar

import trio

T = TypeVar("T")
POLL = 0.5  # seconds a blocked thread waits before looking again (it is also notified)


class BridgeQueue(Generic[T]):
    def __init__(self, capacity: int):
        self._capacity = capacity
        self._low_water = max(capacity // 2, 1)
        self._items: deque[T] = deque()
        self._lock = threading.Condition()
        self._token = trio.lowlevel.current_trio_token()
        self._waiter: trio.Event | None = None  # the trio side, waiting for room or for an item
        self._ended = False
        self._closed = False

    # -- TRIO SIDE ----------------------------------------------------------------------------
    async def put(self, item: T) -> bool:
        """Queue an item, waiting while full; False if the queue is closed."""
        while True:
            with self._lock:
                if self._closed:
                    return False
                if len(self._items) < self._capacity:
                    self._items.append(item)
                    self._lock.notify()
                    break
                waiter = self._waiter = trio.Event()
            await waiter.wait()
        await trio.lowlevel.checkpoint()
        return True

    async def get(self) -> T | None:
        """The next item; None once ended (or closed) and empty."""
        while True:
            with self._lock:
                if self._items:
                    item = self._items.popleft()
                    self._lock.notify()
                    break
                if self._ended or self._closed:
                    item = None
                    break
                waiter = self._waiter = trio.Event()
            await waiter.wait()
        await trio.lowlevel.checkpoint()
        return item

    # -- THREAD SIDE --------------------------------------------------------------------------
    def put_blocking(self, item: T) -> bool:
        """Queue an item, waiting while full; False once the queue is closed."""
        with self._lock:
            while len(self._items) >= self._capacity and not self._closed:
                self._lock.wait(POLL)
            if self._closed:
                return False
            self._items.append(item)
            waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._token.run_sync_soon(waiter.set)
        return True

    def get_blocking(self, timeout: float = POLL) -> T | None:
        """The next item, waiting up to ``timeout``; None if there is none (yet, or any more:
        see ``finished``)."""
        with self._lock:
            if not self._items and not (self._ended or self._closed):
                self._lock.wait(timeout)
            if not self._items:
                return None
            item = self._items.popleft()
            waiter = None
            if self._waiter is not None and len(self._items) <= self._low_water:
                waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._token.run_sync_soon(waiter.set)
        return item

    @property
    def finished(self) -> bool:
        """Ended or closed, and nothing left to take."""
        return (self._ended or self._closed) and not self._items

    # -- EITHER SIDE --------------------------------------------------------------------------
    def end(self) -> None:
        with self._lock:
            self._ended = True
            self._wake_all()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._items.clear()
            self._wake_all()

    def _wake_all(self) -> None:  # (holding the lock)
        self._lock.notify_all()
        waiter, self._waiter = self._waiter, None
        if waiter is not None:
            self._token.run_sync_soon(waiter.set)
