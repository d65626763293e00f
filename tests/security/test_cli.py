"""`parawatt ca …` as an operator uses it: a round trip, and clear errors that change nothing."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from node.cli import main
from node.security import CertificateRejected, Rejection, load_trust, verify_peer_certificate


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ca_round_trip(tmp_path, capsys):
    ca, alice, bob = (str(tmp_path / n) for n in ("ca", "alice", "bob"))
    code, out, _ = run(capsys, "ca", "init", "--dir", ca, "--network", "vpp-test", "--days", "30")
    assert code == 0 and "'vpp-test'" in out and "fingerprint" in out
    assert run(capsys, "ca", "issue", "alice", "--dir", ca, "--out", alice)[0] == 0
    code, out, _ = run(capsys, "ca", "issue", "bob", "--dir", ca, "--out", bob, "--days", "7", "--host", "10.0.0.2", "bob.example")
    assert code == 0 and "hosts 10.0.0.2 bob.example" in out and "(new)" in out

    now = datetime.now(timezone.utc)
    trust = load_trust(ca)
    for name, folder in (("alice", alice), ("bob", bob)):
        peer = verify_peer_certificate((tmp_path / name / "node.crt").read_bytes(), load_trust(folder), now=now)
        assert peer.node_name == name
        assert verify_peer_certificate((tmp_path / name / "node.crt").read_bytes(), trust, now=now) == peer

    code, out, _ = run(capsys, "ca", "revoke", "bob", "--dir", ca, "--reason", "key_compromise")
    assert code == 0 and "revoked bob" in out and "crl.pem" in out
    with pytest.raises(CertificateRejected) as refused:
        verify_peer_certificate((tmp_path / "bob" / "node.crt").read_bytes(), load_trust(ca), now=now)
    assert refused.value.reason is Rejection.REVOKED

    code, out, _ = run(capsys, "ca", "show", "--dir", ca)
    lines = out.splitlines()
    assert code == 0 and "'vpp-test'" in lines[0] and "2 certificate(s)" in lines[0]
    assert "alice" in lines[1] and "active" in lines[1]
    assert "bob" in lines[2] and "revoked" in lines[2] and "key_compromise" in lines[2]


def test_reissue_needs_force_and_then_keeps_the_identity(tmp_path, capsys):
    ca, alice = str(tmp_path / "ca"), str(tmp_path / "alice")
    run(capsys, "ca", "init", "--dir", ca, "--network", "n")
    run(capsys, "ca", "issue", "alice", "--dir", ca, "--out", alice)
    identity = (tmp_path / "alice" / "identity.key").read_bytes()
    code, _, err = run(capsys, "ca", "issue", "alice", "--dir", ca, "--out", alice)
    assert code == 1 and "already has certificate" in err and "--force" in err
    code, out, _ = run(capsys, "ca", "issue", "alice", "--dir", ca, "--out", alice, "--force")
    assert code == 0 and "(kept)" in out
    assert (tmp_path / "alice" / "identity.key").read_bytes() == identity
    assert "superseded" in run(capsys, "ca", "show", "--dir", ca)[1]


@pytest.mark.parametrize(
    "argv,message",
    [
        (["ca", "show", "--dir", "{tmp}/missing"], "no CA in"),
        (["ca", "issue", "alice", "--dir", "{tmp}/missing", "--out", "{tmp}/a"], "no CA in"),
        (["ca", "revoke", "carol", "--dir", "{tmp}/ca"], "unknown node or serial 'carol'"),
        (["ca", "init", "--dir", "{tmp}/ca", "--network", "again"], "already holds a CA"),
        (["ca", "issue", "bad:name", "--dir", "{tmp}/ca", "--out", "{tmp}/a"], "invalid node name"),
    ],
    ids=["show-missing", "issue-missing", "revoke-unknown", "init-twice", "bad-name"],
)
def test_ca_errors_are_clear(tmp_path, capsys, argv, message):
    run(capsys, "ca", "init", "--dir", str(tmp_path / "ca"), "--network", "n")
    code, out, err = run(capsys, *(a.format(tmp=tmp_path) for a in argv))
    assert code == 1 and err.startswith("error: ") and message in err and out == ""


def test_corrupt_ca_folder_is_reported(tmp_path, capsys):
    run(capsys, "ca", "init", "--dir", str(tmp_path / "ca"), "--network", "n")
    (tmp_path / "ca" / "ca.crt").write_text("not a certificate")
    code, _, err = run(capsys, "ca", "issue", "alice", "--dir", str(tmp_path / "ca"), "--out", str(tmp_path / "a"))
    assert code == 1 and "damaged: ca.crt" in err
    assert not (tmp_path / "a").exists()


def test_bad_arguments_are_refused_by_the_parser(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["ca", "init", "--dir", str(tmp_path), "--network", "n", "--days", "0"])
    assert exit_.value.code == 2 and "positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["ca", "revoke", "alice", "--dir", str(tmp_path), "--reason", "bored"])
