"""End to end, as a user would: `parawatt testnet up --detach` a small network (relay with 4
validators + one parachain with 2 collators) from a TOML file, `status`, a scenario with
finalized and anchored heights around a collator's kill and restart, then `down`: every node
process is gone."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from node.testnet.control import Network, REPO_ROOT, _proc_state

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

SCENARIO = """
relay: finalized height is at least 2 within 20 seconds
dg: anchored height is at least 1 within 20 seconds
kill dg-collator-1
dg: anchored height is at least 3 within 20 seconds
restart dg-collator-1
relay: finalized height is at least 5 within 20 seconds
dg: anchored height is at least 4 within 20 seconds
"""


def run_testnet(*args, timeout=90):
    return subprocess.run([sys.executable, "-m", "node.cli", "testnet", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO_ROOT)


@pytest.fixture
def run_dir(tmp_path):
    run_dir = tmp_path / "run"
    yield run_dir
    if (run_dir / "network.json").exists():  # whatever happened, leave no node behind
        Network.load(run_dir).stop()


def test_up_status_check_with_kill_and_restart_then_down_leaves_no_process(tmp_path, run_dir):
    spec = tmp_path / "small.toml"
    spec.write_text(SPEC)
    up = run_testnet("up", spec, "--run-dir", run_dir, "--detach")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "ready in" in up.stdout
    for name in ("validator-0", "validator-3", "dg-collator-0", "dg-collator-1"):
        assert name in up.stdout
    network = Network.load(run_dir)
    table = json.loads((run_dir / "network.json").read_text())["table"]
    assert [(r["node"], r["chain"], r["role"]) for r in table][-1] == ("dg-collator-1", "dg", "collator")
    assert all(r["rpc"].startswith("ws://127.0.0.1:") and r["metrics"].endswith("/metrics") and r["log"] in up.stdout for r in table)
    assert [n.name for n in network.nodes] == [f"validator-{i}" for i in range(4)] + ["dg-collator-0", "dg-collator-1"]
    pids = {n.name: network.pid(n.name) for n in network.nodes}
    assert all(pids.values()), pids
    ports = [int(u.rsplit(":", 1)[1].split("/")[0]) for n in network.nodes for u in (n.rpc_url, n.metrics_url)]
    assert len(set(ports)) == len(ports)

    again = run_testnet("up", spec, "--run-dir", run_dir, "--detach", "--fresh")
    assert again.returncode == 1 and "a testnet is running" in again.stderr

    status = run_testnet("status", "--run-dir", run_dir)
    assert status.returncode == 0, status.stderr
    assert status.stdout.count("running") == 6

    scenario = tmp_path / "kill-restart.txt"
    scenario.write_text(SCENARIO)
    check = run_testnet("check", scenario, "--run-dir", run_dir)
    assert check.returncode == 0, check.stdout + check.stderr + network.log_tail("dg-collator-1")
    assert check.stdout.count("✓") == 7 and "✗" not in check.stdout
    assert network.pid("dg-collator-1") not in (None, pids["dg-collator-1"])  # a new process on the same base path

    failing = tmp_path / "too-high.txt"
    failing.write_text("relay: finalized height is at least 100000 within 0.5 seconds\n")
    check = run_testnet("check", failing, "--run-dir", run_dir)
    assert check.returncode == 1 and "✗ relay: finalized height is at least 100000" in check.stdout

    assert run_testnet("kill", "no-such-node", "--run-dir", run_dir).stderr.startswith("error: unknown node 'no-such-node'")

    live = {n.name: network.pid(n.name) for n in network.nodes}
    down = run_testnet("down", "--run-dir", run_dir)
    assert down.returncode == 0, down.stderr
    assert "stopped 6 node(s)" in down.stdout
    assert all(_proc_state(pid) in (None, "Z") for pid in live.values())
    assert Network.load(run_dir).live() == []
    status = run_testnet("status", "--run-dir", run_dir)
    assert status.stdout.count("stopped") == 6


def test_commands_on_a_folder_without_a_network_say_so(tmp_path):
    out = run_testnet("status", "--run-dir", tmp_path / "empty")
    assert out.returncode == 1 and "no testnet in" in out.stderr


def test_up_fails_fast_naming_the_node_that_exited_and_stops_the_others(tmp_path):
    from dataclasses import replace

    from node.testnet.control import TestnetError
    from node.testnet.launcher import launch, prepare
    from node.testnet.spec import parse_spec

    network = prepare(tmp_path / "run", parse_spec(SPEC))
    broken = network.node("dg-collator-0")
    network.nodes[network.nodes.index(broken)] = replace(broken, command=(sys.executable, "-c", "print('boom: no database'); raise SystemExit(3)", broken.base_path))
    network.save()
    with pytest.raises(TestnetError) as caught:
        launch(network, progress=lambda line: None)
    assert "dg-collator-0 exited before the network was ready" in str(caught.value)
    assert "boom: no database" in str(caught.value)
    assert network.live() == []
