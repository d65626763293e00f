"""Bad case files get a CaseFileError naming the field; the command exits 2 and says why."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from bridge.case import decode_case, decode_tou
from bridge.cli import EXIT_BAD_INPUT, main
from bridge.errors import CaseFileError
from bridge.orders import Order, Side

CASES = Path(__file__).parent / "vectors" / "case-study"
BASE = json.loads((CASES / "period-02.json").read_text())


def mutated(edit) -> str:
    doc = copy.deepcopy(BASE)
    edit(doc)
    return json.dumps(doc)


def raw(text: str) -> str:
    """Put a literal (a number json.dumps cannot write) into orders[0].quantity_kwh."""
    return json.dumps(BASE).replace('"quantity_kwh": 234.22', f'"quantity_kwh": {text}', 1)


def set_order(key, value):
    return lambda d: d["orders"][1].__setitem__(key, value)


def test_case_study_decodes_to_integer_units():
    case = decode_case(json.dumps(BASE))
    assert case.period == 2 and (case.start_minute, case.minutes) == (60, 60)
    assert case.tariff.grid_sale == 380_000_000_000 and case.tariff.grid_purchase == 240_000_000_000
    assert case.orders[0] == Order(
        Side.BUY, 23_422, 318_000_000_000, 340_000_000_000, 2, "Agg3", "demand"
    )
    assert case.credits["Agg3"] == 965_000
    assert case.tie_lines == {} and case.exclusion_threshold == 300_000


@pytest.mark.parametrize(
    ("text", "field"),
    [
        (mutated(set_order("quantity_kwh", 1.234)), "orders[1].quantity_kwh"),
        (mutated(set_order("quantity_kwh", -1)), "orders[1].quantity_kwh"),
        (mutated(set_order("quantity_kwh", "58")), "orders[1].quantity_kwh"),
        (mutated(set_order("quantity_kwh", True)), "orders[1].quantity_kwh"),
        (mutated(set_order("offer", 0.1234567890123)), "orders[1].offer"),
        (mutated(set_order("reserve", None)), "orders[1].reserve"),
        (mutated(set_order("credit", 1.5)), "orders[1].credit"),
        (mutated(set_order("credit", 0.1234567)), "orders[1].credit"),
        (mutated(set_order("side", "bid")), "orders[1].side"),
        (mutated(set_order("aggregator", "")), "orders[1].aggregator"),
        (mutated(set_order("chain", 3)), "orders[1].chain"),
        (mutated(set_order("quantity", 5)), "orders[1].quantity"),  # unknown field: a typo
        (mutated(lambda d: d["orders"][1].pop("credit")), "orders[1].credit"),
        (mutated(lambda d: d["orders"].__setitem__(1, [])), "orders[1]"),
        (mutated(lambda d: d.__setitem__("orders", {})), "orders"),
        (mutated(lambda d: d.pop("orders")), "orders"),
        (mutated(lambda d: d.pop("period")), "period"),
        (mutated(lambda d: d["period"].__setitem__("index", -1)), "period.index"),
        (mutated(lambda d: d["period"].__setitem__("index", 2.0)), "period.index"),
        (mutated(lambda d: d["period"].__setitem__("from", "1am")), "period.from"),
        (mutated(lambda d: d["period"].__setitem__("to", "25:00")), "period.to"),
        (mutated(lambda d: d["period"].__setitem__("to", "01:00")), "period.to"),
        (mutated(lambda d: d["tariff"].__setitem__("grid_purchase", 0.5)), "tariff.grid_purchase"),
        (mutated(lambda d: d["tariff"].__setitem__("grid_purchase", 0)), "tariff.grid_purchase"),
        (mutated(lambda d: d["tariff"].pop("grid_sale")), "tariff.grid_sale"),
        (mutated(lambda d: d.__setitem__("exclusion_threshold", 2)), "exclusion_threshold"),
        (
            mutated(lambda d: d["orders"].append(dict(d["orders"][0], credit=0.5))),
            "orders[6].credit",
        ),
        (
            mutated(lambda d: d["orders"].append(dict(d["orders"][0], chain="dg"))),
            "orders[6].chain",
        ),
        (
            mutated(
                lambda d: d.__setitem__("tie_lines", [{"from": "dg", "to": "dg", "limit_kwh": 1}])
            ),
            "tie_lines[0].to",
        ),
        (
            mutated(lambda d: d.__setitem__("tie_lines", [{"from": "dg", "to": "demand"}])),
            "tie_lines[0].limit_kwh",
        ),
        (
            mutated(
                lambda d: d.__setitem__(
                    "tie_lines", [{"from": "dg", "to": "demand", "limit_kwh": 1}] * 2
                )
            ),
            "tie_lines[1]",
        ),
        (raw("NaN"), ""),
        (raw("Infinity"), ""),
        (raw("1e999999999"), "orders[0].quantity_kwh"),
        (raw("1e-999999999"), "orders[0].quantity_kwh"),
        (raw("1" * 5000), "orders[0].quantity_kwh"),
        ("[]", ""),
        ("{not json", ""),
        (b"\xff\xfe", ""),
    ],
)
def test_bad_case_file_is_rejected_naming_the_field(text, field):
    with pytest.raises(CaseFileError) as info:
        decode_case(text)
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: " if field else "")


def test_exact_decimals_with_trailing_zeros_are_accepted():
    case = decode_case(raw("234.2200000000000000000000"))
    assert case.orders[0].quantity == 23_422


def test_tie_lines_and_threshold_are_read_from_the_case():
    text = mutated(
        lambda d: d.update(
            tie_lines=[{"from": "dg", "to": "demand", "limit_kwh": 100.5}], exclusion_threshold=0.25
        )
    )
    case = decode_case(text)
    assert case.tie_lines == {("dg", "demand"): 10_050} and case.exclusion_threshold == 250_000


def test_tou_file_must_cover_the_day_exactly_once():
    doc = json.loads((CASES / "tou.json").read_text())
    doc["periods"][1]["to"] = "12:00"  # overlaps the 11:00 slot
    with pytest.raises(CaseFileError, match="overlaps"):
        decode_tou(json.dumps(doc))
    doc["periods"][1]["to"] = "10:00"  # leaves 10:00–11:00 uncovered
    with pytest.raises(CaseFileError, match="without a tariff"):
        decode_tou(json.dumps(doc))


# --- the command's refusals ----------------------------------------------------------------------


def run_cli(tmp_path, text, *extra):
    case = tmp_path / "case.json"
    case.write_text(text)
    return main(["auction", "run", str(case), *extra])


def test_command_names_the_bad_field_and_exits_2(tmp_path, capsys):
    assert run_cli(tmp_path, mutated(set_order("offer", "cheap"))) == EXIT_BAD_INPUT
    assert "orders[1].offer: must be a number" in capsys.readouterr().err


def test_command_reports_an_order_the_market_rejects(tmp_path, capsys):
    assert run_cli(tmp_path, mutated(set_order("quantity_kwh", 0))) == EXIT_BAD_INPUT
    assert "order 1: order quantity is zero" in capsys.readouterr().err
    assert run_cli(tmp_path, mutated(set_order("reserve", 0.1))) == EXIT_BAD_INPUT
    assert "order 1: a buy's reserve" in capsys.readouterr().err
    assert run_cli(tmp_path, mutated(set_order("credit", 0.29))) == EXIT_BAD_INPUT
    assert "order 1: credit 290000 ppm is below the exclusion threshold" in capsys.readouterr().err


def test_command_refuses_a_missing_file(tmp_path, capsys):
    assert main(["auction", "run", str(tmp_path / "absent.json")]) == EXIT_BAD_INPUT
    assert "cannot read" in capsys.readouterr().err


def test_command_refuses_a_case_with_no_tariff_and_no_tou(tmp_path, capsys):
    assert run_cli(tmp_path, mutated(lambda d: d.pop("tariff"))) == EXIT_BAD_INPUT
    assert "tariff: missing" in capsys.readouterr().err


def test_command_refuses_a_tariff_that_disagrees_with_the_tou(tmp_path, capsys):
    text = mutated(lambda d: d["tariff"].__setitem__("grid_sale", 0.39))
    assert run_cli(tmp_path, text, "--tou", str(CASES / "tou.json")) == EXIT_BAD_INPUT
    assert "disagrees" in capsys.readouterr().err


def test_command_writes_nothing_when_it_refuses(tmp_path):
    out = tmp_path / "out.json"
    assert (
        run_cli(tmp_path, mutated(set_order("quantity_kwh", 0)), "--json", str(out))
        == EXIT_BAD_INPUT
    )
    assert not out.exists()


def test_fifteen_minute_periods_decode_and_take_their_tou_slot():
    doc = copy.deepcopy(BASE)
    doc["period"] = {"index": 50, "from": "12:15", "to": "12:30"}
    del doc["tariff"]
    case = decode_case(json.dumps(doc))
    assert (case.start_minute, case.minutes) == (735, 15)
    tou = decode_tou((CASES / "tou.json").read_bytes())
    assert tou.tariff_at(case.start_minute).grid_sale == 860_000_000_000


def test_a_period_ending_at_midnight_is_one_hour_long():
    case = decode_case(
        mutated(lambda d: d.__setitem__("period", {"index": 24, "from": "23:00", "to": "24:00"}))
    )
    assert (case.start_minute, case.minutes) == (1380, 60)
