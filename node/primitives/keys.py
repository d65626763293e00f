"""Key pairs for sr25519 and ed25519, derived from secret URIs exactly as sp-core does.

A secret URI is ``<phrase or 0x-seed><junctions>[///password]``, e.g. ``//Alice`` (the phrase
defaults to the well-known dev phrase). The phrase becomes a 32-byte mini secret through BIP39
(PBKDF2 over the entropy, salted with the password). Each junction turns into a 32-byte chain code
(the SCALE encoding of the junction, zero-padded, or its blake2_256 when longer than 32 bytes) and
is applied in order: hard junctions (``//x``) for both schemes, soft ones (``/x``) only for sr25519.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import bip39
import sr25519
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from node.primitives.hashing import blake2_256
from node.primitives.scale import encode_bytes
from node.primitives.ss58 import ss58_encode

Crypto = Literal["sr25519", "ed25519"]
SR25519: Crypto = "sr25519"
ED25519: Crypto = "ed25519"
CRYPTOS = (SR25519, ED25519)

DEV_PHRASE = "bottom drive obey lake curtain smoke basket hold race lonely fit walk"
DEV_ACCOUNT_NAMES = ("Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie")

PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64
SEED_LEN = 32
_SR25519_SECRET_LEN = 64

# sp-core's SecretUri grammar; Python's "." also stops at a newline, as Rust's regex does.
_SURI = re.compile(r"(?P<phrase>[a-zA-Z0-9 ]+)?(?P<path>(//?[^/]+)*)(///(?P<password>.*))?")
_JUNCTION = re.compile(r"/(/?[^/]+)")
# Rust's u64::from_str: an optional "+" and ASCII digits.
_U64_JUNCTION = re.compile(r"\+?[0-9]+")
_ED25519_HDKD = encode_bytes(b"Ed25519HDKD")


class InvalidKey(ValueError):
    """A seed, secret URI or key that cannot make a key pair."""


def junction_chain_code(junction: str) -> bytes:
    """32-byte chain code of one junction, as ``DeriveJunction::from(&str)`` computes it."""
    if _U64_JUNCTION.fullmatch(junction) and int(junction) < 1 << 64:
        data = int(junction).to_bytes(8, "little")
    else:
        data = encode_bytes(junction.encode("utf-8"))
    return blake2_256(data) if len(data) > 32 else data.ljust(32, b"\0")


@dataclass(frozen=True, slots=True)
class Keypair:
    crypto: Crypto
    public_key: bytes
    # sr25519: the 64-byte expanded secret (key ++ nonce); ed25519: the 32-byte seed.
    secret: bytes = field(repr=False, compare=False)
    ss58_format: int = field(default=42, compare=False)
    ss58_address: str = field(init=False, compare=False)
    _ed_key: Ed25519PrivateKey | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.crypto not in CRYPTOS:
            raise InvalidKey(f"unsupported crypto {self.crypto!r}")
        if len(self.public_key) != PUBLIC_KEY_LEN:
            raise InvalidKey("public key must be 32 bytes")
        ed_key = None
        if self.crypto == ED25519:
            if len(self.secret) != SEED_LEN:
                raise InvalidKey("ed25519 seed must be 32 bytes")
            ed_key = Ed25519PrivateKey.from_private_bytes(self.secret)
            if ed_key.public_key().public_bytes_raw() != self.public_key:
                raise InvalidKey("ed25519 public key does not match the seed")
        elif len(self.secret) != _SR25519_SECRET_LEN:
            raise InvalidKey("sr25519 secret key must be 64 bytes")
        elif bytes(sr25519.public_from_secret_key(self.secret)) != self.public_key:
            raise InvalidKey("sr25519 public key does not match the secret key")
        object.__setattr__(self, "_ed_key", ed_key)
        object.__setattr__(self, "ss58_address", ss58_encode(self.public_key, self.ss58_format))

    def sign(self, message: bytes) -> bytes:
        if self._ed_key is not None:
            return self._ed_key.sign(bytes(message))
        return sr25519.sign((self.public_key, self.secret), bytes(message))

    def verify(self, message: bytes, signature: bytes) -> bool:
        return verify_signature(self.crypto, self.public_key, message, signature)

    @classmethod
    def from_seed(cls, seed: str | bytes, crypto: Crypto = SR25519, ss58_format: int = 42) -> Keypair:
        """A key pair from a 32-byte mini secret (ed25519: the seed), as bytes or ``0x`` hex."""
        return _from_mini_secret(_parse_seed(seed), crypto, ss58_format)

    @classmethod
    def from_mnemonic(
        cls, phrase: str, crypto: Crypto = SR25519, password: str = "", ss58_format: int = 42
    ) -> Keypair:
        return _from_mini_secret(_mini_secret(phrase, password), crypto, ss58_format)

    @classmethod
    def from_uri(cls, suri: str, crypto: Crypto = SR25519, ss58_format: int = 42) -> Keypair:
        """``Pair::from_string``: phrase or hex seed, then junctions, then an optional password."""
        m = _SURI.fullmatch(suri)
        if m is None:
            raise InvalidKey("malformed secret URI")
        phrase = m["phrase"] if m["phrase"] is not None else DEV_PHRASE
        if phrase.startswith("0x"):
            # As in sp-core, a password has no effect on a raw seed.
            mini = _parse_seed(phrase)
        else:
            mini = _mini_secret(phrase, m["password"] or "")
        junctions = _JUNCTION.findall(m["path"])
        if crypto == ED25519:
            seed = mini
            for junction in junctions:
                if not junction.startswith("/"):
                    raise InvalidKey("ed25519 has no soft derivation")
                seed = blake2_256(_ED25519_HDKD + seed + junction_chain_code(junction[1:]))
            return _from_mini_secret(seed, crypto, ss58_format)
        if crypto != SR25519:
            raise InvalidKey(f"unsupported crypto {crypto!r}")
        public, secret = sr25519.pair_from_seed(mini)
        for junction in junctions:
            if junction.startswith("/"):
                chain_code = junction_chain_code(junction[1:])
                _, public, secret = sr25519.hard_derive_keypair((chain_code, public, secret), b"")
            else:
                chain_code = junction_chain_code(junction)
                _, public, secret = sr25519.derive_keypair((chain_code, public, secret), b"")
        return cls(SR25519, bytes(public), bytes(secret), ss58_format)


def _parse_seed(seed: str | bytes) -> bytes:
    if isinstance(seed, str):
        text = seed[2:] if seed.startswith("0x") else seed
        try:
            seed = bytes.fromhex(text)
        except ValueError:
            raise InvalidKey("seed is not valid hex") from None
    if len(seed) != SEED_LEN:
        raise InvalidKey(f"seed must be {SEED_LEN} bytes, not {len(seed)}")
    return bytes(seed)


def _mini_secret(phrase: str, password: str) -> bytes:
    try:
        return bytes(bip39.bip39_to_mini_secret(phrase, password))
    except ValueError as e:
        raise InvalidKey(f"invalid mnemonic: {e}") from None


def _from_mini_secret(mini: bytes, crypto: Crypto, ss58_format: int) -> Keypair:
    if crypto == SR25519:
        # ExpansionMode::Ed25519, which is what sp-core uses for mini secrets.
        public, secret = sr25519.pair_from_seed(mini)
        return Keypair(SR25519, bytes(public), bytes(secret), ss58_format)
    if crypto == ED25519:
        public = Ed25519PrivateKey.from_private_bytes(mini).public_key().public_bytes_raw()
        return Keypair(ED25519, public, mini, ss58_format)
    raise InvalidKey(f"unsupported crypto {crypto!r}")


def verify_signature(crypto: Crypto, public: bytes, message: bytes, signature: bytes) -> bool:
    """True iff ``signature`` is ``public``'s signature of ``message``; malformed input is False."""
    if len(public) != PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        return False
    if crypto == SR25519:
        try:
            return sr25519.verify(bytes(signature), bytes(message), bytes(public))
        except ValueError:  # not a schnorrkel signature, or not a Ristretto point
            return False
    if crypto == ED25519:
        try:
            Ed25519PublicKey.from_public_bytes(bytes(public)).verify(bytes(signature), bytes(message))
        except (InvalidSignature, ValueError):
            return False
        return True
    raise ValueError(f"unsupported crypto {crypto!r}")


def dev_keypair(name: str, crypto: Crypto = SR25519) -> Keypair:
    """``//Name`` from the dev phrase; ``name`` is one of :data:`DEV_ACCOUNT_NAMES` or any other."""
    if crypto == SR25519 and name in DEV_ACCOUNTS:
        return DEV_ACCOUNTS[name]
    return Keypair.from_uri(f"//{name}", crypto)


# The sr25519 dev accounts every dev chain endows (Alice = 5Grwva…utQY).
DEV_ACCOUNTS = MappingProxyType({name: Keypair.from_uri(f"//{name}") for name in DEV_ACCOUNT_NAMES})
