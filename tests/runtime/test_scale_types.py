"""The fast codec must produce scalecodec's bytes exactly, and reject what it cannot decode."""

import pytest
from hypothesis import given, strategies as st
from scalecodec.base import RuntimeConfiguration, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset

from node.primitives.scale import DecodeError
from node.primitives.scale_types import (
    U8, U16, U32, U64, U128, Bool, Bytes, Compact, Option, Sequence_, Str, Tuple, Vec,
)
from node.pallets.system import AccountInfo, AccountInfoCodec

CONFIG = RuntimeConfiguration()
CONFIG.update_type_registry(load_type_registry_preset("core"))


def oracle_encode(type_string: str, value) -> bytes:
    return bytes(CONFIG.create_scale_object(type_string).encode(value).data)


def oracle_decode(type_string: str, data: bytes):
    obj = CONFIG.create_scale_object(type_string, data=ScaleBytes(data))
    return obj.decode()


@given(st.integers(0, 2**128 - 1))
def test_compact_matches_scalecodec(n):
    assert Compact(U128).encode(n) == oracle_encode("Compact<u128>", n)
    assert Compact(U128).decode_all(oracle_encode("Compact<u128>", n)) == n


@pytest.mark.parametrize("t,name,bits", [(U8, "u8", 8), (U16, "u16", 16), (U32, "u32", 32), (U64, "u64", 64), (U128, "u128", 128)])
@given(data=st.data())
def test_fixed_width_integers_match_scalecodec(t, name, bits, data):
    n = data.draw(st.integers(0, 2**bits - 1))
    assert t.encode(n) == oracle_encode(name, n)
    assert t.decode_all(t.encode(n)) == n


@given(st.lists(st.integers(0, 2**32 - 1), max_size=40))
def test_vec_of_u32_matches_scalecodec(values):
    assert Vec(U32).encode(values) == oracle_encode("Vec<u32>", values)
    assert Vec(U32).decode_all(Vec(U32).encode(values)) == values


@given(st.binary(max_size=300))
def test_bytes_match_scalecodec(b):
    assert Bytes.encode(b) == oracle_encode("Bytes", "0x" + b.hex())


@given(st.text(max_size=50))
def test_str_matches_scalecodec(s):
    assert Str.encode(s) == oracle_encode("String", s)
    assert Str.decode_all(Str.encode(s)) == s


@given(st.one_of(st.none(), st.integers(0, 2**64 - 1)))
def test_option_matches_scalecodec(v):
    assert Option(U64).encode(v) == oracle_encode("Option<u64>", v)


@given(st.booleans(), st.integers(0, 2**16 - 1))
def test_tuple_matches_scalecodec(b, n):
    assert Tuple(Bool, U16).encode((b, n)) == oracle_encode("(bool, u16)", (b, n))


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**128 - 1), st.integers(0, 2**128 - 1))
def test_account_info_fast_path_matches_scalecodec(nonce, free, reserved):
    oracle = oracle_encode(
        "(u32, u32, u32, u32, u128, u128, u128, u128)",
        (nonce, 0, 1, 0, free, reserved, 0, 1 << 127),
    )
    info = AccountInfo(nonce, 0, 1, 0, free, reserved, 0, 1 << 127)
    assert AccountInfoCodec.encode(info) == oracle
    assert AccountInfoCodec.decode_all(oracle) == info


def test_decode_rejects_trailing_bytes():
    with pytest.raises(DecodeError, match="trailing"):
        U32.decode_all(b"\x01\x00\x00\x00\x00")


def test_decode_rejects_truncated_input():
    with pytest.raises(DecodeError):
        U64.decode_all(b"\x01\x02")
    with pytest.raises(DecodeError):
        Vec(U32).decode_all(b"\x08\x01\x00\x00\x00")


def test_sequence_length_beyond_input_is_rejected_before_allocating():
    hostile = Compact(U32).encode(2**30 - 1)  # claims a billion elements
    with pytest.raises(DecodeError, match="exceeds"):
        Sequence_(U64).decode_all(hostile)


def test_non_canonical_compact_is_rejected():
    with pytest.raises(DecodeError, match="non-canonical"):
        Compact(U32).decode_all(b"\x01\x00")  # 0 in two-byte mode


def test_invalid_bool_and_option_tags_are_rejected():
    with pytest.raises(DecodeError):
        Bool.decode_all(b"\x02")
    with pytest.raises(DecodeError):
        Option(U8).decode_all(b"\x02\x00")
