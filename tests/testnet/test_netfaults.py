"""`testnet net …` (pure parts): validated fault changes, each node's tc/iptables/route commands,
and the clear errors for what cannot be done."""

import json

import pytest

from node.testnet.control import Network
from node.testnet.control import TestnetError as NetError
from node.testnet.netfaults import (
    FaultState,
    NetFaults,
    explain,
    node_commands,
    parse_group,
    reset_commands,
    with_latency,
    with_loss,
    with_partition,
)
from node.testnet.netns import plan_hosts

NET = plan_hosts(5, ["a", "b", "c", "d"])
A, B, C, D = (f"10.213.5.{i}/32" for i in range(2, 6))
IN_A = ["ip", "netns", "exec", "pw-05-a"]


def test_partition_cuts_every_pair_across_the_two_groups_both_ways():
    state = with_partition(FaultState(), NET, ("a", "b"), ("c", "d"))
    assert state.cuts == {("a", "c"), ("a", "d"), ("b", "c"), ("b", "d")}
    assert node_commands(state, NET, "a") == [[*IN_A, "ip", "route", "replace", "blackhole", C],
                                              [*IN_A, "ip", "route", "replace", "blackhole", D]]
    assert [cmd[-1] for cmd in node_commands(state, NET, "d")] == [A, B]


def test_partitions_accumulate_until_heal():
    state = with_partition(with_partition(FaultState(), NET, ("a",), ("b",)), NET, ("c",), ("d",))
    assert state.cuts == {("a", "b"), ("c", "d")}
    assert FaultState().is_clear() and not state.is_clear()


def test_loss_drops_a_share_of_the_packets_to_the_peer_on_each_side():
    state = with_loss(FaultState(), NET, "b", "a", 12.5)
    assert state.loss_pct == {("a", "b"): 12.5}
    assert node_commands(state, NET, "a") == [[*IN_A, "iptables", "-A", "OUTPUT", "-d", B, "-m", "statistic", "--mode", "random",
                                               "--probability", "0.125000", "-j", "DROP"]]
    assert node_commands(state, NET, "b")[0][8] == A
    assert node_commands(state, NET, "c") == []
    assert with_loss(state, NET, "a", "b", 0).is_clear()


def test_latency_steers_each_delayed_peer_into_its_own_netem_class():
    state = with_latency(with_latency(FaultState(), NET, "a", "b", 40), NET, "c", "a", 100)
    cmds = [cmd[len(IN_A):] for cmd in node_commands(state, NET, "a")]
    assert cmds[:2] == [["tc", "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "1"],
                        ["tc", "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit"]]
    assert ["tc", "qdisc", "add", "dev", "eth0", "parent", "1:10", "handle", "10:", "netem", "delay", "40ms"] in cmds
    assert ["tc", "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32", "match", "ip", "dst", B,
            "flowid", "1:10"] in cmds
    assert ["tc", "qdisc", "add", "dev", "eth0", "parent", "1:11", "handle", "11:", "netem", "delay", "100ms"] in cmds
    assert with_latency(state, NET, "b", "a", 0).latency_ms == {("a", "c"): 100}


def test_reset_clears_tc_routes_and_iptables_only_if_it_is_there():
    assert [cmd[4:] for cmd in reset_commands(NET, "a", iptables=False)] == [["tc", "qdisc", "del", "dev", "eth0", "root"],
                                                                             ["ip", "-4", "route", "flush", "type", "blackhole"]]
    assert reset_commands(NET, "a", iptables=True)[-1] == [*IN_A, "iptables", "-F", "OUTPUT"]


@pytest.mark.parametrize("change, problem", [
    (lambda s: with_latency(s, NET, "a", "a", 10), "two different nodes"),
    (lambda s: with_latency(s, NET, "a", "z", 10), "unknown node 'z'"),
    (lambda s: with_latency(s, NET, "a", "b", -1), "whole milliseconds"),
    (lambda s: with_latency(s, NET, "a", "b", 60_001), "whole milliseconds"),
    (lambda s: with_loss(s, NET, "a", "b", 100.5), "percentage"),
    (lambda s: with_loss(s, NET, "a", "b", float("nan")), "percentage"),
    (lambda s: with_partition(s, NET, ("a", "b"), ("b", "c")), "b cannot be on both sides"),
    (lambda s: with_partition(s, NET, ("a",), ()), "a node on each side"),
    (lambda s: with_partition(s, NET, ("a",), ("q",)), "unknown node 'q'"),
])
def test_a_bad_fault_is_rejected_and_changes_nothing(change, problem):
    before = with_partition(FaultState(), NET, ("a",), ("b",))
    with pytest.raises(NetError, match=problem):
        change(before)
    assert before.cuts == {("a", "b")} and not before.latency_ms and not before.loss_pct


@pytest.mark.parametrize("text", ["", "a,", ",a", "a,,b", "a b", "a;b"])
def test_a_malformed_group_is_rejected(text):
    with pytest.raises(NetError, match="node names joined by commas"):
        parse_group(text)


def test_groups_split_on_commas():
    assert parse_group("validator-0,validator-1") == ("validator-0", "validator-1")


def test_fault_state_survives_the_run_folder_round_trip_and_describes_itself():
    state = with_loss(with_latency(with_partition(FaultState(), NET, ("a",), ("b", "c")), NET, "d", "c", 30), NET, "a", "d", 5)
    assert FaultState.from_json(json.loads(json.dumps(state.to_json()))) == state
    assert state.describe() == ["a <-> b: cut", "a <-> c: cut", "c <-> d: +30 ms each way", "a <-> d: 5% loss each way"]


def test_a_kernel_without_netem_is_named_as_the_reason_latency_fails():
    cmd = node_commands(with_latency(FaultState(), NET, "a", "b", 5), NET, "a")[3]
    assert "latency needs tc's netem qdisc" in explain(cmd, "Error: Specified qdisc kind is unknown.")
    assert explain(["ip", "x"], "boom") == "`ip x` failed: boom"


def test_net_commands_on_a_loopback_network_say_they_need_hosts(tmp_path):
    with pytest.raises(NetError, match="`net` commands need a --hosts network"):
        NetFaults(Network(tmp_path, {}, []))
