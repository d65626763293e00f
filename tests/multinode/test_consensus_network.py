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
