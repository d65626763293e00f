"""End to end on network namespaces (needs root, as `up --hosts` does): a relay with 4 validators
and one parachain with 2 collators, each node in its own namespace; a 2|2 partition of the
validators stops relay finality, healing it lets finality resume, and `down` leaves no namespace,
veth or bridge behind."""

import subprocess
import sys

import pytest

from node.testnet import netns
from node.testnet import control
from node.testnet.control import REPO_ROOT, Network
from node.testnet.launcher import teardown

SPEC = """
[relaychain]
validators = 4
consensus = "aura"
block_time_ms = 1000

[[parachains]]
id = 2001
name = "dg"
runtime = "dg"
collators = 2

[settings]
ready_timeout_s = 40
"""


def run_testnet(*args, timeout=90):
    return subprocess.run([sys.executable, "-m", "node.cli", "testnet", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


@pytest.fixture
def run_dir(tmp_path):
    run_dir = tmp_path / "run"
    yield run_dir
    if (run_dir / "network.json").exists():  # whatever happened, leave no node or namespace behind
        teardown(Network.load(run_dir))


def namespaces_available() -> bool:
    try:
        netns.check_available()
    except control.TestnetError:
        return False
    return True


def check(tmp_path, run_dir, name, text):
    scenario = tmp_path / name
    scenario.write_text(text)
    return run_testnet("check", scenario, "--run-dir", run_dir)


def test_partition_of_the_validators_stops_finality_and_healing_resumes_it(tmp_path, run_dir):
    spec = tmp_path / "small.toml"
    spec.write_text(SPEC)
    up = run_testnet("up", spec, "--hosts", "--run-dir", run_dir, "--detach")
    if not namespaces_available():
        # A machine without them (not root, or a container without CAP_NET_ADMIN): the user is
        # told what is missing, and nothing is started.
        assert up.returncode == 1 and netns.NEEDS in up.stderr, up.stdout + up.stderr
        assert not (run_dir / "network.json").exists() or Network.load(run_dir).live() == []
        return
    assert up.returncode == 0, up.stdout + up.stderr
    network = Network.load(run_dir)
    hostnet = network.hosts
    assert hostnet is not None and "network namespaces on bridge " + hostnet.bridge in up.stdout
    for n in network.nodes:
        address = hostnet.nodes[n.name].address
        assert n.command[:4] == ("ip", "netns", "exec", hostnet.nodes[n.name].netns)
        assert n.rpc_url.startswith(f"ws://{address}:") and n.metrics_url.startswith(f"http://{address}:")

    cut = check(tmp_path, run_dir, "cut.txt", "relay: finalized height is at least 2 within 20 seconds\n"
                "partition validator-0,validator-1 validator-2,validator-3\nsleep 2  # finality already in flight lands\n")
    assert cut.returncode == 0, cut.stdout + cut.stderr
    shown = run_testnet("net", "show", "--run-dir", run_dir)
    assert shown.stdout.count(": cut") == 4 and "validator-0 <-> validator-2: cut" in shown.stdout
    stuck = network.chain_height("relay", "finalized")
    held = check(tmp_path, run_dir, "hold.txt", "sleep 4\n")  # five relay slots: finality would move by ~4
    assert held.returncode == 0, held.stdout + held.stderr
    assert network.chain_height("relay", "finalized") == stuck

    healed = check(tmp_path, run_dir, "heal.txt", f"heal\nrelay: finalized height is at least {stuck + 3} within 30 seconds\n")
    assert healed.returncode == 0, healed.stdout + healed.stderr + network.log_tail("validator-0")
    assert run_testnet("net", "show", "--run-dir", run_dir).stdout.strip() == "no faults: every link is clean"

    assert len(netns.leftovers(hostnet)) == 6 + 6 + 1  # namespaces, veths, bridge: all there until down
    down = run_testnet("down", "--run-dir", run_dir)
    assert down.returncode == 0, down.stderr
    assert f"removed 6 namespaces and bridge {hostnet.bridge}" in down.stdout
    assert netns.leftovers(hostnet) == []
    assert Network.load(run_dir).live() == []
