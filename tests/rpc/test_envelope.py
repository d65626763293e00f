"""JSON-RPC 2.0 envelope rules, each checked over HTTP and over WebSocket."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from node.rpc import errors

from .clients import HttpClient, WsClient, notification, request

SENTINEL = request("echo", ["sentinel"], id="sentinel")
SENTINEL_ANSWER = {"jsonrpc": "2.0", "result": ["sentinel"], "id": "sentinel"}


class Exchange:
    """Sends one raw message and returns what came back for it (None: no response)."""

    def __init__(self, client: HttpClient | WsClient) -> None:
        self.client = client

    async def send(self, message: Any) -> Any:
        text = message if isinstance(message, str) else json.dumps(message)
        if isinstance(self.client, HttpClient):
            status, body = await self.client.request(text)
            assert status == 200
            return json.loads(body) if body else None
        # A sentinel request right after: whatever arrives before its answer answers `message`.
        await self.client.send(text)
        await self.client.send(SENTINEL)
        answers = []
        while (answer := await self.client.recv()) != SENTINEL_ANSWER:
            answers.append(answer)
        assert len(answers) <= 1, answers
        return answers[0] if answers else None


@pytest.fixture(params=["http", "ws"])
async def rpc(request: pytest.FixtureRequest, port: int) -> Exchange:
    client = HttpClient(port) if request.param == "http" else await WsClient.connect(port)
    yield Exchange(client)
    await client.close()


def error_of(response: Any) -> tuple[int, Any]:
    return response["error"]["code"], response["id"]


async def test_request_that_is_not_json_gets_a_parse_error(rpc: Exchange) -> None:
    truncated = '{"jsonrpc": "2.0", "method": "echo", "id": 1'
    assert error_of(await rpc.send(truncated)) == (-32700, None)


async def test_request_that_is_not_an_object_is_an_invalid_request(rpc: Exchange) -> None:
    for message in ("1", '"echo"', "null", "true"):
        assert error_of(await rpc.send(message)) == (-32600, None)


async def test_empty_batch_is_one_invalid_request_error(rpc: Exchange) -> None:
    response = await rpc.send("[]")
    assert isinstance(response, dict)
    assert error_of(response) == (-32600, None)


async def test_request_without_jsonrpc_2_0_is_an_invalid_request(rpc: Exchange) -> None:
    assert error_of(await rpc.send({"method": "echo", "id": 7})) == (-32600, 7)
    assert error_of(await rpc.send({"jsonrpc": "1.0", "method": "echo", "id": 8})) == (-32600, 8)


async def test_request_whose_method_is_not_a_string_is_an_invalid_request(rpc: Exchange) -> None:
    assert error_of(await rpc.send({"jsonrpc": "2.0", "method": 1, "id": 2})) == (-32600, 2)
    assert error_of(await rpc.send({"jsonrpc": "2.0", "id": 3})) == (-32600, 3)


async def test_request_whose_id_is_not_string_integer_or_null_is_an_invalid_request(
    rpc: Exchange,
) -> None:
    for bad_id in ({"a": 1}, [1], True, 1.5):
        response = await rpc.send({"jsonrpc": "2.0", "method": "echo", "id": bad_id})
        assert error_of(response) == (-32600, None)


async def test_ids_are_echoed_as_sent(rpc: Exchange) -> None:
    for good_id in ("abc", 0, -5, 2**63, None):
        response = await rpc.send(request("echo", [1], id=good_id))
        assert response == {"jsonrpc": "2.0", "result": [1], "id": good_id}


async def test_params_that_are_not_an_array_object_or_null_are_an_invalid_request(
    rpc: Exchange,
) -> None:
    for params in ("0x00", 5, True):
        assert error_of(await rpc.send(request("echo", params, id=4))) == (-32600, 4)


async def test_by_name_params_are_rejected_as_invalid_params(rpc: Exchange) -> None:
    response = await rpc.send(request("echo", {"key": "0x00"}, id=5))
    assert error_of(response) == (-32602, 5)
    assert "by-name" in response["error"]["data"]


async def test_null_or_missing_params_arrive_as_an_empty_list(rpc: Exchange) -> None:
    with_null = {"jsonrpc": "2.0", "method": "echo", "params": None, "id": 1}
    assert (await rpc.send(with_null))["result"] == []
    assert (await rpc.send({"jsonrpc": "2.0", "method": "echo", "id": 1}))["result"] == []


async def test_unknown_method_gets_method_not_found(rpc: Exchange) -> None:
    response = await rpc.send(request("chain_nope", [], id=9))
    assert response["error"] == {"code": -32601, "message": "Method not found"}
    assert response["id"] == 9


async def test_notification_runs_and_is_not_answered(rpc: Exchange, app: Any) -> None:
    assert await rpc.send(notification("record", ["seen"])) is None
    assert app.recorded == [["seen"]]


async def test_notification_is_not_answered_even_when_it_fails(rpc: Exchange) -> None:
    assert await rpc.send(notification("chain_nope")) is None
    assert await rpc.send(notification("crash")) is None
    assert await rpc.send(notification("echo", {"by": "name"})) is None


async def test_invalid_request_without_id_is_answered_with_null_id(rpc: Exchange) -> None:
    assert error_of(await rpc.send({"jsonrpc": "2.0", "method": 5})) == (-32600, None)


async def test_batch_is_answered_in_request_order_without_its_notifications(rpc: Exchange) -> None:
    response = await rpc.send(
        [
            request("echo", [1], id=1),
            notification("record", ["in batch"]),
            request("chain_nope", id=2),
            request("echo", [3], id="three"),
        ]
    )
    assert response == [
        {"jsonrpc": "2.0", "result": [1], "id": 1},
        {"jsonrpc": "2.0", "error": {"code": -32601, "message": "Method not found"}, "id": 2},
        {"jsonrpc": "2.0", "result": [3], "id": "three"},
    ]


async def test_batch_elements_that_are_not_requests_get_their_own_errors(rpc: Exchange) -> None:
    response = await rpc.send([1, request("echo", [2], id=2), [request("echo", id=3)]])
    assert [(r.get("error", {}).get("code"), r["id"]) for r in response] == [
        (-32600, None),
        (None, 2),
        (-32600, None),
    ]


async def test_batch_of_only_notifications_gets_no_response(rpc: Exchange, app: Any) -> None:
    assert await rpc.send([notification("record", [1]), notification("record", [2])]) is None
    assert app.recorded == [[1], [2]]


async def test_rpc_error_from_handler_reaches_client_with_code_message_and_data(
    rpc: Exchange,
) -> None:
    response = await rpc.send(request("reject_transaction", id=1))
    assert response["error"] == {
        "code": 1010,
        "message": "Invalid Transaction",
        "data": "Transaction has a bad signature",
    }


async def test_handler_exception_is_an_internal_error_logged_and_server_stays_up(
    rpc: Exchange, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="node.rpc"):
        response = await rpc.send(request("crash", id=1))
    assert response["error"] == {"code": -32603, "message": "Internal error"}
    assert any("boom in handler" in (r.exc_text or "") for r in caplog.records)
    assert (await rpc.send(request("echo", ["still up"], id=2)))["result"] == ["still up"]


async def test_result_that_is_not_json_is_an_internal_error(rpc: Exchange) -> None:
    response = await rpc.send([request("unencodable", id=1), request("echo", [2], id=2)])
    assert response[0]["error"]["code"] == -32603
    assert response[1]["result"] == [2]


async def test_invalid_params_from_param_helpers_name_the_parameter(rpc: Exchange) -> None:
    response = await rpc.send(request("storage", ["00ff"], id=1))
    assert response["error"]["code"] == -32602
    assert "`key`" in response["error"]["data"]
    ok = await rpc.send(request("storage", ["0x00ff", None], id=2))
    assert ok["result"] == {"key": "00ff", "at": None}


async def test_alias_calls_the_same_handler(rpc: Exchange) -> None:
    assert (await rpc.send(request("echo_alias", [1], id=1)))["result"] == [1]


async def test_rpc_methods_lists_every_name_including_aliases_and_unsubscribes(
    rpc: Exchange,
) -> None:
    result = (await rpc.send(request("rpc_methods", id=1)))["result"]
    assert result["version"] == 1
    for name in (
        "rpc_methods",
        "echo",
        "echo_alias",
        "feed_subscribe",
        "feed_subscribeAlias",
        "feed_unsubscribe",
        "feed_unsubscribeAlias",
    ):
        assert name in result["methods"]
    assert result["methods"] == sorted(result["methods"])


async def test_handlers_learn_the_transport(rpc: Exchange) -> None:
    expected = "http" if isinstance(rpc.client, HttpClient) else "ws"
    assert (await rpc.send(request("transport", id=1)))["result"] == expected


def test_error_constructors_use_substrate_codes() -> None:
    assert errors.invalid_transaction("x").to_json() == {
        "code": 1010,
        "message": "Invalid Transaction",
        "data": "x",
    }
    assert errors.bad_format("y").code == 1001
    assert errors.verification_error("z").code == 1002
    assert errors.immediately_dropped().code == 1016
    assert errors.request_too_big(10).to_json()["code"] == -32007
    assert "data" not in errors.internal_error().to_json()


async def test_rpc_error_whose_data_is_not_json_becomes_an_internal_error(rpc: Exchange) -> None:
    response = await rpc.send(request("reject_with_bytes", id=1))
    assert response == {
        "jsonrpc": "2.0",
        "error": {"code": -32603, "message": "Internal error"},
        "id": 1,
    }
