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


async def test_each_candidate_is_recorded_from_an_import_and_judged_by_its_backing_group_only(tmp_path, autojump_clock):
    from relay.backing import BackingService

    net = RelayAndPara(tmp_path)
    async with trio.open_nursery() as nursery:
        await net.start(nursery)
        _, collation = net.collator(0)
        await net.para.wait_until(lambda: collation.anchored_number() >= 8, timeout_s=120)
        collations = [net.collator(i)[1] for i in range(2)]
        # The collator after each block's author sends it, from the witness its import left.
        assert sum(c.povs["witness"] for c in collations) >= 6
        assert sum(c.povs["executed"] for c in collations) <= 2  # only around start-up
        # 4 validators in 2 groups: each candidate re-executed by 2 of them, not 4.
        backings = [next(e for e in n.extensions if isinstance(e, BackingService)) for n in net.relay_nodes]
        judged = sum(b.verdicts["valid"] + b.verdicts["invalid"] for b in backings)
        assert 0 < judged <= 2 * sum(c.candidates_submitted for c in collations)
        nursery.cancel_scope.cancel()


import pytest


@pytest.mark.parametrize("kind", ["state_root", "invalid_transaction", "missing_node"])
async def test_malicious_collator_candidates_are_refused_and_honest_ones_anchored(tmp_path, autojump_clock, kind):
    from node.primitives.scale_types import Sequence_
    from node.runtime.overlay import StateOverlay
    from parachains.collator import CollationService
    from tests.runtime.harness import Harness  # noqa: F401 - dev accounts live in the para genesis

    net = RelayAndPara(tmp_path, collators=3)
    # Collator 2 forges every candidate it sends; collators 0 and 1 are honest.
    base = net.para.config

    def config(i):
        cfg = base(i)
        if i != 2:
            return cfg
        (make,) = cfg.extensions
        return __import__("dataclasses").replace(cfg, extensions=(lambda node: _malicious(make(node), kind),))

    net.para.config = config
    async with trio.open_nursery() as nursery:
        await net.start(nursery)
        para_node, collation = net.collator(0)
        if kind == "invalid_transaction":  # give the para blocks transactions to break
            from tests.api.test_node_rpc import signed_transfer

            for nonce in range(5):
                para_node.submit(bytes.fromhex(signed_transfer(para_node, nonce=nonce)[2:]))
        relay = net.relay_nodes[0]

        def invalid_reported() -> bool:
            events = relay.config.runtime.pallet("System").Events
            record_type = Sequence_(relay.config.runtime.event_record_type)
            for n in range(1, relay.chain.best.number + 1):
                raw = relay.chain.state_at(relay.chain.hash_at(n)).get(events.key())
                for record in record_type.decode_all(raw or b"\x00"):
                    if "ParaInclusion" in record["event"] and "CandidateInvalid" in record["event"]["ParaInclusion"]:
                        return True
            return False

        await net.relay.wait_until(invalid_reported, timeout_s=120)
        await net.para.wait_until(lambda: collation.anchored_number() >= 6, timeout_s=120)
        # Everything anchored is the parachain's own chain of honest blocks.
        anchored = para_node.chain.header(collation.anchored.head_hash)
        assert anchored is not None and para_node.chain.hash_at(anchored.number) == anchored.hash
        nursery.cancel_scope.cancel()


def _malicious(service, kind):
    service.malicious = kind
    return service


async def test_anchored_height_is_a_metric_of_collators(tmp_path, autojump_clock):
    from node.service.metrics import NodeCollector

    net = RelayAndPara(tmp_path)
    async with trio.open_nursery() as nursery:
        await net.start(nursery)
        node, collation = net.collator(0)
        await net.para.wait_until(lambda: collation.anchored_number() >= 3, timeout_s=120)
        heights = next(m for m in NodeCollector(node).collect() if m.name == "substrate_block_height")
        anchored = [s.value for s in heights.samples if s.labels == {"status": "anchored"}]
        assert anchored == [collation.anchored_number()]
        nursery.cancel_scope.cancel()
