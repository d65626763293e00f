"""`parawatt bench network`: signed transfers finalized per second by four authorities as real
processes (gRPC with mutual TLS, one engine), and the finality latency of each transfer, with
this machine's sr25519 verification rate measured in the same run.

Pre-signed transfers are sent as JSON-RPC batches of `author_submitExtrinsic`, spread over the
nodes; gossip carries them to every pool. A transfer's latency runs from the moment its batch
was accepted to the moment a poll first sees a finalized block that contains it.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from node.bench_chain import RpcClient, presign_transfers, sr25519_verifications_per_second
from node.primitives.hashing import blake2_256
from node.testnet.local import NodeProcess, prepare_network

POLL_S = 0.05


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] if ordered else float("nan")


def main(args) -> int:
    print("measuring sr25519 verifications per second …", flush=True)
    verify_rate = sr25519_verifications_per_second()
    print(f"  {verify_rate:,.0f} verifications/s")
    results = []
    for engine in args.engines:
        results.append(run_engine(engine, args.transfers, args.block_time_ms, args.rate))
    print()
    print(f"sr25519 verifications/s        {verify_rate:10,.0f}")
    for r in results:
        print(
            f"{r['engine']:5}  finalized {r['finalized']:6,} transfers in {r['seconds']:5.1f} s = {r['tps']:7,.0f}/s "
            f"({r['tps'] / verify_rate:.3f} of the verify rate); finality latency p50 {r['p50']:.2f} s, p95 {r['p95']:.2f} s"
        )
    return 0


def run_engine(engine: str, total: int, block_time_ms: int, rate: int) -> dict:
    run_dir = Path(tempfile.mkdtemp(prefix=f"parawatt-bench-{engine}-"))
    layout = prepare_network(run_dir, names=["alpha", "beta", "gamma", "delta"], engine=engine, block_time_ms=block_time_ms)
    procs = [NodeProcess(layout, n) for n in layout.nodes]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.wait_ready()
        clients = [RpcClient(n.rpc_port) for n in layout.nodes]
        deadline = time.monotonic() + 60
        while procs[0].finalized_number() < 1 and time.monotonic() < deadline:
            time.sleep(0.1)  # wait for the network to finalize once before loading it
        genesis = bytes.fromhex(clients[0].call("chain_getBlockHash", [0])[2:])
        version = clients[0].call("state_getRuntimeVersion")
        print(f"[{engine}] signing {total:,} transfers …", flush=True)
        signed = presign_transfers(total, genesis, version["specVersion"], version["transactionVersion"])
        submitted_at: dict[bytes, float] = {}
        latencies: list[float] = []
        done = threading.Event()
        watcher = threading.Thread(target=_watch_finality, args=(procs[0], submitted_at, latencies, total, done), daemon=True)
        watcher.start()
        print(f"[{engine}] submitting at up to {rate:,}/s …", flush=True)
        start = time.perf_counter()
        batch = 500
        for i in range(0, total, batch):
            chunk = signed[i : i + batch]
            # Spread submissions over the nodes, at the offered rate.
            replies = clients[(i // batch) % len(clients)].batch("author_submitExtrinsic", [[xt] for xt in chunk])
            now = time.perf_counter()
            for xt, reply in zip(chunk, replies):
                if "result" in reply:
                    submitted_at[bytes.fromhex(reply["result"][2:])] = now
            ahead = (i + batch) / rate - (now - start)
            if ahead > 0:
                time.sleep(ahead)
        done.wait(timeout=600)
        elapsed = time.perf_counter() - start
    finally:
        for p in procs:
            p.stop()
    finalized = len(latencies)
    return {
        "engine": engine, "finalized": finalized, "seconds": elapsed, "tps": finalized / elapsed,
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
    }


def _watch_finality(proc: NodeProcess, submitted_at: dict, latencies: list, total: int, done: threading.Event) -> None:
    seen = proc.finalized_number()
    idle_since = time.perf_counter()
    while len(latencies) < total:
        top = proc.finalized_number()
        now = time.perf_counter()
        for number in range(seen + 1, top + 1):
            block = proc.rpc("chain_getBlock", [proc.hash_at(number)])["block"]
            for xt in block["extrinsics"][1:]:
                at = submitted_at.pop(blake2_256(bytes.fromhex(xt[2:])), None)
                if at is not None:
                    latencies.append(now - at)
        if top > seen:
            idle_since = now
        elif now - idle_since > 60:
            break  # nothing finalized for a minute: report what we have
        seen = top
        time.sleep(POLL_S)
    done.set()


def register(kinds) -> None:
    bench = kinds.add_parser("network", help="transfers finalized per second by four authorities as processes, and finality latency")
    bench.add_argument("--engines", nargs="+", default=["aura", "bft"], choices=["aura", "bft"])
    bench.add_argument("--transfers", type=int, default=20_000)
    bench.add_argument("--rate", type=int, default=3_000, help="offered transfers per second")
    bench.add_argument("--block-time-ms", type=int, default=1000)
    bench.set_defaults(func=main)
