"""The registry of RPC methods and subscriptions a server exposes.

Handlers are trio coroutines and receive ``params`` as a list (JSON-RPC by-position params;
``null`` or missing params arrive as ``[]``). By-name params (a JSON object) are rejected with
-32602 before any handler runs: Substrate clients never send them, and supporting them would make
every handler declare its parameter names. Use the helpers in :mod:`node.rpc.params` to check
values. A handler answers by returning a value orjson can encode, or by raising
:class:`~node.rpc.errors.RpcError`.

::

    module = RpcModule()

    @module.method("chain_getBlockHash", aliases=("chain_getHead",))
    async def get_block_hash(params, conn):
        ...

    @module.subscription(
        subscribe="chain_subscribeNewHeads",
        aliases=("chain_subscribeNewHead",),
        unsubscribe=("chain_unsubscribeNewHeads", "chain_unsubscribeNewHead"),
        notification="chain_newHead",
    )
    async def subscribe_new_heads(params, sub):
        heads.add(sub)
        sub.on_close(lambda: heads.discard(sub))
        sub.send(current_header())      # delivered right after the subscription id
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from .connection import Connection, Subscription
from .errors import RpcError, METHOD_NOT_FOUND
from .params import check_param_count, decode_str_param, get_param

Handler = Callable[[list[Any], Connection], Awaitable[Any]]
SubscribeHandler = Callable[[list[Any], Subscription], Awaitable[None]]
# What the dispatcher calls: (params, connection, subscriptions opened by this message).
Invoke = Callable[[list[Any], Connection, list[Subscription]], Awaitable[Any]]


def subscriptions_unavailable() -> RpcError:
    return RpcError(METHOD_NOT_FOUND, "Subscriptions are only available over WebSocket")


# Many calls of one method at once: a list of params in, a list of results (or RpcErrors) out.
BatchHandler = Callable[[list[list[Any]], Connection], Awaitable[list[Any]]]


@dataclass(frozen=True, slots=True)
class Method:
    name: str  # the canonical name, for logs; aliases map to the same object
    invoke: Invoke
    # Optional: how to answer a run of consecutive calls to this method in one JSON-RPC batch
    # (a node checks the signatures of many submitted extrinsics together, on another core).
    invoke_batch: BatchHandler | None = None


class RpcModule:
    def __init__(self) -> None:
        self._methods: dict[str, Method] = {}
        self._register(("rpc_methods",), self._rpc_methods_invoke)

    # Registration ---------------------------------------------------------------------------

    def method(self, name: str, *, aliases: tuple[str, ...] = ()) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.register_method(name, handler, aliases=aliases)
            return handler

        return register

    def register_method(
        self,
        name: str,
        handler: Handler,
        *,
        aliases: tuple[str, ...] = (),
        batch_handler: BatchHandler | None = None,
    ) -> None:
        """``batch_handler``, if given, answers runs of consecutive calls inside one batch; it
        returns one result or RpcError per call, in order."""

        async def invoke(params: list[Any], conn: Connection, _opened: list[Subscription]) -> Any:
            return await handler(params, conn)

        self._register((name, *aliases), invoke, batch_handler)

    def subscription(
        self,
        *,
        subscribe: str,
        unsubscribe: str | tuple[str, ...],
        notification: str,
        aliases: tuple[str, ...] = (),
    ) -> Callable[[SubscribeHandler], SubscribeHandler]:
        def register(handler: SubscribeHandler) -> SubscribeHandler:
            self.register_subscription(
                handler,
                subscribe=subscribe,
                unsubscribe=unsubscribe,
                notification=notification,
                aliases=aliases,
            )
            return handler

        return register

    def register_subscription(
        self,
        handler: SubscribeHandler,
        *,
        subscribe: str,
        unsubscribe: str | tuple[str, ...],
        notification: str,
        aliases: tuple[str, ...] = (),
    ) -> None:
        """``handler(params, sub)`` runs on subscribe; the client gets ``sub.id`` when it returns.

        If the handler raises, the subscription is closed and the client gets the error.
        """
        kind = subscribe

        async def invoke_subscribe(
            params: list[Any], conn: Connection, opened: list[Subscription]
        ) -> str:
            if not conn.supports_subscriptions:
                raise subscriptions_unavailable()
            sub = conn.open_subscription(kind, notification)
            try:
                await handler(params, sub)
            except BaseException:
                sub.close()
                raise
            opened.append(sub)
            return sub.id

        async def invoke_unsubscribe(
            params: list[Any], conn: Connection, _opened: list[Subscription]
        ) -> bool:
            if not conn.supports_subscriptions:
                raise subscriptions_unavailable()
            check_param_count(params, 1)
            subscription_id = get_param(params, 0, "subscription", required=True)
            return conn.close_subscription(decode_str_param(subscription_id, "subscription"), kind)

        unsubscribe_names = (unsubscribe,) if isinstance(unsubscribe, str) else unsubscribe
        if not unsubscribe_names:
            raise ValueError(f"subscription {subscribe} needs an unsubscribe method")
        self._register((subscribe, *aliases), invoke_subscribe)
        self._register(unsubscribe_names, invoke_unsubscribe)

    def _register(self, names: tuple[str, ...], invoke: Invoke, batch_handler: BatchHandler | None = None) -> None:
        taken = [name for name in names if name in self._methods]
        if taken or len(set(names)) != len(names):
            raise ValueError(f"RPC method registered twice: {taken or names}")
        method = Method(names[0], invoke, batch_handler)
        for name in names:
            self._methods[name] = method

    # Lookup -----------------------------------------------------------------------------------

    def lookup(self, name: str) -> Method | None:
        return self._methods.get(name)

    def method_names(self) -> list[str]:
        """Every callable name, aliases included, sorted (what ``rpc_methods`` returns)."""
        return sorted(self._methods)

    async def _rpc_methods_invoke(
        self, params: list[Any], conn: Connection, _opened: list[Subscription]
    ) -> dict[str, Any]:
        return {"version": 1, "methods": self.method_names()}
