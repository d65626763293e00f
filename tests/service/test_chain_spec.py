"""Chain specs: a valid one loads; every malformed one names the key and the problem."""

import json

import pytest

from node.chain_spec import ChainSpecError, load_chain_spec, parse_chain_spec
from node.primitives.keys import dev_keypair

ALICE = dev_keypair("Alice")


def spec(**overrides):
    base = {
        "name": "Parawatt Local",
        "id": "parawatt_local",
        "chainType": "Local",
        "runtime": "dev",
        "consensus": {"engine": "aura", "blockTimeMs": 1000, "authorities": ["0x" + "11" * 32, "0x" + "22" * 32]},
        "genesis": {"balances": [[ALICE.ss58_address, 10**18]], "sudo": ALICE.ss58_address},
        "bootNodes": ["127.0.0.1:30333"],
    }
    base.update(overrides)
    return base


def test_valid_spec_round_trips():
    parsed = parse_chain_spec(spec())
    assert parsed.consensus.engine == "aura" and len(parsed.consensus.authorities) == 2
    assert parsed.balances == ((ALICE.public_key, 10**18),) and parsed.sudo == ALICE.public_key
    assert parse_chain_spec(parsed.to_json()) == parsed
    grouped = parse_chain_spec(spec(backingVotes=1, backingGroups=2))
    assert (grouped.backing_votes, grouped.backing_groups) == (1, 2)
    assert parse_chain_spec(grouped.to_json()) == grouped


@pytest.mark.parametrize(
    "overrides,path,problem",
    [
        ({"name": 5}, "name", "must be str"),
        ({"id": "no spaces"}, "id", "letters"),
        ({"chainType": "Moon"}, "chainType", "must be one of"),
        ({"runtime": "evm"}, "runtime", "must be one of"),
        ({"consensus": {"engine": "raft", "blockTimeMs": 1000, "authorities": ["0x" + "11" * 32]}}, "consensus.engine", "raft"),
        ({"consensus": {"engine": "bft", "blockTimeMs": 1, "authorities": ["0x" + "11" * 32]}}, "consensus.blockTimeMs", "between"),
        ({"consensus": {"engine": "bft", "blockTimeMs": 1000, "authorities": []}}, "consensus.authorities", "at least one"),
        ({"consensus": {"engine": "bft", "blockTimeMs": 1000, "authorities": ["0x11"]}}, "consensus.authorities[0]", "32 bytes"),
        ({"consensus": {"engine": "bft", "blockTimeMs": 1000, "authorities": ["0x" + "11" * 32] * 2}}, "consensus.authorities", "twice"),
        ({"consensus": {"engine": "bft", "authorities": ["0x" + "11" * 32]}}, "consensus.blockTimeMs", "missing"),
        ({"genesis": {"balances": [["5Bad", 1]]}}, "genesis.balances[0][0]", "SS58"),
        ({"genesis": {"balances": [[ALICE.ss58_address, -1]]}}, "genesis.balances[0][1]", "positive"),
        ({"genesis": {"balances": [[ALICE.ss58_address, 2**128]]}}, "genesis.balances[0][1]", "u128"),
        ({"genesis": {"balances": [ALICE.ss58_address]}}, "genesis.balances[0]", "[account, amount]"),
        ({"bootNodes": ["nohostport"]}, "bootNodes", "host:port"),
        ({"extra": 1}, "extra", "not a chain spec key"),
        ({"backingGroups": 0}, "backingGroups", "between 1 and 2"),
        ({"backingGroups": 3}, "backingGroups", "groups of at least 1"),  # 2 authorities, f + 1 = 1 vote
        ({"backingVotes": 2, "backingGroups": 2}, "backingGroups", "between 1 and 1"),
        ({"backingGroups": True}, "backingGroups", "between"),
    ],
)
def test_malformed_spec_names_the_key_and_the_problem(overrides, path, problem):
    with pytest.raises(ChainSpecError) as e:
        parse_chain_spec(spec(**overrides))
    assert e.value.path == path and problem in e.value.problem


def test_unreadable_and_non_json_files(tmp_path):
    with pytest.raises(ChainSpecError, match="cannot be read"):
        load_chain_spec(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ChainSpecError, match="not JSON"):
        load_chain_spec(bad)
    good = tmp_path / "good.json"
    good.write_text(json.dumps(spec()))
    assert load_chain_spec(good).name == "Parawatt Local"
