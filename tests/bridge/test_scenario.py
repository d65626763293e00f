"""The 24-hour market scenario: profiles, per-period auctions, delivery, credit and KPIs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bridge.case import decode_tou
from bridge.experiment_cli import CASE_STUDY_TOU, EXIT_BAD_INPUT, EXIT_OK, main
from bridge.kpis import compute_kpis
from bridge.orders import PLANCK_PER_TOKEN, Side
from bridge.profiles import DEFAULT_MIX, Profile, ScenarioError, generate_profiles, parse_mix
from bridge.scenario import run_scenario, tariffs_for
from bridge.tariff import Tariff, TouSchedule, TouSlot



OUTPUTS = ("kpis.json", "periods.csv", "trades.csv")
PLOTS = ("energy.png", "prices.png", "savings.png", "credit.png")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TOKEN = PLANCK_PER_TOKEN


def scenario(*, days=1, minutes=60, seed=7, mix=DEFAULT_MIX):
    tariffs = tariffs_for(decode_tou(CASE_STUDY_TOU), days=days, period_minutes=minutes)
    profiles = generate_profiles(mix, tariffs, period_minutes=minutes, seed=seed)
    return run_scenario(profiles, tariffs, period_minutes=minutes, seed=seed)


def assert_balanced(result):
    for p in result.periods:
        a = p.auction
        for side in (Side.BUY, Side.SELL):
            ordered = sum(o.quantity for o in a.orders if o.side is side)
            grid = sum(g.quantity for g in a.grid if g.side is side)
            assert sum(t.quantity for t in a.trades) + grid == ordered


# --- determinism and balance -------------------------------------------------------------------


def test_same_seed_gives_the_same_bytes(tmp_path):
    for run in ("a", "b"):
        assert main(["experiment", "market", "--scenario", "24h", "--days", "2", "--seed", "3",
                     "--offline", "--out", str(tmp_path / run)]) == EXIT_OK  # fmt: skip
    for name in OUTPUTS + PLOTS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_a_different_seed_gives_different_trades(tmp_path):
    for seed in ("1", "2"):
        main(["experiment", "market", "--scenario", "24h", "--seed", seed, "--offline",
              "--out", str(tmp_path / seed)])  # fmt: skip
    assert (tmp_path / "1/trades.csv").read_bytes() != (tmp_path / "2/trades.csv").read_bytes()


@pytest.mark.parametrize("minutes", [60, 15])
def test_energy_is_balanced_in_every_period(minutes):
    result = scenario(days=2, minutes=minutes)
    assert len(result.periods) == 2 * 24 * 60 // minutes
    assert_balanced(result)
    assert sum(len(p.auction.trades) for p in result.periods) > 0


def test_fifteen_minute_periods_take_the_tariff_of_their_first_minute():
    result = scenario(minutes=15)
    assert [p.start_minute for p in result.periods[:5]] == [0, 15, 30, 45, 60]
    at = {p.start_minute: p.tariff for p in result.periods}
    assert at[6 * 60 + 45].grid_sale == 38 * TOKEN // 100  # 23:00–07:00 slot
    assert at[7 * 60].grid_sale == 57 * TOKEN // 100
    kpis = compute_kpis(result)
    assert kpis["scenario"]["periods"] == 96
    assert kpis["totals"]["p2p_kwh"] > 0


def test_profiles_have_daylight_pv_and_evening_household_peaks():
    tariffs = tariffs_for(decode_tou(CASE_STUDY_TOU), days=1, period_minutes=60)
    by_kind = {p.kind: p for p in generate_profiles(DEFAULT_MIX, tariffs, period_minutes=60, seed=1)}
    pv = by_kind["pv"].predicted_generation
    assert pv[2] == 0 and pv[23] == 0 and max(pv) == max(pv[10:15])
    load = by_kind["household"].predicted_load
    assert load[19] > 2 * load[3]
    assert by_kind["wind"].actual_generation != by_kind["wind"].predicted_generation


# --- credit over days --------------------------------------------------------------------------


def test_credit_carries_into_the_next_day():
    result = scenario(days=3)
    assert len(result.credit) == 4
    assert result.credit[1] != result.credit[0]
    # Day 2's trades were priced with the credit after day 1: the engine saw it via ξ.
    day2 = [t for p in result.periods if p.day == 1 for t in p.auction.trades]
    names = [p.name for p in result.profiles]
    credit = dict(zip(names, result.credit[1]))
    t = day2[0]
    r_s, r_b = credit[t.seller], credit[t.buyer]
    assert t.xi == r_s * 10**6 // (r_s + r_b)


def test_aggregator_below_the_exclusion_threshold_places_no_orders():
    tariffs = tariffs_for(decode_tou(CASE_STUDY_TOU), days=1, period_minutes=60)
    profiles = generate_profiles(DEFAULT_MIX, tariffs, period_minutes=60, seed=1)
    result = run_scenario(profiles, tariffs, period_minutes=60, seed=1,
                          initial_credit={"wind-1": 200_000})  # fmt: skip
    assert all(o.owner != "wind-1" for p in result.periods for o in p.auction.orders)
    assert result.credit[-1][names_index(result, "wind-1")] == 200_000


def names_index(result, name):
    return [p.name for p in result.profiles].index(name)


# --- KPI arithmetic, checked by hand -------------------------------------------------------------


def tiny():
    """A seller S and buyer B, flat tariff 0.5/0.3, credit 0.8 each, two active hours.

    Hour 0: S predicts and delivers 10 kWh; B 6 kWh. Asks: S 0.5 − 1·0.2 = 0.3 (reserve 0.3);
    B bids 0.3 + 0.5·1·0.2 = 0.4. Equal credit: 6 kWh at 0.35, S's 4 kWh to the grid at 0.3.
    Hour 1: S 5 kWh; B predicts 5 kWh and uses 6: 5 kWh at 0.35, 1 kWh imbalance at 0.5.
    """
    flat = TouSchedule((TouSlot(0, 0, Tariff(TOKEN // 2, 3 * TOKEN // 10)),))
    tariffs = tariffs_for(flat, days=1, period_minutes=60)
    zero = (0,) * 22
    s = Profile("S", "pv", "dg", 0, (1000, 500) + zero, (0,) * 24, (1000, 500) + zero, (0,) * 24)
    b = Profile("B", "household", "demand", 0, (0,) * 24, (600, 500) + zero, (0,) * 24,
                (600, 600) + zero)  # fmt: skip
    return run_scenario([s, b], tariffs, period_minutes=60, seed=0,
                        initial_credit={"S": 800_000, "B": 800_000})  # fmt: skip


def test_kpis_of_a_hand_checked_scenario():
    result = tiny()
    t0 = result.periods[0].auction.trades
    assert [(t.quantity, t.price) for t in t0] == [(600, 35 * TOKEN // 100)]
    k = compute_kpis(result)
    tot = k["totals"]
    assert tot["p2p_kwh"] == 11
    assert tot["grid_import_kwh"] == 1  # B's imbalance in hour 1
    assert tot["grid_export_kwh"] == 4  # S's unsold 4 kWh in hour 0
    assert tot["load_kwh"] == 12 and tot["generation_kwh"] == 15
    assert tot["self_sufficiency"] == round(1 - 1 / 12, 6)
    assert (tot["avg_p2p_price"], tot["avg_grid_sale_price"], tot["avg_grid_purchase_price"]) == (
        0.35, 0.5, 0.3)  # fmt: skip
    s, b = k["aggregators"]
    # S: earns 6·0.35 + 4·0.3 + 5·0.35 = 5.05 against 15·0.3 = 4.5 from the grid alone.
    assert (s["market_cost"], s["grid_only_cost"], s["savings"]) == (-5.05, -4.5, 0.55)
    # B: pays 6·0.35 + 5·0.35 + 1·0.5 = 4.35 against 12·0.5 = 6.
    assert (b["market_cost"], b["grid_only_cost"], b["savings"]) == (4.35, 6.0, 1.65)
    assert b["savings_pct"] == 27.5
    assert tot["total_savings"] == 2.2
    # Credit: S delivered exactly (unchanged); B's day coefficient is (600·1 + 500·0.8)/1100
    # = 909090 ppm, so R = 0.8 − 0.09091² · 0.8 = 0.793389 (the step rounds toward zero).
    assert s["credit"] == [0.8, 0.8]
    assert b["credit"] == [0.8, 0.793389]


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_writes_every_file_and_valid_pngs(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["experiment", "market", "--scenario", "24h", "--period-minutes", "15",
                 "--aggregators", "household=1,pv=2,battery=1", "--offline", "--out", str(out)])
    assert code == EXIT_OK
    for name in OUTPUTS + PLOTS:
        assert (out / name).stat().st_size > 0, name
    for name in PLOTS:
        assert (out / name).read_bytes().startswith(PNG_SIGNATURE)
    kpis = json.loads((out / "kpis.json").read_text())
    assert kpis["scenario"]["aggregators"] == ["household-1", "pv-1", "pv-2", "battery-1"]
    assert len((out / "periods.csv").read_text().splitlines()) == 1 + 96
    assert "self-sufficiency" in capsys.readouterr().out


def test_cli_through_the_project_parser(tmp_path):
    from node.cli import main as parawatt

    assert parawatt(["experiment", "market", "--scenario", "24h", "--offline",
                     "--out", str(tmp_path)]) == EXIT_OK  # fmt: skip
    assert (tmp_path / "kpis.json").exists()


def test_cli_without_offline_says_the_on_chain_path_needs_a_testnet(tmp_path, capsys):
    assert main(["experiment", "market", "--scenario", "24h", "--out", str(tmp_path / "x"),
                 "--run-dir", str(tmp_path / "none")]) == 1  # fmt: skip
    assert "no testnet" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("extra, message", [
    (["--out", "x", "--days", "2"], "one day"), (["--out", "x", "--aggregators", "pv=1"], "own aggregators"),
    (["--out", "x", "--tou", "x.json"], "relay's TOU"), ([], "--out DIR")])
def test_cli_on_chain_runs_one_day_with_the_testnets_aggregators_and_needs_out(tmp_path, capsys, extra, message):
    assert main(["experiment", "market", "--scenario", "24h", "--run-dir", str(tmp_path), *extra]) == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("bad, message", [
    (["--period-minutes", "30"], "invalid choice"),
    (["--days", "0"], "days must be"),
    (["--days", "two"], "days must be"),
    (["--seed", "x"], "seed must be"),
    (["--scenario", "48h"], "invalid choice"),
])  # fmt: skip
def test_cli_rejects_bad_arguments(tmp_path, capsys, bad, message):
    args = ["experiment", "market", "--scenario", "24h", "--offline", "--out", str(tmp_path)]
    with pytest.raises(SystemExit) as e:
        main(args + bad)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("spec, message", [
    ("solar=1", "unknown aggregator kind"),
    ("pv=0", "COUNT in 1..50"),
    ("pv", "KIND=COUNT"),
    ("pv=1,pv=2", "given twice"),
])  # fmt: skip
def test_cli_rejects_a_bad_aggregator_mix(tmp_path, capsys, spec, message):
    code = main(["experiment", "market", "--scenario", "24h", "--aggregators", spec,
                 "--offline", "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == EXIT_BAD_INPUT
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_rejects_an_unreadable_tou_file(tmp_path, capsys):
    code = main(["experiment", "market", "--scenario", "24h", "--tou", str(tmp_path / "nope"),
                 "--offline", "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == EXIT_BAD_INPUT
    assert "nope" in capsys.readouterr().err


def test_scenario_rejects_periods_that_are_not_whole_days():
    tariffs = tariffs_for(decode_tou(CASE_STUDY_TOU), days=1, period_minutes=60)
    with pytest.raises(ScenarioError):
        generate_profiles(DEFAULT_MIX, tariffs[:23], period_minutes=60, seed=0)
    with pytest.raises(ScenarioError):
        tariffs_for(decode_tou(CASE_STUDY_TOU), days=1, period_minutes=30)
    with pytest.raises(ScenarioError):
        parse_mix("wind=51")


CASE = Path(__file__).parent / "vectors" / "case-study" / "period-02.json"


def test_case_offline_prints_what_auction_run_prints(tmp_path, capsys):
    from bridge.cli import main as auction

    assert main(["experiment", "market", "--case", str(CASE), "--offline", "--json", str(tmp_path / "a.json")]) == EXIT_OK
    experiment = capsys.readouterr().out
    assert auction(["auction", "run", str(CASE), "--json", str(tmp_path / "b.json")]) == EXIT_OK
    assert capsys.readouterr().out == experiment and "Period 2" in experiment
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_case_and_scenario_are_one_or_the_other(capsys):
    with pytest.raises(SystemExit) as e:
        main(["experiment", "market", "--case", str(CASE), "--scenario", "24h", "--offline"])
    assert e.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_case_on_chain_without_a_testnet_says_so(tmp_path, capsys):
    code = main(["experiment", "market", "--case", str(CASE), "--run-dir", str(tmp_path / "none")])
    assert code == 1
    assert "experiment market:" in capsys.readouterr().err
