"""verify_peer_certificate: what a node accepts from a peer after the TLS handshake, and every way
a certificate is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID

from node.security import CertificateRejected, PeerIdentity, Rejection, init_ca, revoke, verify_peer_certificate
from node.security.identity import encode_identity_uri

from .conftest import SOON, T0, forge


def der(issued) -> bytes:
    return x509.load_pem_x509_certificate(issued.files.tls_cert.read_bytes()).public_bytes(serialization.Encoding.DER)


def rejection(cert, trust, *, now=SOON) -> CertificateRejected:
    with pytest.raises(CertificateRejected) as info:
        verify_peer_certificate(cert, trust, now=now)
    return info.value


def test_issued_certificate_verifies_to_its_node_identity(issue, trust):
    alice = issue("alice")
    identity = serialization.load_pem_private_key(alice.files.identity_key.read_bytes(), password=None)
    peer = verify_peer_certificate(alice.files.tls_cert.read_bytes(), trust(), now=SOON)
    assert peer == PeerIdentity("alice", alice.record.identity_public_key, alice.record.serial)
    assert peer.identity_public_key == identity.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def test_certificate_accepted_as_der_pem_bytes_or_pem_text(issue, trust):
    alice = issue("alice")
    pem = alice.files.tls_cert.read_bytes()
    names = {verify_peer_certificate(c, trust(), now=SOON).node_name for c in (pem, pem.decode(), der(alice))}
    assert names == {"alice"}


def test_certificate_rejected_if_signed_by_another_ca(issue, trust, tmp_path):
    init_ca(tmp_path / "other", "othernet", now=T0)
    stranger = issue("alice", ca=tmp_path / "other", out=tmp_path / "stranger")
    assert rejection(der(stranger), trust()).reason is Rejection.FOREIGN_CA


def test_certificate_rejected_if_signed_by_another_ca_using_the_same_name(issue, trust, tmp_path):
    init_ca(tmp_path / "twin", "testnet", now=T0)
    impostor = issue("alice", ca=tmp_path / "twin", out=tmp_path / "impostor")
    error = rejection(der(impostor), trust())
    assert error.reason is Rejection.FOREIGN_CA and "not the network CA's key" in str(error)


def test_certificate_rejected_if_expired(issue, trust):
    short = issue("alice", valid_days=1)
    verify_peer_certificate(der(short), trust(), now=T0 + timedelta(days=1))  # the last valid second
    assert rejection(der(short), trust(), now=T0 + timedelta(days=1, seconds=1)).reason is Rejection.EXPIRED


def test_certificate_rejected_if_not_yet_valid(issue, trust):
    future = issue("alice", now=T0 + timedelta(days=30))
    assert rejection(der(future), trust(), now=SOON).reason is Rejection.NOT_YET_VALID


def test_certificate_rejected_once_the_ca_itself_expired(issue, trust):
    alice = issue("alice", valid_days=5000)  # clamped to the CA's expiry, T0 + 3650 days
    assert alice.record.not_after == T0 + timedelta(days=3650)
    assert rejection(der(alice), trust(), now=T0 + timedelta(days=3651)).reason is Rejection.EXPIRED


def test_certificate_rejected_if_revoked(issue, trust, ca_dir):
    alice = issue("alice")
    verify_peer_certificate(der(alice), trust(), now=SOON)
    revoke(ca_dir, "alice", "key_compromise", now=T0)
    error = rejection(der(alice), trust())
    assert error.reason is Rejection.REVOKED and "key_compromise" in error.detail


def test_certificate_rejected_if_tampered_to_impersonate_another_node(issue, trust):
    alice = issue("alice")
    forged = der(alice).replace(b"alice", b"carol")  # subject CN and identity URI, same lengths
    assert forged != der(alice)
    assert rejection(forged, trust()).reason is Rejection.BAD_SIGNATURE


def test_certificate_rejected_if_its_signature_is_flipped(issue, trust):
    cert = bytearray(der(issue("alice")))
    cert[-5] ^= 0x01  # inside the ECDSA signature's last integer: still well-formed DER
    assert rejection(bytes(cert), trust()).reason is Rejection.BAD_SIGNATURE


@pytest.mark.parametrize(
    "data",
    [b"", b"\x00" * 64, b"garbage bytes, not a certificate", b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", b"\x30" * 20_000],
    ids=["empty", "zeros", "text", "bad-pem", "oversized"],
)
def test_certificate_rejected_if_malformed(trust, data):
    assert rejection(data, trust()).reason is Rejection.MALFORMED


def test_certificate_rejected_if_truncated(issue, trust):
    assert rejection(der(issue("alice"))[:-40], trust()).reason is Rejection.MALFORMED


@pytest.mark.parametrize(
    "uris",
    [
        (),
        ("https://example.com/alice",),
        ("parawatt:node:mallory:" + "ab" * 31,),  # 31-byte key
        ("parawatt:node:mallory:" + "zz" * 32,),
        ("parawatt:node:bob:" + "ab" * 32,),  # names someone other than the subject
        (encode_identity_uri("mallory", b"\x01" * 32), encode_identity_uri("mallory", b"\x02" * 32)),
    ],
    ids=["none", "other-uri", "short-key", "not-hex", "name-mismatch", "two-bindings"],
)
def test_certificate_rejected_if_identity_binding_missing_or_broken(ca_dir, trust, uris):
    assert rejection(forge(ca_dir, uris=uris), trust()).reason is Rejection.NO_IDENTITY


def test_forged_helper_certificate_with_a_good_binding_is_accepted(ca_dir, trust):
    cert = forge(ca_dir, uris=(encode_identity_uri("mallory", b"\x01" * 32),))
    assert verify_peer_certificate(cert, trust(), now=SOON).node_name == "mallory"


def test_ca_certificate_is_not_accepted_as_a_node(trust):
    ca_pem = trust().ca_pem
    assert rejection(ca_pem, trust()).reason is Rejection.NOT_A_NODE


def test_certificate_rejected_if_not_usable_for_both_tls_roles(ca_dir, trust):
    server_only = forge(ca_dir, uris=(encode_identity_uri("mallory", b"\x01" * 32),), eku=(ExtendedKeyUsageOID.SERVER_AUTH,))
    assert rejection(server_only, trust()).reason is Rejection.NOT_A_NODE


def test_verification_requires_an_aware_time(issue, trust):
    with pytest.raises(ValueError):
        verify_peer_certificate(der(issue("alice")), trust(), now=SOON.replace(tzinfo=None))
