"""HTTP and WebSocket specifics: one port for both, content types, sizes, concurrency."""

from __future__ import annotations

import json
from typing import Any

import trio

from .clients import HttpClient, WsClient, request
from .conftest import StartServer


async def test_http_and_websocket_share_one_port(port: int) -> None:
    http = HttpClient(port)
    ws = await WsClient.connect(port)
    assert (await http.call(request("transport")))["result"] == "http"
    assert (await ws.call(request("transport")))["result"] == "ws"
    await http.close()
    await ws.close()


async def test_http_post_requires_json_content_type(http: HttpClient) -> None:
    status, _ = await http.request(json.dumps(request("echo")), content_type="text/plain")
    assert status == 415
    # The connection is still usable.
    assert (await http.call(request("echo", [1])))["result"] == [1]


async def test_http_accepts_json_content_type_with_charset(http: HttpClient) -> None:
    status, body = await http.request(
        json.dumps(request("echo", [1])), content_type="application/json; charset=utf-8"
    )
    assert (status, json.loads(body)["result"]) == (200, [1])


async def test_http_methods_other_than_post_are_not_allowed(http: HttpClient) -> None:
    status, _ = await http.request(b"", method="GET", path="/")
    assert status == 405
    status, _ = await http.request(b"", method="PUT", path="/")
    assert status == 405


async def test_http_get_health_returns_system_health(http: HttpClient) -> None:
    status, body = await http.request(b"", method="GET", path="/health")
    assert status == 200
    assert json.loads(body) == {"peers": 0, "isSyncing": False, "shouldHavePeers": False}


async def test_http_notification_gets_empty_200(http: HttpClient) -> None:
    assert await http.request(json.dumps({"jsonrpc": "2.0", "method": "echo"})) == (200, b"")


async def test_websocket_accepts_binary_messages(ws: WsClient) -> None:
    await ws.send_bytes(json.dumps(request("echo", [1])).encode())
    assert (await ws.recv())["result"] == [1]


async def test_http_request_bigger_than_limit_is_rejected_and_connection_survives(
    start_server: StartServer,
) -> None:
    http = HttpClient(await start_server(max_request_size=1024))
    big = json.dumps(request("echo", ["x" * 2000]))
    status, body = await http.request(big)
    assert status == 413
    assert json.loads(body)["error"] == {
        "code": -32007,
        "message": "Request is too big",
        "data": "Exceeded max limit of 1024",
    }
    assert (await http.call(request("echo", [1])))["result"] == [1]
    await http.close()


async def test_websocket_request_bigger_than_limit_is_rejected_and_connection_survives(
    start_server: StartServer,
) -> None:
    ws = await WsClient.connect(await start_server(max_request_size=1024))
    response = await ws.call(request("echo", ["x" * 1500]))
    assert response["error"]["code"] == -32007
    assert response["id"] is None
    assert (await ws.call(request("echo", [1])))["result"] == [1]
    await ws.close()


async def test_websocket_request_far_beyond_limit_closes_connection_with_1009(
    start_server: StartServer,
) -> None:
    ws = await WsClient.connect(await start_server(max_request_size=1024))
    await ws.send(request("echo", ["x" * 5000]))  # beyond 2x the limit: hypercorn's own cap
    messages, code = await ws.recv_until_close()
    assert (messages, code) == ([], 1009)


async def test_default_limit_accepts_a_request_just_under_15_mib(port: int) -> None:
    ws = await WsClient.connect(port)
    payload = "ab" * ((15 * 2**20 - 100) // 2)
    response = await ws.call(request("length", [payload]))
    assert response["result"] == len(payload)
    too_big = await ws.call(request("length", [payload + "x" * 200]))
    assert too_big["error"]["code"] == -32007
    await ws.close()


async def test_slow_call_does_not_hold_up_other_calls_on_the_same_websocket(
    ws: WsClient, app: Any
) -> None:
    await ws.send(request("wait_gate", id="slow"))
    # The second call opens the gate; it can only be answered if it ran while the first waits.
    assert await ws.call(request("open_gate", id="fast")) == {
        "jsonrpc": "2.0",
        "result": True,
        "id": "fast",
    }
    assert (await ws.recv())["id"] == "slow"


async def test_batch_of_1000_calls_is_answered_in_order(port: int) -> None:
    batch = [request("echo", [i], id=i) for i in range(1000)]
    http = HttpClient(port)
    ws = await WsClient.connect(port)
    for client in (http, ws):
        response = await client.call(batch)
        assert [r["id"] for r in response] == list(range(1000))
        assert [r["result"] for r in response] == [[i] for i in range(1000)]
        await client.close()


async def test_server_stops_when_cancelled(app: Any) -> None:
    from node.rpc import RpcServer

    async with trio.open_nursery() as nursery:
        port = await nursery.start(RpcServer(app.module, port=0).run)
        ws = await WsClient.connect(port)
        nursery.cancel_scope.cancel()
    await ws.close()
