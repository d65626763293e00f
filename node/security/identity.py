"""The node's ed25519 identity key and how a certificate binds it.

gRPC's TLS stack (BoringSSL) refuses ed25519 certificate keys (NO_COMMON_SIGNATURE_ALGORITHMS), so
TLS keys are ECDSA P-256 and the ed25519 identity key lives beside them. The CA binds the two by
putting ``parawatt:node:<name>:<hex public key>`` in the certificate's subjectAltName URIs: whoever
holds a verified certificate knows the peer's identity key without a second round trip.
"""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

URI_PREFIX = "parawatt:node:"
# No ':' so the URI splits unambiguously; short and file-name safe.
NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_URI = re.compile(rf"{re.escape(URI_PREFIX)}(?P<name>[^:]+):(?P<key>[0-9a-f]{{64}})")


def is_valid_node_name(name: str) -> bool:
    return NODE_NAME.fullmatch(name) is not None


def raw_public_key(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def encode_identity_uri(node_name: str, public_key: bytes) -> str:
    return f"{URI_PREFIX}{node_name}:{public_key.hex()}"


def decode_identity_uri(uri: str) -> tuple[str, bytes] | None:
    """(node name, 32-byte public key), or None if `uri` is not a well-formed binding."""
    match = _URI.fullmatch(uri)
    if match is None or not is_valid_node_name(match["name"]):
        return None
    return match["name"], bytes.fromhex(match["key"])
