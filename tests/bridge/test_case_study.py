"""The published six-aggregator case study through the offline command, against the outcomes
derived by hand in ``vectors/case-study-expected.json``."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bridge.case import decode_case, decode_tou
from bridge.cli import EXIT_OK, main

VECTORS = Path(__file__).parent / "vectors"
CASES = VECTORS / "case-study"
EXPECTED = json.loads((VECTORS / "case-study-expected.json").read_text())
ROOT = Path(__file__).parents[2]


def as_decimals(rows):
    return [
        {k: Decimal(v) if k in ("quantity_kwh", "xi", "price") else v for k, v in r.items()}
        for r in rows
    ]


@pytest.mark.parametrize("period", ["period-02", "period-13"])
def test_case_study_trades_match_the_hand_derived_outcome(period, tmp_path, capsys):
    out = tmp_path / "trades.json"
    assert main(["auction", "run", str(CASES / f"{period}.json"), "--json", str(out)]) == EXIT_OK
    report = json.loads(out.read_bytes(), parse_float=Decimal)
    assert list(report) == ["trades", "grid", "summary"]
    assert report["trades"] == as_decimals(EXPECTED[period]["trades"])
    assert report["grid"] == as_decimals(EXPECTED[period]["grid"])
    s = report["summary"]
    assert s["peer_kwh"] + s["grid_supplied_kwh"] == s["buy_kwh"]
    assert s["peer_kwh"] + s["grid_absorbed_kwh"] == s["sell_kwh"]
    table = capsys.readouterr().out
    for trade in EXPECTED[period]["trades"]:
        assert trade["price"] in table


def test_case_study_csv_lists_peer_trades_then_grid_rows(tmp_path):
    out = tmp_path / "trades.csv"
    assert main(["auction", "run", str(CASES / "period-02.json"), "--csv", str(out)]) == EXIT_OK
    rows = list(csv.reader(out.read_text().splitlines()))
    assert rows[0] == ["round", "seller", "buyer", "quantity_kwh", "xi", "price"]
    assert rows[1] == ["1", "Agg1", "Agg6", "90.4", "0.545103", "0.325086340206"]
    assert rows[-1] == ["grid", "Agg2", "grid", "6.14", "", "0.24"]
    assert len(rows) == 1 + 5 + 1


@pytest.mark.parametrize("period", ["period-02", "period-13"])
def test_case_tariffs_agree_with_the_tou_schedule(period):
    case = decode_case((CASES / f"{period}.json").read_bytes())
    tou = decode_tou((CASES / "tou.json").read_bytes())
    assert tou.tariff_at(case.start_minute) == case.tariff
    assert case.minutes == 60


def test_a_case_without_tariff_takes_it_from_the_tou_file(tmp_path):
    doc = json.loads((CASES / "period-13.json").read_text())
    del doc["tariff"]
    case = tmp_path / "case.json"
    case.write_text(json.dumps(doc))
    out = tmp_path / "trades.json"
    args = ["auction", "run", str(case), "--tou", str(CASES / "tou.json"), "--json", str(out)]
    assert main(args) == EXIT_OK
    assert json.loads(out.read_text(), parse_float=Decimal)["grid"] == as_decimals(
        EXPECTED["period-13"]["grid"]
    )


def test_the_command_gives_the_same_bytes_under_any_hash_seed(tmp_path):
    outputs = []
    for seed in ("1", "2"):
        out = tmp_path / f"trades-{seed}.json"
        env = dict(os.environ, PYTHONHASHSEED=seed)
        cmd = [
            sys.executable,
            "-m",
            "bridge.cli",
            "auction",
            "run",
            str(CASES / "period-13.json"),
            "--json",
            str(out),
        ]
        subprocess.run(cmd, cwd=ROOT, env=env, check=True, capture_output=True)
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1]
