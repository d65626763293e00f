"""Block headers and blocks, byte-exact with ``sp_runtime::generic::{Header, Block}``.

Header = parent_hash[32] ++ Compact<u32> number ++ state_root[32] ++ extrinsics_root[32]
++ Vec<DigestItem>. The block hash is blake2_256 of that encoding, which clients (polkadot.js)
recompute, so it has to be exact. A block is the header followed by ``Vec<extrinsic>``, where each
extrinsic is kept as its own bytes, length prefix included.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from node.primitives.hashing import blake2_256
from node.primitives.scale import (
    DecodeError,
    decode_all,
    decode_bytes,
    decode_compact,
    decode_fixed,
    encode_bytes,
    encode_compact,
)

HASH_LEN = 32
ENGINE_ID_LEN = 4
U32_MAX = (1 << 32) - 1

# DigestItem variant indices (the gaps are variants Substrate has retired).
OTHER = 0
CONSENSUS = 4
SEAL = 5
PRE_RUNTIME = 6
RUNTIME_ENVIRONMENT_UPDATED = 8
_ENGINE_KINDS = frozenset((CONSENSUS, SEAL, PRE_RUNTIME))
_KINDS = frozenset((OTHER, RUNTIME_ENVIRONMENT_UPDATED)) | _ENGINE_KINDS


class InvalidHeader(DecodeError):
    """A header or block that does not decode, or JSON that does not describe one."""


@dataclass(frozen=True, slots=True)
class DigestItem:
    kind: int  # OTHER, CONSENSUS, SEAL, PRE_RUNTIME or RUNTIME_ENVIRONMENT_UPDATED
    engine: bytes = b""  # ConsensusEngineId, 4 bytes, only for CONSENSUS, SEAL and PRE_RUNTIME
    data: bytes = b""  # empty for RUNTIME_ENVIRONMENT_UPDATED

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown digest item kind {self.kind}")
        if self.kind in _ENGINE_KINDS:
            if len(self.engine) != ENGINE_ID_LEN:
                raise ValueError("consensus engine id must be 4 bytes")
        elif self.engine:
            raise ValueError("only consensus, seal and pre-runtime items carry an engine id")
        if self.kind == RUNTIME_ENVIRONMENT_UPDATED and self.data:
            raise ValueError("RuntimeEnvironmentUpdated carries no data")

    @classmethod
    def other(cls, data: bytes) -> DigestItem:
        return cls(OTHER, b"", data)

    @classmethod
    def consensus(cls, engine: bytes, data: bytes) -> DigestItem:
        return cls(CONSENSUS, engine, data)

    @classmethod
    def seal(cls, engine: bytes, data: bytes) -> DigestItem:
        return cls(SEAL, engine, data)

    @classmethod
    def pre_runtime(cls, engine: bytes, data: bytes) -> DigestItem:
        return cls(PRE_RUNTIME, engine, data)

    @classmethod
    def runtime_environment_updated(cls) -> DigestItem:
        return cls(RUNTIME_ENVIRONMENT_UPDATED)

    def encode(self) -> bytes:
        if self.kind == RUNTIME_ENVIRONMENT_UPDATED:
            return b"\x08"
        return bytes((self.kind,)) + self.engine + encode_bytes(self.data)

    @classmethod
    def decode(cls, data: bytes) -> DigestItem:
        return decode_all(decode_digest_item, data)


def decode_digest_item(data: bytes, offset: int) -> tuple[DigestItem, int]:
    try:
        kind = data[offset]
    except IndexError:
        raise InvalidHeader("unexpected end of input reading a digest item") from None
    offset += 1
    if kind == RUNTIME_ENVIRONMENT_UPDATED:
        return DigestItem(kind), offset
    if kind == OTHER:
        payload, offset = decode_bytes(data, offset)
        return DigestItem(kind, b"", payload), offset
    if kind in _ENGINE_KINDS:
        engine, offset = decode_fixed(data, offset, ENGINE_ID_LEN)
        payload, offset = decode_bytes(data, offset)
        return DigestItem(kind, engine, payload), offset
    raise InvalidHeader(f"unknown digest item variant {kind}")


@dataclass(frozen=True, slots=True)
class Header:
    parent_hash: bytes
    number: int
    state_root: bytes
    extrinsics_root: bytes
    digest: tuple[DigestItem, ...] = ()
    # Encoding and hash are computed once, on first use.
    _encoded: bytes | None = field(default=None, init=False, repr=False, compare=False)
    _hash: bytes | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("parent_hash", "state_root", "extrinsics_root"):
            if len(getattr(self, name)) != HASH_LEN:
                raise ValueError(f"{name} must be {HASH_LEN} bytes")
        if not 0 <= self.number <= U32_MAX:
            raise ValueError("block number must fit in u32")
        if not isinstance(self.digest, tuple):
            object.__setattr__(self, "digest", tuple(self.digest))

    def encode(self) -> bytes:
        encoded = self._encoded
        if encoded is None:
            encoded = b"".join(
                (
                    self.parent_hash,
                    encode_compact(self.number),
                    self.state_root,
                    self.extrinsics_root,
                    encode_compact(len(self.digest)),
                    *(item.encode() for item in self.digest),
                )
            )
            object.__setattr__(self, "_encoded", encoded)
        return encoded

    @property
    def hash(self) -> bytes:
        h = self._hash
        if h is None:
            h = blake2_256(self.encode())
            object.__setattr__(self, "_hash", h)
        return h

    @classmethod
    def decode(cls, data: bytes) -> Header:
        return decode_all(decode_header, data)

    def to_json(self) -> dict[str, Any]:
        """The RPC form (``chain_getHeader``): hex strings, the number as unpadded hex."""
        return {
            "parentHash": "0x" + self.parent_hash.hex(),
            "number": hex(self.number),
            "stateRoot": "0x" + self.state_root.hex(),
            "extrinsicsRoot": "0x" + self.extrinsics_root.hex(),
            "digest": {"logs": ["0x" + item.encode().hex() for item in self.digest]},
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Header:
        try:
            number = obj["number"]
            if isinstance(number, str):
                number = int(number, 16)
            elif not isinstance(number, int) or isinstance(number, bool):
                raise InvalidHeader("header number must be a hex string")
            return cls(
                parent_hash=_from_hex(obj["parentHash"]),
                number=number,
                state_root=_from_hex(obj["stateRoot"]),
                extrinsics_root=_from_hex(obj["extrinsicsRoot"]),
                digest=tuple(DigestItem.decode(_from_hex(log)) for log in obj["digest"]["logs"]),
            )
        except InvalidHeader:
            raise
        except DecodeError as e:
            raise InvalidHeader(f"bad digest log: {e}") from None
        except (KeyError, TypeError, ValueError) as e:
            raise InvalidHeader(f"malformed header JSON: {e!r}") from None


def decode_header(data: bytes, offset: int) -> tuple[Header, int]:
    start = offset
    parent_hash, offset = decode_fixed(data, offset, HASH_LEN)
    number, offset = decode_compact(data, offset)
    if number > U32_MAX:
        raise InvalidHeader("block number does not fit in u32")
    state_root, offset = decode_fixed(data, offset, HASH_LEN)
    extrinsics_root, offset = decode_fixed(data, offset, HASH_LEN)
    count, offset = decode_compact(data, offset)
    # Each item takes at least one byte, so a count beyond the input is a lie; refuse it early.
    if count > len(data) - offset:
        raise InvalidHeader("digest item count exceeds the input")
    items = []
    for _ in range(count):
        item, offset = decode_digest_item(data, offset)
        items.append(item)
    header = Header(parent_hash, number, state_root, extrinsics_root, tuple(items))
    # The canonical encoding is exactly the bytes read (SCALE has one encoding per value).
    object.__setattr__(header, "_encoded", bytes(data[start:offset]))
    return header, offset


def _from_hex(text: str) -> bytes:
    if not isinstance(text, str) or not text.startswith("0x"):
        raise InvalidHeader(f"expected a 0x-prefixed hex string, got {text!r}")
    try:
        return bytes.fromhex(text[2:])
    except ValueError:
        raise InvalidHeader(f"bad hex {text!r}") from None


TrieRoot = Callable[[list[tuple[bytes, bytes]]], bytes]


def extrinsics_root(extrinsics: tuple[bytes, ...] | list[bytes], trie_root: TrieRoot) -> bytes:
    """``extrinsics_data_root``: the ordered trie root of the extrinsics.

    Keys are ``Compact<u32>(index)``, values each extrinsic's full encoding (length prefix
    included). Items are passed in index order, which is not key order: ``trie_root`` (the one in
    ``node.trie``, with the runtime's state version) must sort them itself.
    """
    return trie_root([(encode_compact(i), xt) for i, xt in enumerate(extrinsics)])


@dataclass(frozen=True, slots=True)
class Block:
    header: Header
    extrinsics: tuple[bytes, ...] = ()  # each extrinsic's full bytes, length prefix included

    def __post_init__(self) -> None:
        if not isinstance(self.extrinsics, tuple):
            object.__setattr__(self, "extrinsics", tuple(self.extrinsics))

    @property
    def hash(self) -> bytes:
        return self.header.hash

    def encode(self) -> bytes:
        return b"".join((self.header.encode(), encode_compact(len(self.extrinsics)), *self.extrinsics))

    @classmethod
    def decode(cls, data: bytes) -> Block:
        return decode_all(decode_block, data)

    def to_json(self) -> dict[str, Any]:
        """The ``block`` member of ``chain_getBlock``'s result."""
        return {
            "header": self.header.to_json(),
            "extrinsics": ["0x" + xt.hex() for xt in self.extrinsics],
        }

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> Block:
        try:
            header = Header.from_json(obj["header"])
            raw = [_from_hex(xt) for xt in obj["extrinsics"]]
        except (KeyError, TypeError) as e:
            raise InvalidHeader(f"malformed block JSON: {e!r}") from None
        for xt in raw:
            try:
                _split_extrinsic(xt, 0, whole=True)
            except DecodeError as e:
                raise InvalidHeader(f"bad extrinsic in block JSON: {e}") from None
        return cls(header, tuple(raw))


def _split_extrinsic(data: bytes, offset: int, whole: bool = False) -> tuple[bytes, int]:
    """One length-prefixed extrinsic's bytes (prefix included); the body is not interpreted."""
    length, body = decode_compact(data, offset)
    end = body + length
    if end > len(data) or (whole and end != len(data)):
        raise InvalidHeader("extrinsic length prefix does not match its bytes")
    return bytes(data[offset:end]), end


def decode_block(data: bytes, offset: int) -> tuple[Block, int]:
    header, offset = decode_header(data, offset)
    count, offset = decode_compact(data, offset)
    if count > len(data) - offset:
        raise InvalidHeader("extrinsic count exceeds the input")
    extrinsics = []
    for _ in range(count):
        xt, offset = _split_extrinsic(data, offset)
        extrinsics.append(xt)
    return Block(header, tuple(extrinsics)), offset
