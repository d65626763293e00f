"""Parachain blocks validated statelessly by relay validators and anchored in relay state."""

import trio

from tests.multinode.relay_harness import PARA_ID, RelayAndPara


async def test_parachain_blocks_are_included_and_anchored(tmp_path, autojump_clock):
    net = RelayAndPara(tmp_path)
    async with trio.open_nursery() as nursery:
        await net.start(nursery)
        node, collation = net.collator(0)
        await net.relay.wait_until(lambda: net.relay_head_number() >= 5, timeout_s=120)
        await net.para.wait_until(lambda: collation.anchored_number() >= 5, timeout_s=60)
        # The relay's anchored head is the parachain's own block.
        anchored = collation.anchored
        assert node.chain.header(anchored.head_hash) is not None
        assert collation.is_anchored(node.chain.header(anchored.head_hash))
        parent = node.chain.header(node.chain.header(anchored.head_hash).parent_hash)
        assert collation.is_anchored(parent)
        nursery.cancel_scope.cancel()
