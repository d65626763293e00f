"""The X.509 checks both certificate authorities in Parawatt need — the network's (node
certificates) and a VPP operator's (aggregators and meters): was a certificate issued by this CA,
and is it (and the CA) valid now. Pure; each caller turns a problem into its own error type."""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature

FOREIGN_CA, BAD_SIGNATURE, NOT_YET_VALID, EXPIRED = "foreign_ca", "bad_signature", "not_yet_valid", "expired"


def issuer_problem(cert: x509.Certificate, ca: x509.Certificate, ca_role: str) -> tuple[str, str] | None:
    """(FOREIGN_CA | BAD_SIGNATURE, detail) unless ``ca`` issued ``cert``; ``ca_role`` names the
    CA in the detail ("network CA", "operator CA")."""
    if cert.issuer != ca.subject:
        return FOREIGN_CA, f"issuer {cert.issuer.rfc4514_string()!r}, {ca_role} {ca.subject.rfc4514_string()!r}"
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        aki = None
    # Another CA reusing this CA's name still has another key: tell that apart from tampering.
    if aki is not None and aki != x509.SubjectKeyIdentifier.from_public_key(ca.public_key()).digest:
        return FOREIGN_CA, f"issued by key {aki.hex()[:16]}…, not the {ca_role}'s key"
    try:
        cert.verify_directly_issued_by(ca)
    except (InvalidSignature, ValueError, TypeError) as e:
        return BAD_SIGNATURE, f"tampered or forged ({type(e).__name__})"
    return None


def validity_problem(cert: x509.Certificate, ca: x509.Certificate, now: datetime, ca_role: str) -> tuple[str, str] | None:
    """(NOT_YET_VALID | EXPIRED, detail) unless both ``cert`` and ``ca`` are valid at ``now``."""
    if now < cert.not_valid_before_utc:
        return NOT_YET_VALID, f"valid from {cert.not_valid_before_utc.isoformat()}"
    if now > cert.not_valid_after_utc:
        return EXPIRED, f"expired {cert.not_valid_after_utc.isoformat()}"
    if not ca.not_valid_before_utc <= now <= ca.not_valid_after_utc:
        return EXPIRED, f"the {ca_role} is valid {ca.not_valid_before_utc.isoformat()} to {ca.not_valid_after_utc.isoformat()}"
    return None
