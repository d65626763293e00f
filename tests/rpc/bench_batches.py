"""Throughput of JSON-RPC batches: calls/s for batches of 1,000 calls over one connection.

    /work/venv/bin/python tests/rpc/bench_batches.py [--batches 50] [--size 1000]

The server runs in its own process (as a node would), the client in this one; calls/s is what
one client sees, server CPU per call what the node pays (the client's own cost is excluded,
which matters for WebSocket: the client masks every byte it sends). Two methods:
`noop` (returns null) and `submit` (decodes a 0x-hex extrinsic of 150 bytes and returns its
blake2_256 hash, the shape of author_submitExtrinsic without a pool behind it).

glibc trims the heap after every large HTTP request (hundreds of brk calls, ~2 ms of kernel time
per 1,000-call POST); `MALLOC_TOP_PAD_=33554432` in the node's environment removes that cost.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import subprocess
import sys
import time
from typing import Any

import orjson

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))


def serve() -> None:
    import trio

    from node.rpc import RpcModule, RpcServer
    from node.rpc.params import decode_hex_param, get_param

    module = RpcModule()

    @module.method("noop")
    async def noop(params: list[Any], conn: Any) -> None:
        return None

    @module.method("submit")
    async def submit(params: list[Any], conn: Any) -> str:
        xt = decode_hex_param(get_param(params, 0, "extrinsic", required=True), "extrinsic")
        return "0x" + hashlib.blake2b(xt, digest_size=32).hexdigest()

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            port = await nursery.start(RpcServer(module, port=0).run)
            print(port, flush=True)

    trio.run(main)


def batch(method: str, size: int) -> bytes:
    params = ["0x" + "ab" * 150] if method == "submit" else []
    calls = [{"jsonrpc": "2.0", "id": i, "method": method, "params": params} for i in range(size)]
    return orjson.dumps(calls)


def bench_ws(port: int, body: bytes, batches: int, size: int) -> float:
    import websocket

    # websocket-client validates UTF-8 in pure Python (~25 ms per 130 KB answer) unless told not
    # to; that would measure the client, not the server.
    url = f"ws://127.0.0.1:{port}/"
    ws = websocket.create_connection(url, timeout=60, skip_utf8_validation=True)
    text = body.decode()
    ws.send(text)
    assert len(orjson.loads(ws.recv())) == size  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        ws.send(text)
        assert len(orjson.loads(ws.recv())) == size
    elapsed = time.perf_counter() - start
    ws.close()
    return batches * size / elapsed


def bench_http(port: int, body: bytes, batches: int, size: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}

    def post() -> None:
        conn.request("POST", "/", body=body, headers=headers)
        assert len(orjson.loads(conn.getresponse().read())) == size

    post()  # warm-up
    start = time.perf_counter()
    for _ in range(batches):
        post()
    elapsed = time.perf_counter() - start
    conn.close()
    return batches * size / elapsed


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batches", type=int, default=50)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline())  # type: ignore[union-attr]
        calls = (args.batches + 1) * args.size
        for method in ("noop", "submit"):
            body = batch(method, args.size)
            for transport, bench in (("WebSocket", bench_ws), ("HTTP", bench_http)):
                cpu = cpu_seconds(server.pid)
                rate = bench(port, body, args.batches, args.size)
                server_us = (cpu_seconds(server.pid) - cpu) / calls * 1e6
                print(
                    f"{method:6} {transport:9} batch of {args.size}: {rate:9,.0f} calls/s, "
                    f"server CPU {server_us:.1f} us/call"
                )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
