"""`parawatt bench sweep` (also plain `parawatt bench`): the architectural throughput benchmark.

For each point of a sweep — number of parachains, collators per parachain, consensus engine,
block time — it launches a fresh testnet (real processes, relay validation on), offers signed
balance transfers to every parachain at a ramped rate, and measures per chain and in
aggregate: transactions finalized and anchored per second, finality and anchoring latency
(p50/p95, a block seen best → finalized / → anchored on the relay), one cross-chain transfer's
latency, CPU and resident memory per node, and this machine's sr25519 verification rate (once,
in the same run) with throughput as a fraction of it. JSON, CSV and PNG plots go to `--out`.

`--quick` runs two points (one parachain; three) at one rate, in under two minutes.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from node.bench_chain import RpcClient, presign_transfers, sr25519_verifications_per_second
from node.bench_network import percentile
from node.testnet.control import Network, TestnetError
from node.testnet.launcher import launch, prepare
from node.testnet.spec import parse_spec
from node.testnet.transfers import send_transfers

KINDS = ("demand", "dg", "storage")
POLL_S = 0.1
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Point:
    parachains: int
    collators: int
    engine: str
    block_time_ms: int

    @property
    def label(self) -> str:
        return f"{self.parachains}p×{self.collators}c {self.engine} {self.block_time_ms}ms"

    def spec(self) -> str:
        text = f'[relaychain]\nvalidators = 4\nconsensus = "{self.engine}"\nblock_time_ms = {self.block_time_ms}\n'
        for kind in KINDS[:self.parachains]:
            text += f'[[parachains]]\nruntime = "{kind}"\ncollators = {self.collators}\nconsensus = "{self.engine}"\n'
        return text


def sweep_points(quick: bool) -> list[Point]:
    if quick:
        return [Point(1, 2, "aura", 1000), Point(3, 2, "aura", 1000)]
    return ([Point(n, 2, "aura", 1000) for n in (1, 2, 3)] + [Point(1, c, "aura", 1000) for c in (1, 4)]
            + [Point(1, 2, "bft", 1000), Point(1, 2, "aura", 500), Point(1, 2, "aura", 2000)])


# -- per-node resources ----------------------------------------------------------------------------
def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# -- one chain under load ----------------------------------------------------------------------------
class ChainWatch:
    """Follows one chain's best, finalized (and, for a parachain, anchored) heights by polling,
    recording when each block number was first seen in each state and how many transactions
    it holds."""

    def __init__(self, client: RpcClient, parachain: bool):
        self.client, self.parachain = client, parachain
        self.seen: dict[str, dict[int, float]] = {"best": {}, "finalized": {}, "anchored": {}}
        self.txs: dict[int, int] = {}

    def poll(self) -> None:
        now = time.monotonic()
        best = int(self.client.call("chain_getHeader")["number"], 16)
        finalized = int(self.client.call("chain_getHeader", [self.client.call("chain_getFinalizedHead")])["number"], 16)
        heights = {"best": best, "finalized": finalized}
        if self.parachain:
            anchored = self.client.call("parachain_anchoredHead")
            heights["anchored"] = -1 if anchored is None else anchored["number"]
        for status, top in heights.items():
            seen = self.seen[status]
            start = max(seen, default=top) + 1 if seen else top
            for n in range(start, top + 1):
                seen[n] = now
        for n in range(max(self.txs, default=0) + 1, best + 1):
            block = self.client.call("chain_getBlock", [self.client.call("chain_getBlockHash", [n])])["block"]
            self.txs[n] = sum(1 for xt in block["extrinsics"] if _is_signed(xt))

    def rate(self, status: str, since: float, until: float) -> float:
        """Transactions reaching ``status`` per second, from the start of the load to the last
        block carrying any (so the settling time after the load does not dilute it)."""
        blocks = [(at, self.txs.get(n, 0)) for n, at in self.seen[status].items() if since <= at <= until]
        busy = [at for at, txs in blocks if txs]
        return sum(txs for _, txs in blocks) / max(max(busy) - since, 1e-9) if busy else 0.0

    def latency(self, status: str) -> tuple[float, float]:
        lags = [self.seen[status][n] - at for n, at in self.seen["best"].items() if n in self.seen[status]]
        return percentile(lags, 50), percentile(lags, 95)


def _is_signed(xt_hex: str) -> bool:
    """The version byte's signed bit, after the compact length (at most 4 bytes here): the
    follower shares this process with the submitters, so it decodes no more than that."""
    from node.primitives.scale import decode_compact

    head = bytes.fromhex(xt_hex[2:12])
    _, start = decode_compact(head, 0)
    return bool(head[start] & 0x80)


def run_point(point: Point, *, rate: int, seconds: float) -> dict:
    run_dir = Path(tempfile.mkdtemp(prefix="parawatt-sweep-"))
    network: Network = prepare(run_dir, parse_spec(point.spec()))
    try:
        ready_s = launch(network, progress=lambda line: None)
        paras = [name for name, info in network.chains.items() if info["kind"] == "parachain"]
        def client(name: str) -> RpcClient:  # one keep-alive connection per user: the follower runs in its own thread
            return RpcClient(int(network.chain_nodes(name)[0].rpc_url.rsplit(":", 1)[1]))

        clients = {name: client(name) for name in network.chains}
        watches = {name: ChainWatch(client(name), name in paras) for name in network.chains}
        signed = {}
        for name in paras:
            c = clients[name]
            genesis = bytes.fromhex(c.call("chain_getBlockHash", [0])[2:])
            version = c.call("state_getRuntimeVersion")
            signed[name] = presign_transfers(int(rate * seconds), genesis, version["specVersion"], version["transactionVersion"])
        pids = {n.name: network.pid(n.name) for n in network.nodes}
        cpu_before = {name: _cpu_seconds(pid) for name, pid in pids.items() if pid}
        stop = threading.Event()

        def follow():
            while not stop.is_set():
                for watch in watches.values():
                    watch.poll()
                time.sleep(POLL_S)  # nodes are other processes: heights are seen by polling

        follower = threading.Thread(target=follow, daemon=True)
        follower.start()
        start = time.monotonic()
        batch = max(1, rate // 4)
        submitted_at: dict[str, float] = {}

        def submit(name: str) -> None:  # one parachain at `rate`, in quarter-second batches
            for i in range(0, int(rate * seconds), batch):
                clients[name].batch("author_submitExtrinsic", [[xt] for xt in signed[name][i:i + batch]])
                ahead = (i + batch) / rate - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)  # pacing: the offered load is a rate
            submitted_at[name] = time.monotonic()

        # A thread per parachain: one chain's slow answers do not hold back the others' load.
        submitters = [threading.Thread(target=submit, args=(name,), daemon=True) for name in paras]
        for t in submitters:
            t.start()
        for t in submitters:
            t.join()
        offered = {name: round(int(rate * seconds) / max(at - start, 1e-9), 1) for name, at in submitted_at.items()}
        time.sleep(3 * point.block_time_ms / 1000 + 2)  # let the last blocks finalize and anchor
        until = time.monotonic()
        stop.set()
        follower.join(timeout=30)
        elapsed = until - start
        cpu = {name: round((_cpu_seconds(pid) - cpu_before[name]) / elapsed, 3) for name, pid in pids.items() if pid}
        rss = {name: round(_rss_mb(pid), 1) for name, pid in pids.items() if pid}
        cross = None
        if paras:
            dest = paras[1] if len(paras) > 1 else "relay"
            try:
                report = send_transfers(network, source=paras[0], dest=dest, amount=10**12, signers=["//Ferdie"],
                                        to_account=None, count=1, timeout_blocks=100, wait_s=60)
                cross = report["latencyS"]["p50"]
            except TestnetError as e:  # e.g. Ferdie's load transfers still pooled: its nonce is taken
                print(f"  (no cross-chain probe: {e})", flush=True)
        chains = {}
        for name in paras:
            w = watches[name]
            chains[name] = {"finalizedTps": round(w.rate("finalized", start, until), 1), "anchoredTps": round(w.rate("anchored", start, until), 1),
                            "finality": w.latency("finalized"), "anchoring": w.latency("anchored")}
        relay = watches["relay"]
        return {
            "point": point.label, "parachains": point.parachains, "collators": point.collators, "engine": point.engine,
            "blockTimeMs": point.block_time_ms, "offeredTpsPerChain": rate, "readyS": round(ready_s, 1),
            "submittedTpsPerChain": offered,  # what the client managed to submit (the node answers each batch)
            "aggregateFinalizedTps": round(sum(c["finalizedTps"] for c in chains.values()), 1),
            "aggregateAnchoredTps": round(sum(c["anchoredTps"] for c in chains.values()), 1),
            "chains": chains, "relayFinality": relay.latency("finalized"), "crossChainLatencyS": cross,
            "cpuPerNode": cpu, "rssMbPerNode": rss,
        }
    finally:
        network.stop()


def write_report(out: Path, results: list[dict], verify_rate: float) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "sweep.json").write_text(json.dumps({"verifyRate": verify_rate, "points": results}, indent=2))
    with open(out / "sweep.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["point", "offered_tps_per_chain", "aggregate_finalized_tps", "aggregate_anchored_tps",
                         "fraction_of_verify_rate", "cross_chain_latency_s", "max_rss_mb", "mean_cpu"])
        for r in results:
            writer.writerow([r["point"], r["offeredTpsPerChain"], r["aggregateFinalizedTps"], r["aggregateAnchoredTps"],
                             round(r["aggregateAnchoredTps"] / verify_rate, 4), r["crossChainLatencyS"],
                             max(r["rssMbPerNode"].values()), round(sum(r["cpuPerNode"].values()) / len(r["cpuPerNode"]), 3)])
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{r['point']}\n@{r['offeredTpsPerChain']}/s" for r in results]
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(results)), 4))
    xs = range(len(results))
    ax.bar([x - 0.2 for x in xs], [r["aggregateFinalizedTps"] for r in results], 0.4, label="finalized")
    ax.bar([x + 0.2 for x in xs], [r["aggregateAnchoredTps"] for r in results], 0.4, label="anchored")
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set_ylabel("transactions / s (all parachains)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "throughput.png", dpi=120)
    plt.close(fig)


def main(args) -> int:
    verify_rate = sr25519_verifications_per_second()
    print(f"sr25519 verifications/s: {verify_rate:,.0f}", flush=True)
    rates = [args.rate] if args.quick else [args.rate // 2, args.rate]
    results = []
    for point in sweep_points(args.quick):
        for rate in rates:
            print(f"{point.label} at {rate}/s per parachain …", flush=True)
            r = run_point(point, rate=rate, seconds=args.seconds)
            results.append(r)
            print(f"  submitted {sum(r['submittedTpsPerChain'].values()):.0f}/s, finalized {r['aggregateFinalizedTps']}/s, anchored {r['aggregateAnchoredTps']}/s "
                  f"({r['aggregateAnchoredTps'] / verify_rate:.3f} of the verify rate); cross-chain {r['crossChainLatencyS']} s; "
                  f"max RSS {max(r['rssMbPerNode'].values())} MB", flush=True)
    write_report(args.out, results, verify_rate)
    print(f"report in {args.out}/ (sweep.json, sweep.csv, throughput.png)")
    return 0


def register(kinds) -> None:
    sweep = kinds.add_parser("sweep", help="the architectural benchmark: sweep parachains, collators, engine, block time")
    add_arguments(sweep)
    sweep.set_defaults(func=main)


def add_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true", help="two points at one rate, under two minutes")
    parser.add_argument("--rate", type=int, default=600, help="offered signed transfers per second per parachain (default 600)")
    parser.add_argument("--seconds", type=float, default=8, help="seconds of load per point (default 8)")
    parser.add_argument("--out", type=Path, default=Path("bench-report"), help="report folder (default bench-report)")
