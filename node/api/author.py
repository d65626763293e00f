"""`author_*`: submitting extrinsics and watching them through ready, inBlock, finalized."""

from __future__ import annotations

from node.primitives.scale import DecodeError
from node.runtime.errors import TransactionValidityError
from node.rpc.errors import RpcError, invalid_transaction, verification_error
from node.rpc.params import check_param_count, decode_hex_param, get_param
from node.service.txpool import PoolError


def extrinsic_param(params) -> bytes:
    check_param_count(params, 1)
    return decode_hex_param(get_param(params, 0, "extrinsic", required=True), "extrinsic")


def as_rpc_error(e: Exception) -> RpcError:
    """The error Substrate gives for each way a submission is refused."""
    if isinstance(e, TransactionValidityError):
        return invalid_transaction(str(e))
    if isinstance(e, DecodeError):
        return verification_error(f"Runtime error: Could not decode the extrinsic: {e}")
    if isinstance(e, PoolError):
        return RpcError(e.code, e.message, str(e) or None)
    raise e


def submit(node, params) -> tuple:
    """Validate and pool; every refusal is the error Substrate gives, and changes nothing."""
    try:
        return node.submit(extrinsic_param(params))
    except (TransactionValidityError, DecodeError, PoolError) as e:
        raise as_rpc_error(e) from None


async def submit_batch(node, param_lists: list, conn) -> list:
    """A JSON-RPC batch of author_submitExtrinsic: signatures are checked together."""
    results: list = [None] * len(param_lists)
    datas, positions = [], []
    for i, params in enumerate(param_lists):
        try:
            datas.append(extrinsic_param(params))
            positions.append(i)
        except RpcError as e:
            results[i] = e
    for i, outcome in zip(positions, await node.submit_many(datas)):
        results[i] = as_rpc_error(outcome) if isinstance(outcome, Exception) else "0x" + outcome[0].hash.hex()
    return results


def register(module, node) -> None:
    async def submit_extrinsic(params, conn):
        tx, _ = submit(node, params)
        return "0x" + tx.hash.hex()

    async def submit_extrinsics(param_lists, conn):
        return await submit_batch(node, param_lists, conn)

    module.register_method("author_submitExtrinsic", submit_extrinsic, batch_handler=submit_extrinsics)

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
