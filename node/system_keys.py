"""Accounts as people type them: SS58 addresses or 0x-prefixed 32-byte hex."""

from __future__ import annotations

from node.primitives.ss58 import InvalidAddress, ss58_decode


def account_id(text: str) -> bytes:
    """Raises ValueError with a clear message for anything else."""
    if text.startswith("0x"):
        try:
            raw = bytes.fromhex(text[2:])
        except ValueError:
            raise ValueError(f"{text!r} is not valid hex") from None
        if len(raw) != 32:
            raise ValueError(f"{text!r} is not 32 bytes")
        return raw
    try:
        _, public = ss58_decode(text)
    except InvalidAddress as e:
        raise ValueError(f"{text!r} is not a valid SS58 address: {e}") from None
    if len(public) != 32:
        raise ValueError(f"{text!r} is not a 32-byte account")
    return public
