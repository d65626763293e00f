"""Subscriptions: ids before notifications, unsubscribe, cleanup, and the slow-client policy."""

from __future__ import annotations

import re
from typing import Any

import trio

from .clients import HttpClient, WsClient, notification, request
from .conftest import App, StartServer


def note(sub_id: str, result: Any, method: str = "feed_item") -> dict[str, Any]:
    params = {"subscription": sub_id, "result": result}
    return {"jsonrpc": "2.0", "method": method, "params": params}


async def subscribe(ws: WsClient, *initial: Any, method: str = "feed_subscribe") -> str:
    response = await ws.call(request(method, list(initial), id="sub"))
    assert response["id"] == "sub", response
    return response["result"]


async def test_subscription_id_is_sent_before_initial_notifications(ws: WsClient) -> None:
    sub_id = await subscribe(ws, "first", {"second": 2})
    assert await ws.recv() == note(sub_id, "first")
    assert await ws.recv() == note(sub_id, {"second": 2})


async def test_subscription_id_in_a_batch_is_sent_before_notifications_from_later_calls(
    ws: WsClient,
) -> None:
    # `publish` runs after the subscribe in the same batch: its notification must wait until
    # the batch response (which carries the id) is on its way.
    response = await ws.call(
        [request("feed_subscribe", ["initial"], id=1), request("publish", ["published"], id=2)]
    )
    sub_id = response[0]["result"]
    assert response[1]["result"] == 1
    assert await ws.recv() == note(sub_id, "initial")
    assert await ws.recv() == note(sub_id, "published")


async def test_notifications_have_the_substrate_shape(ws: WsClient, app: App) -> None:
    sub_id = await subscribe(ws)
    assert app.feed.publish({"number": "0x1a"}) == 1
    assert await ws.recv() == {
        "jsonrpc": "2.0",
        "method": "feed_item",
        "params": {"subscription": sub_id, "result": {"number": "0x1a"}},
    }


async def test_subscription_ids_are_16_alphanumerics_and_unique(ws: WsClient) -> None:
    ids = [await subscribe(ws) for _ in range(20)]
    assert all(re.fullmatch(r"[A-Za-z0-9]{16}", sub_id) for sub_id in ids)
    assert len(set(ids)) == len(ids)


async def test_subscribe_alias_works_and_either_unsubscribe_name_ends_it(
    ws: WsClient, app: App
) -> None:
    first = await subscribe(ws, method="feed_subscribeAlias")
    second = await subscribe(ws)
    assert (await ws.call(request("feed_unsubscribeAlias", [first])))["result"] is True
    assert (await ws.call(request("feed_unsubscribe", [second])))["result"] is True
    assert app.feed.subs == set()


async def test_unsubscribe_returns_true_once_then_false(ws: WsClient, app: App) -> None:
    sub_id = await subscribe(ws)
    assert (await ws.call(request("feed_unsubscribe", [sub_id])))["result"] is True
    assert app.feed.closed_ids == [sub_id]
    assert (await ws.call(request("feed_unsubscribe", [sub_id])))["result"] is False
    assert (await ws.call(request("feed_unsubscribe", ["NoSuchId12345678"])))["result"] is False


async def test_no_notification_after_unsubscribe(ws: WsClient, app: App) -> None:
    sub_id = await subscribe(ws)
    (sub,) = app.feed.subs
    await ws.call(request("feed_unsubscribe", [sub_id]))
    assert sub.closed
    assert sub.send("late") is False
    assert app.feed.publish("late") == 0


async def test_unsubscribe_with_another_kinds_method_returns_false(ws: WsClient, app: App) -> None:
    sub_id = await subscribe(ws, method="other_subscribe")
    assert (await ws.call(request("feed_unsubscribe", [sub_id])))["result"] is False
    assert len(app.other_feed.subs) == 1


async def test_unsubscribe_needs_one_string_param(ws: WsClient) -> None:
    for params in ([], [1], ["a", "b"]):
        response = await ws.call(request("feed_unsubscribe", params))
        assert response["error"]["code"] == -32602


async def test_connection_cannot_unsubscribe_another_connections_subscription(
    port: int, app: App
) -> None:
    owner = await WsClient.connect(port)
    intruder = await WsClient.connect(port)
    sub_id = await subscribe(owner)
    assert (await intruder.call(request("feed_unsubscribe", [sub_id])))["result"] is False
    assert len(app.feed.subs) == 1
    await owner.close()
    await intruder.close()


async def test_closing_the_connection_removes_its_subscriptions_and_tells_the_owner(
    port: int, app: App
) -> None:
    ws = await WsClient.connect(port)
    ids = {await subscribe(ws), await subscribe(ws)}
    await ws.close()
    await app.feed.wait_for(lambda: not app.feed.subs)
    assert set(app.feed.closed_ids) == ids


async def test_subscribe_handler_error_reaches_client_and_leaves_no_subscription(
    ws: WsClient, app: App
) -> None:
    response = await ws.call(request("feed_subscribe", ["fail"]))
    assert response["error"]["code"] == -32602
    assert app.feed.subs == set()


async def test_server_side_close_ends_the_subscription(ws: WsClient, app: App) -> None:
    sub_id = await subscribe(ws)
    (sub,) = app.feed.subs
    sub.close()
    assert app.feed.closed_ids == [sub_id]
    assert (await ws.call(request("feed_unsubscribe", [sub_id])))["result"] is False


async def test_subscribe_over_http_gets_a_clear_error(http: HttpClient, app: App) -> None:
    for method, params in (("feed_subscribe", []), ("feed_unsubscribe", ["x"])):
        response = await http.call(request(method, params))
        assert response["error"] == {
            "code": -32601,
            "message": "Subscriptions are only available over WebSocket",
        }
    assert app.feed.subs == set()


async def test_subscribe_as_notification_is_cleaned_up_with_the_connection(
    port: int, app: App
) -> None:
    ws = await WsClient.connect(port)
    await ws.send(notification("feed_subscribe"))
    assert (await ws.call(request("echo", [1])))["result"] == [1]
    assert len(app.feed.subs) == 1
    await ws.close()
    await app.feed.wait_for(lambda: not app.feed.subs)


async def test_burst_as_large_as_the_queue_reaches_a_fast_client(
    start_server: StartServer, app: App
) -> None:
    ws = await WsClient.connect(await start_server(max_queued_messages=64))
    sub_id = await subscribe(ws)
    # Sent without yielding, so nothing drains the queue in between.
    assert all(app.feed.publish(i) == 1 for i in range(64))
    for i in range(64):
        assert await ws.recv() == note(sub_id, i)
    assert (await ws.call(request("echo", ["alive"])))["result"] == ["alive"]
    await ws.close()


async def test_client_that_does_not_read_is_disconnected_when_its_queue_overflows(
    start_server: StartServer, app: App
) -> None:
    ws = await WsClient.connect(await start_server(max_queued_messages=8))
    sub_id = await subscribe(ws)
    (sub,) = app.feed.subs
    payload = "x" * 65536
    sent = 0
    # The client reads nothing: the socket buffers fill, the writer blocks, the queue fills.
    while sub.send(payload):
        sent += 1
        assert sent < 10_000, "queue never overflowed"
        await trio.lowlevel.checkpoint()  # let the writer move what it can into the socket
    assert sub.closed
    await app.feed.wait_for(lambda: not app.feed.subs)
    assert app.feed.closed_ids == [sub_id]
    assert app.feed.publish("after") == 0
    # What was already in the socket still arrives, then the close frame with code 1008.
    messages, code = await ws.recv_until_close()
    assert code == 1008
    assert 0 < len(messages) <= sent
    assert all(m == note(sub_id, payload) for m in messages)
    await ws.close()


async def test_overflow_closes_every_subscription_of_that_connection_only(
    start_server: StartServer, app: App
) -> None:
    port = await start_server(max_queued_messages=4)
    slow = await WsClient.connect(port)
    other = await WsClient.connect(port)
    slow_first = await subscribe(slow)
    slow_second = await subscribe(slow, method="other_subscribe")
    other_id = await subscribe(other)
    slow_sub = next(s for s in app.feed.subs if s.id == slow_first)
    other_sub = next(s for s in app.feed.subs if s.id == other_id)
    while slow_sub.send("y" * 65536):
        await trio.lowlevel.checkpoint()
    await app.other_feed.wait_for(lambda: not app.other_feed.subs)
    assert app.other_feed.closed_ids == [slow_second]
    assert not other_sub.closed
    assert other_sub.send("still here")
    assert await other.recv() == note(other_id, "still here")
    await slow.close()
    await other.close()
