"""SS58 addresses: base58(prefix ++ public ++ checksum), as in sp-core's ``Ss58Codec``.

The checksum is the first two bytes of ``blake2b-512(b"SS58PRE" ++ prefix ++ public)``. Prefixes
below 64 take one byte; 64..16383 take two ("full" format). Only 32- and 33-byte payloads (account
ids and compressed ECDSA keys) are accepted, which are the ones that carry a 2-byte checksum.
"""

from __future__ import annotations

from hashlib import blake2b

import base58

from node.primitives.scale import DecodeError

_CHECKSUM_PREFIX = b"SS58PRE"
_CHECKSUM_LEN = 2
_PAYLOAD_LENGTHS = (32, 33)
# 46 and 47 are reserved by the SS58 registry; sp-core refuses them in both directions.
_RESERVED_PREFIXES = frozenset((46, 47))
MAX_PREFIX = 16383


class InvalidAddress(DecodeError):
    """A string that is not a well-formed SS58 address (base58, length, prefix or checksum)."""


def _checksum(data: bytes) -> bytes:
    return blake2b(_CHECKSUM_PREFIX + data, digest_size=64).digest()[:_CHECKSUM_LEN]


def _encode_prefix(prefix: int) -> bytes:
    if prefix < 64:
        return bytes((prefix,))
    # Full format: the 14-bit ident split as 0b01LLLLLL 0bLLUUUUUU (low 8 bits first, then high 6).
    return bytes((((prefix & 0b1111_1100) >> 2) | 0b0100_0000, (prefix >> 8) | ((prefix & 0b11) << 6)))


def ss58_encode(public: bytes, prefix: int = 42) -> str:
    if not 0 <= prefix <= MAX_PREFIX or prefix in _RESERVED_PREFIXES:
        raise ValueError(f"invalid SS58 prefix {prefix}")
    if len(public) not in _PAYLOAD_LENGTHS:
        raise ValueError(f"SS58 payload must be 32 or 33 bytes, not {len(public)}")
    data = _encode_prefix(prefix) + bytes(public)
    return base58.b58encode(data + _checksum(data)).decode("ascii")


def ss58_decode(address: str, expected_prefix: int | None = None) -> tuple[int, bytes]:
    """Return ``(prefix, public)``; any malformation raises :class:`InvalidAddress`."""
    if not isinstance(address, str) or not address:
        raise InvalidAddress("SS58 address must be a non-empty string")
    try:
        raw = base58.b58decode(address)
    except ValueError:
        raise InvalidAddress(f"{address!r} is not base58") from None
    if not raw:
        raise InvalidAddress("empty SS58 payload")
    first = raw[0]
    if first < 64:
        prefix, prefix_len = first, 1
    elif first < 128 and len(raw) > 1:
        second = raw[1]
        prefix = ((first & 0b0011_1111) << 2) | (second >> 6) | ((second & 0b0011_1111) << 8)
        prefix_len = 2
    else:
        raise InvalidAddress(f"invalid SS58 prefix byte {first:#04x}")
    payload_len = len(raw) - prefix_len - _CHECKSUM_LEN
    if payload_len not in _PAYLOAD_LENGTHS:
        raise InvalidAddress(f"SS58 address decodes to {len(raw)} bytes, which fits no known payload")
    if prefix in _RESERVED_PREFIXES:
        raise InvalidAddress(f"SS58 prefix {prefix} is reserved")
    body = raw[:-_CHECKSUM_LEN]
    if _checksum(body) != raw[-_CHECKSUM_LEN:]:
        raise InvalidAddress("bad SS58 checksum")
    if expected_prefix is not None and prefix != expected_prefix:
        raise InvalidAddress(f"SS58 prefix {prefix}, expected {expected_prefix}")
    return prefix, bytes(body[prefix_len:])


def parse_account(value) -> bytes:
    """A 32-byte account id from an SS58 address, 0x-prefixed hex, or the bytes themselves (as
    chain specs and genesis sections write accounts); `InvalidAddress` says what is wrong."""
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif isinstance(value, str) and value.startswith("0x"):
        try:
            raw = bytes.fromhex(value[2:])
        except ValueError:
            raise InvalidAddress("is not valid hex") from None
    elif isinstance(value, str):
        try:
            return ss58_decode(value)[1]
        except InvalidAddress as e:
            raise InvalidAddress(f"is not a valid SS58 address ({e})") from None
    else:
        raise InvalidAddress("must be an SS58 address or 0x-prefixed 32-byte hex")
    if len(raw) != 32:
        raise InvalidAddress(f"must be 32 bytes, not {len(raw)}")
    return raw
