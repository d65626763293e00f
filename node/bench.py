"""Benchmarks (`parawatt bench …`)."""

from __future__ import annotations


def register(sub) -> None:
    bench = sub.add_parser("bench", help="measure throughput (no subcommand: the architectural sweep)")
    from node.bench_sweep import add_arguments as sweep_arguments, main as run_sweep

    sweep_arguments(bench)
    bench.set_defaults(func=run_sweep)
    kinds = bench.add_subparsers(dest="bench", required=False)
    chain = kinds.add_parser("chain", help="signed transfers per second taken in by one dev node, against sr25519 verifications per second")
    chain.add_argument("--transfers", type=int, default=20_000)
    chain.set_defaults(func=lambda args: run_chain_bench(args))

    from node.bench_network import register as register_network

    register_network(kinds)

    from node.bench_validation import register as register_validation

    register_validation(kinds)

    from node.bench_pipeline import register as register_pipeline

    register_pipeline(kinds)

    from node.bench_anchoring import register as register_anchoring

    register_anchoring(kinds)

    from node.bench_transfers import register as register_transfers

    register_transfers(kinds)

    from node.bench_market import register as register_market

    register_market(kinds)

    from node.bench_sweep import register as register_sweep

    register_sweep(kinds)


def run_chain_bench(args) -> int:
    from node.bench_chain import main

    return main(args)
