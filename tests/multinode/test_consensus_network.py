"""Four authorities as full nodes on the in-memory network: blocks, finality, crashes."""

import pytest
import trio

from tests.multinode.harness import Cluster


@pytest.mark.parametrize("engine", ["aura", "bft"])
async def test_four_authorities_finalize_the_same_blocks(tmp_path, autojump_clock, engine):
    cluster = Cluster(tmp_path, engine)
    async with trio.open_nursery() as nursery:
        for i in range(4):
            await cluster.start(nursery, i)
        await cluster.wait_until(lambda: min(cluster.finalized().values()) >= 5, timeout_s=60)
        nodes = list(cluster.nodes.values())
        height = min(cluster.finalized().values())
        hashes = {n.chain.hash_at(height) for n in nodes}
        assert len(hashes) == 1
        nursery.cancel_scope.cancel()


def finalized_hashes_agree(cluster) -> bool:
    """No two nodes have finalized different blocks at any height (safety)."""
    nodes = list(cluster.nodes.values())
    top = min(n.chain.finalized.number for n in nodes)
    return all(len({n.chain.hash_at(h) for n in nodes}) == 1 for h in range(top + 1))


@pytest.mark.parametrize("engine", ["aura", "bft"])
async def test_finality_survives_one_crash_stops_at_two_and_resumes(tmp_path, autojump_clock, engine):
    cluster = Cluster(tmp_path, engine)
    async with trio.open_nursery() as nursery:
        for i in range(4):
            await cluster.start(nursery, i)
        await cluster.wait_until(lambda: min(cluster.finalized().values()) >= 3, timeout_s=60)

        cluster.stop(3)  # one of four down: f = 1 < n/3, finality continues
        before = max(cluster.finalized().values())
        await cluster.wait_until(lambda: min(cluster.finalized().values()) >= before + 3, timeout_s=90)
        assert finalized_hashes_agree(cluster)

        cluster.stop(2)  # two of four down: no quorum, finality stops
        await trio.sleep(5)
        stalled = max(cluster.finalized().values())
        await trio.sleep(20)
        assert max(cluster.finalized().values()) == stalled
        assert finalized_hashes_agree(cluster)

        await cluster.start(nursery, 2)  # quorum again; the restarted node catches up
        await cluster.start(nursery, 3)
        await cluster.wait_until(lambda: min(cluster.finalized().values()) >= stalled + 3, timeout_s=120)
        assert finalized_hashes_agree(cluster)
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("engine", ["aura", "bft"])
async def test_partition_two_two_finalizes_nothing_and_converges_after_healing(tmp_path, autojump_clock, engine):
    cluster = Cluster(tmp_path, engine)
    async with trio.open_nursery() as nursery:
        for i in range(4):
            await cluster.start(nursery, i)
        await cluster.wait_until(lambda: min(cluster.finalized().values()) >= 2, timeout_s=60)
        cluster.hub.partition(cluster.names[:2], cluster.names[2:])
        await trio.sleep(5)
        frozen = max(cluster.finalized().values())
        await trio.sleep(20)
        assert max(cluster.finalized().values()) == frozen
        assert finalized_hashes_agree(cluster)
        cluster.hub.heal()
        await cluster.wait_until(lambda: min(cluster.finalized().values()) >= frozen + 3, timeout_s=120)
        assert finalized_hashes_agree(cluster)
        best = {n.chain.finalized.hash for n in cluster.nodes.values()}
        await cluster.wait_until(lambda: len({n.chain.finalized.number for n in cluster.nodes.values()}) == 1, timeout_s=30)
        nursery.cancel_scope.cancel()


async def test_node_restarted_after_many_blocks_catches_up(tmp_path, autojump_clock):
    cluster = Cluster(tmp_path, "aura")
    async with trio.open_nursery() as nursery:
        for i in range(4):
            await cluster.start(nursery, i)
        await cluster.wait_until(lambda: min(cluster.finalized().values()) >= 2, timeout_s=60)
        cluster.stop(0)
        await cluster.wait_until(lambda: min(cluster.finalized().values()) >= 40, timeout_s=300)
        node = await cluster.start(nursery, 0)
        target = max(n.chain.finalized.number for n in cluster.nodes.values())
        await cluster.wait_until(lambda: node.chain.finalized.number >= target, timeout_s=120)
        assert finalized_hashes_agree(cluster)
        nursery.cancel_scope.cancel()


async def test_equivocating_authority_is_reported_on_chain_and_safety_holds(tmp_path, autojump_clock):
    import dataclasses

    from node.runtime.overlay import StateOverlay

    cluster = Cluster(tmp_path, "aura")
    honest_config = cluster.config
    cluster.config = lambda i: dataclasses.replace(honest_config(i), equivocate=(i == 3))
    async with trio.open_nursery() as nursery:
        for i in range(4):
            await cluster.start(nursery, i)

        def reported() -> bool:
            node = cluster.nodes["node0"]
            offences = node.config.runtime.pallet("Offences")
            keys = list(node.chain.state_at().keys(offences.Reports.prefix))
            return bool(keys)

        await cluster.wait_until(reported, timeout_s=120)
        # The equivocator's late second blocks conflict with finality: peers penalise and may ban
        # it. The three honest authorities are a quorum and keep finalizing.
        honest = ["node0", "node1", "node2"]
        await cluster.wait_until(lambda: min(cluster.finalized()[n] for n in honest) >= 8, timeout_s=120)
        assert finalized_hashes_agree(cluster)
        node = cluster.nodes["node0"]
        offences = node.config.runtime.pallet("Offences")
        evidence_key = next(iter(node.chain.state_at().keys(offences.Reports.prefix)))
        from node.consensus.equivocation import decode_evidence

        evidence = decode_evidence(offences.Reports.value.decode_all(node.chain.state_at().get(evidence_key)))
        assert evidence.offender == cluster.keys[3].public_key
        nursery.cancel_scope.cancel()


async def test_authorities_that_forked_on_a_slow_link_finalize_again_without_banning_each_other(tmp_path, autojump_clock):
    # Two authorities (finality needs both) on a link slower than a slot each build their own
    # fork; once it is fast again one fork is finalized and the other's blocks go stale. A stale
    # block is a race, not a fault: if it cost the sender its score, they would ban each other
    # and never finalize again.
    cluster = Cluster(tmp_path, "aura", n=2)
    async with trio.open_nursery() as nursery:
        for i in range(2):
            await cluster.start(nursery, i)
        await cluster.wait_until(lambda: min(cluster.finalized().values()) >= 2, timeout_s=60)
        for _ in range(3):  # the race is timing-dependent: give it a few chances
            cluster.hub.set_delay("node0", "node1", 1.5)
            await trio.sleep(8)
            cluster.hub.set_delay("node0", "node1", 0.0)
            before = max(cluster.finalized().values())
            await cluster.wait_until(lambda: min(cluster.finalized().values()) >= before + 3, timeout_s=60)
            assert finalized_hashes_agree(cluster)
        nursery.cancel_scope.cancel()
