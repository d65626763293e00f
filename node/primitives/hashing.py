"""Substrate's hash functions and storage-key hashers."""

from __future__ import annotations

from hashlib import blake2b

import xxhash

_xxh64 = xxhash.xxh64_intdigest


def blake2_256(data: bytes) -> bytes:
    return blake2b(data, digest_size=32).digest()


def blake2_128(data: bytes) -> bytes:
    return blake2b(data, digest_size=16).digest()


def blake2_64(data: bytes) -> bytes:
    return blake2b(data, digest_size=8).digest()


def twox_64(data: bytes) -> bytes:
    return _xxh64(data, 0).to_bytes(8, "little")


def twox_128(data: bytes) -> bytes:
    return _xxh64(data, 0).to_bytes(8, "little") + _xxh64(data, 1).to_bytes(8, "little")


def twox_256(data: bytes) -> bytes:
    return b"".join(_xxh64(data, seed).to_bytes(8, "little") for seed in range(4))


# Storage-map key hashers, by their metadata names. The "Concat" hashers keep the key readable
# after the hash, which is what lets clients decode map keys back (query_map).
HASHERS = {
    "Blake2_128": blake2_128,
    "Blake2_256": blake2_256,
    "Blake2_128Concat": lambda k: blake2_128(k) + k,
    "Twox128": twox_128,
    "Twox256": twox_256,
    "Twox64Concat": lambda k: twox_64(k) + k,
    "Identity": lambda k: k,
}

# How many hash bytes precede the raw key for hashers that keep it (0 means none is kept).
CONCAT_PREFIX_LEN = {"Blake2_128Concat": 16, "Twox64Concat": 8, "Identity": 0}


def storage_prefix(pallet: str, item: str) -> bytes:
    return twox_128(pallet.encode()) + twox_128(item.encode())
