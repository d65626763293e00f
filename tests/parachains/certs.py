"""A throwaway VPP operator CA for tests, issuing aggregator and meter certificates the way the
operator's tool would (bindings from `parachains.certificates`), and hostile variants."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from parachains.certificates import aggregator_uris, meter_uri
from parachains.roles import Flow, ResourceKind

NOW_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
NOW = datetime(2025, 1, 1, tzinfo=timezone.utc)
PEM = serialization.Encoding.PEM


class OperatorCa:
    def __init__(self, name: str = "Parawatt VPP operator", *, not_before: datetime = NOW - timedelta(days=30), days: int = 3650):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name).issuer_name(self.name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_before + timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = self.cert.public_bytes(PEM)

    def issue(self, uris: list[str], *, public_key=None, not_before: datetime = NOW - timedelta(days=1),
              not_after: datetime = NOW + timedelta(days=365), is_ca: bool = False, subject: str = "participant") -> bytes:
        public_key = public_key or ec.generate_private_key(ec.SECP256R1()).public_key()
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(self.name)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
        )
        if uris:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(u) for u in uris]), critical=False)
        if is_ca:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        return builder.sign(self.key, hashes.SHA256()).public_bytes(PEM)

    def aggregator(self, account: bytes, kind: ResourceKind, *, capacity: int = 0, state_of_charge: int = 0, **kw) -> bytes:
        return self.issue(aggregator_uris(account, kind, capacity=capacity, state_of_charge=state_of_charge), **kw)

    def device(self, key: Ed25519PrivateKey, aggregator: bytes, flow: Flow, **kw) -> bytes:
        return self.issue([meter_uri(aggregator, flow)], public_key=key.public_key(), **kw)
