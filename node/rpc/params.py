"""Checking handler parameters: every bad value becomes -32602 with a message naming it.

Handlers receive ``params`` as a list (by position). Typical use::

    check_param_count(params, 2)
    key = decode_hex_param(get_param(params, 0, "key", required=True), "key")
    at = decode_optional_hash_param(get_param(params, 1, "at"), "at")
"""

from __future__ import annotations

from typing import Any

from .errors import invalid_params

U32_MAX = (1 << 32) - 1
U64_MAX = (1 << 64) - 1
HASH_LENGTH = 32


def check_param_count(params: list[Any], max_count: int) -> None:
    if len(params) > max_count:
        raise invalid_params(f"expected at most {max_count} parameters, got {len(params)}")


def get_param(params: list[Any], index: int, name: str, *, required: bool = False) -> Any:
    """The parameter at ``index``; ``None`` when missing, unless ``required``."""
    if index < len(params):
        return params[index]
    if required:
        raise invalid_params(f"missing parameter `{name}` at position {index}")
    return None


def decode_hex_param(value: Any, name: str, *, length: int | None = None) -> bytes:
    """A ``"0x…"`` string of even length; ``length`` is the exact byte count if given."""
    if not isinstance(value, str):
        raise invalid_params(f"`{name}` must be a 0x-prefixed hex string")
    if not value.startswith(("0x", "0X")):
        raise invalid_params(f"`{name}` must start with 0x")
    try:
        data = bytes.fromhex(value[2:])
    except ValueError:
        raise invalid_params(f"`{name}` is not valid hex") from None
    # fromhex skips whitespace between bytes; a canonical string has exactly two digits a byte.
    if len(value) != 2 + 2 * len(data):
        raise invalid_params(f"`{name}` is not valid hex")
    if length is not None and len(data) != length:
        raise invalid_params(f"`{name}` must be {length} bytes, got {len(data)}")
    return data


def decode_hash_param(value: Any, name: str) -> bytes:
    return decode_hex_param(value, name, length=HASH_LENGTH)


def decode_optional_hash_param(value: Any, name: str) -> bytes | None:
    """A block hash, or ``None`` for "best block" when the client sent null or nothing."""
    if value is None:
        return None
    return decode_hash_param(value, name)


def decode_number_param(value: Any, name: str, *, max_value: int = U64_MAX) -> int:
    """A non-negative integer sent as a JSON number or as a ``"0x…"`` hex string (NumberOrHex)."""
    if isinstance(value, bool):  # bool is an int subclass; true is not 1 here
        raise invalid_params(f"`{name}` must be a number or a 0x-prefixed hex string")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.startswith(("0x", "0X")):
        digits = value[2:]
        # int() alone would also take "_", whitespace and non-ASCII digits.
        if not (digits.isascii() and digits.isalnum()):
            raise invalid_params(f"`{name}` is not a valid hex number")
        try:
            number = int(digits, 16)
        except ValueError:
            raise invalid_params(f"`{name}` is not a valid hex number") from None
    else:
        raise invalid_params(f"`{name}` must be a number or a 0x-prefixed hex string")
    if not 0 <= number <= max_value:
        raise invalid_params(f"`{name}` must be between 0 and {max_value}")
    return number


def decode_optional_number_param(value: Any, name: str, *, max_value: int = U64_MAX) -> int | None:
    if value is None:
        return None
    return decode_number_param(value, name, max_value=max_value)


def decode_str_param(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise invalid_params(f"`{name}` must be a string")
    return value


def decode_bool_param(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_params(f"`{name}` must be a boolean")
    return value


def decode_list_param(value: Any, name: str, *, max_length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise invalid_params(f"`{name}` must be an array")
    if max_length is not None and len(value) > max_length:
        raise invalid_params(f"`{name}` has more than {max_length} items")
    return value
