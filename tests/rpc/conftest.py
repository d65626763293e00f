from __future__ import annotations

from typing import Any, Awaitable, Callable

import pytest
import trio

from node.rpc import Connection, RpcModule, RpcServer, Subscription
from node.rpc import errors
from node.rpc.params import (
    check_param_count,
    decode_hex_param,
    decode_optional_hash_param,
    get_param,
)

from .clients import TIMEOUT, HttpClient, WsClient


class Feed:
    """A subscription owner, like the node's new-heads broadcaster."""

    def __init__(self) -> None:
        self.subs: set[Subscription] = set()
        self.closed_ids: list[str] = []
        self._changed = trio.Event()

    def add(self, sub: Subscription) -> None:
        self.subs.add(sub)
        sub.on_close(lambda: self._drop(sub))

    def _drop(self, sub: Subscription) -> None:
        self.subs.discard(sub)
        self.closed_ids.append(sub.id)
        self._changed.set()
        self._changed = trio.Event()

    def publish(self, value: Any) -> int:
        return sum(sub.send(value) for sub in list(self.subs))

    async def wait_for(self, predicate: Callable[[], bool]) -> None:
        with trio.fail_after(TIMEOUT):
            while not predicate():
                await self._changed.wait()


class App:
    """The methods the tests call, and what they observed."""

    def __init__(self) -> None:
        self.module = RpcModule()
        self.feed = Feed()
        self.other_feed = Feed()
        self.recorded: list[list[Any]] = []
        self.gate = trio.Event()
        m = self.module

        @m.method("echo", aliases=("echo_alias",))
        async def echo(params: list[Any], conn: Connection) -> Any:
            return params

        @m.method("length")
        async def length(params: list[Any], conn: Connection) -> int:
            return len(params[0])

        @m.method("transport")
        async def transport(params: list[Any], conn: Connection) -> str:
            return conn.transport

        @m.method("record")
        async def record(params: list[Any], conn: Connection) -> None:
            self.recorded.append(params)

        @m.method("reject_transaction")
        async def reject_transaction(params: list[Any], conn: Connection) -> None:
            raise errors.invalid_transaction("Transaction has a bad signature")

        @m.method("reject_with_bytes")
        async def reject_with_bytes(params: list[Any], conn: Connection) -> None:
            raise errors.RpcError(1, "bad data", data=b"\x00")

        @m.method("crash")
        async def crash(params: list[Any], conn: Connection) -> None:
            raise RuntimeError("boom in handler")

        @m.method("unencodable")
        async def unencodable(params: list[Any], conn: Connection) -> Any:
            return object()

        @m.method("wait_gate")
        async def wait_gate(params: list[Any], conn: Connection) -> str:
            await self.gate.wait()
            return "opened"

        @m.method("open_gate")
        async def open_gate(params: list[Any], conn: Connection) -> bool:
            self.gate.set()
            return True

        @m.method("publish")
        async def publish(params: list[Any], conn: Connection) -> int:
            return self.feed.publish(get_param(params, 0, "value"))

        @m.method("storage")
        async def storage(params: list[Any], conn: Connection) -> dict[str, Any]:
            check_param_count(params, 2)
            key = decode_hex_param(get_param(params, 0, "key", required=True), "key")
            at = decode_optional_hash_param(get_param(params, 1, "at"), "at")
            return {"key": key.hex(), "at": at.hex() if at else None}

        @m.method("system_health")
        async def system_health(params: list[Any], conn: Connection) -> dict[str, Any]:
            return {"peers": 0, "isSyncing": False, "shouldHavePeers": False}

        @m.subscription(
            subscribe="feed_subscribe",
            aliases=("feed_subscribeAlias",),
            unsubscribe=("feed_unsubscribe", "feed_unsubscribeAlias"),
            notification="feed_item",
        )
        async def feed_subscribe(params: list[Any], sub: Subscription) -> None:
            if params == ["fail"]:
                raise errors.invalid_params("feed does not like `fail`")
            self.feed.add(sub)
            for initial in params:  # initial notifications, sent right after the id
                sub.send(initial)

        @m.subscription(
            subscribe="other_subscribe", unsubscribe="other_unsubscribe", notification="other_item"
        )
        async def other_subscribe(params: list[Any], sub: Subscription) -> None:
            self.other_feed.add(sub)


@pytest.fixture
def app() -> App:
    return App()


StartServer = Callable[..., Awaitable[int]]


@pytest.fixture
def start_server(nursery: trio.Nursery, app: App) -> StartServer:
    async def start(**options: Any) -> int:
        return await nursery.start(RpcServer(app.module, port=0, **options).run)

    return start


@pytest.fixture
async def port(start_server: StartServer) -> int:
    return await start_server()


@pytest.fixture
async def ws(port: int) -> WsClient:
    client = await WsClient.connect(port)
    yield client
    await client.close()


@pytest.fixture
async def http(port: int) -> HttpClient:
    client = HttpClient(port)
    yield client
    await client.close()
