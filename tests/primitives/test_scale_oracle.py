"""node.primitives.scale against scalecodec: the same bytes for the same values."""

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scalecodec.base import ScaleBytes

from node.primitives.scale import (
    DecodeError,
    decode_bytes,
    decode_compact,
    decode_uint,
    encode_bytes,
    encode_compact,
    encode_uint,
)

from .oracle import legacy_config

BOUNDARIES = [0, 1, 63, 64, 16383, 16384, 2**30 - 1, 2**30, 2**32 - 1, 2**32, 2**64 - 1, 2**128 - 1]


def _oracle_encode(type_string: str, value) -> bytes:
    return bytes(legacy_config().create_scale_object(type_string).encode(value).data)


@given(st.one_of(st.sampled_from(BOUNDARIES), st.integers(0, 2**128 - 1)))
def test_compact_matches_scalecodec(n):
    encoded = encode_compact(n)
    assert encoded == _oracle_encode("Compact<u128>", n)
    assert decode_compact(encoded, 0) == (n, len(encoded))


@pytest.mark.parametrize("bits", [8, 16, 32, 64, 128])
@given(data=st.data())
def test_fixed_width_uints_match_scalecodec(bits, data):
    n = data.draw(st.integers(0, 2**bits - 1))
    encoded = encode_uint(n, bits // 8)
    assert encoded == _oracle_encode(f"u{bits}", n)
    assert decode_uint(encoded, 0, bits // 8) == (n, bits // 8)


@given(st.binary(max_size=300))
def test_byte_vectors_match_scalecodec(b):
    encoded = encode_bytes(b)
    assert encoded == _oracle_encode("Bytes", b)
    assert decode_bytes(encoded, 0) == (b, len(encoded))


@given(st.binary(min_size=1, max_size=20))
def test_compact_decoding_agrees_with_scalecodec_on_arbitrary_bytes(data):
    try:
        value, end = decode_compact(data, 0)
    except DecodeError:
        return  # truncated or non-canonical; scalecodec is laxer about the latter
    oracle = legacy_config().create_scale_object("Compact<u256>", ScaleBytes(data[:end]))
    assert oracle.decode() == value
