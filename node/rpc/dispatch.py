"""JSON-RPC 2.0 envelopes: one message in (a request or a batch), one response out.

Transport-independent: the server hands over the raw message and sends back what this returns.
Rules, as in the JSON-RPC 2.0 spec:

- not JSON → -32700 with ``id: null``; an empty batch → one -32600 (not an array);
- a request that is not an object with ``"jsonrpc": "2.0"``, a string ``method``, an id that is a
  string, an integer or null, and params that are an array, an object or null → -32600, answered
  even without an id (with the id when it was usable, else ``null``);
- a well-formed request without ``id`` is a notification: it runs, and is never answered, even on
  error; a batch of only notifications gets no response at all;
- batch calls run one after the other and are answered in one array, in request order; a run
  of consecutive calls to a method with a batch handler is answered by one handler call;
- a result orjson cannot encode, or an exception that is not an RpcError, → -32603 and a log line.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson

from .connection import Connection, Subscription
from .errors import (
    RpcError,
    internal_error,
    invalid_params,
    invalid_request,
    method_not_found,
    parse_error,
)
from .module import Method, RpcModule

log = logging.getLogger("node.rpc")

_NO_ID = object()  # a notification; distinct from "id": null


def encode_error(request_id: Any, error: RpcError) -> bytes:
    try:
        return orjson.dumps({"jsonrpc": "2.0", "error": error.to_json(), "id": request_id})
    except TypeError:  # a handler put something orjson cannot encode in `data`
        log.exception("rpc error %s cannot be encoded", error.code)
        fallback = internal_error().to_json()
        return orjson.dumps({"jsonrpc": "2.0", "error": fallback, "id": request_id})


async def dispatch_message(
    module: RpcModule, message: str | bytes, conn: Connection, opened: list[Subscription]
) -> bytes | None:
    """Answer one transport message. ``opened`` receives the subscriptions its calls created,
    to be released once the response is queued. None means there is nothing to send back."""
    try:
        request = orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        return encode_error(None, parse_error(str(exc)))
    if type(request) is list:
        if not request:
            return encode_error(None, invalid_request("empty batch"))
        responses = []
        i = 0
        while i < len(request):
            method = _batchable(module, request[i])
            if method is None:
                response = await _call(module, request[i], conn, opened)
                if response is not None:
                    responses.append(response)
                i += 1
                continue
            end = i + 1
            while end < len(request) and _batchable(module, request[end]) is method:
                end += 1
            responses.extend(await _call_run(method, request[i:end], conn))
            i = end
        if not responses:
            return None
        return b"[" + b",".join(responses) + b"]"
    return await _call(module, request, conn, opened)


def _batchable(module: RpcModule, request: Any) -> Method | None:
    """The method of a well-formed request whose method answers runs of calls at once."""
    if type(request) is not dict or request.get("jsonrpc") != "2.0":
        return None
    request_id = request.get("id", _NO_ID)
    if not (type(request_id) in (str, int) or request_id is None or request_id is _NO_ID):
        return None
    params = request.get("params")
    name = request.get("method")
    if type(name) is not str or not (params is None or type(params) is list):
        return None
    method = module.lookup(name)
    return method if method is not None and method.invoke_batch is not None else None


async def _call_run(method: Method, requests: list[dict], conn: Connection) -> list[bytes]:
    """Answer consecutive well-formed calls of one batch-capable method with one handler call."""
    try:
        results = await method.invoke_batch([r.get("params") or [] for r in requests], conn)
    except Exception:
        log.exception("rpc method %s failed on a batch", method.name)
        results = [internal_error()] * len(requests)
    out = []
    for request, result in zip(requests, results, strict=True):
        request_id = request.get("id", _NO_ID)
        if request_id is _NO_ID:
            continue
        if isinstance(result, RpcError):
            out.append(encode_error(request_id, result))
        else:
            out.append(orjson.dumps({"jsonrpc": "2.0", "result": result, "id": request_id}))
    return out


async def _call(
    module: RpcModule, request: Any, conn: Connection, opened: list[Subscription]
) -> bytes | None:
    if type(request) is not dict:
        return encode_error(None, invalid_request("a request must be a JSON object"))
    request_id = request.get("id", _NO_ID)
    id_type = type(request_id)
    if not (id_type is str or id_type is int or request_id is None or request_id is _NO_ID):
        return encode_error(None, invalid_request("id must be a string, an integer or null"))
    reply_id = None if request_id is _NO_ID else request_id
    if request.get("jsonrpc") != "2.0":
        return encode_error(reply_id, invalid_request('"jsonrpc" must be "2.0"'))
    name = request.get("method")
    if type(name) is not str:
        return encode_error(reply_id, invalid_request('"method" must be a string'))
    params = request.get("params")
    if params is None:
        params = []
    elif type(params) is not list and type(params) is not dict:
        return encode_error(reply_id, invalid_request('"params" must be an array or null'))
    method = module.lookup(name)

    error: RpcError | None = None
    if type(params) is dict:
        error = invalid_params("params must be an array (by-name params are not supported)")
    elif method is None:
        error = method_not_found()
    else:
        try:
            result = await method.invoke(params, conn, opened)
        except RpcError as exc:
            error = exc
        except Exception:
            log.exception("rpc method %s failed", name)
            error = internal_error()
    if request_id is _NO_ID:
        return None
    if error is not None:
        return encode_error(request_id, error)
    try:
        return orjson.dumps({"jsonrpc": "2.0", "result": result, "id": request_id})
    except TypeError:  # orjson.JSONEncodeError subclasses TypeError
        log.exception("rpc method %s returned a value that is not JSON", name)
        return encode_error(request_id, internal_error())
