"""The network over gRPC: one ``PeerLink.Connect`` bidirectional stream per peer, mutual TLS.

Envelopes cross grpc as raw bytes (no serializer): the trio side decodes them with ``codec``, so a
malformed or oversized envelope is rejected with a reason and a penalty instead of killing the
stream inside grpc. grpc's own size limit is set to twice ours for that reason; beyond it grpc
ends the stream (RESOURCE_EXHAUSTED) and we only see the stream fail.

Who checks whom (``verify_peer(cert_pem) -> identity`` with ``.node_name`` and
``.identity_public_key``, e.g. ``node.security.verify_peer_certificate`` bound to the trust):
- Listener: TLS demands a client certificate chained to the CA; the handler then calls
  ``verify_peer`` on the certificate from ``context.auth_context()`` (CRL, identity binding) and
  aborts the call with PERMISSION_DENIED, logged with the reason, if it fails. The dialer's
  handshake must then carry the certificate's node name.
- Dialer: grpcio does not show a client the server's certificate, so the listener proves itself
  in its handshake instead: it sends its certificate and an ed25519 signature, by the identity key
  that certificate binds, over (domain tag, genesis, the dialer's fresh nonce, its own name). The
  dialer calls ``verify_peer`` on that certificate and checks the signature and the name; TLS has
  already checked the server's certificate chains to the CA. So a node whose certificate is
  revoked cannot pose as a listener even with its TLS key, and a replayed handshake fails the
  nonce.
"""

from __future__ import annotations

import logging
import math
import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Iterable

import grpc
import trio
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from node.network.grpc_link import GrpcLink
from node.network.handshake import Refusal
from node.network.link import Link
from node.network.messages import Handshake
from node.network.peerset import PeerSet
from node.network.proto import parawatt_network_pb2 as pb
from node.network.transport import ChainStatus, NetworkConfig

log = logging.getLogger("parawatt.network")

SERVICE = pb.DESCRIPTOR.services_by_name["PeerLink"].full_name
METHOD = f"/{SERVICE}/Connect"
SIGNATURE_DOMAIN = b"parawatt/network/handshake/v1"


def handshake_proof_payload(genesis_hash: bytes, dialer_nonce: bytes, listener_name: str) -> bytes:
    """What a listener signs with its identity key to prove itself to a dialer."""
    return SIGNATURE_DOMAIN + genesis_hash + dialer_nonce + listener_name.encode()


def _grpc_options(config: NetworkConfig) -> list[tuple[str, Any]]:
    return [
        # Twice our limit: envelopes between the two are ours to reject with a reason.
        ("grpc.max_receive_message_length", 2 * config.max_message_size),
        ("grpc.max_send_message_length", 2 * config.max_message_size),
        # Dead peers are noticed within ~30 s even when no envelope flows.
        ("grpc.keepalive_time_ms", 20_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
    ]


class GrpcNetwork(PeerSet):
    """A node's network over gRPC. Without credentials it runs in plaintext (tests, dev chains)."""

    def __init__(
        self,
        name: str,
        status: ChainStatus,
        *,
        listen: str = "127.0.0.1:0",
        bootnodes: Iterable[str] = (),
        config: NetworkConfig = NetworkConfig(),
        server_credentials: grpc.ServerCredentials | None = None,
        channel_credentials: grpc.ChannelCredentials | None = None,
        verify_peer: Callable[[bytes], Any] | None = None,
        identity_key: Ed25519PrivateKey | None = None,
        certificate_pem: bytes = b"",
        tls_server_name: str | None = None,
    ):
        super().__init__(name, status, config=config, rng=random.SystemRandom())
        if (server_credentials is None) != (channel_credentials is None):
            raise ValueError("give both server and channel credentials, or neither")
        if verify_peer is not None and (server_credentials is None or identity_key is None or not certificate_pem):
            raise ValueError("verifying peers needs TLS credentials, our identity key and our certificate")
        self.listen = listen
        self.bootnodes = tuple(bootnodes)
        self._server_credentials = server_credentials
        self._channel_credentials = channel_credentials
        self._verify_peer = verify_peer
        self._identity_key = identity_key
        self._certificate_pem = certificate_pem
        self._tls_server_name = tls_server_name
        # One pump thread per open link; links are bounded by max_concurrent_rpcs and the bootnodes.
        self._threads = trio.CapacityLimiter(math.inf)
        self._trio_token: trio.lowlevel.TrioToken | None = None
        self._accepted_send: trio.MemorySendChannel[Link] | None = None
        self.address: str | None = None

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        self._trio_token = trio.lowlevel.current_trio_token()
        self._accepted_send, accepted = trio.open_memory_channel[Link](self.config.accept_backlog)
        in_flight = self.config.max_peers + self.config.accept_backlog
        # Each open stream holds one worker (it iterates our outgoing generator); calls beyond
        # in_flight are refused by grpc with RESOURCE_EXHAUSTED.
        workers = ThreadPoolExecutor(max_workers=in_flight + 2, thread_name_prefix=f"grpc-{self.local_name}")
        server = grpc.server(
            workers,
            handlers=[grpc.method_handlers_generic_handler(SERVICE, {
                "Connect": grpc.stream_stream_rpc_method_handler(self._handle_connect),
            })],
            options=_grpc_options(self.config),
            maximum_concurrent_rpcs=in_flight,
        )
        if self._server_credentials is None:
            log.warning("%s: gRPC without TLS (no credentials given): for tests and dev chains only", self.local_name)
            port = server.add_insecure_port(self.listen)
        else:
            port = server.add_secure_port(self.listen, self._server_credentials)
        server.start()
        self.address = f"{self.listen.rsplit(':', 1)[0]}:{port}"
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._accept, accepted)
                for address in self.bootnodes:
                    nursery.start_soon(self._dial_loop, address)
                log.info("%s listening on %s", self.local_name, self.address)
                task_status.started(self.address)
        finally:
            self._accepted_send.close()
            for link in _drain(accepted):  # accepted, never served: end their streams too
                link.close("the node is stopping")
            server.stop(grace=None)  # cancels the calls; their generators notice within _POLL
            workers.shutdown(wait=False)

    # -- GRPC SIDE: the server handler runs in one of grpc's worker threads ------------------
    def _handle_connect(self, request_iterator: Iterable[bytes], context: grpc.ServicerContext):
        identity = None
        if self._verify_peer is not None:
            pems = context.auth_context().get("x509_pem_cert")
            if not pems:
                log.warning("refused %s: no TLS client certificate", context.peer())
                context.abort(grpc.StatusCode.UNAUTHENTICATED, "no client certificate")
            try:
                identity = self._verify_peer(pems[0])
            except Exception as e:  # CertificateRejected, or any failure of the check: refuse
                log.warning("refused %s: certificate rejected: %s", context.peer(), e)
                context.abort(grpc.StatusCode.PERMISSION_DENIED, f"certificate refused: {e}")
        try:
            link = trio.from_thread.run_sync(self._adopt, request_iterator, context, identity, trio_token=self._trio_token)
        except trio.RunFinishedError:
            context.abort(grpc.StatusCode.UNAVAILABLE, "the node is stopping")
        if link is None:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, "not accepting connections now (too many waiting, or stopping)")
        return link.outgoing()  # this worker thread now iterates it for the life of the stream

    # -- TRIO SIDE ----------------------------------------------------------------------------
    def _adopt(self, request_iterator: Iterable[bytes], context: grpc.ServicerContext, identity: Any) -> GrpcLink | None:
        """(In trio, called from the handler thread.) Queue an accepted stream for the handshake."""
        link = GrpcLink(context.peer(), self.config.link_buffer, self._threads)
        link.identity = identity
        link.attach(request_iterator, context.cancel, context.is_active)
        try:
            self._accepted_send.send_nowait(link)
        except (trio.WouldBlock, trio.ClosedResourceError):
            return None
        return link

    async def _open_link(self, address: str) -> Link:
        options = _grpc_options(self.config)
        # Its own TCP connection: grpc would otherwise share one among channels to one address
        # (several nodes in one process), and a link's failure would not be its own.
        options.append(("grpc.use_local_subchannel_pool", 1))
        if self._tls_server_name is not None:
            options.append(("grpc.ssl_target_name_override", self._tls_server_name))
        if self._channel_credentials is None:
            channel = grpc.insecure_channel(address, options=options)
        else:
            channel = grpc.secure_channel(address, self._channel_credentials, options=options)
        link = GrpcLink(address, self.config.link_buffer, self._threads)
        # Returns at once: grpc connects in the background and iterates link.outgoing() in its
        # own thread; a failed connection shows up as the stream failing during the handshake.
        call = channel.stream_stream(METHOD)(link.outgoing())
        link.attach(call, call.cancel, call.is_active, after=channel.close)
        return link

    def _local_handshake(self, nonce: bytes, answering: Handshake | None) -> Handshake:
        handshake = super()._local_handshake(nonce, answering)
        if answering is None or self._identity_key is None:
            return handshake
        signature = self._identity_key.sign(
            handshake_proof_payload(handshake.genesis_hash, answering.nonce, self.local_name)
        )
        return Handshake(
            handshake.protocol_version, handshake.genesis_hash, handshake.chain_name, handshake.roles,
            handshake.node_name, handshake.best, handshake.finalized, handshake.instance, handshake.nonce,
            self._certificate_pem, signature,
        )

    def _authenticate(self, remote: Handshake, link: Link, our_nonce: bytes) -> None:
        if self._verify_peer is None:
            return
        if our_nonce:  # we dialed: the listener proves itself in its handshake
            try:
                identity = self._verify_peer(remote.certificate)
            except Exception as e:
                raise Refusal(f"certificate refused: {e}") from None
            payload = handshake_proof_payload(remote.genesis_hash, our_nonce, remote.node_name)
            if not _signature_ok(identity.identity_public_key, remote.signature, payload):
                raise Refusal("handshake signature does not verify with the identity key in its certificate")
        else:  # it dialed us: TLS showed us its certificate, checked in _handle_connect
            identity = getattr(link, "identity", None)
            if identity is None:
                raise Refusal("no verified client certificate")
        if identity.node_name != remote.node_name:
            raise Refusal(f"handshake names {remote.node_name!r}, its certificate {identity.node_name!r}")


def _drain(channel: trio.MemoryReceiveChannel[Link]) -> list[Link]:
    links = []
    while True:
        try:
            links.append(channel.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
            return links


def _signature_ok(public_key: bytes | Ed25519PublicKey, signature: bytes, payload: bytes) -> bool:
    try:
        key = public_key if isinstance(public_key, Ed25519PublicKey) else Ed25519PublicKey.from_public_bytes(public_key)
        key.verify(signature, payload)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
