"""`parawatt bench transfers`: cross-chain transfers per second between two parachains, and
their latency, with real processes — a relay of 4 validators and the demand and DG parachains
of 2 collators each, launched fresh in a temporary run folder. Transfers are signed by several
accounts on demand (substrate-interface, not timed), submitted in JSON-RPC batches, and
followed to a finalized credit on DG (`parawatt transfer`'s machinery). The machine's own sr25519
verification rate is measured in the same run, so the throughput can be read as a ratio."""

from __future__ import annotations

import tempfile
from pathlib import Path

from node.bench_chain import sr25519_verifications_per_second
from node.testnet.launcher import launch, prepare
from node.testnet.spec import parse_spec
from node.testnet.transfers import send_transfers

SPEC = """
[relaychain]
validators = 4
consensus = "aura"
block_time_ms = {block_time_ms}

[[parachains]]
id = 2000
name = "demand"
runtime = "demand"
collators = 2

[[parachains]]
id = 2001
name = "dg"
runtime = "dg"
collators = 2
"""
SIGNERS = ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie")


def main(args) -> int:
    verify_rate = sr25519_verifications_per_second()
    run_dir = Path(tempfile.mkdtemp(prefix="parawatt-bench-transfers-"))
    network = prepare(run_dir, parse_spec(SPEC.format(block_time_ms=args.block_time_ms)))
    signers = list(SIGNERS[:args.signers])
    try:
        launch(network, progress=lambda line: None)
        print(f"testnet up in {run_dir}; {args.transfers} transfers from {len(signers)} signer(s), demand → dg …", flush=True)
        report = send_transfers(network, source="demand", dest="dg", amount=10**12, signers=signers, to_account=None,
                                count=args.transfers // len(signers), timeout_blocks=200, wait_s=args.wait)
    finally:
        network.stop()
    bt = args.block_time_ms / 1000
    block, block_relay, lat = report["fromBlockS"], report["fromBlockRelayBlocks"], report["latencyS"]
    print(f"delivered {report['delivered']}/{report['count']} (refunded {report['refunded']}, refused {report['failed']}, "
          f"in flight {report['inFlight']})")
    print(f"throughput                         {report['throughputPerS']} transfers/s (first submission → last finalized credit)")
    print(f"sender's block → finalized credit  p50 {block['p50']:.2f} s ({block_relay['p50']:.0f} relay blocks), "
          f"p95 {block['p95']:.2f} s ({block_relay['p95']:.0f} relay blocks); relay block {bt:g} s")
    print(f"submission → finalized credit      p50 {lat['p50']:.2f} s, p95 {lat['p95']:.2f} s")
    print(f"sr25519 verifications/s            {verify_rate:,.0f}  → ratio transfers/verifies "
          f"{(report['throughputPerS'] or 0) / verify_rate:.4f}")
    return 0 if report["inFlight"] == 0 else 1


def register(kinds) -> None:
    bench = kinds.add_parser("transfers", help="cross-chain transfers per second between two parachains, and their latency")
    bench.add_argument("--transfers", type=int, default=3000, help="how many (split over the signers; default 3000)")
    bench.add_argument("--signers", type=int, default=3, choices=range(1, len(SIGNERS) + 1), help="sending accounts (default 3)")
    bench.add_argument("--block-time-ms", type=int, default=1000)
    bench.add_argument("--wait", type=float, default=300, help="give up following after this many seconds")
    bench.set_defaults(func=main)
