"""The CA folder: what init, issue and revoke write, and every refusal leaving the folder unchanged."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from node.security import CAError, CertificateRejected, Rejection, TrustError, init_ca, issue_node_certificate, list_certificates, load_trust, revoke, verify_peer_certificate
from node.security.identity import raw_public_key

from .conftest import SOON, T0


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def snapshot(folder) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def crl(ca_dir) -> x509.CertificateRevocationList:
    return x509.load_pem_x509_crl((ca_dir / "crl.pem").read_bytes())


def test_init_writes_a_ca_with_a_private_key_and_an_empty_crl(ca_dir):
    assert {p.name for p in ca_dir.iterdir()} == {"ca.key", "ca.crt", "crl.pem", "index.json"}
    assert mode(ca_dir / "ca.key") == 0o600 and mode(ca_dir) == 0o700
    trust = load_trust(ca_dir)
    assert trust.ca_cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert len(trust.crl) == 0


def test_init_refuses_a_folder_that_already_holds_a_ca(ca_dir):
    before = snapshot(ca_dir)
    with pytest.raises(CAError, match="already holds a CA"):
        init_ca(ca_dir, "testnet")
    assert snapshot(ca_dir) == before


def test_issue_writes_node_files_with_secrets_private(issue, tmp_path):
    files = issue("alice").files
    assert {p.name for p in (tmp_path / "alice").iterdir()} == {"node.key", "node.crt", "identity.key", "ca.crt", "crl.pem"}
    assert mode(files.tls_key) == mode(files.identity_key) == 0o600
    assert load_trust(tmp_path / "alice").ca_cert == load_trust(tmp_path / "ca").ca_cert


def test_issued_certificate_names_its_hosts(issue):
    cert = x509.load_pem_x509_certificate(issue("alice", hosts=("10.1.2.3", "alice.vpp.example")).files.tls_cert.read_bytes())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["10.1.2.3"]
    assert san.get_values_for_type(x509.DNSName) == ["alice.vpp.example"]


def test_reissue_refused_without_force(issue, ca_dir):
    issue("alice")
    before = snapshot(ca_dir)
    with pytest.raises(CAError, match="already has certificate"):
        issue("alice")
    assert snapshot(ca_dir) == before


def test_reissue_with_force_keeps_identity_and_supersedes_the_old_certificate(issue, ca_dir):
    first = issue("alice")
    old_cert = first.files.tls_cert.read_bytes()
    second = issue("alice", force=True, now=T0 + timedelta(days=1))
    assert second.record.identity_public_key == first.record.identity_public_key and not second.identity_key_written
    later = T0 + timedelta(days=2)
    trust = load_trust(ca_dir)
    assert verify_peer_certificate(second.files.tls_cert.read_bytes(), trust, now=later).serial == second.record.serial
    with pytest.raises(CertificateRejected) as error:
        verify_peer_certificate(old_cert, trust, now=later)
    assert error.value.reason is Rejection.REVOKED
    revoked = crl(ca_dir).get_revoked_certificate_by_serial_number(first.record.serial)
    assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.superseded


def test_issue_binds_a_caller_held_public_identity_key_without_writing_it(issue):
    key = Ed25519PrivateKey.generate()
    issued = issue("alice", identity_key=key.public_key())
    assert issued.record.identity_public_key == raw_public_key(key)
    assert not issued.files.identity_key.exists()


def test_issue_refuses_an_identity_key_bound_to_another_node(issue):
    key = Ed25519PrivateKey.generate()
    issue("alice", identity_key=key)
    with pytest.raises(CAError, match="already bound to node 'alice'"):
        issue("bob", identity_key=key)


def test_issue_refuses_an_identity_key_revoked_as_compromised(issue, ca_dir):
    issue("alice")
    revoke(ca_dir, "alice", "key_compromise", now=T0)
    with pytest.raises(CAError, match="compromised"):
        issue("alice", force=True)


def test_issue_refuses_an_out_folder_holding_another_identity(issue, tmp_path):
    issue("alice")
    with pytest.raises(CAError, match="different identity key"):
        issue("bob", out=tmp_path / "alice", identity_key=Ed25519PrivateKey.generate())


@pytest.mark.parametrize("name", ["", "a:b", "../etc", "x" * 65, "-lead", "spa ce"])
def test_issue_refuses_an_invalid_node_name(issue, name):
    with pytest.raises(CAError, match="invalid node name"):
        issue(name)


@pytest.mark.parametrize("hosts", [(), ("bad host",), ("a..b",)])
def test_issue_refuses_bad_hosts(issue, hosts):
    with pytest.raises(CAError):
        issue("alice", hosts=hosts)


def test_issue_refused_once_the_ca_expired(issue):
    with pytest.raises(CAError, match="CA certificate has expired"):
        issue("alice", now=T0 + timedelta(days=3651))


def test_missing_ca_folder_is_a_clear_error(tmp_path):
    with pytest.raises(CAError, match="no CA in .*parawatt ca init"):
        list_certificates(tmp_path / "nowhere")


@pytest.mark.parametrize("damage", ["ca.key", "ca.crt", "index.json", "swap-key"])
def test_damaged_ca_folder_is_a_clear_error(ca_dir, tmp_path, damage):
    if damage == "swap-key":
        init_ca(tmp_path / "other", "other", now=T0)
        (ca_dir / "ca.key").write_bytes((tmp_path / "other" / "ca.key").read_bytes())
        match = "does not belong"
    else:
        (ca_dir / damage).write_bytes(b"\x00junk")
        match = f"damaged: {damage}"
    with pytest.raises(CAError, match=match):
        revoke(ca_dir, "alice")


def test_incomplete_ca_folder_is_a_clear_error(ca_dir):
    (ca_dir / "index.json").unlink()
    with pytest.raises(CAError, match="incomplete: cannot read index.json"):
        list_certificates(ca_dir)


def test_revoke_by_name_lists_the_serial_in_a_new_signed_crl(issue, ca_dir):
    alice, bob = issue("alice"), issue("bob")
    number_before = crl(ca_dir).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    [record] = revoke(ca_dir, "alice", "cessation_of_operation", now=T0)
    assert record.serial == alice.record.serial
    after = crl(ca_dir)
    assert after.is_signature_valid(load_trust(ca_dir).ca_cert.public_key())
    assert after.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number_before + 1
    assert after.get_revoked_certificate_by_serial_number(alice.record.serial) is not None
    assert after.get_revoked_certificate_by_serial_number(bob.record.serial) is None
    verify_peer_certificate(bob.files.tls_cert.read_bytes(), load_trust(ca_dir), now=SOON)


def test_revoke_by_hex_serial(issue, ca_dir):
    alice = issue("alice")
    [record] = revoke(ca_dir, f"{alice.record.serial:x}", now=T0)
    assert record.node_name == "alice" and record.revocation_reason == "unspecified"


@pytest.mark.parametrize("target,match", [("carol", "unknown node or serial"), ("ffff", "unknown node or serial")])
def test_revoke_refuses_an_unknown_target(issue, ca_dir, target, match):
    issue("alice")
    before = snapshot(ca_dir)
    with pytest.raises(CAError, match=match):
        revoke(ca_dir, target)
    assert snapshot(ca_dir) == before


def test_revoke_refuses_twice_and_unknown_reasons(issue, ca_dir):
    issue("alice")
    with pytest.raises(CAError, match="unknown revocation reason"):
        revoke(ca_dir, "alice", "bored")
    revoke(ca_dir, "alice", now=T0)
    with pytest.raises(CAError, match="already revoked"):
        revoke(ca_dir, "alice")


def test_index_records_every_certificate(issue, ca_dir):
    issue("alice")
    issue("bob", hosts=("10.0.0.2",))
    revoke(ca_dir, "bob", "superseded", now=T0)
    _, index = list_certificates(ca_dir)
    assert index.network == "testnet"
    assert [(r.node_name, r.revocation_reason, r.hosts) for r in index.records] == [
        ("alice", None, ("127.0.0.1", "localhost")),
        ("bob", "superseded", ("10.0.0.2",)),
    ]
    assert json.loads((ca_dir / "index.json").read_text())["version"] == 1


def test_trust_refuses_a_crl_signed_by_another_ca(ca_dir, tmp_path):
    init_ca(tmp_path / "other", "testnet", now=T0)
    with pytest.raises(TrustError, match="CRL is not signed by this CA"):
        load_trust((ca_dir / "ca.crt", tmp_path / "other" / "crl.pem"))


def test_trust_requires_a_crl(ca_dir):
    (ca_dir / "crl.pem").unlink()
    with pytest.raises(TrustError, match="cannot read"):
        load_trust(ca_dir)


def test_trust_refuses_a_node_certificate_as_ca(issue, ca_dir):
    alice = issue("alice")
    with pytest.raises(TrustError, match="not marked as a CA"):
        load_trust((alice.files.tls_cert, ca_dir / "crl.pem"))


def test_parallel_issuing_loses_no_record(ca_dir, tmp_path):
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda i: issue_node_certificate(ca_dir, f"n{i}", tmp_path / f"n{i}", now=T0), range(24)))
    _, index = list_certificates(ca_dir)
    assert sorted(r.node_name for r in index.records) == sorted(f"n{i}" for i in range(24))
