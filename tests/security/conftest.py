"""A test network: a CA created at a fixed time, and helpers to issue and forge certificates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.security import init_ca, issue_node_certificate, load_trust

T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)  # when the test CA is created
SOON = T0 + timedelta(hours=1)  # when certificates issued at T0 are checked


@pytest.fixture
def ca_dir(tmp_path):
    init_ca(tmp_path / "ca", "testnet", valid_days=3650, now=T0)
    return tmp_path / "ca"


@pytest.fixture
def issue(ca_dir, tmp_path):
    """issue(name, **kw) -> IssuedNode, at T0 unless `now` is given, into tmp_path/<name>."""

    def _issue(name, **kw):
        kw.setdefault("now", T0)
        return issue_node_certificate(kw.pop("ca", ca_dir), name, kw.pop("out", tmp_path / name), **kw)

    return _issue


@pytest.fixture
def trust(ca_dir):
    return lambda: load_trust(ca_dir)  # re-read: revocations change the CRL


def forge(ca_dir, *, name="mallory", uris=(), eku=(ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH), ca=False) -> bytes:
    """A certificate signed with the real CA key but shaped by the test, as DER."""
    ca_key = serialization.load_pem_private_key((ca_dir / "ca.key").read_bytes(), password=None)
    ca_cert = x509.load_pem_x509_certificate((ca_dir / "ca.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(T0)
        .not_valid_after(T0 + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    if uris:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]), critical=False)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
