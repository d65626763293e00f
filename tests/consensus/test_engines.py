"""Both engines on a simulated network of four authorities: agreement, crashes, partitions,
an equivocating authority, round changes and catching up. Every justification a node finalizes
with is checked by ``verify_justification`` inside the simulator, as an importer would."""

import pytest

from node.consensus.equivocation import SlotEquivocation, VoteEquivocation
from node.consensus.tendermint import proposer_of
from tests.consensus.sim import assert_agreement, honest, make_network

KINDS = ["bft", "aura"]
# Blocks each engine finalizes in 10 simulated seconds when all is well: bft decides back to back
# (a block takes the simulator 200 ms to build), aura finalizes the 1-second slots' blocks.
PACE = {"bft": 20, "aura": 6}


def heads(net):
    return [max(n.finalized) for n in net.nodes]


@pytest.mark.parametrize("kind", KINDS)
def test_all_honest_authorities_finalize_the_same_blocks(kind):
    net = make_network(kind, seed=1)
    net.run_until(10_000)
    assert min(heads(net)) >= PACE[kind]
    assert_agreement(net.nodes)
    assert all(not n.rejected and not n.evidence for n in net.nodes)


@pytest.mark.parametrize("kind", KINDS)
def test_finality_continues_with_one_authority_crashed(kind):
    net = make_network(kind, seed=2)
    net.crash(3)
    net.run_until(10_000)
    assert min(heads(net)[:3]) >= PACE[kind] // 2
    assert_agreement(net.nodes)


@pytest.mark.parametrize("kind", KINDS)
def test_finality_stops_without_conflict_with_two_crashed_and_resumes_on_restart(kind):
    net = make_network(kind, seed=3)
    net.run_until(3_000)
    net.crash(2)
    net.crash(3)
    net.run_until(3_100)  # messages already in flight may still complete a decision
    stalled = heads(net)
    net.run_until(15_000)
    assert heads(net) == stalled
    assert_agreement(net.nodes)
    net.restart(2)
    net.restart(3)
    net.run_until(25_000)
    assert min(heads(net)) > max(stalled)
    assert_agreement(net.nodes)


@pytest.mark.parametrize("kind", KINDS)
def test_two_two_partition_finalizes_nothing_and_progress_resumes_after_healing(kind):
    net = make_network(kind, seed=4)
    net.run_until(3_000)
    net.partition({0, 1}, {2, 3})
    net.run_until(3_100)
    during = heads(net)
    net.run_until(13_000)
    assert heads(net) == during
    assert_agreement(net.nodes)
    net.heal()
    net.run_until(25_000)
    assert min(heads(net)) > max(during)
    assert_agreement(net.nodes)


@pytest.mark.parametrize("kind", KINDS)
def test_partition_from_genesis_finalizes_nothing(kind):
    net = make_network(kind, seed=5, start=False)
    net.partition({0, 1}, {2, 3})
    for node in net.nodes:
        node.start()
    net.run_until(10_000)
    assert heads(net) == [0, 0, 0, 0]
    net.heal()
    net.run_until(25_000)
    assert min(heads(net)) > 0
    assert_agreement(net.nodes)


@pytest.mark.parametrize("kind", KINDS)
def test_equivocating_authority_is_reported_and_safety_holds(kind):
    net = make_network(kind, seed=6)
    net.nodes[3].equivocate = True
    net.run_until(10_000)
    good = honest(net, {3})
    assert_agreement(good)
    assert min(max(n.finalized) for n in good) >= PACE[kind] // 2
    offender = net.nodes[3].keypair.public_key
    for node in good:
        assert node.evidence and all(e.offender == offender for e in node.evidence)  # verified on receipt
        assert any(isinstance(e, VoteEquivocation) for e in node.evidence)
        if kind == "aura":
            assert any(isinstance(e, SlotEquivocation) for e in node.evidence)


@pytest.mark.parametrize("kind", KINDS)
def test_round_changes_on_timeout_when_the_proposer_is_down(kind):
    net = make_network(kind, seed=7, start=False)
    first_proposer = proposer_of(net.nodes[0].authorities, 1, 0)
    down = next(n.index for n in net.nodes if n.keypair.public_key == first_proposer)
    net.crash(down)
    for node in net.nodes:
        node.start()
    net.run_until(10_000)
    node = net.nodes[(down + 1) % 4]
    first = min(n for n in node.finalized if n > 0)
    assert node.justifications[node.finalized[first]].round >= 1


@pytest.mark.parametrize("kind", KINDS)
def test_restarted_node_catches_up(kind):
    net = make_network(kind, seed=8)
    net.run_until(2_000)
    net.crash(1)
    net.run_until(12_000)
    behind = heads(net)[1]
    assert behind < min(heads(net)[i] for i in (0, 2, 3))
    net.restart(1)
    net.run_until(20_000)
    assert heads(net)[1] >= min(heads(net)[i] for i in (0, 2, 3)) - 1
    assert_agreement(net.nodes)


@pytest.mark.parametrize("kind", KINDS)
def test_ed25519_authorities_reach_agreement_too(kind):
    net = make_network(kind, seed=9, crypto="ed25519")
    net.run_until(10_000)
    assert min(heads(net)) >= PACE[kind]
    assert_agreement(net.nodes)
