"""Many nodes in one process: an in-memory transport with fault injection.

``MemoryHub`` is the wire: nodes listen on it under their names (a node's address is its name) and
each link is a pair of bounded trio channels carrying the same encoded envelopes as gRPC, so the
codec, the size limit and hostile bytes are exercised exactly as over the network. No threads and
no wall clock: delays are trio time (autojump_clock runs a simulated minute in milliseconds) and
every random choice (drops, backoff jitter, nonces) comes from generators seeded by the hub's seed.

Faults, all applying to both directions between two nodes:
- ``partition(*groups)``: links between groups close and dials between them fail until ``heal()``
  (a netsplit as TCP would report it); dial loops keep retrying with backoff and reconnect after.
- ``set_delay(a, b, seconds)``: each envelope arrives that much later, order kept.
- ``set_drop(a, b, probability)``: envelopes silently lost (lossy gossip; the link stays up).
- ``disconnect(name)``: close all of a node's links and refuse its dials until ``reconnect(name)``.
Delays and drops apply when the sender's writer puts an envelope on the link, which is after
``send`` returns (at the writer's next turn), not at the ``send`` call.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterable

import trio

from node.network.link import Link, LinkClosed
from node.network.peerset import PeerSet
from node.network.transport import ChainStatus, NetworkConfig


@dataclass
class _Fault:
    delay: float = 0.0
    drop: float = 0.0


class _Pipe:
    """What both ends of one link share: why it closed."""

    reason: str | None = None


class MemoryLink:
    """One end of an in-memory link; envelopes carry the trio time at which they may be read."""

    def __init__(self, hub: MemoryHub, pipe: _Pipe, local: str, remote: str, tx, rx):
        self.address = remote
        self._hub, self._pipe, self._local, self._remote = hub, pipe, local, remote
        self._tx: trio.MemorySendChannel[tuple[float, bytes]] = tx
        self._rx: trio.MemoryReceiveChannel[tuple[float, bytes]] = rx
        self._last_due = 0.0  # keeps order when the delay shrinks

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()  # nothing runs beside a memory link

    async def send(self, data: bytes) -> None:
        fault = self._hub._fault(self._local, self._remote)
        if fault.drop and self._hub._rng.random() < fault.drop:
            await trio.lowlevel.checkpoint()
            return
        due = max(trio.current_time() + fault.delay, self._last_due)
        self._last_due = due
        try:
            await self._tx.send((due, data))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise LinkClosed(self._closed_reason()) from None

    async def receive(self) -> bytes:
        try:
            due, data = await self._rx.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise LinkClosed(self._closed_reason()) from None
        await trio.sleep_until(due)
        return data

    def close(self, reason: str) -> None:
        if self._pipe.reason is None:
            self._pipe.reason = f"{self._local} closed: {reason}"
        self._tx.close()
        self._rx.close()
        self._hub._links.discard(self)

    def _closed_reason(self) -> str:
        return self._pipe.reason or "closed"


class MemoryHub:
    def __init__(self, *, seed: int = 0):
        self.seed = seed
        self._rng = random.Random(f"hub/{seed}")
        self._listeners: dict[str, trio.MemorySendChannel[Link]] = {}
        self._links: set[MemoryLink] = set()
        self._faults: dict[frozenset[str], _Fault] = {}
        self._group_of: dict[str, int] | None = None
        self._offline: set[str] = set()

    # -- fault injection ----------------------------------------------------------------------
    def partition(self, *groups: Iterable[str]) -> None:
        """Split the nodes into groups that cannot reach each other; a node in no group is alone."""
        self._group_of = {name: i for i, group in enumerate(groups) for name in group}
        self._cut("partitioned")

    def heal(self) -> None:
        """Undo ``partition`` and ``disconnect``: every node can reach every node again."""
        self._group_of = None
        self._offline.clear()

    def disconnect(self, name: str) -> None:
        self._offline.add(name)
        self._cut(f"{name} disconnected")

    def reconnect(self, name: str) -> None:
        self._offline.discard(name)

    def set_delay(self, a: str, b: str, seconds: float) -> None:
        self._faults.setdefault(frozenset((a, b)), _Fault()).delay = seconds

    def set_drop(self, a: str, b: str, probability: float) -> None:
        self._faults.setdefault(frozenset((a, b)), _Fault()).drop = probability

    def can_reach(self, a: str, b: str) -> bool:
        if a in self._offline or b in self._offline:
            return False
        if self._group_of is None:
            return True
        group_a, group_b = self._group_of.get(a), self._group_of.get(b)
        return group_a is not None and group_a == group_b

    # -- the wire -----------------------------------------------------------------------------
    def connect(self, local: str, address: str, *, buffer: int = 64) -> MemoryLink:
        """Open a link from ``local`` to the node listening at ``address`` (tests use it to act
        as a raw peer). Raises LinkClosed if nobody listens there, it is unreachable, or its
        accept backlog is full."""
        listener = self._listeners.get(address)
        if listener is None:
            raise LinkClosed(f"nobody listens at {address}")
        if not self.can_reach(local, address):
            raise LinkClosed(f"{address} is unreachable from {local}")
        ours_tx, theirs_rx = trio.open_memory_channel[tuple[float, bytes]](buffer)
        theirs_tx, ours_rx = trio.open_memory_channel[tuple[float, bytes]](buffer)
        pipe = _Pipe()
        ours = MemoryLink(self, pipe, local, address, ours_tx, ours_rx)
        theirs = MemoryLink(self, pipe, address, local, theirs_tx, theirs_rx)
        try:
            listener.send_nowait(theirs)
        except trio.WouldBlock:
            raise LinkClosed(f"{address} has too many connections waiting") from None
        self._links.update((ours, theirs))
        return ours

    def _listen(self, name: str, accepted: trio.MemorySendChannel[Link]) -> None:
        if name in self._listeners:
            raise ValueError(f"a node named {name!r} already runs on this hub")
        self._listeners[name] = accepted

    def _unlisten(self, name: str) -> None:
        self._listeners.pop(name, None)
        for link in [k for k in self._links if name in (k._local, k._remote)]:
            link.close("node stopped")

    def _fault(self, a: str, b: str) -> _Fault:
        return self._faults.get(frozenset((a, b)), _NO_FAULT)

    def _cut(self, reason: str) -> None:
        for link in list(self._links):
            if not self.can_reach(link._local, link._remote):
                link.close(reason)


_NO_FAULT = _Fault()


class MemoryNetwork(PeerSet):
    """A node's network on a MemoryHub; its address is its name."""

    def __init__(
        self, hub: MemoryHub, name: str, status: ChainStatus, *, bootnodes: Iterable[str] = (),
        config: NetworkConfig = NetworkConfig(),
    ):
        super().__init__(name, status, config=config, rng=random.Random(f"{hub.seed}/{name}"))
        self.hub = hub
        self.bootnodes = tuple(bootnodes)
        self.address = name

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        accepted_send, accepted = trio.open_memory_channel[Link](self.config.accept_backlog)
        self.hub._listen(self.local_name, accepted_send)
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._accept, accepted)
                for address in self.bootnodes:
                    nursery.start_soon(self._dial_loop, address)
                task_status.started(self.local_name)
        finally:
            self.hub._unlisten(self.local_name)

    async def _open_link(self, address: str) -> Link:
        return self.hub.connect(self.local_name, address, buffer=self.config.link_buffer)
