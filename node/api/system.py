"""`system_*`: what the node is and how it is doing."""

from __future__ import annotations

from node.primitives.ss58 import InvalidAddress, ss58_decode
from node.rpc.errors import invalid_params
from node.rpc.params import check_param_count, decode_hex_param, get_param

VERSION = "0.1.0"


def account_param(value) -> bytes:
    """An account as SS58 or as 0x-prefixed 32-byte hex (both are accepted by Substrate)."""
    if isinstance(value, str) and value.startswith("0x"):
        return decode_hex_param(value, "account", length=32)
    if not isinstance(value, str):
        raise invalid_params("`account` must be an SS58 address or 0x-prefixed hex")
    try:
        _, public = ss58_decode(value)
    except InvalidAddress as e:
        raise invalid_params(f"`account` is not a valid SS58 address: {e}") from None
    if len(public) != 32:
        raise invalid_params("`account` must be a 32-byte account id")
    return public


def register(module, node) -> None:
    config = node.config

    def constant(value):
        async def answer(params, conn):
            check_param_count(params, 0)
            return value() if callable(value) else value

        return answer

    answers = {
        "system_name": config.node_name,
        "system_version": VERSION,
        "system_chain": config.chain_name,
        "system_chainType": config.chain_type,
        "system_properties": config.properties,
        "system_health": lambda: {"peers": 0, "isSyncing": False, "shouldHavePeers": False},
        "system_peers": lambda: [],
        "system_nodeRoles": ["Authority"],
    }
    for method, value in answers.items():
        module.register_method(method, constant(value))

    @module.method("system_accountNextIndex", aliases=("account_nextIndex",))
    async def account_next_index(params, conn):
        check_param_count(params, 1)
        return node.next_index(account_param(get_param(params, 0, "account", required=True)))
