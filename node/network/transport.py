"""The one network interface the node uses, and what configures it.

Two implementations: ``grpc_transport.GrpcNetwork`` (real processes, mTLS) and
``memory.MemoryNetwork`` (many nodes in one process, deterministic, with fault injection). Both
share ``peerset.PeerSet``, so queues, scores, bans, handshakes and batching behave the same; they
differ only in how a byte link to a peer is opened. ``tests/network/test_conformance.py`` runs one
suite against both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Protocol

import trio

from node.network.messages import MAX_MESSAGE_SIZE, BlockRequest, BlockResponse, Head, Message, Role


class NetworkError(Exception):
    """Base of the network's errors."""


class RequestFailed(NetworkError):
    """A block request got no valid response: the peer is gone, its queue is full, it timed out."""


@dataclass(frozen=True, slots=True)
class ChainStatus:
    """What this node announces in every handshake. ``PeerSet.update_heads`` moves the heads."""

    genesis_hash: bytes
    chain_name: str
    roles: frozenset[Role]
    best: Head
    finalized: Head


@dataclass(frozen=True, slots=True)
class PeerInfo:
    name: str
    address: str  # where the link goes: host:port for gRPC, the node name in memory
    direction: Literal["inbound", "outbound"]
    roles: frozenset[Role]
    best: Head  # from the handshake, then from its BlockAnnounce(is_best=True)
    finalized: Head  # from the handshake, then from Justifications it sends us
    score: int  # 0 at first; report() lowers it; at or below ban_threshold it is banned
    sent: int  # envelopes written to the link
    received: int  # envelopes read from the link (valid or not)
    dropped: int  # send() calls refused because its queue was full


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    """Every bound and timeout of the network, in one place.

    Queues (what happens when full):
    - ``send_queue``: messages waiting per peer. ``send`` returns False when it is full (the
      message is dropped and counted in PeerInfo.dropped); the node decides whether to retry.
    - ``inbound_queue``: (peer, message) pairs waiting for the node. When full, each peer's reader
      waits, so the peer's link and then its sender's ``send_queue`` fill up: backpressure, no
      message is dropped on receipt.
    - ``link_buffer``: envelopes in flight per link direction (memory: the channel between the two
      ends; gRPC: the queue to grpc's sending thread and from its receiving thread).
    - ``accept_backlog``: accepted links waiting for their handshake to start; more are refused.

    Timeouts (all in trio time, so autojump_clock drives them in tests):
    - ``handshake_timeout``: dial + both handshakes; on expiry the link is closed and logged (not
      an error: the dial loop retries after its backoff).
    - ``request_timeout``: default wait for a BlockResponse; on expiry ``request`` raises
      RequestFailed (an error for the caller, who asked).
    - ``backoff_initial`` .. ``backoff_max``: delay between dials of one bootnode, doubling after
      each attempt, with ±``backoff_jitter`` randomness; back to initial only after a session
      that lasted at least ``backoff_max`` (a peer that drops us at once is not hammered).
    - Closing: a Disconnect with the reason is queued for up to 1 s (``peerset.GOODBYE_TIMEOUT``);
      a gRPC stream then gets 2 s to end gracefully before it is cancelled (``CLOSE_GRACE``).
    - Liveness: gRPC keepalive pings every 20 s, a peer silent 10 s after a ping is dropped.
    - ``ban_seconds``: how long a peer whose score fell to ``ban_threshold`` is refused.
    """

    max_message_size: int = MAX_MESSAGE_SIZE
    send_queue: int = 1024
    inbound_queue: int = 4096
    link_buffer: int = 64
    accept_backlog: int = 16
    max_peers: int = 64
    tx_batch_bytes: int = 1024 * 1024  # the writer merges queued Transactions up to this size
    handshake_timeout: float = 10.0
    request_timeout: float = 10.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    backoff_jitter: float = 0.2
    ban_threshold: int = -100
    ban_seconds: float = 300.0


class Network(Protocol):
    """What the node sees of the network: named peers and typed messages."""

    local_name: str
    address: str | None  # where peers reach this node; set once run() has started listening
    # (peer name, message) in arrival order per peer, bounded by NetworkConfig.inbound_queue.
    # When full, peers' readers wait (backpressure reaching their senders); nothing is dropped.
    inbound: trio.MemoryReceiveChannel[tuple[str, Message]]

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen, dial the bootnodes and keep redialing them with backoff, until cancelled.
        Reports the listening address through ``task_status.started``."""

    def peers(self) -> list[PeerInfo]:
        """Peers with a completed handshake."""

    def send(self, peer: str, message: Message) -> bool:
        """Queue a message for one peer without waiting. False if its queue is full or it is not
        connected. Messages to one peer arrive in the order they were sent; those still queued
        when its link is lost are dropped (a newer link replacing it takes them over)."""

    def broadcast(self, message: Message, *, exclude: Iterable[str] = ()) -> int:
        """``send`` to every connected peer but ``exclude``; how many accepted it."""

    def report(self, peer: str, penalty: int, reason: str) -> None:
        """Lower a peer's score by ``penalty`` and log why; at or below the ban threshold the peer
        is disconnected and refused for ``ban_seconds``."""

    async def request(self, peer: str, request: BlockRequest, *, timeout: float | None = None) -> BlockResponse:
        """Send a block request (the network assigns its id) and wait for the matching response.
        Raises RequestFailed. Responses to these requests bypass ``inbound``."""

    def score(self, peer: str) -> int:
        """The peer's score (0 unless reported), connected or not."""

    def update_heads(self, best: Head, finalized: Head) -> None:
        """The heads announced in handshakes from now on."""

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        """Return once ``predicate()`` holds, rechecking whenever the peer set changes."""
