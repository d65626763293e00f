"""A network's certificate authority, kept in one folder (ca.key, ca.crt, crl.pem, index.json).

Keys are ECDSA P-256, which gRPC's BoringSSL accepts on both ends of a TLS connection; each node's
ed25519 identity key is bound into its certificate (see identity.py). This is an operator tool: it
reads the clock unless a `now` is injected (tests issue certificates in the past that way).
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from node.security.errors import CAError
from node.security.files import CA_CERT, CA_KEY, CRL, INDEX, IDENTITY_KEY, NodeFiles, exclusive, make_private_dir, write_file
from node.security.identity import encode_identity_uri, is_valid_node_name, raw_public_key
from node.security.index import REVOCATION_REASONS, CertificateRecord, Index, decode_index, encode_index
from node.security.trust import Trust, load_trust  # noqa: F401  (load_trust is part of this API)

_PEM = serialization.Encoding.PEM
_DNS_NAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9*]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")


@dataclass(frozen=True, slots=True)
class IssuedNode:
    record: CertificateRecord
    files: NodeFiles
    identity_key_written: bool  # False when an existing or caller-held identity key was bound


def _now(now: datetime | None) -> datetime:
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(timezone.utc).replace(microsecond=0)  # X.509 times have whole seconds


def _private_pem(key) -> bytes:
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _hosts_san(hosts) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            if not _DNS_NAME.fullmatch(host):
                raise CAError(f"host {host!r} is neither an IP address nor a DNS name") from None
            names.append(x509.DNSName(host))
    return names


def init_ca(ca_dir: Path | str, network_name: str, *, valid_days: int = 3650, now: datetime | None = None) -> x509.Certificate:
    """Create the CA key, its self-signed certificate, an empty CRL and the index. Refuses to
    touch a folder that already holds a CA: overwriting it would orphan every node certificate."""
    ca_dir, now = Path(ca_dir), _now(now)
    if not network_name.strip():
        raise CAError("the network name must not be empty")
    if valid_days <= 0:
        raise CAError("valid_days must be positive")
    if (ca_dir / CA_KEY).exists() or (ca_dir / CA_CERT).exists():
        raise CAError(f"{ca_dir} already holds a CA; use another folder")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, network_name), x509.NameAttribute(NameOID.COMMON_NAME, f"{network_name} CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    make_private_dir(ca_dir)
    index = Index(network=network_name, crl_number=0, records=())
    write_file(ca_dir / CA_KEY, _private_pem(key), secret=True)
    write_file(ca_dir / CA_CERT, cert.public_bytes(_PEM))
    _write_index_and_crl(ca_dir, key, cert, index, now)
    return cert


def _read(ca_dir: Path, name: str, parse):
    try:
        return parse((ca_dir / name).read_bytes())
    except OSError as e:
        raise CAError(f"CA folder {ca_dir} is incomplete: cannot read {name} ({e.strerror})") from None
    except (ValueError, TypeError, CAError) as e:
        raise CAError(f"CA folder {ca_dir} is damaged: {name}: {e}") from None


def _open_ca(ca_dir: Path) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate, Index]:
    if not (ca_dir / CA_KEY).exists() and not (ca_dir / CA_CERT).exists():
        raise CAError(f"no CA in {ca_dir} (create one with `parawatt ca init --dir {ca_dir} --network NAME`)")
    key = _read(ca_dir, CA_KEY, lambda data: serialization.load_pem_private_key(data, password=None))
    cert = _read(ca_dir, CA_CERT, x509.load_pem_x509_certificate)
    index = _read(ca_dir, INDEX, decode_index)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise CAError(f"CA folder {ca_dir} is damaged: ca.key does not belong to ca.crt")
    return key, cert, index


def _one_at_a_time(operation):
    """Run a CA operation under the CA folder's lock (a missing folder is reported by _open_ca)."""

    @functools.wraps(operation)
    def run(ca_dir, *args, **kwargs):
        if not Path(ca_dir).is_dir():
            return operation(ca_dir, *args, **kwargs)
        with exclusive(Path(ca_dir)):
            return operation(ca_dir, *args, **kwargs)

    return run


def _write_index_and_crl(ca_dir: Path, key, ca_cert: x509.Certificate, index: Index, now: datetime) -> Index:
    """Write the index, then the CRL built from it (the index is the source of truth)."""
    index = replace(index, crl_number=index.crl_number + 1)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now)
        # Nodes do not reject a stale CRL (that would lock out a whole network when an operator is
        # late); the next update is simply "before the CA expires". Revocations propagate when
        # operators copy crl.pem to the nodes.
        .next_update(max(ca_cert.not_valid_after_utc, now + timedelta(days=1)))
        .add_extension(x509.CRLNumber(index.crl_number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
    )
    for r in index.records:
        if r.revoked_at is None:
            continue
        entry = x509.RevokedCertificateBuilder().serial_number(r.serial).revocation_date(r.revoked_at)
        if r.revocation_reason != "unspecified":  # RFC 5280: omit the reason code when unspecified
            entry = entry.add_extension(x509.CRLReason(REVOCATION_REASONS[r.revocation_reason]), critical=False)
        builder = builder.add_revoked_certificate(entry.build())
    write_file(ca_dir / INDEX, encode_index(index))
    write_file(ca_dir / CRL, builder.sign(key, hashes.SHA256()).public_bytes(_PEM))
    return index


def _resolve_identity(identity_key, out_dir: Path) -> tuple[Ed25519PublicKey, Ed25519PrivateKey | None]:
    """The public key to bind and the private key to write (None: nothing to write)."""
    existing = None
    if (out_dir / IDENTITY_KEY).exists():
        try:
            existing = serialization.load_pem_private_key((out_dir / IDENTITY_KEY).read_bytes(), password=None)
        except (ValueError, TypeError) as e:
            raise CAError(f"{out_dir / IDENTITY_KEY} is not a PEM private key ({e})") from None
        if not isinstance(existing, Ed25519PrivateKey):
            raise CAError(f"{out_dir / IDENTITY_KEY} is not an ed25519 key")
    if identity_key is None:
        # Re-issuing into a node folder keeps the node's identity; only the TLS key is renewed.
        private = existing or Ed25519PrivateKey.generate()
        return private.public_key(), None if existing else private
    if not isinstance(identity_key, Ed25519PrivateKey | Ed25519PublicKey):
        raise CAError("identity_key must be an ed25519 private or public key")
    public = identity_key.public_key() if isinstance(identity_key, Ed25519PrivateKey) else identity_key
    if existing is not None and raw_public_key(existing) != raw_public_key(public):
        raise CAError(f"{out_dir / IDENTITY_KEY} holds a different identity key; use another --out folder")
    writable = identity_key if isinstance(identity_key, Ed25519PrivateKey) and existing is None else None
    return public, writable


def _check_reissue(index: Index, node_name: str, identity: bytes, force: bool) -> None:
    previous = index.by_name(node_name)
    if previous and not force:
        active = [r for r in previous if not r.revoked]
        what = f"certificate {active[-1].serial:x}" if active else "a revoked certificate"
        raise CAError(f"node {node_name!r} already has {what}; pass --force (force=True) to issue a new one")
    for r in index.records:
        if r.identity_public_key != identity:
            continue
        if r.node_name != node_name and not r.revoked:
            raise CAError(f"identity key {identity.hex()[:16]}… is already bound to node {r.node_name!r}")
        if r.revocation_reason == "key_compromise":
            raise CAError(f"identity key {identity.hex()[:16]}… was revoked as compromised; delete the node's identity.key to get a new one")


@_one_at_a_time
def issue_node_certificate(
    ca_dir: Path | str,
    node_name: str,
    out_dir: Path | str,
    *,
    identity_key: Ed25519PrivateKey | Ed25519PublicKey | None = None,
    valid_days: int = 365,
    hosts=("127.0.0.1", "localhost"),
    force: bool = False,
    now: datetime | None = None,
) -> IssuedNode:
    """Issue `node_name` a fresh P-256 TLS key and certificate into `out_dir`, with copies of the
    CA certificate and CRL. With force, the node's previous certificates are revoked (superseded).
    Validity is clamped to the CA's own expiry."""
    ca_dir, out_dir, now = Path(ca_dir), Path(out_dir), _now(now)
    if not is_valid_node_name(node_name):
        raise CAError(f"invalid node name {node_name!r}: letters, digits, '.', '_', '-', at most 64")
    if valid_days <= 0:
        raise CAError("valid_days must be positive")
    hosts = tuple(hosts)
    if not hosts:
        raise CAError("a node certificate needs at least one host (peers dial it by that name)")
    san_hosts = _hosts_san(hosts)
    ca_key, ca_cert, index = _open_ca(ca_dir)
    not_after = min(now + timedelta(days=valid_days), ca_cert.not_valid_after_utc)
    if not_after <= now:
        raise CAError("the CA certificate has expired; create a new CA")
    identity_public, identity_to_write = _resolve_identity(identity_key, out_dir)
    identity = raw_public_key(identity_public)
    _check_reissue(index, node_name, identity, force)

    tls_key = ec.generate_private_key(ec.SECP256R1())
    serial = x509.random_serial_number()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, index.network), x509.NameAttribute(NameOID.COMMON_NAME, node_name)]))
        .issuer_name(ca_cert.subject)
        .public_key(tls_key.public_key())
        .serial_number(serial)
        .not_valid_before(now)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName([*san_hosts, x509.UniformResourceIdentifier(encode_identity_uri(node_name, identity))]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(tls_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    record = CertificateRecord(node_name, serial, identity, now, not_after, hosts)
    records = tuple(r.revoke(now, "superseded") if r.node_name == node_name and not r.revoked else r for r in index.records)
    # Record first: a certificate that exists anywhere must be revocable by name.
    _write_index_and_crl(ca_dir, ca_key, ca_cert, replace(index, records=(*records, record)), now)

    files = NodeFiles.in_dir(out_dir)
    make_private_dir(out_dir)
    write_file(files.tls_key, _private_pem(tls_key), secret=True)
    write_file(files.tls_cert, cert.public_bytes(_PEM))
    if identity_to_write is not None:
        write_file(files.identity_key, _private_pem(identity_to_write), secret=True)
    write_file(files.ca_cert, (ca_dir / CA_CERT).read_bytes())
    write_file(files.crl, (ca_dir / CRL).read_bytes())
    return IssuedNode(record, files, identity_key_written=identity_to_write is not None)


def _parse_serial(text: str) -> int | None:
    try:
        return int(text.removeprefix("0x"), 16)  # hex, as `ca show` prints serials
    except ValueError:
        return None


@_one_at_a_time
def revoke(ca_dir: Path | str, node_name_or_serial: str | int, reason: str = "unspecified", *, now: datetime | None = None) -> list[CertificateRecord]:
    """Revoke a node's active certificates (by node name) or one certificate (by serial, an int or
    a hex string as `ca show` prints it) and re-sign crl.pem. Returns the revoked records."""
    ca_dir, now = Path(ca_dir), _now(now)
    if reason not in REVOCATION_REASONS:
        raise CAError(f"unknown revocation reason {reason!r}; one of {', '.join(REVOCATION_REASONS)}")
    ca_key, ca_cert, index = _open_ca(ca_dir)
    if isinstance(node_name_or_serial, str) and index.by_name(node_name_or_serial):
        targets = [r for r in index.by_name(node_name_or_serial) if not r.revoked]
        if not targets:
            raise CAError(f"node {node_name_or_serial!r} has no active certificate (already revoked)")
    else:
        serial = node_name_or_serial if isinstance(node_name_or_serial, int) else _parse_serial(node_name_or_serial)
        targets = [r for r in index.records if r.serial == serial]
        if not targets:
            raise CAError(f"unknown node or serial {node_name_or_serial!r} (see `parawatt ca show`)")
        if targets[0].revoked:
            raise CAError(f"certificate {serial:x} is already revoked")
    chosen = {r.serial for r in targets}
    records = tuple(r.revoke(now, reason) if r.serial in chosen else r for r in index.records)
    _write_index_and_crl(ca_dir, ca_key, ca_cert, replace(index, records=records), now)
    return [r for r in records if r.serial in chosen]


def list_certificates(ca_dir: Path | str) -> tuple[x509.Certificate, Index]:
    """The CA certificate and its index: every certificate issued, active or revoked."""
    _, cert, index = _open_ca(Path(ca_dir))
    return cert, index
