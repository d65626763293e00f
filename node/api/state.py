"""`state_*`: storage, proofs, runtime version, metadata and runtime calls, at any block."""

from __future__ import annotations

from node.api.common import header_at, hex_or_none, state_at, storage_key
from node.primitives.hashing import blake2_256
from node.primitives.scale import DecodeError
from node.runtime.apis import UnknownRuntimeApi, runtime_version_json
from node.runtime.errors import TransactionValidityError
from node.rpc.errors import RpcError, invalid_params
from node.rpc.params import check_param_count, decode_hex_param, decode_list_param, decode_number_param, decode_str_param, get_param

MAX_KEYS_PAGE = 1000  # Substrate's STORAGE_KEYS_PAGED_MAX_COUNT
MAX_QUERY_KEYS = 1000
RUNTIME_ERROR = 4003  # Substrate: "Client error: Execution failed: …"


def register(module, node) -> None:
    @module.method("state_getRuntimeVersion", aliases=("chain_getRuntimeVersion",))
    async def get_runtime_version(params, conn):
        check_param_count(params, 1)
        header_at(node, params, 0)  # one runtime so far: the block only has to exist
        return runtime_version_json(node.config.runtime.version)

    @module.method("state_getMetadata")
    async def get_metadata(params, conn):
        check_param_count(params, 1)
        header_at(node, params, 0)
        return "0x" + node.metadata.hex()

    @module.method("state_getStorage", aliases=("state_getStorageAt",))
    async def get_storage(params, conn):
        check_param_count(params, 2)
        key = storage_key(get_param(params, 0, "key", required=True))
        return hex_or_none(state_at(node, params, 1).get(key))

    @module.method("state_getStorageHash", aliases=("state_getStorageHashAt",))
    async def get_storage_hash(params, conn):
        check_param_count(params, 2)
        value = state_at(node, params, 1).get(storage_key(get_param(params, 0, "key", required=True)))
        return None if value is None else "0x" + blake2_256(value).hex()

    @module.method("state_getStorageSize", aliases=("state_getStorageSizeAt",))
    async def get_storage_size(params, conn):
        check_param_count(params, 2)
        value = state_at(node, params, 1).get(storage_key(get_param(params, 0, "key", required=True)))
        return None if value is None else len(value)

    @module.method("state_queryStorageAt")
    async def query_storage_at(params, conn):
        check_param_count(params, 2)
        keys = [storage_key(k) for k in decode_list_param(get_param(params, 0, "keys", required=True), "keys", max_length=MAX_QUERY_KEYS)]
        header = header_at(node, params, 1)
        view = state_at(node, params, 1)
        return [{"block": "0x" + header.hash.hex(), "changes": [["0x" + k.hex(), hex_or_none(view.get(k))] for k in keys]}]

    @module.method("state_getKeysPaged", aliases=("state_getKeysPagedAt",))
    async def get_keys_paged(params, conn):
        check_param_count(params, 4)
        prefix_param = get_param(params, 0, "prefix")
        prefix = b"" if prefix_param is None else storage_key(prefix_param, "prefix")
        count = decode_number_param(get_param(params, 1, "count", required=True), "count")
        if count > MAX_KEYS_PAGE:
            raise RpcError(4002, f"count exceeds maximum value. value: {count}, max: {MAX_KEYS_PAGE}")
        start = get_param(params, 2, "startKey")
        start_key = None if start is None else storage_key(start, "startKey")
        view = state_at(node, params, 3)
        keys = []
        for key in view.keys(prefix, start_key):
            if len(keys) >= count:
                break
            keys.append("0x" + key.hex())
        return keys

    @module.method("state_getReadProof")
    async def get_read_proof(params, conn):
        check_param_count(params, 2)
        keys = [storage_key(k) for k in decode_list_param(get_param(params, 0, "keys", required=True), "keys", max_length=MAX_QUERY_KEYS)]
        header = header_at(node, params, 1)
        proof = state_at(node, params, 1).read_proof(keys)
        return {"at": "0x" + header.hash.hex(), "proof": ["0x" + p.hex() for p in proof]}

    @module.method("state_call", aliases=("state_callAt",))
    async def call(params, conn):
        check_param_count(params, 3)
        name = decode_str_param(get_param(params, 0, "method", required=True), "method")
        data = decode_hex_param(get_param(params, 1, "data", required=True), "data")
        view = state_at(node, params, 2)
        try:
            return "0x" + node.apis.call(name, data, view).hex()
        except UnknownRuntimeApi as e:
            raise RpcError(RUNTIME_ERROR, f"Client error: Execution failed: {e}") from None
        except (DecodeError, ValueError, TransactionValidityError) as e:
            raise RpcError(RUNTIME_ERROR, f"Client error: Execution failed: Runtime error: {e}") from None

    # -- subscriptions ------------------------------------------------------------------------
    async def subscribe_runtime_version(params, sub):
        check_param_count(params, 0)
        sub.send(runtime_version_json(node.config.runtime.version))  # one runtime: never changes

    module.register_subscription(
        subscribe_runtime_version,
        subscribe="state_subscribeRuntimeVersion",
        aliases=("chain_subscribeRuntimeVersion",),
        unsubscribe=("state_unsubscribeRuntimeVersion", "chain_unsubscribeRuntimeVersion"),
        notification="state_runtimeVersion",
    )

    async def subscribe_storage(params, sub):
        check_param_count(params, 1)
        raw = get_param(params, 0, "keys")
        keys = None if raw is None else tuple(storage_key(k) for k in decode_list_param(raw, "keys", max_length=MAX_QUERY_KEYS))
        if keys is not None and not keys:
            raise invalid_params("`keys` must not be empty")
        entry = (sub, keys)
        node.storage_subscribers.add(entry)
        sub.on_close(lambda: node.storage_subscribers.discard(entry))
        if keys is not None:  # the current values first, as Substrate does
            best = node.chain.best
            view = state_at(node, [], 0)
            sub.send({"block": "0x" + best.hash.hex(), "changes": [["0x" + k.hex(), hex_or_none(view.get(k))] for k in keys]})

    module.register_subscription(
        subscribe_storage,
        subscribe="state_subscribeStorage",
        unsubscribe=("state_unsubscribeStorage",),
        notification="state_storage",
    )

    @module.method("payment_queryInfo")
    async def query_info(params, conn):
        from node.runtime.apis import dispatch_info_of

        check_param_count(params, 2)
        xt = decode_hex_param(get_param(params, 0, "extrinsic", required=True), "extrinsic")
        header_at(node, params, 1)
        try:
            weight, klass, fee = dispatch_info_of(node.executive, xt)
        except (DecodeError, ValueError, TransactionValidityError) as e:
            raise RpcError(RUNTIME_ERROR, f"Client error: Execution failed: Runtime error: {e}") from None
        return {"weight": {"ref_time": weight, "proof_size": 0}, "class": klass.lower(), "partialFee": str(fee)}
