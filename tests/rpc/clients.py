"""Blocking clients run in worker threads, so tests talk to a real server over real sockets."""

from __future__ import annotations

import http.client
import json
import struct
from typing import Any

import trio
import websocket  # websocket-client

TIMEOUT = 10  # seconds; only bounds a broken test, never paces a passing one


class HttpClient:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, port: int) -> None:
        self._conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)

    async def request(
        self,
        body: bytes | str,
        *,
        method: str = "POST",
        path: str = "/",
        content_type: str = "application/json",
    ) -> tuple[int, bytes]:
        data = body.encode() if isinstance(body, str) else body

        def call() -> tuple[int, bytes]:
            self._conn.request(method, path, body=data, headers={"Content-Type": content_type})
            response = self._conn.getresponse()
            return response.status, response.read()

        return await trio.to_thread.run_sync(call)

    async def call(self, payload: Any) -> Any:
        status, body = await self.request(json.dumps(payload))
        assert status == 200, (status, body)
        return json.loads(body)

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._conn.close)


class WsClient:
    def __init__(self, sock: websocket.WebSocket) -> None:
        self._sock = sock

    @classmethod
    async def connect(cls, port: int) -> WsClient:
        # websocket-client checks UTF-8 in pure Python: seconds for a 15 MiB message.
        sock = await trio.to_thread.run_sync(
            lambda: websocket.create_connection(
                f"ws://127.0.0.1:{port}/", timeout=TIMEOUT, skip_utf8_validation=True
            )
        )
        return cls(sock)

    async def send(self, payload: Any) -> None:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        await trio.to_thread.run_sync(self._sock.send, text)

    async def send_bytes(self, data: bytes) -> None:
        await trio.to_thread.run_sync(self._sock.send_binary, data)

    async def recv(self) -> Any:
        return json.loads(await trio.to_thread.run_sync(self._sock.recv))

    async def call(self, payload: Any) -> Any:
        await self.send(payload)
        return await self.recv()

    async def recv_until_close(self) -> tuple[list[Any], int | None]:
        """Every message up to the server's close frame, and the close code."""

        def read() -> tuple[list[Any], int | None]:
            messages = []
            while True:
                opcode, frame = self._sock.recv_data_frame(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code = struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else None
                    return messages, code
                if opcode == websocket.ABNF.OPCODE_TEXT:
                    messages.append(json.loads(frame.data))

        return await trio.to_thread.run_sync(read)

    async def close(self) -> None:
        await trio.to_thread.run_sync(self._sock.close)


def request(method: str, params: Any = None, id: Any = 1) -> dict[str, Any]:
    obj: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        obj["params"] = params
    return obj


def notification(method: str, params: Any = None) -> dict[str, Any]:
    obj: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        obj["params"] = params
    return obj
