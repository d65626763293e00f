"""gRPC with mutual TLS: who may join, and every refusal logged with its reason.

The certificate authority here is a throwaway one made in the test (node.security has the real
one); ``verify_peer`` is a small stand-in with the same contract: certificate PEM in, an identity
with ``node_name`` and ``identity_public_key`` out, an exception with the reason otherwise.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.network.grpc_transport import GrpcNetwork
from node.network.messages import ConsensusMessage
from tests.network.helpers import CONFIG, connected, receive, status

NOW = datetime.datetime.now(datetime.timezone.utc)
URI = "test:node:"


class Rejected(Exception):
    pass


@dataclass(frozen=True)
class Identity:
    node_name: str
    identity_public_key: bytes


class NetworkCA:
    def __init__(self, name: str):
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(NOW - datetime.timedelta(hours=1)).not_valid_after(NOW + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(Encoding.PEM)
        self.revoked: set[int] = set()

    @classmethod
    def trusting(cls, ca_pem: bytes) -> NetworkCA:
        """Only the checking half (no key): what a node that trusts this CA holds."""
        ca = cls.__new__(cls)
        ca.key, ca.cert, ca.pem, ca.revoked = None, x509.load_pem_x509_certificate(ca_pem), ca_pem, set()
        return ca

    def issue(self, name: str, identity: Ed25519PrivateKey) -> tuple[bytes, bytes, int]:
        """(TLS key PEM, certificate PEM, serial) for a node on 127.0.0.1."""
        key = ec.generate_private_key(ec.SECP256R1())
        raw = identity.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(self.cert.subject).public_key(key.public_key()).serial_number(serial)
            .not_valid_before(NOW - datetime.timedelta(hours=1)).not_valid_after(NOW + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.UniformResourceIdentifier(f"{URI}{name}:{raw.hex()}"),
            ]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        key_pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
        return key_pem, cert.public_bytes(Encoding.PEM), serial

    def verify_peer(self, cert_pem: bytes) -> Identity:
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
            cert.verify_directly_issued_by(self.cert)
        except Exception as e:
            raise Rejected(f"not issued by the network CA ({type(e).__name__})") from None
        if cert.serial_number in self.revoked:
            raise Rejected(f"serial {cert.serial_number:x} is revoked")
        [uri] = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
            x509.UniformResourceIdentifier
        )
        name, key = uri.removeprefix(URI).split(":")
        return Identity(name, bytes.fromhex(key))


@dataclass
class NodeKit:
    name: str
    identity: Ed25519PrivateKey
    tls_key: bytes
    cert: bytes
    serial: int


def kit(ca: NetworkCA, name: str, *, identity: Ed25519PrivateKey | None = None) -> NodeKit:
    identity = identity or Ed25519PrivateKey.generate()
    key, cert, serial = ca.issue(name, identity)
    return NodeKit(name, identity, key, cert, serial)


def tls_node(name: str, node: NodeKit, trusted: NetworkCA, *, bootnodes=(), identity=None, cert=None) -> GrpcNetwork:
    """A node whose TLS chain and peer checks trust `trusted`, presenting `node`'s credentials."""
    server = grpc.ssl_server_credentials([(node.tls_key, node.cert)], root_certificates=trusted.pem, require_client_auth=True)
    channel = grpc.ssl_channel_credentials(root_certificates=trusted.pem, private_key=node.tls_key, certificate_chain=node.cert)
    return GrpcNetwork(
        name, status(), bootnodes=bootnodes, config=CONFIG,
        server_credentials=server, channel_credentials=channel, verify_peer=trusted.verify_peer,
        identity_key=identity or node.identity, certificate_pem=cert or node.cert,
    )


@pytest.fixture
def ca() -> NetworkCA:
    return NetworkCA("parawatt test network")


async def test_nodes_with_certificates_from_the_network_ca_connect(nursery, ca):
    alice = tls_node("alice", kit(ca, "alice"), ca)
    address = await nursery.start(alice.run)
    bob = tls_node("bob", kit(ca, "bob"), ca, bootnodes=[address])
    await nursery.start(bob.run)
    await connected((alice, "bob"), (bob, "alice"))
    assert bob.send("alice", ConsensusMessage(b"aura", b"hello"))
    assert await receive(alice) == [("bob", ConsensusMessage(b"aura", b"hello"))]


async def test_node_with_a_certificate_from_another_ca_cannot_join(nursery, ca, logs):
    alice = tls_node("alice", kit(ca, "alice"), ca)
    address = await nursery.start(alice.run)
    other = NetworkCA("another network")
    # mallory trusts our CA (so it would accept alice) but holds a certificate from another CA
    mallory = tls_node("mallory", kit(other, "mallory"), ca, bootnodes=[address])
    await nursery.start(mallory.run)
    line = await logs.wait_for(f"link to {address} closed during the handshake")
    assert "UNAVAILABLE" in line
    assert alice.peers() == [] and mallory.peers() == []


async def test_listener_with_a_certificate_from_another_ca_is_not_trusted(nursery, ca, logs):
    other = NetworkCA("another network")
    impostor = tls_node("alice", kit(other, "alice"), other)
    address = await nursery.start(impostor.run)
    bob = tls_node("bob", kit(ca, "bob"), ca, bootnodes=[address])
    await nursery.start(bob.run)
    await logs.wait_for(f"link to {address} closed during the handshake")
    assert bob.peers() == [] and impostor.peers() == []


async def test_revoked_dialer_is_refused_with_the_reason(nursery, ca, logs):
    alice = tls_node("alice", kit(ca, "alice"), ca)
    address = await nursery.start(alice.run)
    bob_kit = kit(ca, "bob")
    ca.revoked.add(bob_kit.serial)
    bob = tls_node("bob", bob_kit, ca, bootnodes=[address])
    await nursery.start(bob.run)
    line = await logs.wait_for("certificate rejected")
    assert "revoked" in line
    line = await logs.wait_for("PERMISSION_DENIED")  # bob is told why
    assert "revoked" in line
    assert alice.peers() == [] and bob.peers() == []


async def test_revoked_listener_is_refused_by_the_dialer(nursery, ca, logs):
    alice_kit = kit(ca, "alice")
    alice = tls_node("alice", alice_kit, ca)
    address = await nursery.start(alice.run)
    ca.revoked.add(alice_kit.serial)  # revoked after it started: it still has a TLS key and cert
    bob = tls_node("bob", kit(ca, "bob"), ca, bootnodes=[address])
    await nursery.start(bob.run)
    line = await logs.wait_for("refused alice")
    assert "revoked" in line
    await logs.wait_for("refused us: certificate refused")  # alice hears why
    assert alice.peers() == [] and bob.peers() == []


async def test_listener_that_cannot_sign_with_its_certified_identity_key_is_refused(nursery, ca, logs):
    alice = tls_node("alice", kit(ca, "alice"), ca, identity=Ed25519PrivateKey.generate())
    address = await nursery.start(alice.run)
    bob = tls_node("bob", kit(ca, "bob"), ca, bootnodes=[address])
    await nursery.start(bob.run)
    line = await logs.wait_for("refused alice")
    assert "signature does not verify" in line
    assert bob.peers() == []


async def test_listener_showing_another_nodes_certificate_is_refused(nursery, ca, logs):
    carol = kit(ca, "carol")
    # alice's TLS is her own, but her handshake shows carol's certificate (and cannot sign for it)
    alice = tls_node("alice", kit(ca, "alice"), ca, cert=carol.cert)
    address = await nursery.start(alice.run)
    bob = tls_node("bob", kit(ca, "bob"), ca, bootnodes=[address])
    await nursery.start(bob.run)
    line = await logs.wait_for("refused alice")
    assert "signature does not verify" in line or "certificate 'carol'" in line


async def test_dialer_must_use_the_name_in_its_certificate(nursery, ca, logs):
    alice = tls_node("alice", kit(ca, "alice"), ca)
    address = await nursery.start(alice.run)
    carol = kit(ca, "carol")
    posing = tls_node("bob", carol, ca, bootnodes=[address])  # carol's certificate, calls itself bob
    await nursery.start(posing.run)
    line = await logs.wait_for("refused bob")
    assert "handshake names 'bob', its certificate 'carol'" in line
    assert alice.peers() == []


def test_verifying_peers_needs_credentials_and_an_identity():
    ca = NetworkCA("x")
    with pytest.raises(ValueError, match="needs TLS credentials"):
        GrpcNetwork("alice", status(), verify_peer=ca.verify_peer)
    with pytest.raises(ValueError, match="both server and channel"):
        GrpcNetwork("alice", status(), server_credentials=grpc.ssl_server_credentials([(b"k", b"c")]))


async def test_plaintext_network_warns_that_it_is_for_tests_only(nursery, logs):
    net = GrpcNetwork("alice", status(), config=CONFIG)
    await nursery.start(net.run)
    assert logs.has("without TLS")
