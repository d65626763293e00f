"""Rendering at the edge: exact decimals, fixed JSON shape, and the benchmark entry point."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from bridge import bench
from bridge.report import decimal_text, encode_csv, encode_json, format_table, summarize
from tests.bridge.books import buy, run, sell


@pytest.mark.parametrize(
    ("n", "decimals", "text"),
    [(23_422, 2, "234.22"), (3_100, 2, "31"), (0, 2, "0"), (5, 2, "0.05"), (-5, 2, "-0.05"),
     (318_000_000_000, 12, "0.318"), (10**12, 12, "1"),
     (10**40 + 1, 12, "10000000000000000000000000000.000000000001")],
)  # fmt: skip
def test_decimal_text_is_exact_and_drops_trailing_zeros(n, decimals, text):
    assert decimal_text(n, decimals) == text


def test_json_has_exactly_the_documented_keys_and_exact_numbers():
    result = run(
        [buy(1234, 10**12 + 1, owner="b"), sell(1000, 10**12, owner="s")], {"b": 0, "s": 0}
    )
    report = json.loads(encode_json(result), parse_float=Decimal)
    assert list(report) == ["trades", "grid", "summary"]
    assert report["trades"] == [
        {
            "round": 1,
            "seller": "s",
            "buyer": "b",
            "quantity_kwh": Decimal("10"),
            "xi": Decimal("0.5"),
            "price": 1,
        }
    ]
    assert report["grid"] == [
        {
            "aggregator": "b",
            "side": "buy",
            "quantity_kwh": Decimal("2.34"),
            "price": Decimal("0.0000000001"),
        }
    ]
    assert report["summary"]["peer_value"] == 10 and report["summary"]["mean_price"] == 1


def test_byte_account_ids_render_as_hex():
    owner = bytes(range(32))
    result = run([buy(5, 60, owner=owner), sell(5, 60, owner="s")], {owner: 0, "s": 0})
    assert json.loads(encode_json(result))["trades"][0]["buyer"] == "0x" + owner.hex()


def test_empty_period_renders_valid_json_csv_and_table():
    result = run([], {})
    assert json.loads(encode_json(result))["trades"] == []
    assert encode_csv(result) == "round,seller,buyer,quantity_kwh,xi,price\n"
    assert "0 peer trades" in format_table(result)
    assert summarize(result).mean_price == 0


def test_bench_reports_a_rate_per_book_size(capsys):
    assert bench.main(["--sizes", "300", "--repeat", "1"]) == 0
    assert bench.main(["--sizes", "300", "--repeat", "1", "--tie-lines"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["orders", "trades", "seconds", "orders/s"]
    assert lines[1].split()[0] == "300" and lines[3].split()[0] == "300"


def test_bench_books_are_the_same_for_the_same_seed():
    assert bench.make_book(50, seed=3) == bench.make_book(50, seed=3)
