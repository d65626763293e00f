"""Parameter helpers: every malformed value is -32602 naming the parameter; good values decode."""

from __future__ import annotations

from typing import Any, Callable

import pytest

from node.rpc import RpcError, RpcModule
from node.rpc.params import (
    check_param_count,
    decode_bool_param,
    decode_hash_param,
    decode_hex_param,
    decode_list_param,
    decode_number_param,
    decode_optional_hash_param,
    decode_optional_number_param,
    decode_str_param,
    get_param,
    U32_MAX,
)

HASH = "0x" + "ab" * 32


def rejects(decode: Callable[..., Any], value: Any, **options: Any) -> str:
    with pytest.raises(RpcError) as info:
        decode(value, "thing", **options)
    assert info.value.code == -32602
    assert "`thing`" in info.value.data
    return info.value.data


def test_hex_param_decodes_0x_prefixed_hex_of_any_case() -> None:
    assert decode_hex_param("0x00Ff", "k") == b"\x00\xff"
    assert decode_hex_param("0x", "k") == b""


@pytest.mark.parametrize(
    "value", ["00ff", "0x0", "0xzz", "0x 00", "0x00 ", None, 5, b"0x00", ["0x00"]]
)
def test_hex_param_rejects_anything_but_canonical_0x_hex(value: Any) -> None:
    rejects(decode_hex_param, value)


def test_hex_param_rejects_wrong_length_when_a_length_is_required() -> None:
    assert "must be 2 bytes, got 1" in rejects(decode_hex_param, "0x00", length=2)


def test_hash_param_is_exactly_32_bytes() -> None:
    assert decode_hash_param(HASH, "h") == b"\xab" * 32
    rejects(decode_hash_param, HASH[:-2])
    rejects(decode_hash_param, HASH + "00")


def test_optional_hash_param_maps_null_to_none() -> None:
    assert decode_optional_hash_param(None, "at") is None
    assert decode_optional_hash_param(HASH, "at") == b"\xab" * 32
    rejects(decode_optional_hash_param, "0x00")


def test_number_param_accepts_an_integer_or_a_hex_string() -> None:
    assert decode_number_param(26, "n") == 26
    assert decode_number_param("0x1a", "n") == 26
    assert decode_number_param("0X1A", "n") == 26
    assert decode_optional_number_param(None, "n") is None


@pytest.mark.parametrize(
    "value", [True, False, -1, 1.0, "26", "0x", "0x1_a", "0x 1a", "0x٣", "0xg", None, [1]]
)
def test_number_param_rejects_bools_negatives_floats_and_bad_hex(value: Any) -> None:
    rejects(decode_number_param, value)


def test_number_param_enforces_its_maximum() -> None:
    assert decode_number_param(U32_MAX, "n", max_value=U32_MAX) == U32_MAX
    rejects(decode_number_param, U32_MAX + 1, max_value=U32_MAX)
    rejects(decode_number_param, hex(2**64))


def test_scalar_and_list_params_check_their_type() -> None:
    assert decode_str_param("a", "s") == "a"
    rejects(decode_str_param, 1)
    assert decode_bool_param(True, "b") is True
    rejects(decode_bool_param, 1)
    assert decode_list_param([1], "l") == [1]
    rejects(decode_list_param, "[1]")
    rejects(decode_list_param, [1, 2], max_length=1)


def test_param_count_and_missing_required_params_are_invalid_params() -> None:
    check_param_count([1, 2], 2)
    with pytest.raises(RpcError) as info:
        check_param_count([1, 2, 3], 2)
    assert info.value.code == -32602
    assert get_param([], 0, "at") is None
    with pytest.raises(RpcError) as info:
        get_param([], 0, "key", required=True)
    assert "`key`" in info.value.data


def test_registering_a_name_twice_is_refused() -> None:
    module = RpcModule()

    async def handler(params: list[Any], conn: Any) -> None:
        return None

    module.register_method("a", handler, aliases=("b",))
    with pytest.raises(ValueError):
        module.register_method("b", handler)
    with pytest.raises(ValueError):
        module.register_method("c", handler, aliases=("c",))
    with pytest.raises(ValueError):
        module.register_method("rpc_methods", handler)
    assert module.method_names() == ["a", "b", "rpc_methods"]
