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

    @module.method("system_name")
    async def name(params, conn):
        check_param_count(params, 0)
        return config.node_name

    @module.method("system_version")
    async def version(params, conn):
        check_param_count(params, 0)
        return VERSION

    @module.method("system_chain")
    async def chain(params, conn):
        check_param_count(params, 0)
        return config.chain_name

    @module.method("system_chainType")
    async def chain_type(params, conn):
        check_param_count(params, 0)
        return config.chain_type

    @module.method("system_properties")
    async def properties(params, conn):
        check_param_count(params, 0)
        return config.properties

    @module.method("system_health")
    async def health(params, conn):
        check_param_count(params, 0)
        return {"peers": 0, "isSyncing": False, "shouldHavePeers": False}

    @module.method("system_peers")
    async def peers(params, conn):
        check_param_count(params, 0)
        return []

    @module.method("system_nodeRoles")
    async def node_roles(params, conn):
        check_param_count(params, 0)
        return ["Authority"]

    @module.method("system_accountNextIndex", aliases=("account_nextIndex",))
    async def account_next_index(params, conn):
        check_param_count(params, 1)
        return node.next_index(account_param(get_param(params, 0, "account", required=True)))
