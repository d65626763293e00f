"""``parawatt experiment market --scenario 24h [--days N] [--period-minutes 60|15] [--seed S]
[--aggregators KIND=N,...] [--tou TOU.json] --offline --out DIR``.

Runs the 24-hour market scenario on the auction engine directly (``--offline``), prints a KPI
table and writes ``kpis.json``, ``periods.csv``, ``trades.csv`` and PNG plots into ``--out``.
Exit status 0 on success, 2 for arguments that cannot be run (the reason goes to stderr).
The on-chain path (orders as signed extrinsics on a running testnet) comes with the on-chain
market; until then the command says so instead of guessing.
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
    market.add_argument("--scenario", choices=["24h"], required=True, help="the scenario to run")
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
    market.add_argument("--out", metavar="DIR", type=Path, required=True,
                        help="directory for kpis.json, periods.csv, trades.csv and plots")  # fmt: skip
    market.set_defaults(func=market_command)


def market_command(args: argparse.Namespace) -> int:
    if not args.offline:
        print("error: the on-chain market path needs a running testnet and comes with the "
              "on-chain market; run with --offline to use the auction engine directly",
              file=sys.stderr)  # fmt: skip
        return EXIT_BAD_INPUT
    try:
        mix = parse_mix(args.aggregators) if args.aggregators is not None else DEFAULT_MIX
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
    result = run_scenario(profiles, tariffs, period_minutes=args.period_minutes, seed=args.seed)
    kpis = compute_kpis(result)
    kpis["scenario"].update(scenario=args.scenario, seed=args.seed,
                            aggregators=[p.name for p in profiles])  # fmt: skip
    (args.out / "kpis.json").write_bytes(encode_kpis_json(kpis))
    (args.out / "periods.csv").write_bytes(encode_periods_csv(result))
    (args.out / "trades.csv").write_bytes(encode_trades_csv(result))
    plots = write_plots(result, kpis, args.out)
    print(format_kpi_table(kpis))
    print(f"\nwrote kpis.json, periods.csv, trades.csv, {', '.join(p.name for p in plots)} "
          f"to {args.out}")  # fmt: skip
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parawatt")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
