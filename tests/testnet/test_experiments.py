"""The experiment commands' pure parts: pair selection, one account per pair of a source chain,
and chaos that never takes down more than one node of a chain."""

import random

import pytest

from node.testnet import control
from node.testnet.control import NodeEntry
from node.testnet.experiments import Chaos, _pairs, _signer_for

CHAINS = ["relay", "demand", "dg"]


def test_every_ordered_pair_by_default_and_named_pairs_checked():
    assert len(_pairs(CHAINS, None)) == 6
    assert _pairs(CHAINS, ["demand->dg", " relay -> dg "]) == [("demand", "dg"), ("relay", "dg")]
    for bad in ("demand->demand", "demand->mars", "demand dg"):
        with pytest.raises(control.TestnetError, match="--pair"):
            _pairs(CHAINS, [bad])


def test_pairs_from_one_chain_send_from_different_accounts():
    pairs = _pairs(CHAINS, None)
    by_source = {}
    for i, (source, _) in enumerate(pairs):
        by_source.setdefault(source, []).append(_signer_for(pairs, i))
    assert all(len(set(signers)) == len(signers) for signers in by_source.values())


class FakeNetwork:
    """Records the faults; a stand-in for the process control in this unit test only."""

    def __init__(self):
        def entry(name, chain):
            return NodeEntry(name, chain, "x", "ws://", "http://", "log", f"/base/{name}", ("python",))

        self.nodes = [entry(f"validator-{i}", "relay") for i in range(4)] + [entry(f"dg-collator-{i}", "dg") for i in range(2)]
        self.down: set[str] = set()

    def node(self, name):
        return next(n for n in self.nodes if n.name == name)

    def kill(self, name):
        self.down.add(name)

    pause = kill

    def restart(self, name):
        self.down.discard(name)

    resume = restart


def test_chaos_never_has_two_nodes_of_one_chain_down_and_heals_everything():
    network = FakeNetwork()
    chaos = Chaos(network, random.Random(7), lambda line: None)
    for _ in range(500):
        chaos.step()
        chains = [network.node(n).chain for n in network.down]
        assert len(chains) == len(set(chains))
    chaos.heal_all()
    assert network.down == set() and chaos.faulted == {}
