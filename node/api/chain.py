"""`chain_*`: blocks, headers, heads and their subscriptions."""

from __future__ import annotations

from node.api.common import find_header, hex_or_none
from node.service.consensus import JUSTIFICATION_ENGINE_ID
from node.rpc.errors import invalid_params
from node.rpc.params import U32_MAX, check_param_count, decode_number_param, get_param


def register(module, node) -> None:
    chain = node.chain

    @module.method("chain_getBlockHash", aliases=("chain_getHead",))
    async def get_block_hash(params, conn):
        check_param_count(params, 1)
        arg = get_param(params, 0, "number")
        if arg is None or arg == []:
            return "0x" + chain.best.hash.hex()
        if isinstance(arg, list):
            if len(arg) > 1024:
                raise invalid_params("at most 1024 block numbers per call")
            return [hex_or_none(chain.hash_at(decode_number_param(n, "number", max_value=U32_MAX))) for n in arg]
        return hex_or_none(chain.hash_at(decode_number_param(arg, "number", max_value=U32_MAX)))

    @module.method("chain_getHeader")
    async def get_header(params, conn):
        check_param_count(params, 1)
        header = find_header(node, params, 0)  # an unknown hash is `null`, not an error
        return None if header is None else header.to_json()

    @module.method("chain_getBlock")
    async def get_block(params, conn):
        check_param_count(params, 1)
        header = find_header(node, params, 0)
        if header is None:
            return None
        block = chain.block(header.hash)
        justification = chain.justification(header.hash)
        # Substrate's JSON: a list of (ConsensusEngineId as a byte array, encoded justification).
        justifications = None if justification is None else [[list(JUSTIFICATION_ENGINE_ID), "0x" + justification.hex()]]
        return {"block": block.to_json(), "justifications": justifications}

    @module.method("chain_getFinalizedHead", aliases=("chain_getFinalisedHead",))
    async def get_finalized_head(params, conn):
        check_param_count(params, 0)
        return "0x" + chain.finalized.hash.hex()

    def head_subscription(kind: str, current):
        async def subscribe(params, sub):
            check_param_count(params, 0)
            subscribers = node.head_subscribers[kind]
            subscribers.add(sub)
            sub.on_close(lambda: subscribers.discard(sub))
            sub.send(current().to_json())

        return subscribe

    module.register_subscription(
        head_subscription("best", lambda: chain.best),
        subscribe="chain_subscribeNewHeads",
        aliases=("chain_subscribeNewHead", "subscribe_newHead", "chain_subscribeAllHeads"),
        unsubscribe=("chain_unsubscribeNewHeads", "chain_unsubscribeNewHead", "unsubscribe_newHead", "chain_unsubscribeAllHeads"),
        notification="chain_newHead",
    )
    module.register_subscription(
        head_subscription("finalized", lambda: chain.finalized),
        subscribe="chain_subscribeFinalizedHeads",
        aliases=("chain_subscribeFinalisedHeads",),
        unsubscribe=("chain_unsubscribeFinalizedHeads", "chain_unsubscribeFinalisedHeads"),
        notification="chain_finalizedHead",
    )
