"""`up --hosts` plans (pure): names, addresses, the `ip` commands, and node command lines on
their own addresses."""

import json

import pytest

from node.testnet.control import Network
from node.testnet.control import TestnetError as NetError
from node.testnet.launcher import node_names
from node.testnet.local import NetworkLayout, NodeProcess, prepare_multichain
from node.testnet.netns import HostNet, exec_prefix, plan_hosts, setup_commands, teardown_commands
from node.testnet.spec import parse_spec

NAMES = [f"validator-{i}" for i in range(4)] + ["dg-collator-0", "dg-collator-1"]


def test_each_node_gets_its_own_namespace_veth_and_address_in_the_slot_subnet():
    net = plan_hosts(0x2a, NAMES)
    assert (net.bridge, net.gateway, net.subnet) == ("pwbr2a", "10.213.42.1", "10.213.42.0/24")
    assert net.nodes["validator-0"].netns == "pw-2a-validator-0"
    assert [n.address for n in net.nodes.values()] == [f"10.213.42.{i}" for i in range(2, 8)]
    assert len({n.veth for n in net.nodes.values()}) == len(NAMES)


def test_interface_names_fit_the_kernel_limit_even_for_the_largest_plan():
    net = plan_hosts(255, [f"node-{i}" for i in range(250)])
    assert max(len(n.veth) for n in net.nodes.values()) <= 15 and len(net.bridge) <= 15
    assert net.nodes["node-249"].address == "10.213.255.251"


@pytest.mark.parametrize("slot, names, problem", [
    (256, NAMES, "slot must be 0–255"),
    (-1, NAMES, "slot must be 0–255"),
    (0, [], "at least one node"),
    (0, [f"n{i}" for i in range(251)], "at most 250 nodes"),
    (0, ["a", "a"], "distinct"),
])
def test_a_plan_that_cannot_be_built_is_rejected(slot, names, problem):
    with pytest.raises(NetError, match=problem):
        plan_hosts(slot, names)


def test_plan_survives_the_run_folder_round_trip():
    net = plan_hosts(7, NAMES)
    assert HostNet.from_json(json.loads(json.dumps(net.to_json()))) == net


def test_setup_joins_every_namespace_to_the_bridge_and_teardown_removes_all_of_it():
    net = plan_hosts(1, NAMES[:2])
    setup = setup_commands(net)
    assert setup[:3] == [["ip", "link", "add", "pwbr01", "type", "bridge"], ["ip", "addr", "add", "10.213.1.1/24", "dev", "pwbr01"],
                         ["ip", "link", "set", "pwbr01", "up"]]
    assert ["ip", "link", "add", "pw01-0", "type", "veth", "peer", "name", "eth0", "netns", "pw-01-validator-0"] in setup
    assert ["ip", "link", "set", "pw01-1", "master", "pwbr01"] in setup
    assert ["ip", "netns", "exec", "pw-01-validator-1", "ip", "addr", "add", "10.213.1.3/24", "dev", "eth0"] in setup
    down = teardown_commands(net)
    assert down == [["ip", "link", "del", "pw01-0"], ["ip", "link", "del", "pw01-1"], ["ip", "netns", "del", "pw-01-validator-0"],
                    ["ip", "netns", "del", "pw-01-validator-1"], ["ip", "link", "del", "pwbr01"]]


def test_exec_prefix_of_an_unknown_node_is_an_error():
    with pytest.raises(NetError, match="unknown node 'x'"):
        exec_prefix(plan_hosts(0, NAMES), "x")


def test_node_names_follow_the_spec_in_launch_order():
    spec = parse_spec('[relaychain]\nvalidators = 2\n[[parachains]]\nid = 2001\nname = "dg"\nruntime = "dg"\ncollators = 2\n')
    assert node_names(spec) == ["validator-0", "validator-1", "dg-collator-0", "dg-collator-1"]


def test_nodes_on_their_own_addresses_listen_dial_and_are_reached_there(tmp_path):
    from cryptography import x509

    from node.security.files import NodeFiles
    from node.testnet.local import ParaPlan

    net = plan_hosts(9, ["validator-0", "validator-1", "dg-collator-0"])
    chains = prepare_multichain(tmp_path, validators=2, plans=[ParaPlan("dg", "dg", 1, "aura", 1000)],
                                hosts={name: n.address for name, n in net.nodes.items()})
    v0, v1 = chains["relay"].nodes
    assert v0.rpc_url == f"http://10.213.9.2:{v0.rpc_port}" and v0.metrics_url.startswith("http://10.213.9.2:")
    command = NodeProcess(NetworkLayout(str(tmp_path), chains["relay"].chain_spec, "", chains["relay"].nodes), v0).command()
    assert command[command.index("--p2p-host") + 1] == command[command.index("--rpc-host") + 1] == "10.213.9.2"
    assert command[command.index("--bootnodes") + 1:] == [f"10.213.9.3:{v1.p2p_port}"]
    para_spec = json.loads((tmp_path / "dg.json").read_text())
    assert para_spec["relay"]["rpc"] == [v0.rpc_url, v1.rpc_url]
    cert = x509.load_pem_x509_certificate(NodeFiles.in_dir(tmp_path / "keys" / "dg-collator-0").tls_cert.read_bytes())
    ips = [str(ip) for ip in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.IPAddress)]
    assert "10.213.9.4" in ips


def test_loopback_nodes_keep_their_old_command_lines(tmp_path):
    chains = prepare_multichain(tmp_path, validators=2, paras=())
    v0, v1 = chains["relay"].nodes
    command = NodeProcess(NetworkLayout(str(tmp_path), chains["relay"].chain_spec, "", chains["relay"].nodes), v0).command()
    assert "--p2p-host" not in command and command[-1] == f"127.0.0.1:{v1.p2p_port}"
    assert v0.rpc_url.startswith("http://127.0.0.1:")


def test_a_loopback_network_loads_without_hosts(tmp_path):
    Network(tmp_path, {}, []).save()
    assert Network.load(tmp_path).hosts is None
