"""Four authorities as real processes on loopback, gRPC with mutual TLS, for each engine."""

import time

import pytest

from node.security.ca import init_ca, issue_node_certificate
from node.testnet.local import NodeLayout, NodeProcess, free_port, prepare_network

SETTLE_S = 0.25  # polling interval for external processes: they give us no event to wait on


def wait_for(predicate, timeout_s: float, what: str, procs) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass  # a node mid-restart
        time.sleep(SETTLE_S)
    logs = "\n\n".join(f"--- {p.node.name}\n{p.log_tail(15)}" for p in procs)
    raise AssertionError(f"timed out waiting for {what}\n{logs}")


def agree(procs) -> bool:
    """Every pair of running nodes has the same block at every height both have finalized."""
    tops = [p.finalized_number() for p in procs]
    top = min(tops)
    return all(len({p.hash_at(h) for p in procs}) == 1 for h in range(max(0, top - 5), top + 1))


@pytest.fixture
def network(tmp_path, request):
    procs = []

    def start(engine, block_time_ms=1000):
        layout = prepare_network(tmp_path, names=["alpha", "beta", "gamma", "delta"], engine=engine, block_time_ms=block_time_ms)
        procs.extend(NodeProcess(layout, n) for n in layout.nodes)
        for p in procs:
            p.start()
        for p in procs:
            p.wait_ready()
        return layout, procs

    yield start
    for p in procs:
        p.kill()


@pytest.mark.parametrize("engine", ["aura", "bft"])
def test_finality_with_one_and_two_authorities_down(network, engine):
    layout, procs = network(engine)
    wait_for(lambda: min(p.finalized_number() for p in procs) >= 3, 60, "first finality", procs)
    assert agree(procs)

    procs[3].kill()
    live = procs[:3]
    mark = max(p.finalized_number() for p in live)
    wait_for(lambda: min(p.finalized_number() for p in live) >= mark + 3, 60, "finality with one node down", live)
    assert agree(live)

    procs[2].kill()
    live = procs[:2]
    time.sleep(3)  # votes already in flight may still land
    stalled = max(p.finalized_number() for p in live)
    time.sleep(6)
    assert max(p.finalized_number() for p in live) == stalled, "finalized without a quorum"
    assert agree(live)

    procs[2].start()
    procs[3].start()
    procs[2].wait_ready()
    procs[3].wait_ready()
    wait_for(lambda: min(p.finalized_number() for p in procs) >= stalled + 3, 90, "finality after restarting", procs)
    assert agree(procs)
    assert procs[0].rpc("system_health")["peers"] == 3


def test_node_restarted_after_a_hundred_blocks_catches_up(network):
    layout, procs = network("aura", block_time_ms=250)
    wait_for(lambda: min(p.finalized_number() for p in procs) >= 2, 60, "first finality", procs)
    procs[0].kill()
    live = procs[1:]
    start = max(p.finalized_number() for p in live)
    wait_for(lambda: min(p.finalized_number() for p in live) >= start + 100, 120, "100 more blocks", live)
    procs[0].start()
    procs[0].wait_ready()
    target = max(p.finalized_number() for p in live)
    wait_for(lambda: procs[0].finalized_number() >= target, 90, "the restarted node to catch up", procs)
    assert agree(procs)


def test_node_with_a_certificate_from_another_ca_cannot_join(network, tmp_path):
    layout, procs = network("aura")
    rogue_ca = tmp_path / "rogue-ca"
    init_ca(rogue_ca, "someone-else")
    issue_node_certificate(rogue_ca, "mallory", tmp_path / "rogue-keys")
    rogue = NodeLayout("mallory", str(tmp_path / "rogue-keys"), str(tmp_path / "rogue-node"), free_port(), free_port(), str(tmp_path / "rogue.log"))
    intruder = NodeProcess(layout, rogue)
    procs.append(intruder)
    intruder.start()
    intruder.wait_ready()
    wait_for(lambda: procs[0].finalized_number() >= 3, 60, "the honest network to finalize", procs)
    time.sleep(3)
    assert intruder.rpc("system_health")["peers"] == 0
    assert all(p["peerId"] != "mallory" for p in procs[0].rpc("system_peers"))
    assert intruder.finalized_number() == 0


def test_light_client_follows_finality_and_proves_a_balance(network):
    import subprocess
    import sys

    from node.primitives.keys import dev_keypair

    layout, procs = network("aura")
    wait_for(lambda: procs[0].finalized_number() >= 2, 60, "first finality", procs)
    out = subprocess.run(
        [sys.executable, "-m", "node.cli", "light", "--chain", layout.chain_spec, "--rpc", layout.nodes[1].rpc_url,
         "--account", dev_keypair("Alice").ss58_address, "--blocks", "3"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert "justification verified" in out.stdout and "read proof verified" in out.stdout
    assert "free balance 1152921504606846976" in out.stdout
