"""The transport-independent half of the network: the peer table and the protocol over links.

``MemoryNetwork`` and ``GrpcNetwork`` subclass ``PeerSet`` and add two things: ``run`` (listen and
dial) and ``_open_link`` (dial one address). Everything else — handshakes, duplicate links, send
queues, batching, decoding, scores, bans, block requests — lives here once, so both transports
behave the same under the conformance suite. All of it runs in trio, in one thread.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
import logging
import random
from dataclasses import dataclass
from typing import Callable, Iterable, Literal

import trio

from node.network.codec import encode_message
from node.network.handshake import (
    ConnectedToSelf,
    PeerRefused,
    Refusal,
    check_compatible,
    receive_acceptance,
    receive_handshake,
)
from node.network.link import Link, LinkClosed
from node.network.messages import (
    MESSAGE_TYPES,
    NONCE_LEN,
    PROTOCOL_VERSION,
    BlockAnnounce,
    BlockRequest,
    BlockResponse,
    Disconnect,
    Handshake,
    HandshakeAccepted,
    Head,
    InvalidMessage,
    Justification,
    Message,
    check_node_name,
)
from node.network.reputation import Penalty, Reputation
from node.network.session import Session
from node.network.transport import ChainStatus, NetworkConfig, PeerInfo, RequestFailed

log = logging.getLogger("parawatt.network")

GOODBYE_TIMEOUT = 1.0  # how long a closing side waits to queue its Disconnect; then it just closes
ALREADY_CONNECTED = "already connected"


@dataclass(frozen=True, slots=True)
class LinkOutcome:
    kind: Literal["session", "self", "duplicate", "failed"]
    peer: str | None = None  # the remote's name, if its handshake arrived


class PeerSet(ABC):
    def __init__(self, local_name: str, status: ChainStatus, *, config: NetworkConfig, rng: random.Random):
        check_node_name(local_name)
        self.local_name = local_name
        self.config = config
        self._status = status
        self._rng = rng
        self.instance = rng.getrandbits(64)
        self._sessions: dict[str, Session] = {}
        self._reputation = Reputation(config.ban_threshold, config.ban_seconds)
        # (peer, message) for the node; bounded: when full, peer readers wait (see NetworkConfig).
        self._inbound_send, self.inbound = trio.open_memory_channel[tuple[str, Message]](config.inbound_queue)
        self._requests: dict[tuple[str, int], trio.MemorySendChannel[BlockResponse]] = {}
        self._next_request_id = 1
        self._changed = trio.Event()

    # -- the node's interface -----------------------------------------------------------------
    def peers(self) -> list[PeerInfo]:
        return [s.info(self._reputation.score(name)) for name, s in sorted(self._sessions.items())]

    def send(self, peer: str, message: Message) -> bool:
        if not isinstance(message, MESSAGE_TYPES):
            raise TypeError(f"cannot send a {type(message).__name__}")
        session = self._sessions.get(peer)
        if session is None:
            return False
        try:
            session.outbox_send.send_nowait(message)
        except trio.WouldBlock:
            session.dropped += 1
            log.debug("send queue to %s is full: dropped a %s", peer, type(message).__name__)
            return False
        return True

    def broadcast(self, message: Message, *, exclude: Iterable[str] = ()) -> int:
        skip = set(exclude)
        return sum(self.send(name, message) for name in list(self._sessions) if name not in skip)

    def report(self, peer: str, penalty: int, reason: str) -> None:
        now = trio.current_time()
        banned = self._reputation.penalize(peer, penalty, now)
        log.warning("peer %s: %s (score -%d, now %d)", peer, reason, penalty, self._reputation.score(peer))
        if banned:
            log.warning("banning %s for %.0f s: score %d", peer, self.config.ban_seconds, self._reputation.score(peer))
            session = self._sessions.get(peer)
            if session is not None:
                session.close(f"banned: {reason}")
        self._notify()

    def score(self, peer: str) -> int:
        return self._reputation.score(peer)

    async def request(self, peer: str, request: BlockRequest, *, timeout: float | None = None) -> BlockResponse:
        request_id = self._next_request_id
        self._next_request_id += 1
        request = dataclasses.replace(request, request_id=request_id)
        key = (peer, request_id)
        answer_send, answer = trio.open_memory_channel[BlockResponse](1)
        self._requests[key] = answer_send
        try:
            if not self.send(peer, request):
                raise RequestFailed(f"cannot send to {peer}: not connected or its send queue is full")
            wait = self.config.request_timeout if timeout is None else timeout
            with trio.move_on_after(wait):
                try:
                    response = await answer.receive()
                except trio.EndOfChannel:
                    raise RequestFailed(f"{peer} disconnected before answering request {request_id}") from None
                if len(response.blocks) > request.max_blocks:
                    self.report(peer, Penalty.PROTOCOL_VIOLATION, f"{len(response.blocks)} blocks for a request of {request.max_blocks}")
                    raise RequestFailed(f"{peer} answered with more blocks than requested")
                return response
            raise RequestFailed(f"{peer} did not answer request {request_id} within {wait} s")
        finally:
            self._requests.pop(key, None)

    def update_heads(self, best: Head, finalized: Head) -> None:
        self._status = dataclasses.replace(self._status, best=best, finalized=finalized)

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            await self._changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    # -- transport hooks ----------------------------------------------------------------------
    @abstractmethod
    async def _open_link(self, address: str) -> Link:
        """Dial one address. Raises LinkClosed if that fails at once."""

    def _local_handshake(self, nonce: bytes, answering: Handshake | None) -> Handshake:
        """Our handshake; gRPC overrides it to add its certificate and signature."""
        status = self._status
        return Handshake(
            PROTOCOL_VERSION, status.genesis_hash, status.chain_name, status.roles, self.local_name,
            status.best, status.finalized, self.instance, nonce,
        )

    def _authenticate(self, remote: Handshake, link: Link, our_nonce: bytes) -> None:
        """Raise Refusal if the transport cannot vouch for the peer's name (gRPC overrides it)."""

    # -- links, handshakes and sessions ------------------------------------------------------
    async def _dial_loop(self, address: str) -> None:
        """Keep one bootnode connected: redial whenever the link is lost or fails, waiting a
        jittered backoff between attempts. The backoff doubles up to ``backoff_max`` and starts
        over only after a session that lasted at least that long, so a peer that accepts and then
        drops us at once is not hammered."""
        config = self.config
        backoff = config.backoff_initial
        peer: str | None = None  # learnt from its first handshake
        quiet = False  # log the first failure in a row, not every retry
        while True:
            if peer is not None:
                known = peer
                await self.wait_for(lambda: known not in self._sessions)
                until = self._reputation.banned_until(known, trio.current_time())
                if until is not None:
                    await trio.sleep_until(until)
            started = trio.current_time()
            try:
                link = await self._open_link(address)
            except LinkClosed as e:
                outcome = LinkOutcome("failed")
                if not quiet:
                    log.info("cannot dial %s: %s", address, e.reason)
            else:
                outcome = await self._run_link(link, outbound=True, quiet=quiet)
            peer = outcome.peer or peer
            if outcome.kind == "self":
                log.info("bootnode %s is this node: not dialing it", address)
                return
            quiet = outcome.kind == "failed"
            if outcome.kind == "session" and trio.current_time() - started >= config.backoff_max:
                backoff = config.backoff_initial
            await trio.sleep(backoff * (1 + config.backoff_jitter * (2 * self._rng.random() - 1)))
            backoff = min(backoff * 2, config.backoff_max)

    async def _accept(self, accepted: trio.MemoryReceiveChannel[Link]) -> None:
        """Serve every accepted link in its own task until cancelled."""
        async with trio.open_nursery() as nursery:
            async for link in accepted:
                nursery.start_soon(self._run_link, link)

    async def _run_link(self, link: Link, *, outbound: bool = False, quiet: bool = False) -> LinkOutcome:
        """Handshake, admit and serve one link; never raises for the peer's faults (logs them)."""
        async with trio.open_nursery() as nursery:
            await nursery.start(link.run)
            reason = "closed"
            try:
                remote = await self._handshake(link, outbound, quiet)
                if isinstance(remote, LinkOutcome):
                    return remote
                session = self._admit(remote, link, outbound)
                if isinstance(session, str):
                    log.info("not keeping a link to %s (%s): %s", remote.node_name, link.address, session)
                    await self._goodbye(link, session)
                    kind = "duplicate" if session == ALREADY_CONNECTED else "failed"
                    return LinkOutcome(kind, remote.node_name)
                await self._serve(session, accept=outbound)
                reason = session.close_reason or "closed"
                return LinkOutcome("session", remote.node_name)
            finally:
                link.close(reason)

    async def _handshake(self, link: Link, outbound: bool, quiet: bool) -> Handshake | LinkOutcome:
        peer = None
        log_failure = log.debug if quiet else log.info
        nonce = self._rng.randbytes(NONCE_LEN) if outbound else b""
        try:
            with trio.fail_after(self.config.handshake_timeout):
                if outbound:
                    await link.send(encode_message(self._local_handshake(nonce, None)))
                remote = await receive_handshake(link, self.config.max_message_size)
                peer = remote.node_name
                try:
                    self._check_remote(remote, link, nonce)
                except ConnectedToSelf:
                    if not outbound:  # answer, so that the dialing side sees it is us
                        await link.send(encode_message(self._local_handshake(b"", remote)))
                    return LinkOutcome("self", peer)
                if not outbound:  # (the dialer accepts in _serve, once admitted)
                    await link.send(encode_message(self._local_handshake(b"", remote)))
                    await receive_acceptance(link, self.config.max_message_size)
                return remote
        except Refusal as e:
            log.warning("refused %s (%s): %s", peer, link.address, e.reason)
            await self._goodbye(link, e.reason)
        except PeerRefused as e:
            level = logging.DEBUG if e.reason == ALREADY_CONNECTED else logging.WARNING
            log.log(level, "%s (%s) refused us: %s", peer or "peer", link.address, e.reason)
            if e.reason == ALREADY_CONNECTED:
                return LinkOutcome("duplicate", peer)
        except InvalidMessage as e:
            log.warning("bad handshake from %s: %s", link.address, e.reason)
        except LinkClosed as e:
            log_failure("link to %s closed during the handshake: %s", link.address, e.reason)
        except trio.TooSlowError:
            log_failure("handshake with %s timed out after %s s", link.address, self.config.handshake_timeout)
        return LinkOutcome("failed", peer)

    def _check_remote(self, remote: Handshake, link: Link, our_nonce: bytes) -> None:
        check_compatible(self._local_handshake(b"", None), remote)
        until = self._reputation.banned_until(remote.node_name, trio.current_time())
        if until is not None:
            raise Refusal(f"banned for another {until - trio.current_time():.0f} s")
        self._authenticate(remote, link, our_nonce)

    def _admit(self, remote: Handshake, link: Link, outbound: bool) -> Session | str:
        """Register the session, settling duplicates; or say why the link is not kept.

        A link to a new instance of the peer (it restarted) replaces the old one. Otherwise:
        - a dialer keeps the session it has (it dialed an address without knowing whose it was);
        - a listener replaces a session the same peer dialed before (the peer lost it), and when
          both dialed each other at once it keeps the link dialed by the lower name. Both ends
          apply the same rule, so they agree on the link that stays.
        Synchronous: nothing can be admitted between the check and the registration."""
        name = remote.node_name
        dialer = self.local_name if outbound else name
        existing = self._sessions.get(name)
        if existing is not None:
            if existing.instance == remote.instance and (
                outbound or (existing.dialer != name and min(name, self.local_name) == self.local_name)
            ):
                return ALREADY_CONNECTED
            existing.close("replaced by a newer connection")
        elif len(self._sessions) >= self.config.max_peers:
            return f"too many peers ({self.config.max_peers})"
        session = Session(remote, link, "outbound" if outbound else "inbound", dialer, self.config, replaces=existing)
        self._sessions[name] = session
        log.info("connected to %s at %s (%s, best #%d)", name, link.address, session.direction, remote.best.number)
        self._notify()
        return session

    async def _serve(self, session: Session, *, accept: bool) -> None:
        try:
            with session.scope:
                if accept:  # the dialer's last handshake step, sent once it is admitted
                    try:
                        await session.link.send(encode_message(HandshakeAccepted()))
                    except LinkClosed as e:
                        session.close(e.reason)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._until_done, session.write, session)
                    nursery.start_soon(self._until_done, session.read, session, self._deliver, self.report)
            if session.close_reason is not None and not session.close_reason.startswith("the peer closed"):
                await self._goodbye(session.link, session.close_reason)
        finally:
            if self._sessions.get(session.name) is session:
                del self._sessions[session.name]
            for key in [k for k in self._requests if k[0] == session.name]:
                self._requests.pop(key).close()  # waiting requests see the peer is gone
            log.info("disconnected from %s: %s", session.name, session.close_reason or "link closed")
            self._notify()

    async def _until_done(self, task, session: Session, *args) -> None:
        """Run one of the session's loops; when it ends (link closed) the session ends."""
        try:
            await task(*args)
        except LinkClosed as e:
            session.close(e.reason)
        session.close(session.close_reason or "closed")

    async def _deliver(self, session: Session, message: Message) -> None:
        if isinstance(message, BlockResponse):
            waiter = self._requests.pop((session.name, message.request_id), None)
            if waiter is not None:
                waiter.send_nowait(message)
                return
        elif isinstance(message, BlockAnnounce) and message.is_best:
            session.best = Head(message.header.hash, message.header.number)
        elif isinstance(message, Justification) and message.number > session.finalized.number:
            session.finalized = Head(message.block_hash, message.number)
        await self._inbound_send.send((session.name, message))

    async def _goodbye(self, link: Link, reason: str) -> None:
        with trio.move_on_after(GOODBYE_TIMEOUT):
            try:
                await link.send(encode_message(Disconnect(reason[:256])))
            except LinkClosed:
                pass
