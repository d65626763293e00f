"""HTTP and WebSocket JSON-RPC on one port: a small ASGI app served by hypercorn's trio worker.

- WebSocket (any path): each text or binary message is a request or a batch. Up to
  ``max_concurrent_messages`` messages of a connection are handled at once, each in its own task,
  so a slow call does not hold up the others; answers go out as they complete. Subscriptions and
  the outbound queue policy are described in :mod:`node.rpc.connection`.
- HTTP ``POST`` (any path) with ``Content-Type: application/json``: one request or batch per
  POST, answered with status 200 (JSON-RPC errors included) and an empty body when there is
  nothing to answer. Other content types → 415, other methods → 405.
- HTTP ``GET /health``: the result of ``system_health`` if the module has it, else ``{}``.

Requests larger than ``max_request_size`` (15 MiB, as Substrate) are answered with -32007
"Request is too big" and the connection stays open: HTTP bodies are drained, and hypercorn accepts
WebSocket messages up to twice that size so we can answer them. A WebSocket message beyond twice
the limit makes hypercorn close the connection (code 1009). Sizes are counted in characters for
text messages (the same as bytes for ASCII JSON) and in bytes otherwise.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

import orjson
import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from .connection import Connection, Subscription
from .dispatch import dispatch_message, encode_error
from .errors import request_too_big
from .module import RpcModule

log = logging.getLogger("node.rpc")

MIB = 1 << 20
POLICY_VIOLATION = 1008  # WebSocket close code sent when a client does not keep up

_JSON_HEADERS = [(b"content-type", b"application/json; charset=utf-8")]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


class RpcServer:
    """Serves ``module`` on ``host:port`` (HTTP and WebSocket).

    ``max_request_size``: largest message or body answered normally, in bytes.
    ``max_queued_messages``: per-WebSocket outbound queue; a burst of notifications sent without
    yielding must fit in it, or the connection is closed (see :mod:`node.rpc.connection`).
    ``max_concurrent_messages``: per-WebSocket messages handled at once; beyond it the connection
    is not read until one finishes.
    """

    def __init__(
        self,
        module: RpcModule,
        host: str = "127.0.0.1",
        port: int = 9944,
        *,
        max_request_size: int = 15 * MIB,
        max_queued_messages: int = 4096,
        max_concurrent_messages: int = 64,
    ) -> None:
        self.module = module
        self.host = host
        self.port = port
        self.max_request_size = max_request_size
        self.max_queued_messages = max_queued_messages
        self.max_concurrent_messages = max_concurrent_messages

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports the bound port (useful with ``port=0``)."""
        config = Config()
        host = f"[{self.host}]" if ":" in self.host else self.host
        config.bind = [f"{host}:{self.port}"]
        config.websocket_max_message_size = 2 * self.max_request_size
        config.accesslog = None
        config.loglevel = "WARNING"  # the node announces its own URL; hypercorn reports only trouble
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(partial(serve, self._asgi, config, mode="asgi"))
            task_status.started(int(binds[0].rsplit(":", 1)[1]))

    # ASGI -------------------------------------------------------------------------------------

    async def _asgi(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._serve_websocket(receive, send)
        elif kind == "http":
            await self._serve_http(scope, receive, send)
        elif kind == "lifespan":
            await _serve_lifespan(receive, send)

    async def _serve_http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            await self._answer_http(scope, receive, send)
        except _ClientGone:
            pass

    async def _answer_http(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        method = scope["method"]
        if method == "GET" and scope["path"] == "/health":
            await _read_body(receive, 0)
            status, body = await self._health()
            await _respond_http(send, status, body)
            return
        if method != "POST":
            await _read_body(receive, 0)
            await _respond_http(send, 405, b"", [(b"allow", b"GET, POST")])
            return
        content_type = dict(scope["headers"]).get(b"content-type", b"")
        if not content_type.lower().startswith(b"application/json"):
            await _read_body(receive, 0)
            await _respond_http(send, 415, b"Supported content types: application/json", _TEXT)
            return
        body = await _read_body(receive, self.max_request_size)
        if body is None:
            error = encode_error(None, request_too_big(self.max_request_size))
            await _respond_http(send, 413, error)
            return
        response = await dispatch_message(self.module, body, Connection("http"), [])
        await _respond_http(send, 200, response or b"")

    async def _health(self) -> tuple[int, bytes]:
        method = self.module.lookup("system_health")
        if method is None:
            return 200, b"{}"
        try:
            return 200, orjson.dumps(await method.invoke([], Connection("http"), []))
        except Exception:
            log.exception("system_health failed")
            return 500, b"{}"

    async def _serve_websocket(self, receive: Any, send: Any) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        await send({"type": "websocket.accept"})
        outbound, queued = trio.open_memory_channel[bytes](self.max_queued_messages)
        slots = trio.Semaphore(self.max_concurrent_messages)
        async with trio.open_nursery() as nursery:
            conn = Connection(
                "ws",
                outbound,
                max_queued=self.max_queued_messages,
                on_overflow=nursery.cancel_scope.cancel,
            )
            nursery.start_soon(_write_loop, queued, send)
            try:
                while True:
                    event = await receive()
                    if event["type"] == "websocket.disconnect":
                        break
                    message = event.get("text")
                    if message is None:
                        message = event.get("bytes") or b""
                    if len(message) > self.max_request_size:
                        limit = self.max_request_size
                        await conn.respond(encode_error(None, request_too_big(limit)))
                        continue
                    await slots.acquire()
                    nursery.start_soon(self._serve_message, conn, message, slots)
            finally:
                # Before waiting for the writer (which may be stuck on a client that stopped
                # reading), end the subscriptions so their owners stop feeding them.
                conn.close()
                nursery.cancel_scope.cancel()
        if conn.overflowed:
            await send({"type": "websocket.close", "code": POLICY_VIOLATION, "reason": "too slow"})

    async def _serve_message(
        self, conn: Connection, message: str | bytes, slot: trio.Semaphore
    ) -> None:
        opened: list[Subscription] = []
        try:
            response = await dispatch_message(self.module, message, conn, opened)
            await conn.deliver(response, opened)
        finally:
            slot.release()


async def _write_loop(queued: trio.MemoryReceiveChannel[bytes], send: Any) -> None:
    async for data in queued:
        await send({"type": "websocket.send", "text": data.decode()})


class _ClientGone(Exception):
    pass


async def _read_body(receive: Any, limit: int) -> bytes | None:
    """The whole request body, or None if it exceeds ``limit`` (the rest is read and dropped so
    the connection can serve the next request)."""
    chunks = []
    size = 0
    while True:
        event = await receive()
        if event["type"] == "http.disconnect":
            raise _ClientGone
        chunk = event.get("body", b"")
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        if not event.get("more_body", False):
            break
    if size > limit:
        return None
    return b"".join(chunks)


async def _respond_http(
    send: Any, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = headers or _JSON_HEADERS
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _serve_lifespan(receive: Any, send: Any) -> None:
    while True:
        event = await receive()
        if event["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif event["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
