"""Transaction gossip: extrinsics submitted to this node reach every peer's pool in batches.

Only extrinsics this node accepted from its own RPC clients are gossiped, to every peer
directly: Parawatt networks are permissioned and small enough to be fully connected, so there
is no relaying and no gossip loop. Outgoing extrinsics wait in a bounded buffer flushed every
`FLUSH_INTERVAL` (or sooner when it holds a full batch); a full buffer drops the oldest wait and
counts it — the author's own pool still holds the transaction, so nothing is lost on chain.

Incoming batches go through the same validation as RPC submissions (signatures on the verifier's
core). A peer that sends transactions with bad signatures is penalised: it only gossips what it
validated itself, so a bad signature means it is broken or lying.
"""

from __future__ import annotations

import logging
from collections import deque

import trio

from node.network.messages import Transactions
from node.runtime.errors import BadProof

log = logging.getLogger("parawatt.gossip")

FLUSH_INTERVAL = 0.05  # seconds
MAX_BATCH = 2048  # extrinsics per Transactions message
MAX_BUFFERED = 65_536
BAD_TRANSACTION_PENALTY = 10
INBOUND_QUEUE = 64  # batches from peers waiting for validation; a full queue makes peers wait


class TransactionGossip:
    def __init__(self, node):
        self.node = node
        self._outgoing: deque[bytes] = deque(maxlen=MAX_BUFFERED)
        self._ready = trio.Event()
        self.dropped = 0
        self._in_send, self._in = trio.open_memory_channel[tuple[str, tuple[bytes, ...]]](INBOUND_QUEUE)

    def queue(self, extrinsic: bytes) -> None:
        if len(self._outgoing) == MAX_BUFFERED:
            self.dropped += 1
        self._outgoing.append(extrinsic)
        if len(self._outgoing) >= MAX_BATCH:
            self._ready.set()

    async def received(self, peer: str, message: Transactions) -> None:
        await self._in_send.send((peer, message.extrinsics))

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._validate_incoming)
            task_status.started()
            while True:
                with trio.move_on_after(FLUSH_INTERVAL):  # not an error: flush on time or when full
                    await self._ready.wait()
                self._ready = trio.Event()
                self._flush()

    def _flush(self) -> None:
        while self._outgoing:
            batch = tuple(self._outgoing.popleft() for _ in range(min(MAX_BATCH, len(self._outgoing))))
            self.node.network.broadcast(Transactions(batch))

    async def _validate_incoming(self) -> None:
        async for peer, extrinsics in self._in:
            outcomes = await self.node.submit_many(list(extrinsics), gossip=False)
            bad = sum(1 for o in outcomes if isinstance(o, BadProof))
            if bad:
                self.node.network.report(peer, BAD_TRANSACTION_PENALTY, f"{bad} transactions with bad signatures")
