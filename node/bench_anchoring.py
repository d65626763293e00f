"""`parawatt bench anchoring`: how long a parachain block takes from being authored to being
anchored in a finalized relay block, with real processes (a relay of 4 validators, one
parachain of 2 collators). Both moments are observed by polling the collator's RPC, so the
figures include up to one poll interval (`POLL_S`) and the collator's one-block follow delay."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from node.bench_network import percentile
from node.testnet.local import chain_processes, prepare_multichain

POLL_S = 0.05


def main(args) -> int:
    run_dir = Path(tempfile.mkdtemp(prefix="parawatt-bench-anchoring-"))
    chains = prepare_multichain(run_dir, paras=("dg",), collators=2, block_time_ms=args.block_time_ms)
    procs = {name: chain_processes(c) for name, c in chains.items()}
    everyone = [p for ps in procs.values() for p in ps]
    for p in everyone:
        p.start()
    authored: dict[int, float] = {}
    anchored: dict[int, float] = {}
    try:
        for p in everyone:
            p.wait_ready()
        collator = procs["dg"][0]
        print(f"observing for {args.seconds} s …", flush=True)
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            now = time.monotonic()
            best = int(collator.rpc("chain_getHeader")["number"], 16)
            for n in range(max(authored, default=0) + 1, best + 1):
                authored[n] = now
            head = collator.rpc("parachain_anchoredHead")
            if head is not None:
                for n in range(max(anchored, default=0) + 1, head["number"] + 1):
                    anchored[n] = now
            time.sleep(POLL_S)
    finally:
        for p in everyone:
            p.stop()
    # Blocks seen being authored while observing (not those before the first poll).
    first = min(authored) + 1
    latencies = [anchored[n] - authored[n] for n in authored if n >= first and n in anchored]
    bt = args.block_time_ms / 1000
    print()
    print(f"parachain blocks anchored: {len(latencies)}")
    print(f"authoring → anchored in a finalized relay block: p50 {percentile(latencies, 50):.2f} s "
          f"({percentile(latencies, 50) / bt:.1f} relay blocks), p95 {percentile(latencies, 95):.2f} s "
          f"({percentile(latencies, 95) / bt:.1f} relay blocks)")
    return 0


def register(kinds) -> None:
    bench = kinds.add_parser("anchoring", help="latency from authoring a parachain block to its anchoring on the relay")
    bench.add_argument("--seconds", type=int, default=30)
    bench.add_argument("--block-time-ms", type=int, default=1000)
    bench.set_defaults(func=main)
