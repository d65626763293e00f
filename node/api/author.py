"""`author_*`: submitting extrinsics and watching them through ready, inBlock, finalized."""

from __future__ import annotations

from node.primitives.scale import DecodeError
from node.runtime.errors import TransactionValidityError
from node.rpc.errors import RpcError, invalid_transaction, verification_error
from node.rpc.params import check_param_count, decode_hex_param, get_param
from node.service.txpool import PoolError


def submit(node, params) -> tuple:
    """Validate and pool; every refusal is the error Substrate gives, and changes nothing."""
    check_param_count(params, 1)
    data = decode_hex_param(get_param(params, 0, "extrinsic", required=True), "extrinsic")
    try:
        return node.submit(data)
    except TransactionValidityError as e:
        raise invalid_transaction(str(e)) from None
    except DecodeError as e:
        raise verification_error(f"Runtime error: Could not decode the extrinsic: {e}") from None
    except PoolError as e:
        raise RpcError(e.code, e.message, str(e) or None) from None


def register(module, node) -> None:
    @module.method("author_submitExtrinsic")
    async def submit_extrinsic(params, conn):
        tx, _ = submit(node, params)
        return "0x" + tx.hash.hex()

    async def submit_and_watch(params, sub):
        tx, status = submit(node, params)
        node.watchers.watch(tx.hash, sub)
        sub.send(status)  # "ready" or "future", delivered right after the subscription id

    module.register_subscription(
        submit_and_watch,
        subscribe="author_submitAndWatchExtrinsic",
        unsubscribe=("author_unwatchExtrinsic",),
        notification="author_extrinsicUpdate",
    )

    @module.method("author_pendingExtrinsics")
    async def pending(params, conn):
        check_param_count(params, 0)
        return ["0x" + tx.checked.xt.data.hex() for tx in node.pool.pending()]
