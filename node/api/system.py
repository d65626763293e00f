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


def health(node) -> dict:
    network = node.network
    return {
        "peers": 0 if network is None else len(network.peers()),
        "isSyncing": node.is_syncing,
        "shouldHavePeers": network is not None,
    }


def peers(node) -> list[dict]:
    if node.network is None:
        return []
    return [
        {
            "peerId": p.name,
            "roles": "AUTHORITY" if any(r.name == "AUTHORITY" for r in p.roles) else "FULL",
            "bestHash": "0x" + p.best.hash.hex(),
            "bestNumber": p.best.number,
            "finalizedHash": "0x" + p.finalized.hash.hex(),
            "finalizedNumber": p.finalized.number,
            "address": p.address,
            "score": p.score,
        }
        for p in node.network.peers()
    ]


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
        "system_health": lambda: health(node),
        "system_peers": lambda: peers(node),
        "system_nodeRoles": lambda: ["Authority"] if node.consensus.is_authority else ["Full"],
    }
    for method, value in answers.items():
        module.register_method(method, constant(value))

    @module.method("system_accountNextIndex", aliases=("account_nextIndex",))
    async def account_next_index(params, conn):
        check_param_count(params, 1)
        return node.next_index(account_param(get_param(params, 0, "account", required=True)))
