"""The authority set: who may author blocks and vote, and how many votes make a quorum.

With ``n`` authorities at most ``f = floor((n - 1) / 3)`` may be faulty (f < n/3), and a quorum
is more than two thirds: ``threshold = floor(2n/3) + 1``. Any two quorums share at least
``f + 1`` authorities, so at least one honest one — the fact every safety argument here uses.

The set also fixes the signing context (chain id and set id) that every vote signs, so a vote
for one chain, or for an earlier set, never counts anywhere else even when the keys are shared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.primitives.keys import CRYPTOS, ED25519, PUBLIC_KEY_LEN, SR25519, Crypto, Keypair, verify_signature
from node.primitives.scale import (
    DecodeError,
    decode_all,
    decode_bytes,
    decode_compact,
    decode_fixed,
    decode_uint,
    encode_bytes,
    encode_compact,
)

MAX_AUTHORITIES = 1024
MAX_CHAIN_ID_LEN = 64
# MultiSignature's variant order: Ed25519 = 0, Sr25519 = 1.
_CRYPTO_CODES = {ED25519: 0, SR25519: 1}
_CODE_CRYPTOS = {v: k for k, v in _CRYPTO_CODES.items()}


class InvalidAuthoritySet(ValueError):
    """An authority set that cannot be used: empty, duplicated or malformed keys."""


@dataclass(frozen=True, slots=True)
class AuthoritySet:
    crypto: Crypto  # every authority's key scheme: "sr25519" or "ed25519"
    keys: tuple[bytes, ...]  # public keys, in the order that fixes slot and proposer rotation
    set_id: int = 0  # bumps when the set changes; votes commit to it
    chain_id: bytes = b""  # the chain's identifier from its spec; votes commit to it
    _index: dict[bytes, int] = field(init=False, repr=False, compare=False)
    _context: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.crypto not in CRYPTOS:
            raise InvalidAuthoritySet(f"unsupported crypto {self.crypto!r}")
        keys = tuple(bytes(k) for k in self.keys)
        if not 1 <= len(keys) <= MAX_AUTHORITIES:
            raise InvalidAuthoritySet(f"an authority set has 1 to {MAX_AUTHORITIES} keys, not {len(keys)}")
        if any(len(k) != PUBLIC_KEY_LEN for k in keys):
            raise InvalidAuthoritySet("authority keys are 32 bytes")
        index = {k: i for i, k in enumerate(keys)}
        if len(index) != len(keys):
            raise InvalidAuthoritySet("an authority appears twice")
        if not 0 <= self.set_id < 1 << 64:
            raise InvalidAuthoritySet("set id must fit in u64")
        if len(self.chain_id) > MAX_CHAIN_ID_LEN:
            raise InvalidAuthoritySet(f"chain id is at most {MAX_CHAIN_ID_LEN} bytes")
        object.__setattr__(self, "keys", keys)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_context", encode_bytes(self.chain_id) + self.set_id.to_bytes(8, "little"))

    @classmethod
    def of(cls, keypairs: list[Keypair], *, set_id: int = 0, chain_id: bytes = b"") -> AuthoritySet:
        """The set of these key pairs' public keys (all of one crypto), in the given order."""
        cryptos = {k.crypto for k in keypairs}
        if len(cryptos) != 1:
            raise InvalidAuthoritySet("authorities must share one crypto")
        return cls(cryptos.pop(), tuple(k.public_key for k in keypairs), set_id, chain_id)

    # -- sizes ---------------------------------------------------------------------------------
    @property
    def n(self) -> int:
        return len(self.keys)

    @property
    def threshold(self) -> int:
        """Signatures that make a quorum: more than 2/3 of the set."""
        return 2 * len(self.keys) // 3 + 1

    @property
    def max_faulty(self) -> int:
        """f: the most faulty authorities the set tolerates (f < n/3)."""
        return (len(self.keys) - 1) // 3

    # -- membership and signatures -----------------------------------------------------------
    def __contains__(self, key: object) -> bool:
        return key in self._index

    def index_of(self, key: bytes) -> int | None:
        return self._index.get(key)

    def at(self, position: int) -> bytes:
        """The authority at ``position`` modulo the set size (slot and proposer rotation)."""
        return self.keys[position % len(self.keys)]

    @property
    def context(self) -> bytes:
        """What every vote signs before its own fields: SCALE(chain_id) ++ u64 set_id."""
        return self._context

    def verify(self, key: bytes, message: bytes, signature: bytes) -> bool:
        return verify_signature(self.crypto, key, message, signature)

    # -- SCALE -------------------------------------------------------------------------------
    def encode(self) -> bytes:
        return b"".join(
            (
                bytes((_CRYPTO_CODES[self.crypto],)),
                encode_compact(len(self.keys)),
                *self.keys,
                self.set_id.to_bytes(8, "little"),
                encode_bytes(self.chain_id),
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> AuthoritySet:
        return decode_all(decode_authority_set, data)


def decode_authority_set(data: bytes, offset: int) -> tuple[AuthoritySet, int]:
    code, offset = decode_uint(data, offset, 1)
    if code not in _CODE_CRYPTOS:
        raise DecodeError(f"unknown crypto code {code}")
    count, offset = decode_compact(data, offset)
    if count > MAX_AUTHORITIES or count * PUBLIC_KEY_LEN > len(data) - offset:
        raise DecodeError("authority count exceeds the limit or the input")
    keys = []
    for _ in range(count):
        key, offset = decode_fixed(data, offset, PUBLIC_KEY_LEN)
        keys.append(key)
    set_id, offset = decode_uint(data, offset, 8)
    chain_id, offset = decode_bytes(data, offset)
    try:
        return AuthoritySet(_CODE_CRYPTOS[code], tuple(keys), set_id, chain_id), offset
    except InvalidAuthoritySet as e:
        raise DecodeError(str(e)) from None
