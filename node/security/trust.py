"""The trust anchors of a network: its CA certificate and the CA's current revocation list."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from node.security.errors import TrustError
from node.security.files import CA_CERT, CRL


@dataclass(frozen=True, slots=True)
class Trust:
    ca_cert: x509.Certificate
    crl: x509.CertificateRevocationList  # signed by ca_cert; checked when built

    @property
    def ca_pem(self) -> bytes:
        return self.ca_cert.public_bytes(Encoding.PEM)

    @classmethod
    def from_pem(cls, ca_pem: bytes, crl_pem: bytes) -> Trust:
        """Parse and cross-check; raises TrustError. Use it for a CRL received at run time too."""
        try:
            ca_cert = x509.load_pem_x509_certificate(ca_pem)
        except ValueError as e:
            raise TrustError(f"CA certificate is not a PEM certificate ({e})") from None
        try:
            crl = x509.load_pem_x509_crl(crl_pem)
        except ValueError as e:
            raise TrustError(f"CRL is not a PEM revocation list ({e})") from None
        check_trust(ca_cert, crl)
        return cls(ca_cert, crl)


def check_trust(ca_cert: x509.Certificate, crl: x509.CertificateRevocationList) -> None:
    try:
        constraints = ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        constraints = None
    if constraints is None or not constraints.ca:
        raise TrustError("the CA certificate is not marked as a CA (basicConstraints ca=TRUE)")
    # A CRL we cannot attribute to our CA could silently un-revoke a node: refuse it.
    if crl.issuer != ca_cert.subject or not crl.is_signature_valid(ca_cert.public_key()):
        raise TrustError("the CRL is not signed by this CA")


def load_trust(source: Path | str | tuple[Path | str, Path | str]) -> Trust:
    """Trust from a folder holding ca.crt and crl.pem (a CA folder or a node folder), or from a
    (ca_cert_path, crl_path) pair. The CRL is required: without it revocation would be unchecked."""
    if isinstance(source, tuple):
        ca_path, crl_path = Path(source[0]), Path(source[1])
    else:
        ca_path, crl_path = Path(source) / CA_CERT, Path(source) / CRL
    try:
        ca_pem, crl_pem = ca_path.read_bytes(), crl_path.read_bytes()
    except OSError as e:
        raise TrustError(f"cannot read trust anchors: {e.strerror}: {e.filename}") from None
    return Trust.from_pem(ca_pem, crl_pem)
