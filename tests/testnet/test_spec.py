"""The testnet spec (TOML): the default parses, and every bad spec names the key and the problem."""

import json
import pytest

from node.testnet.cli import DEFAULT_SPEC
from node.testnet.spec import SpecError, load_spec, parse_spec

PARA = '[[parachains]]\nruntime = "demand"\n'
TWO = PARA + '[[parachains]]\nruntime = "dg"\n'


def test_default_spec_is_a_relay_with_four_validators_and_three_parachains_of_two_collators():
    spec = load_spec(DEFAULT_SPEC)
    assert (spec.relay.validators, spec.relay.consensus, spec.relay.block_time_ms) == (4, "aura", 1000)
    assert [(p.id, p.name, p.runtime, p.collators) for p in spec.parachains] == [
        (2000, "demand", "demand", 2), (2001, "dg", "dg", 2), (2002, "storage", "storage", 2)]
    assert spec.settings.ready_timeout_s == 60


def test_omitted_keys_take_defaults_and_parachains_inherit_the_relay_block_time():
    spec = parse_spec("[relaychain]\nblock_time_ms = 500\n" + PARA)
    para = spec.parachains[0]
    assert (spec.relay.validators, para.id, para.name, para.collators, para.consensus, para.block_time_ms) == (4, 2000, "demand", 2, "aura", 500)
    assert para.plan().kind == "demand"


@pytest.mark.parametrize("text, key, problem", [
    ("[relaychain\n", "(file)", "not valid TOML"),
    ("[relaychain]\nvalidators = 0\n" + PARA, "relaychain.validators", "between 1 and 64"),
    ('[relaychain]\nvalidators = "4"\n' + PARA, "relaychain.validators", "must be an integer"),
    ("[relaychain]\nvalidators = true\n" + PARA, "relaychain.validators", "must be an integer"),
    ('[relaychain]\nconsensus = "babe"\n' + PARA, "relaychain.consensus", "must be one of aura, bft"),
    ("[relaychain]\nblock_time_ms = 10\n" + PARA, "relaychain.block_time_ms", "between 50 and 600000"),
    ("[relaychain]\nnodes = 3\n" + PARA, "relaychain.nodes", "unknown key"),
    ("[relaychain]\nbacking_groups = 3\n" + PARA, "relaychain.backing_groups", "between 1 and 2"),
    ("[relaychain]\nbacking_groups = 0\n" + PARA, "relaychain.backing_groups", "between 1 and 2"),
    ("relaychain = 4\n" + PARA, "relaychain", "must be a table"),
    ("[relaychain]\n", "parachains", "at least one parachain"),
    ("parachains = 3\n", "parachains", "at least one parachain"),
    ("parachains = [1]\n", "parachains[0]", "must be a table"),
    ("[[parachains]]\nname = \"x\"\n", "parachains[0].runtime", "missing"),
    ('[[parachains]]\nruntime = "energy"\n', "parachains[0].runtime", "must be one of demand, dg, storage"),
    ('[[parachains]]\nruntime = "dg"\nid = 2000\n', "parachains[0].id", "runs as para 2001, not 2000"),
    ('[[parachains]]\nruntime = "dg"\nname = "DG!"\n', "parachains[0].name", "lowercase name"),
    ('[[parachains]]\nruntime = "dg"\nname = "relay"\n', "parachains[0].name", "not 'relay'"),
    ('[[parachains]]\nruntime = "dg"\ncollators = 0\n', "parachains[0].collators", "between 1 and 16"),
    ('[[parachains]]\nruntime = "dg"\nconsensus = "dev"\n', "parachains[0].consensus", "must be one of aura, bft"),
    ('[[parachains]]\nruntime = "dg"\nblock_time_ms = 1.5\n', "parachains[0].block_time_ms", "must be an integer"),
    ('[[parachains]]\nruntime = "dg"\nseed = 1\n', "parachains[0].seed", "unknown key"),
    (PARA + '[[parachains]]\nruntime = "dg"\nname = "demand"\n', "parachains[1].name", "already the name of parachains[0]"),
    (PARA + '[[parachains]]\nruntime = "demand"\nname = "demand2"\n', "parachains[1].runtime", "already parachains[0]"),
    (PARA + "[settings]\nready_timeout_s = 0\n", "settings.ready_timeout_s", "between 1 and 3600"),
    (PARA + "[settings]\nmarket_period = 4\n", "settings.market_period", "unknown key"),
    (PARA + "[[channels]]\nfrom = 2000\n", "channels[0].from", "unknown key"),
    ("channels = 3\n" + PARA, "channels", "list of tables"),
    (PARA + '[[channels]]\nsender = "demand"\n', "channels[0].recipient", "missing"),
    (PARA + '[[channels]]\nsender = "demand"\nrecipient = "dg"\n', "channels[0].recipient", "must name a parachain of this spec"),
    (PARA + '[[channels]]\nsender = "demand"\nrecipient = "demand"\n', "channels[0].recipient", "two different parachains"),
    (TWO + '[[channels]]\nsender = "demand"\nrecipient = "dg"\n[[channels]]\nsender = "demand"\nrecipient = "dg"\n',
     "channels[1]", "listed twice"),
    (TWO + '[[channels]]\nsender = "demand"\nrecipient = "dg"\ncapacity = 0\n', "channels[0].capacity", "between 1 and"),
    (PARA + "[accounts]\n", "accounts", "list of tables"),
    (PARA + '[[accounts]]\naddress = "nope"\nbalance = 10000000000000\n', "accounts[0].address", "SS58"),
    (PARA + '[[accounts]]\naddress = "0x1234"\nbalance = 10000000000000\n', "accounts[0].address", "32 bytes"),
    (PARA + '[[accounts]]\naddress = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"\n', "accounts[0].balance", "missing"),
])
def test_bad_spec_is_rejected_naming_the_key_and_the_problem(text, key, problem):
    with pytest.raises(SpecError) as caught:
        parse_spec(text)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_channels_and_accounts_parse_and_reach_genesis(tmp_path):
    from node.testnet.local import _channel_list

    spec = parse_spec(TWO + '[[channels]]\nsender = "dg"\nrecipient = "demand"\ncapacity = 16\n'
                      + '[[accounts]]\naddress = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"\nbalance = 10000000000000\n')
    assert [(c.sender, c.recipient, c.capacity) for c in spec.channels] == [("dg", "demand", 16)]
    assert spec.accounts[0].balance == 10**13
    channels = _channel_list([p.plan() for p in spec.parachains], list(spec.channels))
    assert sorted(tuple(c[:3]) for c in channels) == [(0, 2000, 8192), (0, 2001, 8192), (2000, 0, 8192), (2001, 0, 8192), (2001, 2000, 16)]
    assert parse_spec(TWO).channels is None  # every pair, by default


def test_unreadable_spec_file_is_a_spec_error(tmp_path):
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "missing.toml")


def test_backing_groups_reach_the_relay_spec(tmp_path):
    from node.testnet.launcher import prepare

    spec = parse_spec("[relaychain]\nbacking_groups = 1\n" + TWO)
    assert spec.relay.backing_groups == 1 and parse_spec(TWO).relay.backing_groups is None
    prepare(tmp_path / "run", spec)
    assert json.loads((tmp_path / "run" / "relay.json").read_text())["backingGroups"] == 1
