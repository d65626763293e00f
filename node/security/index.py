"""The CA's ledger of every certificate it issued (index.json): what `ca show` lists and what the
CRL is rebuilt from. Serials are hex strings because they are 159-bit numbers."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime

from cryptography import x509

from node.security.errors import CAError

# CRL reason names an operator may give (RFC 5280 section 5.3.1, minus removeFromCRL / aACompromise).
REVOCATION_REASONS = {
    flag.name: flag
    for flag in x509.ReasonFlags
    if flag not in (x509.ReasonFlags.remove_from_crl, x509.ReasonFlags.aa_compromise)
}


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    node_name: str
    serial: int
    identity_public_key: bytes  # raw ed25519, 32 bytes
    not_before: datetime
    not_after: datetime
    hosts: tuple[str, ...]
    revoked_at: datetime | None = None
    revocation_reason: str | None = None  # a REVOCATION_REASONS key

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def revoke(self, at: datetime, reason: str) -> CertificateRecord:
        return replace(self, revoked_at=at, revocation_reason=reason)


@dataclass(frozen=True, slots=True)
class Index:
    network: str
    crl_number: int  # of the last CRL written; each new CRL takes the next one
    records: tuple[CertificateRecord, ...]

    def by_name(self, node_name: str) -> list[CertificateRecord]:
        return [r for r in self.records if r.node_name == node_name]


def encode_index(index: Index) -> bytes:
    def record(r: CertificateRecord) -> dict:
        return {
            "node": r.node_name,
            "serial": f"{r.serial:x}",
            "identity": r.identity_public_key.hex(),
            "not_before": r.not_before.isoformat(),
            "not_after": r.not_after.isoformat(),
            "hosts": list(r.hosts),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
            "revocation_reason": r.revocation_reason,
        }

    doc = {"version": 1, "network": index.network, "crl_number": index.crl_number, "certificates": [record(r) for r in index.records]}
    return json.dumps(doc, indent=2).encode() + b"\n"


def decode_index(data: bytes) -> Index:
    try:
        doc = json.loads(data)
        if doc["version"] != 1:
            raise CAError(f"unknown version {doc['version']!r}")
        records = tuple(
            CertificateRecord(
                node_name=c["node"],
                serial=int(c["serial"], 16),
                identity_public_key=bytes.fromhex(c["identity"]),
                not_before=datetime.fromisoformat(c["not_before"]),
                not_after=datetime.fromisoformat(c["not_after"]),
                hosts=tuple(c["hosts"]),
                revoked_at=datetime.fromisoformat(c["revoked_at"]) if c["revoked_at"] else None,
                revocation_reason=c["revocation_reason"],
            )
            for c in doc["certificates"]
        )
        return Index(network=doc["network"], crl_number=int(doc["crl_number"]), records=records)
    except (ValueError, KeyError, TypeError) as e:
        raise CAError(f"{type(e).__name__}: {e}") from None
