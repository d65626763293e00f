"""``parawatt experiment market``: the energy market, on a running testnet or offline.

- ``--case CASE.json [--run-dir DIR] [--json OUT] [--csv OUT]``: the case's orders as signed
  extrinsics on a running testnet (`node.testnet.market_case`); prints the trades read back from
  the relay exactly as ``parawatt auction run CASE.json`` prints them (stdout), with progress, the
  on-chain period and the settlement of every leg on stderr. ``--offline`` runs the engine instead.
- ``--scenario 24h --out DIR [--seed S] [--run-dir DIR]``: a day of seeded load, PV, wind and
  battery profiles traded with the first-offer strategy on the testnet, by its own aggregators
  (`node.testnet.market_day`), checked against the same day on the engine; ``--offline [--days N]
  [--period-minutes 60|15] [--aggregators KIND=N,...] [--tou TOU.json]`` runs the engine only.
  Either prints a KPI table and writes ``kpis.json``, ``periods.csv``, ``trades.csv`` and PNG
  plots into ``--out``.

Exit status 0 on success, 1 when the testnet did not settle (or, for the scenario, made other
trades than the engine), 2 for arguments that cannot be run (the reason goes to stderr).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bridge.case import decode_tou
from bridge.errors import MarketError
from bridge.profiles import DEFAULT_MIX, generate_profiles, parse_mix

EXIT_OK = 0
EXIT_BAD_INPUT = 2

# The published case study's TOU tariff (shared/data/case-study/tou.json), the default schedule.
CASE_STUDY_TOU = """{"periods": [
 {"from": "23:00", "to": "07:00", "grid_sale": 0.38, "grid_purchase": 0.24},
 {"from": "07:00", "to": "11:00", "grid_sale": 0.57, "grid_purchase": 0.38},
 {"from": "11:00", "to": "14:00", "grid_sale": 0.86, "grid_purchase": 0.65},
 {"from": "14:00", "to": "18:00", "grid_sale": 0.57, "grid_purchase": 0.38},
 {"from": "18:00", "to": "23:00", "grid_sale": 0.80, "grid_purchase": 0.65}]}"""


def _days(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 366:
        raise argparse.ArgumentTypeError(f"days must be a whole number in 1..366, got {text!r}")
    return int(text)


def _seed(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seed must be an integer, got {text!r}") from None


def register(subparsers: Any) -> None:
    experiment = subparsers.add_parser("experiment", help="experiments: cross-chain transfers, chaos, the market and its KPIs")
    commands = experiment.add_subparsers(dest="experiment_command", metavar="COMMAND",
                                         required=True)  # fmt: skip
    from node.testnet.experiments_cli import register as register_testnet_experiments

    register_testnet_experiments(commands)
    market = commands.add_parser(
        "market",
        help="simulate a day of the energy market and report KPIs",
        description="Generate seeded load, PV, wind and battery profiles, trade every period "
        "with the first-offer strategy, deliver, update credit, and report KPIs.",
    )
    source = market.add_mutually_exclusive_group(required=True)
    source.add_argument("--case", metavar="CASE.json", type=Path,
                        help="a case file: its orders on the running testnet (or the engine with --offline)")
    source.add_argument("--scenario", choices=["24h"], help="the generated 24-hour scenario, on the testnet (or the engine with --offline)")
    market.add_argument("--run-dir", type=Path, default=None, help="the testnet's run folder (default .run/testnet)")
    market.add_argument("--json", metavar="OUT", dest="json_out", type=Path, help="--case: also write the trades as JSON")
    market.add_argument("--csv", metavar="OUT", dest="csv_out", type=Path, help="--case: also write the trades as CSV")
    market.add_argument("--timeout", type=float, default=180, help="--case: give up after this many seconds (default 180)")
    market.add_argument("--days", type=_days, default=1, help="days to simulate (default 1)")
    market.add_argument("--period-minutes", type=int, choices=[60, 15], default=60,
                        help="trading period length (default 60)")  # fmt: skip
    market.add_argument("--seed", type=_seed, default=0, help="random seed (default 0)")
    market.add_argument("--aggregators", metavar="KIND=N,...", default=None,
                        help="aggregator mix; kinds: household, ev, pv, wind, battery "
                        "(default household=2,ev=1,pv=1,wind=1,battery=1)")  # fmt: skip
    market.add_argument("--tou", metavar="TOU.json", type=Path,
                        help="TOU tariff file (default: the case study's)")  # fmt: skip
    market.add_argument("--offline", action="store_true",
                        help="run the auction engine directly, without a testnet")  # fmt: skip
    market.add_argument("--out", metavar="DIR", type=Path,
                        help="--scenario: directory for kpis.json, periods.csv, trades.csv and plots")  # fmt: skip
    market.set_defaults(func=market_command)


def market_command(args: argparse.Namespace) -> int:
    if args.case is not None:
        return case_command(args)
    if args.out is None:
        print("error: the 24-hour scenario writes its report into --out DIR", file=sys.stderr)
        return EXIT_BAD_INPUT
    on_chain = not args.offline
    if on_chain and (args.days != 1 or args.aggregators is not None or args.tou is not None):
        print("error: on a testnet the scenario runs one day (--days 1), with the testnet's own aggregators and its "
              "relay's TOU (no --aggregators, no --tou); add --offline to run the engine instead", file=sys.stderr)
        return EXIT_BAD_INPUT
    auctions, chain_failures = None, ()  # the engine; nothing to fail but the code itself
    if on_chain:
        from node.testnet.control import Network, TestnetError
        from node.testnet.launcher import DEFAULT_RUN_DIR
        from node.testnet.market_day import testnet_auctions, testnet_mix

        try:
            network = Network.load(args.run_dir or DEFAULT_RUN_DIR)
            testnet_aggregators, agents = testnet_mix(network)
        except TestnetError as e:
            print(f"experiment market: {e}", file=sys.stderr)
            return 1
        auctions, chain_failures = testnet_auctions(network, agents, say=lambda line: print(line, file=sys.stderr, flush=True),
                                                    timeout_s=args.timeout * 4), (TestnetError,)
    try:
        mix = parse_mix(args.aggregators) if args.aggregators is not None else DEFAULT_MIX
        mix = testnet_aggregators if on_chain else mix
        tou_text = args.tou.read_bytes() if args.tou else CASE_STUDY_TOU
        schedule = decode_tou(tou_text)
        args.out.mkdir(parents=True, exist_ok=True)
    except (MarketError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    # Imported here so `parawatt --help` does not pay for matplotlib.
    from bridge.kpis import (compute_kpis, encode_kpis_json, encode_periods_csv,
                             encode_trades_csv, format_kpi_table)  # fmt: skip
    from bridge.plots import write_plots
    from bridge.scenario import run_scenario, tariffs_for

    tariffs = tariffs_for(schedule, days=args.days, period_minutes=args.period_minutes)
    profiles = generate_profiles(mix, tariffs, period_minutes=args.period_minutes, seed=args.seed)
    try:
        result = run_scenario(profiles, tariffs, period_minutes=args.period_minutes, seed=args.seed, auctions=auctions)
    except chain_failures as e:
        print(f"experiment market: {e}", file=sys.stderr)
        return 1
    kpis = compute_kpis(result)
    kpis["scenario"].update(scenario=args.scenario, seed=args.seed, on_chain=on_chain,
                            aggregators=[p.name for p in profiles])  # fmt: skip
    if on_chain:  # the same day on the engine: the chain must have made exactly its trades
        offline = run_scenario(profiles, tariffs, period_minutes=args.period_minutes, seed=args.seed)
        same = [(p.auction.trades, p.auction.grid) if p.auction else None for p in result.periods] == \
            [(p.auction.trades, p.auction.grid) if p.auction else None for p in offline.periods]
        kpis["scenario"]["identical_to_offline"] = same
        print(f"on chain: every period's trades {'equal' if same else 'DIFFER FROM'} the offline engine's", file=sys.stderr)
    (args.out / "kpis.json").write_bytes(encode_kpis_json(kpis))
    (args.out / "periods.csv").write_bytes(encode_periods_csv(result))
    (args.out / "trades.csv").write_bytes(encode_trades_csv(result))
    plots = write_plots(result, kpis, args.out)
    print(format_kpi_table(kpis))
    print(f"\nwrote kpis.json, periods.csv, trades.csv, {', '.join(p.name for p in plots)} "
          f"to {args.out}")  # fmt: skip
    return EXIT_OK if not on_chain or kpis["scenario"]["identical_to_offline"] else 1


def case_command(args: argparse.Namespace) -> int:
    if args.offline:
        from bridge.cli import run_command

        return run_command(args)
    from bridge.report import encode_csv, encode_json, format_table
    from node.testnet.control import Network, TestnetError
    from node.testnet.launcher import DEFAULT_RUN_DIR
    from node.testnet.market_case import format_settlement, run_case

    def say(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        run = run_case(Network.load(args.run_dir or DEFAULT_RUN_DIR), args.case, say=say, timeout_s=args.timeout)
    except TestnetError as e:
        print(f"experiment market: {e}", file=sys.stderr)
        return 1
    try:
        if args.json_out is not None:
            args.json_out.write_bytes(encode_json(run.result))
        if args.csv_out is not None:
            args.csv_out.write_text(encode_csv(run.result))
    except OSError as e:
        print(f"experiment market: cannot write: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for line in format_settlement(run):
        say(line)
    sys.stdout.write(format_table(run.result))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parawatt")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
