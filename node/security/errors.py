"""The errors of the security package: one tree, so callers can catch what they can handle."""

from __future__ import annotations

from enum import Enum


class SecurityError(Exception):
    """Base of every error this package raises."""


class CAError(SecurityError):
    """The CA folder is missing, damaged, or the requested operation is not allowed."""


class TrustError(SecurityError):
    """The trust anchors (CA certificate, CRL) cannot be loaded or do not fit together."""


class Rejection(Enum):
    """Why a peer certificate was refused; the value is what the log line says."""

    FOREIGN_CA = "signed by another CA"
    BAD_SIGNATURE = "signature does not verify against the network CA"
    EXPIRED = "expired"
    NOT_YET_VALID = "not yet valid"
    REVOKED = "revoked"
    MALFORMED = "malformed"
    NO_IDENTITY = "missing identity binding"
    NOT_A_NODE = "not a node certificate"


class CertificateRejected(SecurityError):
    def __init__(self, reason: Rejection, detail: str):
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
