"""Scenario files: each step form parses; a malformed line, an unknown chain or node is an error naming the line."""

import pytest

from node.testnet.control import Network, NodeEntry
from node.testnet.scenario import (
    Fault,
    Heal,
    HeightAtLeast,
    MarketCase,
    MarketSettled,
    MetricAtLeast,
    Partition,
    ScenarioError,
    Sleep,
    SupplyBacked,
    TransferArrives,
    check_against,
    parse_scenario,
)

GOOD = """\
# a comment, then a blank line

relay: finalized height is at least 10 within 30 seconds
dg:   anchored height is at least 5 within 2.5 seconds   # trailing comment
demand: best height grows by 1 within 1 second
kill dg-collator-1
restart dg-collator-1
pause validator-0
resume validator-0
sleep 0.5
transfer relay -> dg 20 completes within 60 seconds
supply is backed
validator-0: metric parawatt_xcm_messages_sent is at least 1.5 within 30 seconds
"""


def test_every_step_form_parses_with_its_line_number():
    steps = parse_scenario(GOOD)
    assert steps[0] == HeightAtLeast(3, "relay: finalized height is at least 10 within 30 seconds", "relay", "finalized", 10, 30.0)
    assert (steps[1].chain, steps[1].status, steps[1].height, steps[1].within_s, steps[1].line_no) == ("dg", "anchored", 5, 2.5, 4)
    assert (steps[2].status, steps[2].relative, steps[0].relative) == ("best", True, False)
    assert [(s.action, s.node) for s in steps[3:7]] == [("kill", "dg-collator-1"), ("restart", "dg-collator-1"),
                                                         ("pause", "validator-0"), ("resume", "validator-0")]
    assert all(isinstance(s, Fault) for s in steps[3:7])
    assert steps[7] == Sleep(10, "sleep 0.5", 0.5)
    assert steps[8] == TransferArrives(11, "transfer relay -> dg 20 completes within 60 seconds", 20, "relay", "dg", 60.0)
    assert steps[9] == SupplyBacked(12, "supply is backed")
    assert steps[10] == MetricAtLeast(13, "validator-0: metric parawatt_xcm_messages_sent is at least 1.5 within 30 seconds",
                                      "validator-0", "parawatt_xcm_messages_sent", 1.5, 30.0)


@pytest.mark.parametrize("line", [
    "relay finalized height is at least 10 within 30 seconds",  # no colon
    "relay: finalised height is at least 10 within 30 seconds",
    "relay: finalized height is at least ten within 30 seconds",
    "relay: finalized height is at least 10 within 30",
    "relay: finalized height is at least -1 within 30 seconds",
    "relay: finalized height grows 5 within 30 seconds",
    "relay: finalized height grows by 5 within 0 seconds",
    "relay: finalized height is at least 10 within 0 seconds",
    "kill",
    "kill a b",
    "reboot validator-0",
    "sleep",
    "sleep forever",
    "partition validator-0",
    "partition validator-0 validator-1 validator-2",
    "partition validator-0,,validator-1 validator-2",
    "partition validator-0, validator-2",
    "partition validator-0,validator-1 validator-1",
    "heal everything",
    "transfer demand to dg 100 completes within 10 seconds",
    "transfer demand -> dg 0 completes within 10 seconds",
    "transfer dg -> dg 5 completes within 10 seconds",
    "transfer demand -> dg 5 completes within 0 seconds",
    "supply is fine",
    "validator-0: metric x is at least ten within 3 seconds",
    "validator-0: metric x is at least 1 within 0 seconds",
    "market case is placed",
    "market case a.json b.json is placed",
    "market case a.json settles within 0 seconds",
    "market case a.json settles",
    "market case a.json is committed",
    "market trades are all settled within -1 seconds",
    "market trades are settled",
])
def test_malformed_line_is_an_error_naming_its_line_number(line):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario("sleep 1\n\n" + line + "\nsleep 1\n")
    assert caught.value.line_no == 3
    assert str(caught.value).startswith("line 3: ")


def network() -> Network:
    def entry(name, chain):
        return NodeEntry(name, chain, "x", "ws://", "http://", "log", f"/base/{name}", ("python",))

    chains = {"relay": {"kind": "relay"}, "dg": {"kind": "parachain"}}
    return Network("/tmp", chains, [entry("validator-0", "relay"), entry("dg-collator-0", "dg")])


def test_scenario_naming_an_unknown_chain_is_rejected_with_its_line():
    with pytest.raises(ScenarioError, match="line 2: unknown chain 'storage'"):
        check_against(parse_scenario("sleep 1\nstorage: best height is at least 1 within 1 seconds\n"), network())


def test_a_transfer_naming_an_unknown_chain_is_rejected_with_its_line():
    with pytest.raises(ScenarioError, match="line 1: unknown chain 'storage'"):
        check_against(parse_scenario("transfer dg -> storage 1 completes within 9 seconds\n"), network())


def test_a_metric_line_naming_an_unknown_node_is_rejected_with_its_line():
    with pytest.raises(ScenarioError, match="line 1: unknown node 'validator-9'"):
        check_against(parse_scenario("validator-9: metric x is at least 1 within 9 seconds\n"), network())


def test_scenario_naming_an_unknown_node_is_rejected_with_its_line():
    with pytest.raises(ScenarioError, match="line 1: unknown node 'dg-collator-7'"):
        check_against(parse_scenario("kill dg-collator-7\n"), network())


def test_relay_is_never_asked_for_an_anchored_height():
    with pytest.raises(ScenarioError, match="line 1: relay is the relay"):
        check_against(parse_scenario("relay: anchored height is at least 1 within 1 seconds\n"), network())


def test_a_valid_scenario_passes_the_network_check():
    check_against(parse_scenario("dg: anchored height is at least 1 within 1 seconds\nkill dg-collator-0\n"), network())


def test_partition_and_heal_steps_parse_into_their_groups():
    steps = parse_scenario("partition validator-0,validator-1 validator-2,validator-3\nsleep 1\nheal  # all links back\n")
    assert steps[0] == Partition(1, "partition validator-0,validator-1 validator-2,validator-3",
                                 ("validator-0", "validator-1"), ("validator-2", "validator-3"))
    assert steps[2] == Heal(3, "heal")


def test_network_fault_steps_are_rejected_on_a_loopback_network():
    with pytest.raises(ScenarioError, match="line 2: 'heal' needs a --hosts network"):
        check_against(parse_scenario("sleep 1\nheal\n"), network())


def hosts_network() -> Network:
    from node.testnet.netns import plan_hosts

    net = network()
    net.hosts = plan_hosts(3, [n.name for n in net.nodes])
    return net


def test_a_partition_naming_an_unknown_node_is_rejected_with_its_line():
    with pytest.raises(ScenarioError, match="line 1: unknown node 'validator-9'"):
        check_against(parse_scenario("partition validator-0 validator-9\n"), hosts_network())


def test_partition_and_heal_pass_the_check_on_a_hosts_network():
    check_against(parse_scenario("partition validator-0 dg-collator-0\nheal\n"), hosts_network())


def test_market_steps_parse_and_a_missing_case_file_is_named_with_its_line(tmp_path):
    steps = parse_scenario("market case cases/p2.json is placed\nmarket case cases/p2.json is committed within 9 seconds\n"
                           "market case cases/p2.json settles within 90 seconds\nmarket trades are all settled within 30 seconds\n")
    assert steps[0] == MarketCase(1, "market case cases/p2.json is placed", "cases/p2.json", "placed", None)
    assert steps[1] == MarketCase(2, "market case cases/p2.json is committed within 9 seconds", "cases/p2.json", "committed", 9.0)
    assert steps[2] == MarketCase(3, "market case cases/p2.json settles within 90 seconds", "cases/p2.json", "settles", 90.0)
    assert steps[3] == MarketSettled(4, "market trades are all settled within 30 seconds", 30.0)
    with pytest.raises(ScenarioError, match="line 1: no case file 'cases/p2.json'"):
        check_against(steps, network(), tmp_path)
    (tmp_path / "cases").mkdir()
    (tmp_path / "cases" / "p2.json").write_text("{}")
    check_against(steps, network(), tmp_path)  # found next to the scenario file
