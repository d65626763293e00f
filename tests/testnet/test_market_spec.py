"""The market part of a testnet spec: settings, [market], [[aggregators]], what reaches genesis,
and every bad value named by its key; and how the case experiment picks an on-chain period."""

import json

import pytest

from bridge.tariff import Tariff
from node.primitives.keys import Keypair
from node.testnet.cli import DEFAULT_SPEC
from node.testnet.control import TestnetError as CaseRefused
from node.testnet.market_case import choose_period, gate_block
from node.testnet.spec import SpecError, load_spec, parse_spec
from parachains.roles import ResourceKind

PARAS = '[[parachains]]\nruntime = "demand"\n[[parachains]]\nruntime = "dg"\n[[parachains]]\nruntime = "storage"\n'
HOUR = 3_600_000


def test_default_spec_compresses_an_hour_into_four_blocks_with_the_case_studys_tou_and_aggregators():
    spec = load_spec(DEFAULT_SPEC)
    market = spec.market
    assert (market.period_minutes, market.period_blocks, market.compression, market.gate_offset_blocks) == (60, 4, 900, 1)
    assert market.tou.tariff_at(60) == Tariff(380_000_000_000, 240_000_000_000)  # 01:00, the case's period 2
    assert market.tou.tariff_at(12 * 60) == Tariff(860_000_000_000, 650_000_000_000)  # 12:00, period 13
    assert [(a.name, a.chain, a.kind) for a in spec.aggregators] == [
        ("Agg1", "dg", ResourceKind.PV), ("Agg2", "dg", ResourceKind.WIND), ("Agg3", "demand", ResourceKind.LOAD),
        ("Agg4", "demand", ResourceKind.LOAD), ("Agg5", "storage", ResourceKind.BATTERY), ("Agg6", "storage", ResourceKind.BATTERY)]
    agg1 = spec.aggregators[0]
    assert agg1.account == Keypair.from_uri("//Agg1").public_key and agg1.capacity == 500_000 and agg1.credit == 846_000


def test_market_plan_reaches_the_relay_and_parachain_genesis():
    spec = parse_spec(PARAS + '[settings]\nmarket_period_minutes = 15\nmarket_period_blocks = 3\n'
                      '[market]\ndeadline_blocks = 6\n'
                      '[[aggregators]]\nname = "B1"\nchain = "storage"\nkind = "battery"\ncapacity_kwh = 10.5\n'
                      'state_of_charge_kwh = 2\ncredit = 0.5\n')
    market = spec.market
    assert market.compression == 300  # 15 minutes in 3 blocks of 1 s
    relay = market.relay_genesis(spec.aggregators)
    assert (relay["period_ms"], relay["period_blocks"], relay["gate_offset_blocks"], relay["deadline_blocks"]) == (900_000, 3, 1, 6)
    assert relay["credits"] == [["0x" + spec.aggregators[0].account.hex(), 500_000]]
    assert market.para_genesis(1000) == {"length_ms": 900_000, "compression": 300, "gate_closure_ms": 300_000}
    assert spec.aggregators[0].registry_genesis()["capacity"] == 1050  # 10 Wh units


def test_prepared_chain_specs_register_and_fund_aggregators_only_on_their_home_chain(tmp_path):
    from node.testnet.launcher import prepare

    spec = load_spec(DEFAULT_SPEC)
    prepare(tmp_path / "run", spec)
    specs = {name: json.loads((tmp_path / "run" / f"{name}.json").read_text()) for name in ("relay", "demand", "dg", "storage")}
    agg3 = "0x" + Keypair.from_uri("//Agg3").public_key.hex()
    assert [a["account"] for a in specs["demand"]["genesis"]["Registry"]["aggregators"]][0] == agg3
    assert agg3 in [b[0] for b in specs["demand"]["genesis"]["balances"]]
    assert agg3 not in [b[0] for b in specs["dg"]["genesis"]["balances"]]
    assert specs["dg"]["genesis"]["Periods"]["compression"] == 900
    assert specs["relay"]["genesis"]["Market"]["compression"] == 900
    listed = json.loads((tmp_path / "run" / "market.json").read_text())["aggregators"]
    assert [(a["name"], a["para_id"]) for a in listed][:3] == [("Agg1", 2001), ("Agg2", 2001), ("Agg3", 2000)]


AGG = '[[aggregators]]\nname = "A"\nchain = "dg"\nkind = "pv"\ncapacity_kw = 10\n'


@pytest.mark.parametrize("text, key, problem", [
    ("[settings]\nmarket_period_minutes = 30\n", "settings.market_period_minutes", "60 or 15"),
    ("[settings]\nmarket_period_blocks = 7\n", "settings.market_period_blocks", "whole time-compression factor"),
    ("[settings]\nmarket_period_blocks = 1\n", "settings.market_period_blocks", "between 2 and"),
    ("[settings]\nmarket_period_blocks = 4\n[market]\ngate_offset_blocks = 4\n", "market.gate_offset_blocks", "between 0 and 3"),
    ("[market]\nperiod = 3\n", "market.period", "unknown key"),
    ('[market]\ngrid_operator = "nobody"\n', "market.grid_operator", "SS58"),
    ("[market]\ngrid_operator = 7\n", "market.grid_operator", "SS58"),
    ('[market]\ntou = [{from = "00:00", to = "12:00", grid_sale = 0.3, grid_purchase = 0.2}]\n', "market.tou", "minute 720"),
    ('[market]\ntou = [{from = "00:00", to = "00:00", grid_sale = 0.1, grid_purchase = 0.2}]\n', "market.tou[0].grid_purchase",
     "must not exceed"),
    ('[market]\ntou = [{from = "0:0", to = "00:00", grid_sale = 0.3, grid_purchase = 0.2}]\n', "market.tou[0].from", "HH:MM"),
    ("[aggregators]\n", "aggregators", "list of tables"),
    (AGG.replace('name = "A"', 'name = "A B"'), "aggregators[0].name", "must be a name"),
    (AGG + AGG, "aggregators[1].name", "listed twice"),
    (AGG.replace('"dg"', '"wind"'), "aggregators[0].chain", "must name a parachain"),
    (AGG.replace('"pv"', '"load"'), "aggregators[0].kind", "on the dg chain must be one of pv, wind"),
    (AGG.replace("capacity_kw = 10", ""), "aggregators[0].capacity_kw", "missing"),
    (AGG.replace("capacity_kw = 10", "capacity_kw = 0"), "aggregators[0].capacity_kw", "must be positive"),
    (AGG.replace("capacity_kw = 10", "capacity_kw = 0.001"), "aggregators[0].capacity_kw", "whole number"),
    (AGG + "capacity_kwh = 5\n", "aggregators[0].capacity_kwh", "does not apply"),
    (AGG + "credit = 1.5\n", "aggregators[0].credit", "[0, 1]"),
    (AGG + "credit = -0.1\n", "aggregators[0].credit", "negative"),
    (AGG + 'uri = "not a uri"\n', "aggregators[0].uri", "secret URI"),
    (AGG + "balance = 5\n", "aggregators[0].balance", "between"),
    (AGG + "colour = 1\n", "aggregators[0].colour", "unknown key"),
    ('[[aggregators]]\nname = "S"\nchain = "storage"\nkind = "battery"\ncapacity_kwh = 1\nstate_of_charge_kwh = 2\n',
     "aggregators[0].state_of_charge_kwh", "within a positive capacity_kwh"),
])
def test_bad_market_spec_is_rejected_naming_the_key_and_the_problem(text, key, problem):
    with pytest.raises(SpecError) as caught:
        parse_spec(PARAS + text)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_real_time_market_needs_a_block_time_dividing_the_period():
    with pytest.raises(SpecError) as caught:
        parse_spec("[relaychain]\nblock_time_ms = 7000\n" + PARAS + "[market]\ndeadline_blocks = 3\n")
    assert caught.value.key == "relaychain.block_time_ms"
    spec = parse_spec(PARAS + "[market]\ndeadline_blocks = 3\n")
    assert (spec.market.period_blocks, spec.market.compression, spec.market.gate_offset_blocks) == (3600, 1, 600)


# -- choosing the on-chain period for a case -----------------------------------------------------------

SCHEDULE = {"periodMs": HOUR, "periodBlocks": 4, "gateOffsetBlocks": 1, "deadlineBlocks": 4, "compression": 900,
            "anchor": {"period": 24 * 1000, "block": 10},  # period 24,000 (00:00) starts at relay block 10
            "tariff": [[1380, 420, "380", "240"], [420, 660, "570", "380"], [660, 840, "860", "650"],
                       [840, 1080, "570", "380"], [1080, 1380, "800", "650"]], "finalized": 5}
NIGHT, NOON = Tariff(380, 240), Tariff(860, 650)


def test_the_case_runs_in_the_first_period_with_its_tariff_whose_gate_leaves_the_margin():
    now = 24 * 1000 * HOUR  # the parachains' market clock at 00:00 of that day
    assert choose_period(SCHEDULE, NIGHT, relay_block=5, para_market_ms=now, gate_closure_ms=0, margin_blocks=2) == 24_001
    period = choose_period(SCHEDULE, NOON, relay_block=5, para_market_ms=now, gate_closure_ms=0, margin_blocks=2)
    assert period == 24_011 and gate_block(SCHEDULE, period) == 10 + 11 * 4 - 1  # 11:00
    # a long margin pushes the night case past the morning into the next night
    later = choose_period(SCHEDULE, NIGHT, relay_block=5, para_market_ms=now, gate_closure_ms=0, margin_blocks=30)
    assert later == 24_023  # 07:00 is the first gate after the margin; 23:00 the next night hour


def tariff_is_night(period: int) -> bool:
    return period % 24 >= 23 or period % 24 < 7


def test_a_parachain_clock_ahead_of_the_relay_moves_the_period_later():
    ahead = (24 * 1000 + 30) * HOUR  # the parachains think it is 06:00 of the next day
    period = choose_period(SCHEDULE, NIGHT, relay_block=5, para_market_ms=ahead, gate_closure_ms=0, margin_blocks=2)
    assert period > 24_030 and tariff_is_night(period)


def test_a_tariff_the_relay_never_charges_is_refused():
    with pytest.raises(CaseRefused, match="never charges"):
        choose_period(SCHEDULE, Tariff(1, 1), relay_block=5, para_market_ms=0, gate_closure_ms=0, margin_blocks=2)
    with pytest.raises(CaseRefused, match="not anchored"):
        choose_period({**SCHEDULE, "anchor": None}, NIGHT, relay_block=5, para_market_ms=0, gate_closure_ms=0, margin_blocks=2)


def test_the_testnets_aggregators_play_the_24_hour_scenario_by_kind(tmp_path):
    from node.testnet.control import Network
    from node.testnet.launcher import prepare
    from node.testnet.market_day import testnet_mix

    prepare(tmp_path / "run", load_spec(DEFAULT_SPEC))
    mix, agents = testnet_mix(Network.load(tmp_path / "run"))
    assert mix == [("pv", 1), ("wind", 1), ("household", 2), ("battery", 2)]
    assert {name: a["name"] for name, a in agents.items()} == {
        "pv-1": "Agg1", "wind-1": "Agg2", "household-1": "Agg3", "household-2": "Agg4", "battery-1": "Agg5", "battery-2": "Agg6"}


def test_a_client_gives_up_on_a_node_that_holds_its_socket_but_answers_nothing(monkeypatch):
    import socket

    from node.testnet import market_case
    from node.testnet.transfers import ChainHandle

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # a paused node: the kernel accepts the connection, nobody ever answers
    monkeypatch.setattr(market_case, "CLIENT_SILENCE_S", 0.5)
    chain = ChainHandle("dg", 2001, [f"ws://127.0.0.1:{silent.getsockname()[1]}"], None, "dg")
    with pytest.raises(CaseRefused, match="no node of dg answers"):
        market_case._client(chain)
    silent.close()


@pytest.mark.parametrize("content", [None, "{not json", '{"agg": []}'])
def test_a_run_folder_without_a_readable_aggregator_list_is_a_clear_error(tmp_path, content):
    from node.testnet.market_case import load_aggregators

    if content is not None:
        (tmp_path / "market.json").write_text(content)
    with pytest.raises(CaseRefused, match="no aggregators for this testnet"):
        load_aggregators(tmp_path)
