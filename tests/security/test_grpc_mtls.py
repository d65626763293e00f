"""Mutual TLS over real gRPC on loopback: who gets in, who is refused by the handshake, and who is
refused by the post-handshake check (revocation), with the reason logged."""

from __future__ import annotations

import logging
from concurrent import futures
from datetime import datetime, timedelta, timezone

import grpc
import pytest

from node.security import CertificateRejected, Rejection, init_ca, issue_node_certificate, load_trust, revoke, verify_peer_certificate
from node.security.grpc_tls import authorize_grpc_peer, fetch_server_certificate, grpc_credentials

METHOD = "/parawatt.test.Echo/WhoAmI"
CALL_TIMEOUT = 10  # seconds; a refused handshake fails at once, this only bounds a hung test


def _same(data: bytes) -> bytes:
    return data


@pytest.fixture
def net(tmp_path):
    """A CA made a month ago (so a certificate can be already expired), its nodes, and a stranger CA."""
    now = datetime.now(timezone.utc)
    ca = tmp_path / "ca"
    init_ca(ca, "testnet", now=now - timedelta(days=30))
    init_ca(tmp_path / "other", "othernet")
    for name in ("server", "alice", "mallory", "revoked-server"):
        issue_node_certificate(ca, name, tmp_path / name)
    issue_node_certificate(ca, "old", tmp_path / "old", now=now - timedelta(days=20), valid_days=1)
    issue_node_certificate(tmp_path / "other", "stranger", tmp_path / "stranger")
    revoke(ca, "mallory", "key_compromise")
    revoke(ca, "revoked-server", "cessation_of_operation")
    return tmp_path


@pytest.fixture
def server(net):
    """A node serving one unary method that answers with the caller's verified node name."""
    trust = load_trust(net / "ca")
    served: list[str] = []

    def who_am_i(request: bytes, context: grpc.ServicerContext) -> bytes:
        peer = authorize_grpc_peer(context, trust, now=datetime.now(timezone.utc))
        served.append(peer.node_name)
        return peer.node_name.encode()

    handler = grpc.method_handlers_generic_handler(
        "parawatt.test.Echo",
        {"WhoAmI": grpc.unary_unary_rpc_method_handler(who_am_i, request_deserializer=_same, response_serializer=_same)},
    )
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    srv.add_generic_rpc_handlers((handler,))
    server_credentials, _ = grpc_credentials(net / "server", trust)
    port = srv.add_secure_port("127.0.0.1:0", server_credentials)
    srv.start()
    try:
        yield port, served
    finally:
        srv.stop(grace=None)


def call_as(net, client: str, port: int) -> bytes:
    _, channel_credentials = grpc_credentials(net / client, load_trust(net / client))
    with grpc.secure_channel(f"127.0.0.1:{port}", channel_credentials) as channel:
        return channel.unary_unary(METHOD, request_serializer=_same, response_deserializer=_same)(b"hi", timeout=CALL_TIMEOUT)


def test_client_with_a_certificate_from_the_network_ca_is_served(net, server):
    port, served = server
    assert call_as(net, "alice", port) == b"alice"
    assert served == ["alice"]


def test_client_from_another_ca_is_refused_by_the_tls_handshake(net, server):
    port, served = server
    with pytest.raises(grpc.RpcError) as refused:
        call_as(net, "stranger", port)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    assert served == []


def test_expired_client_is_refused_by_the_tls_handshake(net, server):
    port, served = server
    with pytest.raises(grpc.RpcError) as refused:
        call_as(net, "old", port)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE
    assert served == []


def test_revoked_client_passes_tls_but_is_refused_after_the_handshake_with_a_logged_reason(net, server, caplog):
    port, served = server
    with caplog.at_level(logging.WARNING, logger="node.security"), pytest.raises(grpc.RpcError) as refused:
        call_as(net, "mallory", port)
    assert refused.value.code() is grpc.StatusCode.PERMISSION_DENIED
    assert "revoked" in refused.value.details()
    assert served == []
    [record] = [r for r in caplog.records if r.name == "node.security"]
    assert record.levelno == logging.WARNING
    assert "refused peer" in record.getMessage() and "revoked" in record.getMessage() and "key_compromise" in record.getMessage()


def test_client_checks_the_server_certificate_against_the_crl(net):
    """Outbound: the dialling node reads the server's certificate and refuses a revoked server."""
    trust = load_trust(net / "ca")
    ports = {}
    servers = []
    for name in ("server", "revoked-server"):
        srv = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
        ports[name] = srv.add_secure_port("127.0.0.1:0", grpc_credentials(net / name, trust)[0])
        srv.start()
        servers.append(srv)
    try:
        now = datetime.now(timezone.utc)
        good = fetch_server_certificate("127.0.0.1", ports["server"], net / "alice", trust, timeout=CALL_TIMEOUT)
        assert verify_peer_certificate(good, trust, now=now).node_name == "server"
        bad = fetch_server_certificate("127.0.0.1", ports["revoked-server"], net / "alice", trust, timeout=CALL_TIMEOUT)
        with pytest.raises(CertificateRejected) as refused:
            verify_peer_certificate(bad, trust, now=now)
        assert refused.value.reason is Rejection.REVOKED
    finally:
        for srv in servers:
            srv.stop(grace=None)
