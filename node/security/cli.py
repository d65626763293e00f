"""`parawatt ca …`: create a network CA, issue and revoke node certificates, list them."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives import hashes

from node.security.ca import init_ca, issue_node_certificate, list_certificates, revoke
from node.security.errors import SecurityError
from node.security.index import REVOCATION_REASONS

DEFAULT_HOSTS = ("127.0.0.1", "localhost")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def register(sub) -> None:
    ca = sub.add_parser("ca", help="the network's certificate authority: issue and revoke node certificates")
    cmds = ca.add_subparsers(dest="ca_command", required=True)

    init = cmds.add_parser("init", help="create a CA (key, certificate, empty revocation list) in a new folder")
    init.add_argument("--dir", type=Path, required=True, help="folder for the CA; keep it private, it holds ca.key")
    init.add_argument("--network", required=True, help="network name, written into every certificate")
    init.add_argument("--days", type=_positive, default=3650, help="CA validity in days (default 3650)")
    init.set_defaults(func=_cmd_init)

    issue = cmds.add_parser("issue", help="issue NODE a TLS key and certificate binding its ed25519 identity key")
    issue.add_argument("node", metavar="NODE", help="node name (letters, digits, '.', '_', '-')")
    issue.add_argument("--dir", type=Path, required=True, help="the CA folder")
    issue.add_argument("--out", type=Path, required=True, help="node folder: node.key, node.crt, identity.key (kept if present), ca.crt, crl.pem")
    issue.add_argument("--days", type=_positive, default=365, help="certificate validity in days (default 365, at most the CA's)")
    issue.add_argument("--host", dest="hosts", action="extend", nargs="+", metavar="H", help="address(es) peers dial this node at (default 127.0.0.1 localhost)")
    issue.add_argument("--force", action="store_true", help="re-issue an existing node; its previous certificate is revoked as superseded")
    issue.set_defaults(func=_cmd_issue)

    rev = cmds.add_parser("revoke", help="revoke a node's certificate and re-sign crl.pem (then copy it to every node)")
    rev.add_argument("node", metavar="NODE", help="node name, or a certificate serial in hex as `ca show` prints it")
    rev.add_argument("--dir", type=Path, required=True, help="the CA folder")
    rev.add_argument("--reason", choices=list(REVOCATION_REASONS), default="unspecified", help="CRL reason (default unspecified)")
    rev.set_defaults(func=_cmd_revoke)

    show = cmds.add_parser("show", help="list the certificates the CA issued, active and revoked")
    show.add_argument("--dir", type=Path, required=True, help="the CA folder")
    show.set_defaults(func=_cmd_show)


def _guarded(command):
    def run(args) -> int:
        try:
            return command(args)
        except SecurityError as e:
            print(f"error: {e}", file=sys.stderr)
            return 1

    return run


@_guarded
def _cmd_init(args) -> int:
    cert = init_ca(args.dir, args.network, valid_days=args.days)
    print(f"CA for network {args.network!r} created in {args.dir}")
    print(f"  valid until {cert.not_valid_after_utc:%Y-%m-%d}, SHA-256 fingerprint {cert.fingerprint(hashes.SHA256()).hex(':')}")
    return 0


@_guarded
def _cmd_issue(args) -> int:
    issued = issue_node_certificate(args.dir, args.node, args.out, valid_days=args.days, hosts=tuple(args.hosts or DEFAULT_HOSTS), force=args.force)
    r = issued.record
    print(f"issued {r.node_name}: serial {r.serial:x}, valid until {r.not_after:%Y-%m-%d}, hosts {' '.join(r.hosts)}")
    print(f"  identity key {r.identity_public_key.hex()} ({'new' if issued.identity_key_written else 'kept'})")
    f = issued.files
    print(f"  in {args.out}: {f.tls_key.name} {f.tls_cert.name} {f.identity_key.name} {f.ca_cert.name} {f.crl.name}")
    return 0


@_guarded
def _cmd_revoke(args) -> int:
    for r in revoke(args.dir, args.node, args.reason):
        print(f"revoked {r.node_name}: serial {r.serial:x} ({r.revocation_reason})")
    print(f"copy {args.dir / 'crl.pem'} to every node so they refuse it")
    return 0


@_guarded
def _cmd_show(args) -> int:
    cert, index = list_certificates(args.dir)
    now = datetime.now(timezone.utc)
    print(f"network {index.network!r}, CA valid until {cert.not_valid_after_utc:%Y-%m-%d}, {len(index.records)} certificate(s) issued")
    for r in index.records:
        if r.revoked_at is not None:
            status = f"revoked {r.revoked_at:%Y-%m-%d} ({r.revocation_reason})"
        else:
            status = "expired" if r.not_after < now else "active"
        print(f"  {r.node_name:<20} {r.serial:040x}  until {r.not_after:%Y-%m-%d}  {status:<36} identity {r.identity_public_key.hex()[:16]}…")
    return 0
