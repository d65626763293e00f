"""``parawatt auction run CASE.json [--json OUT] [--csv OUT] [--tou TOU.json]``.

The project CLI calls :func:`register` with its subparsers object and then ``args.func(args)``,
which returns the exit status: 0 on success, 2 when the case cannot be run (unreadable file, bad
case file, an order the market rejects); the reason goes to stderr. Until ``node/cli.py`` exists,
``python -m bridge.cli auction run CASE.json`` does the same.

The tariff comes from the case file; ``--tou`` supplies it for a case without one (the slot of the
period's first minute). When both are present they must agree, so a stale case file is caught.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bridge.auction import run_auction
from bridge.case import decode_case, decode_tou
from bridge.errors import MarketError
from bridge.report import encode_csv, encode_json, format_table
from bridge.tariff import Tariff

EXIT_OK = 0
EXIT_BAD_INPUT = 2


def register(subparsers: Any) -> None:
    """Add ``auction run`` to an ``argparse`` subparsers object."""
    auction = subparsers.add_parser("auction", help="run the energy auction offline")
    commands = auction.add_subparsers(dest="auction_command", metavar="COMMAND", required=True)
    run = commands.add_parser(
        "run",
        help="run a case file through the two-round auction and print the trades",
        description="Run a case file (orders in arrival order) through the auction engine.",
    )
    run.add_argument("case", metavar="CASE.json", type=Path)
    run.add_argument(
        "--json", metavar="OUT", dest="json_out", type=Path, help="write trades as JSON"
    )
    run.add_argument("--csv", metavar="OUT", dest="csv_out", type=Path, help="write trades as CSV")
    run.add_argument(
        "--tou", metavar="TOU.json", type=Path, help="TOU tariff for a case without one"
    )
    run.set_defaults(func=run_command)


class _Refused(Exception):
    pass


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise _Refused(f"cannot read {path}: {e.strerror or e}") from None


def _tariff(
    case_tariff: Tariff | None, tou_path: Path | None, start_minute: int, name: str
) -> Tariff:
    if tou_path is None:
        if case_tariff is None:
            raise _Refused(f"{name}: tariff: missing (or pass --tou TOU.json)")
        return case_tariff
    try:
        tou = decode_tou(_read(tou_path)).tariff_at(start_minute)
    except MarketError as e:
        raise _Refused(f"{tou_path}: {e}") from None
    if case_tariff is not None and case_tariff != tou:
        raise _Refused(f"{name}: tariff disagrees with {tou_path} for the period's TOU slot")
    return tou


def run_command(args: argparse.Namespace) -> int:
    try:
        try:
            case = decode_case(_read(args.case))
        except MarketError as e:
            raise _Refused(f"{args.case}: {e}") from None
        tariff = _tariff(case.tariff, args.tou, case.start_minute, str(args.case))
        try:
            result = run_auction(
                case.orders,
                period=case.period,
                tariff=tariff,
                credits=case.credits,
                tie_lines=case.tie_lines,
                exclusion_threshold=case.exclusion_threshold,
            )
        except MarketError as e:
            raise _Refused(f"{args.case}: {e}") from None
        if args.json_out is not None:
            _write(args.json_out, encode_json(result))
        if args.csv_out is not None:
            _write(args.csv_out, encode_csv(result).encode())
    except _Refused as e:
        print(f"auction run: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    sys.stdout.write(format_table(result))
    return EXIT_OK


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as e:
        raise _Refused(f"cannot write {path}: {e.strerror or e}") from None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parawatt")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
