"""The consensus service around its engine: stored blocks after a restart, effects after a stop."""

from types import SimpleNamespace

import trio

from node.consensus.authorities import AuthoritySet
from node.consensus.effects import RequestBlock, ScheduleTimeout
from node.consensus.justification import justification_from_precommits
from node.consensus.messages import Step, sign_vote
from node.service.consensus import AuraConsensus
from tests.multinode.harness import authority_keys
from tests.service.test_import_and_forks import build
from tests.service.test_chain import open_chain


def stub_node(chain, **extra):
    config = SimpleNamespace(block_time_ms=1000, clock_ms=lambda: int(trio.current_time() * 1000))
    return SimpleNamespace(chain=chain, db=chain.db, config=config, **extra)


async def test_restarted_node_shows_the_engine_a_stored_fork_block_it_asks_for(tmp_path):
    chain = open_chain(tmp_path)
    fork = [build(chain, "Alice", slot=s).hash for s in (1, 2)]  # a fork of two blocks…
    chain.set_best(chain.genesis_hash)
    best = [build(chain, "Bob", slot=s).hash for s in (3, 4, 5)]  # …left behind by a longer chain
    assert chain.best.hash == best[-1]
    keys = authority_keys(2)
    requested = []
    node = stub_node(chain, request_block=requested.append)
    consensus = AuraConsensus(node, authorities=AuthoritySet.of(keys), keypair=keys[0])  # as after a restart
    assert fork[1] not in consensus.engine.blocks and best[-1] in consensus.engine.blocks
    async with trio.open_nursery() as nursery:
        consensus._nursery = nursery
        consensus._carry_out([RequestBlock(fork[1])])
    assert fork[0] in consensus.engine.blocks and fork[1] in consensus.engine.blocks
    assert requested == []  # nothing to fetch: the node has it
    consensus._carry_out([RequestBlock(b"\x01" * 32)])
    assert requested == [b"\x01" * 32]


async def test_effects_arriving_after_the_service_stopped_are_dropped(tmp_path, autojump_clock):
    # On shutdown the service's nursery may close while the node's message loop still hands
    # in a vote; the timer it asks for must not fail the node.
    keys = authority_keys(2)
    node = stub_node(open_chain(tmp_path), network_broadcast=lambda message: None, request_block=lambda h: None)
    consensus = AuraConsensus(node, authorities=AuthoritySet.of(keys), keypair=keys[0])
    async with trio.open_nursery() as nursery:
        await nursery.start(consensus.run)
        await trio.sleep(1)
        nursery.cancel_scope.cancel()
    consensus._carry_out([ScheduleTimeout(1, Step.PROPOSE, 0, 1000)])


def test_restarted_node_knows_the_justification_of_its_finalized_block(tmp_path):
    # A node restarted after a decision must still bring a peer that missed it up to date.
    chain = open_chain(tmp_path)
    block = build(chain, "Alice", slot=1).hash
    keys = authority_keys(2)
    authorities = AuthoritySet.of(keys)
    justification = justification_from_precommits([sign_vote(k, authorities, Step.PRECOMMIT, 1, 0, block) for k in keys], block, 1)
    chain.finalize(block, justification.encode())
    consensus = AuraConsensus(stub_node(chain), authorities=authorities, keypair=keys[0])
    assert consensus.engine.last_justification == justification
