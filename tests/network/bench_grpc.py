"""Throughput of the gRPC network between two node processes on loopback.

    /work/venv/bin/python tests/network/bench_grpc.py [--messages 50000] [--transactions 300000] [--tls]

A receiving node runs in a child process (as a real peer would) and times what arrives; this
process is the sending node. Three runs:
- ``messages``: 100-byte ConsensusMessages, one envelope each (the per-envelope cost);
- ``gossip``: 150-byte extrinsics (a signed transfer's size), one ``send(Transactions((tx,)))``
  call per transaction, as a node relaying one transaction at a time would; the writer merges them;
- ``batched``: the same extrinsics handed over 1,000 per ``send``.
The sender retries when its queue is full, so each figure is the link's sustained rate. The
receiver reports envelopes and transactions per second, and its CPU milliseconds per 1,000.
``--tls`` runs both nodes with mutual TLS and peer verification (a throwaway CA made here).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import logging  # noqa: E402

import trio  # noqa: E402

from node.network.grpc_transport import GrpcNetwork  # noqa: E402
from node.network.messages import ConsensusMessage, Head, Role, Transactions  # noqa: E402
from node.network.transport import ChainStatus, NetworkConfig  # noqa: E402
from node.primitives.scale import encode_compact  # noqa: E402

GENESIS = bytes(range(32))
STATUS = ChainStatus(GENESIS, "bench", frozenset({Role.FULL}), Head(GENESIS, 0), Head(GENESIS, 0))
CONFIG = NetworkConfig()


def extrinsic(i: int) -> bytes:
    body = i.to_bytes(8, "little") + bytes(142)
    return encode_compact(len(body)) + body


def make_tls(path: str) -> None:
    """A throwaway CA and certificates for "sink" and "source", written to ``path``."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from tests.network.test_grpc_tls import NetworkCA

    ca = NetworkCA("bench network")
    nodes = {}
    for name in ("sink", "source"):
        identity = Ed25519PrivateKey.generate()
        key, cert, _ = ca.issue(name, identity)
        nodes[name] = (key, cert, identity.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    with open(path, "wb") as out:
        pickle.dump((ca.pem, nodes), out)


def network(name: str, tls: str | None, **kwargs) -> GrpcNetwork:
    if tls is None:
        return GrpcNetwork(name, STATUS, config=CONFIG, **kwargs)
    import grpc
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tests.network.test_grpc_tls import NetworkCA

    with open(tls, "rb") as f:
        ca_pem, nodes = pickle.load(f)
    ca = NetworkCA.trusting(ca_pem)
    key, cert, identity = nodes[name]
    return GrpcNetwork(
        name, STATUS, config=CONFIG,
        server_credentials=grpc.ssl_server_credentials([(key, cert)], root_certificates=ca_pem, require_client_auth=True),
        channel_credentials=grpc.ssl_channel_credentials(root_certificates=ca_pem, private_key=key, certificate_chain=cert),
        verify_peer=ca.verify_peer, identity_key=Ed25519PrivateKey.from_private_bytes(identity), certificate_pem=cert,
        **kwargs,
    )


async def receive(expected_messages: int, expected_txs: int, tls: str | None) -> None:
    net = network("sink", tls)
    async with trio.open_nursery() as nursery:
        address = await nursery.start(net.run)
        print(address, flush=True)
        envelopes = txs = 0
        start = cpu = 0.0
        async for _, message in net.inbound:
            if envelopes == 0:
                start, cpu = time.perf_counter(), time.process_time()
            envelopes += 1
            if isinstance(message, Transactions):
                txs += len(message.extrinsics)
            if (expected_txs and txs >= expected_txs) or (not expected_txs and envelopes >= expected_messages):
                break
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        units = txs or envelopes
        print(json.dumps({
            "envelopes": envelopes, "transactions": txs, "seconds": round(elapsed, 3),
            "envelopes_per_s": round(envelopes / elapsed), "transactions_per_s": round(txs / elapsed),
            "receiver_cpu_ms_per_1000": round(1e6 * cpu / units, 2),
        }), flush=True)
        nursery.cancel_scope.cancel()


async def send(address: str, kind: str, count: int, tls: str | None) -> None:
    net = network("source", tls, bootnodes=[address])
    async with trio.open_nursery() as nursery:
        await nursery.start(net.run)
        await net.wait_for(lambda: bool(net.peers()))
        if kind == "messages":
            items = (ConsensusMessage(b"aura", i.to_bytes(4, "little") + bytes(96)) for i in range(count))
        elif kind == "gossip":
            items = (Transactions((extrinsic(i),)) for i in range(count))
        else:
            items = (Transactions(tuple(extrinsic(i + j) for j in range(1000))) for i in range(0, count, 1000))
        for item in items:
            while not net.send("sink", item):
                await trio.sleep(0.0005)  # the queue is full: the link is the bottleneck
        await trio.sleep_forever()


def run(kind: str, count: int, tls: str | None) -> dict:
    expected = ["--expect-messages", str(count)] if kind == "messages" else ["--expect-transactions", str(count)]
    extra = ["--switch-interval", str(sys.getswitchinterval())] + (["--tls-file", tls] if tls else [])
    child = subprocess.Popen([sys.executable, __file__, "--serve", *expected, *extra], stdout=subprocess.PIPE, text=True)
    try:
        address = child.stdout.readline().strip()

        async def drive():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(send, address, kind, count, tls)
                result = await trio.to_thread.run_sync(child.stdout.readline)
                nursery.cancel_scope.cancel()
            return json.loads(result)

        return trio.run(drive)
    finally:
        child.kill()
        child.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--transactions", type=int, default=300_000)
    parser.add_argument("--switch-interval", type=float, default=None, help="sys.setswitchinterval for both nodes")
    parser.add_argument("--only", choices=("messages", "gossip", "batched"), default=None)
    parser.add_argument("--tls", action="store_true", help="mutual TLS with peer verification")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tls-file", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--expect-messages", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--expect-transactions", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.getLogger("parawatt.network").setLevel(logging.ERROR)
    if args.switch_interval is not None:
        sys.setswitchinterval(args.switch_interval)
    if args.serve:
        trio.run(receive, args.expect_messages, args.expect_transactions, args.tls_file)
        return
    tls = None
    if args.tls:
        tls = os.path.join(tempfile.mkdtemp(), "tls.pickle")
        make_tls(tls)
    print(f"{'mutual TLS' if tls else 'plaintext'}, switch interval {sys.getswitchinterval() * 1000:.1f} ms, {os.cpu_count()} CPUs")
    for kind, count in (("messages", args.messages), ("gossip", args.transactions), ("batched", args.transactions)):
        if args.only not in (None, kind):
            continue
        print(kind, run(kind, count, tls), flush=True)


if __name__ == "__main__":
    main()
