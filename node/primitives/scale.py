"""SCALE primitives for the hot path.

Every decoder takes ``(data, offset)`` and returns ``(value, new_offset)`` so composite decoders
chain without slicing. Callers that decode a whole message use :func:`decode_all`, which rejects
trailing bytes. Anything that runs out of input raises :class:`DecodeError`, never IndexError.
"""

from __future__ import annotations

from typing import Callable, TypeVar

T = TypeVar("T")


class DecodeError(ValueError):
    """Bytes that are not a valid SCALE encoding of the expected type."""


_U8 = [bytes((i,)) for i in range(256)]


def encode_compact(n: int) -> bytes:
    if n < 0:
        raise ValueError("compact integers are unsigned")
    if n < 1 << 6:
        return _U8[n << 2]
    if n < 1 << 14:
        return ((n << 2) | 1).to_bytes(2, "little")
    if n < 1 << 30:
        return ((n << 2) | 2).to_bytes(4, "little")
    length = max(4, (n.bit_length() + 7) // 8)
    if length > 67:
        raise ValueError("compact integer too large")
    return _U8[((length - 4) << 2) | 3] + n.to_bytes(length, "little")


def decode_compact(data: bytes, offset: int) -> tuple[int, int]:
    try:
        first = data[offset]
    except IndexError:
        raise DecodeError("unexpected end of input reading a compact integer") from None
    mode = first & 3
    if mode == 0:
        return first >> 2, offset + 1
    if mode == 1:
        end = offset + 2
        if end > len(data):
            raise DecodeError("unexpected end of input reading a compact integer")
        value = int.from_bytes(data[offset:end], "little") >> 2
        if value < 1 << 6:
            raise DecodeError("non-canonical compact integer")
        return value, end
    if mode == 2:
        end = offset + 4
        if end > len(data):
            raise DecodeError("unexpected end of input reading a compact integer")
        value = int.from_bytes(data[offset:end], "little") >> 2
        if value < 1 << 14:
            raise DecodeError("non-canonical compact integer")
        return value, end
    length = (first >> 2) + 4
    end = offset + 1 + length
    if end > len(data):
        raise DecodeError("unexpected end of input reading a compact integer")
    value = int.from_bytes(data[offset + 1 : end], "little")
    if value < 1 << 30 or (length > 4 and value >> ((length - 1) * 8) == 0):
        raise DecodeError("non-canonical compact integer")
    return value, end


def encode_uint(n: int, size: int) -> bytes:
    """Fixed-width little-endian unsigned integer (u8 … u256)."""
    try:
        return n.to_bytes(size, "little")
    except OverflowError:
        raise ValueError(f"{n} does not fit in u{size * 8}") from None


def decode_uint(data: bytes, offset: int, size: int) -> tuple[int, int]:
    end = offset + size
    if end > len(data):
        raise DecodeError(f"unexpected end of input reading u{size * 8}")
    return int.from_bytes(data[offset:end], "little"), end


def encode_bytes(b: bytes) -> bytes:
    """``Vec<u8>``: compact length prefix, then the bytes."""
    return encode_compact(len(b)) + b


def decode_bytes(data: bytes, offset: int) -> tuple[bytes, int]:
    length, offset = decode_compact(data, offset)
    end = offset + length
    if end > len(data):
        raise DecodeError("unexpected end of input reading a byte vector")
    return bytes(data[offset:end]), end


def decode_fixed(data: bytes, offset: int, size: int) -> tuple[bytes, int]:
    end = offset + size
    if end > len(data):
        raise DecodeError(f"unexpected end of input reading [u8; {size}]")
    return bytes(data[offset:end]), end


def decode_bool(data: bytes, offset: int) -> tuple[bool, int]:
    try:
        b = data[offset]
    except IndexError:
        raise DecodeError("unexpected end of input reading bool") from None
    if b > 1:
        raise DecodeError(f"invalid bool byte {b}")
    return b == 1, offset + 1


def decode_all(decoder: Callable[[bytes, int], tuple[T, int]], data: bytes) -> T:
    """Decode a whole message; trailing bytes are an error, as in Substrate's ``decode_all``."""
    value, end = decoder(data, 0)
    if end != len(data):
        raise DecodeError(f"{len(data) - end} trailing bytes after a complete value")
    return value
