"""Version-4 ``UncheckedExtrinsic``s, byte-exact with FRAME and what substrate-interface signs.

    compact(len(body)) ++ body
    body (signed)   = 0x84 ++ MultiAddress::Id(0x00 ++ AccountId32) ++ MultiSignature ++ extra ++ call
    body (unsigned) = 0x04 ++ call
    extra           = Era ++ Compact(nonce) ++ Compact(tip)
    additional      = spec_version u32 ++ tx_version u32 ++ genesis_hash ++ checkpoint_hash
    signed message  = call ++ extra ++ additional, or its blake2_256 if longer than 256 bytes

The extension order is FRAME's canonical one (:data:`SIGNED_EXTENSIONS`); substrate-interface
hard-codes that byte order, so the metadata must list the extensions in exactly this order.

Decoding is on the node's hot path, so it reads the bytes in place with offsets and builds one
object; the call stays opaque bytes for the runtime to dispatch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from node.primitives.era import IMMORTAL, Era, decode_era
from node.primitives.hashing import blake2_256
from node.primitives.keys import ED25519, SR25519, Crypto, Keypair, verify_signature
from node.primitives.scale import DecodeError, decode_compact, encode_compact

EXTRINSIC_VERSION = 4
_SIGNED_BYTE = 0x80 | EXTRINSIC_VERSION
_UNSIGNED_BYTE = EXTRINSIC_VERSION

# Metadata identifiers, in the order their extra/additional bytes appear. Only CheckMortality,
# CheckNonce and ChargeTransactionPayment add extra bytes; CheckSpecVersion, CheckTxVersion,
# CheckGenesis and CheckMortality add the additional-signed ones.
SIGNED_EXTENSIONS = (
    "CheckNonZeroSender",
    "CheckSpecVersion",
    "CheckTxVersion",
    "CheckGenesis",
    "CheckMortality",
    "CheckNonce",
    "CheckWeight",
    "ChargeTransactionPayment",
)

# sp_runtime::MultiAddress variant indices: Id, Index, Raw, Address32, Address20.
ADDRESS_ID = 0
_OTHER_ADDRESS_VARIANTS = {1: "Index", 2: "Raw", 3: "Address32", 4: "Address20"}
# sp_runtime::MultiSignature variant indices.
SIGNATURE_ED25519 = 0
SIGNATURE_SR25519 = 1
SIGNATURE_ECDSA = 2
_SIGNATURE_KIND = {SIGNATURE_ED25519: ED25519, SIGNATURE_SR25519: SR25519}
_KIND_OF_CRYPTO = {ED25519: SIGNATURE_ED25519, SR25519: SIGNATURE_SR25519}

ACCOUNT_ID_LEN = 32
SIGNATURE_LEN = 64
HASH_LEN = 32
MAX_SIGNED_PAYLOAD = 256
NONCE_MAX = (1 << 32) - 1  # frame_system Nonce = u32 (AccountNonceApi returns u32)
TIP_MAX = (1 << 128) - 1  # Balance = u128
_MIN_CALL_LEN = 2  # pallet index ++ call index

# Offsets inside a signed body: version(1) address-kind(1) account(32) signature-kind(1) sig(64)
_SIGNER_AT = 2
_SIG_KIND_AT = _SIGNER_AT + ACCOUNT_ID_LEN
_SIG_AT = _SIG_KIND_AT + 1
_EXTRA_AT = _SIG_AT + SIGNATURE_LEN


class InvalidExtrinsic(DecodeError):
    """Bytes that are not a well-formed version-4 extrinsic."""


class UnsupportedAddress(InvalidExtrinsic):
    """A signer given as a MultiAddress other than ``Id`` (Index, Raw, Address32, Address20)."""


class UnsupportedSignature(InvalidExtrinsic):
    """A well-formed MultiSignature this node does not verify (ECDSA)."""


@dataclass(frozen=True, slots=True)
class UncheckedExtrinsic:
    signer: bytes | None  # AccountId32 of the signer; None if unsigned
    crypto: Crypto | None  # the MultiSignature variant: "sr25519" or "ed25519"
    signature: bytes | None  # 64 bytes
    era: Era
    nonce: int
    tip: int
    call: bytes  # pallet index ++ call index ++ SCALE args, not interpreted here
    extra: bytes  # era ++ Compact(nonce) ++ Compact(tip) exactly as received: what was signed
    hash: bytes  # blake2_256(data): what author_submitExtrinsic returns and clients look up
    data: bytes = field(repr=False)  # the full encoding, length prefix included

    @property
    def is_signed(self) -> bool:
        return self.signer is not None

    def encode(self) -> bytes:
        return self.data

    @classmethod
    def decode(cls, data: bytes) -> UncheckedExtrinsic:
        return decode_extrinsic(data)


def decode_extrinsic(data: bytes) -> UncheckedExtrinsic:
    """Decode one length-prefixed extrinsic; the prefix must cover exactly the rest of ``data``."""
    if type(data) is not bytes:
        data = bytes(data)
    n = len(data)
    try:
        length, start = decode_compact(data, 0)
    except DecodeError as e:
        raise InvalidExtrinsic(f"bad length prefix: {e}") from None
    if start + length != n:
        what = "truncated" if start + length > n else "has trailing bytes"
        raise InvalidExtrinsic(f"extrinsic {what}: prefix says {length} bytes, {n - start} follow")
    if length == 0:
        raise InvalidExtrinsic("empty extrinsic")
    version = data[start]
    if version == _UNSIGNED_BYTE:
        call = data[start + 1 :]
        if len(call) < _MIN_CALL_LEN:
            raise InvalidExtrinsic("call too short")
        return UncheckedExtrinsic(None, None, None, IMMORTAL, 0, 0, call, b"", blake2_256(data), data)
    if version != _SIGNED_BYTE:
        raise InvalidExtrinsic(f"unsupported extrinsic version byte {version:#04x}")

    if n <= start + _SIG_KIND_AT:
        raise InvalidExtrinsic("truncated signer")
    address_kind = data[start + 1]
    if address_kind != ADDRESS_ID:
        name = _OTHER_ADDRESS_VARIANTS.get(address_kind)
        if name is None:
            raise InvalidExtrinsic(f"unknown MultiAddress variant {address_kind}")
        raise UnsupportedAddress(f"signer must be MultiAddress::Id, not {name}")
    signer = data[start + _SIGNER_AT : start + _SIG_KIND_AT]
    sig_kind = data[start + _SIG_KIND_AT]
    crypto = _SIGNATURE_KIND.get(sig_kind)
    if crypto is None:
        if sig_kind == SIGNATURE_ECDSA:
            raise UnsupportedSignature("ECDSA signatures are not supported")
        raise InvalidExtrinsic(f"unknown MultiSignature variant {sig_kind}")
    p = start + _EXTRA_AT
    if p >= n:  # the signature and at least one byte of era
        raise InvalidExtrinsic("truncated signature")
    signature = data[start + _SIG_AT : p]

    try:
        if data[p] == 0:
            era, q = IMMORTAL, p + 1
        else:
            era, q = decode_era(data, p)
        nonce, q = decode_compact(data, q)
        tip, q = decode_compact(data, q)
    except DecodeError as e:
        raise InvalidExtrinsic(f"bad signed extra: {e}") from None
    if nonce > NONCE_MAX:
        raise InvalidExtrinsic("nonce does not fit in u32")
    if tip > TIP_MAX:
        raise InvalidExtrinsic("tip does not fit in u128")
    if n - q < _MIN_CALL_LEN:
        raise InvalidExtrinsic("call too short")
    return UncheckedExtrinsic(
        signer, crypto, signature, era, nonce, tip, data[q:], data[p:q], blake2_256(data), data
    )


def _wrap(body: bytes) -> bytes:
    return encode_compact(len(body)) + body


def encode_extra(era: Era, nonce: int, tip: int) -> bytes:
    if not 0 <= nonce <= NONCE_MAX:
        raise ValueError("nonce must fit in u32")
    if not 0 <= tip <= TIP_MAX:
        raise ValueError("tip must fit in u128")
    return era.encode() + encode_compact(nonce) + encode_compact(tip)


def encode_additional_signed(
    spec_version: int, tx_version: int, genesis_hash: bytes, checkpoint_hash: bytes
) -> bytes:
    """What CheckSpecVersion, CheckTxVersion, CheckGenesis and CheckMortality add to the message.

    ``checkpoint_hash`` is the hash of the era's birth block, the genesis hash for immortal eras.
    """
    if len(genesis_hash) != HASH_LEN or len(checkpoint_hash) != HASH_LEN:
        raise ValueError("genesis and checkpoint hashes must be 32 bytes")
    versions = spec_version.to_bytes(4, "little") + tx_version.to_bytes(4, "little")
    return versions + genesis_hash + checkpoint_hash


def _message(call: bytes, extra: bytes, additional: bytes) -> bytes:
    payload = call + extra + additional
    return blake2_256(payload) if len(payload) > MAX_SIGNED_PAYLOAD else payload


def signing_payload(
    call: bytes,
    era: Era,
    nonce: int,
    tip: int,
    spec_version: int,
    tx_version: int,
    genesis_hash: bytes,
    checkpoint_hash: bytes,
) -> bytes:
    """The exact bytes the signer signs (``SignedPayload``)."""
    additional = encode_additional_signed(spec_version, tx_version, genesis_hash, checkpoint_hash)
    return _message(call, encode_extra(era, nonce, tip), additional)


def encode_signed(
    signer: bytes, crypto: Crypto, signature: bytes, era: Era, nonce: int, tip: int, call: bytes
) -> bytes:
    if len(signer) != ACCOUNT_ID_LEN:
        raise ValueError("signer must be a 32-byte account id")
    if len(signature) != SIGNATURE_LEN:
        raise ValueError("signature must be 64 bytes")
    kind = _KIND_OF_CRYPTO.get(crypto)
    if kind is None:
        raise ValueError(f"unsupported crypto {crypto!r}")
    body = b"".join(
        (
            bytes((_SIGNED_BYTE, ADDRESS_ID)),
            signer,
            bytes((kind,)),
            signature,
            encode_extra(era, nonce, tip),
            call,
        )
    )
    return _wrap(body)


def encode_unsigned(call: bytes) -> bytes:
    return _wrap(bytes((_UNSIGNED_BYTE,)) + call)


def _checkpoint(era: Era, genesis_hash: bytes, checkpoint_hash: bytes | None) -> bytes:
    if checkpoint_hash is not None:
        return checkpoint_hash
    if era.is_immortal:
        return genesis_hash
    raise ValueError("a mortal era needs the hash of its birth block as checkpoint")


def sign_extrinsic(
    keypair: Keypair,
    call: bytes,
    nonce: int,
    era: Era,
    tip: int,
    spec_version: int,
    tx_version: int,
    genesis_hash: bytes,
    checkpoint_hash: bytes | None = None,
) -> bytes:
    """A signed extrinsic's full bytes. ``checkpoint_hash`` defaults to genesis for immortal eras."""
    checkpoint = _checkpoint(era, genesis_hash, checkpoint_hash)
    message = signing_payload(call, era, nonce, tip, spec_version, tx_version, genesis_hash, checkpoint)
    signature = keypair.sign(message)
    return encode_signed(keypair.public_key, keypair.crypto, signature, era, nonce, tip, call)


def signed_message(
    xt: UncheckedExtrinsic,
    spec_version: int,
    tx_version: int,
    genesis_hash: bytes,
    checkpoint_hash: bytes | None = None,
) -> bytes:
    """The bytes ``xt``'s signature must cover on this chain, runtime and checkpoint (hashed when
    the payload is over 256 bytes). Split from verification so signatures can be checked in bulk."""
    checkpoint = _checkpoint(xt.era, genesis_hash, checkpoint_hash)
    additional = encode_additional_signed(spec_version, tx_version, genesis_hash, checkpoint)
    return _message(xt.call, xt.extra, additional)


def verify_extrinsic_signature(
    xt: UncheckedExtrinsic,
    spec_version: int,
    tx_version: int,
    genesis_hash: bytes,
    checkpoint_hash: bytes | None = None,
) -> bool:
    """True iff ``xt`` is signed by its signer for this chain, runtime and checkpoint.

    Unsigned extrinsics have nothing to verify and return False. ``checkpoint_hash`` defaults to
    the genesis hash for immortal eras; for mortal ones pass the hash of ``era.birth(current)``.
    """
    if xt.signer is None:
        return False
    message = signed_message(xt, spec_version, tx_version, genesis_hash, checkpoint_hash)
    return verify_signature(xt.crypto, xt.signer, message, xt.signature)
