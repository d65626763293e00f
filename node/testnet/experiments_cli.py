"""The `parawatt experiment transfers|chaos` subcommands (against a running testnet)."""

from __future__ import annotations

import json
from pathlib import Path

from node.testnet.launcher import DEFAULT_RUN_DIR


def _transfers(args) -> int:
    from node.testnet.control import Network
    from node.testnet.experiments import format_transfers, run_transfers, write_transfers

    report = run_transfers(Network.load(args.run_dir), count=args.count, pairs=args.pair, wait_s=args.wait)
    if args.out:
        write_transfers(report, args.out)
    if args.json:
        print(json.dumps(report))
    else:
        print("\n".join(format_transfers(report)))
    return 0 if report["inFlight"] == 0 else 1


def _chaos(args) -> int:
    from node.testnet.control import Network
    from node.testnet.experiments import run_chaos

    report = run_chaos(Network.load(args.run_dir), minutes=args.minutes, seed=args.seed,
                       say=(lambda line: None) if args.json else (lambda line: print(line, flush=True)))
    if args.json:
        print(json.dumps(report))
    else:
        t = report["transfers"]
        print(f"transfers: {t['count']} sent, {t['delivered']} credited in their batch, {t['refunded']} refunded; "
              f"relay records {report['relayRecords']}")
        if report["market"] is not None:
            m = report["market"]
            print(f"market: {m['cases']} case runs, {m['identical']} equal to the offline auction, {m['different']} different, "
                  f"{m['interrupted']} interrupted by faults; {m['trades']} trades committed")
        for name, held in report["invariants"].items():
            print(f"{'✓' if held else '✗'} {name}")
    return 0 if report["held"] else 1


def register(commands) -> None:
    from node.testnet.cli import _guard

    transfers = commands.add_parser("transfers", help="N cross-chain transfers over every pair of chains of a running testnet; latency per pair")
    transfers.add_argument("--count", type=int, default=120, help="transfers in all, split over the pairs (default 120)")
    transfers.add_argument("--pair", action="append", metavar="SOURCE->DEST", help="only these pairs (repeatable; default every ordered pair)")
    transfers.add_argument("--wait", type=float, default=180, help="give up following after this many seconds")
    transfers.add_argument("--out", type=Path, help="also write transfers.json and transfers.csv here")
    transfers.add_argument("--json", action="store_true", help="print one JSON object")
    transfers.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    transfers.set_defaults(func=_guard(_transfers))
    chaos = commands.add_parser("chaos", help="random kills, restarts, pauses while transfers and the market run; then check the invariants")
    chaos.add_argument("--minutes", type=float, default=10)
    chaos.add_argument("--seed", type=int, default=1)
    chaos.add_argument("--json", action="store_true", help="print one JSON object")
    chaos.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR)
    chaos.set_defaults(func=_guard(_chaos))
