"""Where the CA and a node keep their files, and how they are written (atomically, secrets 0600)."""

from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# CA folder
CA_KEY = "ca.key"
CA_CERT = "ca.crt"
CRL = "crl.pem"
INDEX = "index.json"
# Node folder (also gets copies of CA_CERT and CRL so it holds its own trust anchors)
TLS_KEY = "node.key"
TLS_CERT = "node.crt"
IDENTITY_KEY = "identity.key"


@dataclass(frozen=True, slots=True)
class NodeFiles:
    """The files a node needs for mutual TLS: its keys, its certificate and the network's trust."""

    tls_key: Path
    tls_cert: Path
    identity_key: Path
    ca_cert: Path
    crl: Path

    @classmethod
    def in_dir(cls, folder: Path | str) -> NodeFiles:
        folder = Path(folder)
        return cls(folder / TLS_KEY, folder / TLS_CERT, folder / IDENTITY_KEY, folder / CA_CERT, folder / CRL)


def write_file(path: Path, data: bytes, *, secret: bool = False) -> None:
    """Replace `path` atomically, so a crash never leaves half a key; secrets are born 0600."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(fd, 0o600 if secret else 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def make_private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


@contextmanager
def exclusive(folder: Path):
    """Hold an advisory lock on `folder` so two operators (or a testnet launcher issuing nodes in
    parallel) cannot interleave read-modify-write of the CA index and lose a record."""
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
