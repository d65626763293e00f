"""Checking a peer's certificate after the TLS handshake.

gRPC's TLS checks the chain to the CA and the validity period, but not revocation, and it knows
nothing of identity keys; every inbound and outbound connection is therefore checked again here,
against the CA *and* the CRL. Pure: the time is passed in, nothing is read from disk or the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.security.x509_checks import BAD_SIGNATURE, EXPIRED, FOREIGN_CA, NOT_YET_VALID, issuer_problem, validity_problem
from node.security.errors import CertificateRejected, Rejection
from node.security.identity import URI_PREFIX, decode_identity_uri
from node.security.trust import Trust

MAX_CERTIFICATE_BYTES = 16 * 1024  # ours are < 1 KiB; anything huge is hostile


@dataclass(frozen=True, slots=True)
class PeerIdentity:
    node_name: str
    identity_public_key: bytes  # raw ed25519, 32 bytes, as bound by the CA
    serial: int


def _parse(data: bytes | str) -> x509.Certificate:
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    if len(data) > MAX_CERTIFICATE_BYTES:
        raise CertificateRejected(Rejection.MALFORMED, f"{len(data)} bytes, more than {MAX_CERTIFICATE_BYTES}")
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as e:
        raise CertificateRejected(Rejection.MALFORMED, str(e)) from None


_REASONS = {FOREIGN_CA: Rejection.FOREIGN_CA, BAD_SIGNATURE: Rejection.BAD_SIGNATURE,
            NOT_YET_VALID: Rejection.NOT_YET_VALID, EXPIRED: Rejection.EXPIRED}


def _check_issuer(cert: x509.Certificate, ca: x509.Certificate) -> None:
    problem = issuer_problem(cert, ca, "network CA")
    if problem is not None:
        raise CertificateRejected(_REASONS[problem[0]], problem[1])


def _check_validity(cert: x509.Certificate, ca: x509.Certificate, now: datetime) -> None:
    problem = validity_problem(cert, ca, now, "network CA")
    if problem is not None:
        raise CertificateRejected(_REASONS[problem[0]], problem[1])


def _check_revocation(cert: x509.Certificate, crl: x509.CertificateRevocationList) -> None:
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is None:
        return
    try:
        reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
    except x509.ExtensionNotFound:
        reason = "unspecified"
    raise CertificateRejected(Rejection.REVOKED, f"serial {cert.serial_number:x} revoked {entry.revocation_date_utc.isoformat()} ({reason})")


def _check_node_usage(cert: x509.Certificate) -> None:
    ext = cert.extensions
    try:
        if ext.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertificateRejected(Rejection.NOT_A_NODE, "it is a CA certificate")
    except x509.ExtensionNotFound:
        pass
    try:
        usages = ext.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = ()
    if ExtendedKeyUsageOID.SERVER_AUTH not in usages or ExtendedKeyUsageOID.CLIENT_AUTH not in usages:
        raise CertificateRejected(Rejection.NOT_A_NODE, "extended key usage lacks serverAuth or clientAuth")


def _identity(cert: x509.Certificate) -> tuple[str, bytes]:
    try:
        uris = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    bindings = [u for u in uris if u.startswith(URI_PREFIX)]
    if len(bindings) != 1:
        raise CertificateRejected(Rejection.NO_IDENTITY, f"{len(bindings)} {URI_PREFIX}… URIs, need exactly one")
    decoded = decode_identity_uri(bindings[0])
    if decoded is None:
        raise CertificateRejected(Rejection.NO_IDENTITY, f"badly formed binding {bindings[0][:100]!r}")
    name, key = decoded
    common_names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if common_names != [name]:
        raise CertificateRejected(Rejection.NO_IDENTITY, f"binding names {name!r}, subject names {common_names!r}")
    try:
        Ed25519PublicKey.from_public_bytes(key)
    except ValueError:
        raise CertificateRejected(Rejection.NO_IDENTITY, "bound key is not an ed25519 public key") from None
    return name, key


def verify_peer_certificate(cert_pem_or_der: bytes | str, trust: Trust, *, now: datetime) -> PeerIdentity:
    """The peer's identity if its certificate is from the network CA, valid at `now` (aware),
    not revoked and binds an identity key; otherwise CertificateRejected with the reason."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    cert = _parse(cert_pem_or_der)
    try:
        _check_issuer(cert, trust.ca_cert)
        _check_validity(cert, trust.ca_cert, now)
        _check_revocation(cert, trust.crl)
        _check_node_usage(cert)
        name, key = _identity(cert)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as e:
        # cryptography parses extensions lazily: a broken one surfaces only when read.
        raise CertificateRejected(Rejection.MALFORMED, f"{type(e).__name__}: {e}") from None
    return PeerIdentity(name, key, cert.serial_number)
