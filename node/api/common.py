"""Parameter and value conversions shared by the RPC namespaces."""

from __future__ import annotations

from node.primitives.header import Header
from node.rpc.errors import RpcError, invalid_params
from node.rpc.params import decode_hex_param, decode_optional_hash_param, get_param
from node.service.chain import StateView

UNKNOWN_BLOCK = 4003  # Substrate's state client error


def hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


def find_header(node, params: list, index: int) -> Header | None:
    """The header named by an optional block-hash parameter (best block when absent), or None
    for a hash the node does not know."""
    at = decode_optional_hash_param(get_param(params, index, "at"), "at")
    return node.chain.best if at is None else node.chain.header(at)


def header_at(node, params: list, index: int) -> Header:
    """As `find_header`, but an unknown block is an error (state queries need one)."""
    header = find_header(node, params, index)
    if header is None:
        raise RpcError(UNKNOWN_BLOCK, "Client error: UnknownBlock: header not found", params[index])
    return header


def state_at(node, params: list, index: int) -> StateView:
    return StateView(node.chain, header_at(node, params, index))


def storage_key(value, name: str = "key") -> bytes:
    key = decode_hex_param(value, name)
    if len(key) > 1024:
        raise invalid_params(f"`{name}` is longer than 1024 bytes")
    return key
