"""Mutual TLS for gRPC, and the post-handshake check gRPC cannot do itself (revocation, identity).

Inbound: the server requires a client certificate chained to the network CA (BoringSSL checks the
chain and the dates during the handshake); each handler then calls `authorize_grpc_peer`, which
re-checks the certificate against the CRL and extracts the peer's identity, or aborts the call with
PERMISSION_DENIED and logs why.
Outbound: grpcio's Python API does not expose the server's certificate to the client, so
`fetch_server_certificate` does one TLS handshake with the standard library to read it; the caller
checks it with verify_peer_certificate before (and, for long-lived channels, periodically while)
using the gRPC channel to that address.
"""

from __future__ import annotations

import logging
import socket
import ssl
from datetime import datetime
from pathlib import Path

import grpc

from node.security.errors import CertificateRejected, Rejection, SecurityError
from node.security.files import NodeFiles
from node.security.trust import Trust
from node.security.verify import PeerIdentity, verify_peer_certificate

log = logging.getLogger("node.security")


def _node_files(node_files: NodeFiles | Path | str) -> NodeFiles:
    return node_files if isinstance(node_files, NodeFiles) else NodeFiles.in_dir(node_files)


def grpc_credentials(node_files: NodeFiles | Path | str, trust: Trust) -> tuple[grpc.ServerCredentials, grpc.ChannelCredentials]:
    """(server credentials requiring a client certificate, channel credentials presenting ours),
    both trusting only the network CA."""
    files = _node_files(node_files)
    try:
        key, cert = files.tls_key.read_bytes(), files.tls_cert.read_bytes()
    except OSError as e:
        raise SecurityError(f"cannot read node TLS files: {e.strerror}: {e.filename}") from None
    server = grpc.ssl_server_credentials([(key, cert)], root_certificates=trust.ca_pem, require_client_auth=True)
    channel = grpc.ssl_channel_credentials(root_certificates=trust.ca_pem, private_key=key, certificate_chain=cert)
    return server, channel


def peer_certificate_pem(context: grpc.ServicerContext) -> bytes | None:
    """The client's leaf certificate as the TLS layer saw it (works for grpc.aio contexts too)."""
    values = context.auth_context().get("x509_pem_cert")
    return values[0] if values else None


def authorize_grpc_peer(context: grpc.ServicerContext, trust: Trust, *, now: datetime) -> PeerIdentity:
    """The calling peer's identity; otherwise log the reason and abort with PERMISSION_DENIED
    (context.abort raises, so a refused call never reaches the handler's body)."""
    pem = peer_certificate_pem(context)
    try:
        if pem is None:
            raise CertificateRejected(Rejection.MALFORMED, "no TLS client certificate")
        return verify_peer_certificate(pem, trust, now=now)
    except CertificateRejected as e:
        log.warning("refused peer %s: %s", context.peer(), e)
        context.abort(grpc.StatusCode.PERMISSION_DENIED, f"certificate refused: {e}")
        raise  # unreachable: abort raises; kept so the function never falls through


def fetch_server_certificate(host: str, port: int, node_files: NodeFiles | Path | str, trust: Trust, *, timeout: float) -> bytes:
    """The DER certificate a node's server presents, read with our client certificate (servers
    demand one). Blocking: from trio, run it with trio.to_thread.run_sync. Raises OSError/ssl.SSLError
    if the server is unreachable or fails the chain check."""
    files = _node_files(node_files)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    tls.minimum_version = ssl.TLSVersion.TLSv1_2
    tls.load_verify_locations(cadata=trust.ca_pem.decode())
    tls.load_cert_chain(files.tls_cert, files.tls_key)
    with socket.create_connection((host, port), timeout=timeout) as raw, tls.wrap_socket(raw, server_hostname=host) as conn:
        return conn.getpeercert(binary_form=True)
