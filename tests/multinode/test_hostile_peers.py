"""Bad input from peers: rejected with a logged reason and a lowered peer score; the node stays
up and its chain is untouched."""

import dataclasses

import trio

from node.consensus.authorities import AuthoritySet
from node.consensus.messages import Step, sign_vote
from node.consensus.wire import encode_message
from node.network.memory import MemoryNetwork
from node.network.messages import BlockAnnounce, BlockData, BlockRequest, BlockResponse, ConsensusMessage, Head, Role, Transactions
from node.network.transport import ChainStatus
from node.primitives.header import Header
from node.primitives.keys import Keypair
from node.service.consensus import VOTES_ENGINE_ID
from tests.multinode.harness import Cluster


async def start_with_mallory(cluster, nursery, tmp_path):
    """One honest authority (node0, with node1 so it has a quorum partner) and a raw peer."""
    node = await cluster.start(nursery, 0)
    await cluster.start(nursery, 1)
    genesis = node.chain.header(node.chain.genesis_hash)
    status = ChainStatus(node.chain.genesis_hash, node.config.chain_name, frozenset({Role.FULL}), Head(genesis.hash, 0), Head(genesis.hash, 0))
    mallory = MemoryNetwork(cluster.hub, "mallory", status, bootnodes=["node0"])
    await nursery.start(mallory.run)
    await cluster.wait_until(lambda: any(p.name == "mallory" for p in node.network.peers()), timeout_s=30)
    return node, mallory


def score(node, peer="mallory") -> int:
    return next(p.score for p in node.network.peers() if p.name == peer) if any(p.name == peer for p in node.network.peers()) else -10**9


async def serve_blocks(mallory, blocks):
    """Answer every block request with ``blocks`` (the forgeries under test)."""
    async for peer, message in mallory.inbound:
        if isinstance(message, BlockRequest):
            mallory.send(peer, BlockResponse(message.request_id, tuple(blocks)))


async def test_block_with_a_bad_seal_is_refused_and_the_peer_penalised(tmp_path, autojump_clock):
    cluster = Cluster(tmp_path, "aura", n=4)
    async with trio.open_nursery() as nursery:
        node, mallory = await start_with_mallory(cluster, nursery, tmp_path)
        await cluster.wait_until(lambda: node.chain.best.number >= 2, timeout_s=30)
        honest = node.chain.block(node.chain.best.hash)
        h = honest.header
        # Same block, re-sealed by a key that is no authority.
        from node.consensus import aura

        pre, _ = aura.unseal(h)
        forged_header = aura.seal(dataclasses.replace(pre, digest=pre.digest), Keypair.from_uri("//Mallory", crypto="ed25519"))
        forged_header = dataclasses.replace(forged_header, state_root=h.state_root)
        nursery.start_soon(serve_blocks, mallory, [BlockData(forged_header.hash, forged_header, honest.extrinsics, None)])
        before = score(node)
        mallory.send("node0", BlockAnnounce(forged_header, True))
        await cluster.wait_until(lambda: score(node) < before, timeout_s=30)
        assert node.chain.header(forged_header.hash) is None
        nursery.cancel_scope.cancel()


async def test_block_with_a_wrong_state_root_is_refused_and_the_peer_penalised(tmp_path, autojump_clock):
    cluster = Cluster(tmp_path, "aura", n=4)
    async with trio.open_nursery() as nursery:
        node, mallory = await start_with_mallory(cluster, nursery, tmp_path)
        await cluster.wait_until(lambda: node.chain.best.number >= 1, timeout_s=30)
        parent = node.chain.best
        # A correctly sealed block by an authority, but with a state root execution will not give.
        from node.consensus import aura

        slot = aura.slot_of(parent) + 1
        author_index = cluster.authorities.keys.index(aura.slot_author(cluster.authorities, slot))
        timestamp_call = node.config.runtime.call_type.encode({"Timestamp": {"set": {"now": slot * 1000}}})
        from node.primitives.extrinsic import encode_unsigned
        from node.primitives.header import extrinsics_root
        from node.service.chain import _ordered_root

        extrinsics = (encode_unsigned(timestamp_call),)
        pre = Header(parent.hash, parent.number + 1, bytes(32), extrinsics_root(extrinsics, _ordered_root), (aura.pre_digest(slot),))
        forged = aura.seal(pre, cluster.keys[author_index])
        nursery.start_soon(serve_blocks, mallory, [BlockData(forged.hash, forged, extrinsics, None)])
        before = score(node)
        mallory.send("node0", BlockAnnounce(forged, True))
        await cluster.wait_until(lambda: score(node) < before, timeout_s=30)
        assert node.chain.header(forged.hash) is None
        nursery.cancel_scope.cancel()


async def test_vote_signed_by_a_non_authority_is_refused_and_the_peer_penalised(tmp_path, autojump_clock):
    cluster = Cluster(tmp_path, "aura", n=4)
    async with trio.open_nursery() as nursery:
        node, mallory = await start_with_mallory(cluster, nursery, tmp_path)
        outsider = Keypair.from_uri("//Outsider", crypto="ed25519")
        fake_set = AuthoritySet("ed25519", (outsider.public_key,), 0, cluster.authorities.chain_id)
        vote = sign_vote(outsider, fake_set, Step.PREVOTE, 1, 0, node.chain.genesis_hash)
        before = score(node)
        mallory.send("node0", ConsensusMessage(VOTES_ENGINE_ID, encode_message(vote)))
        await cluster.wait_until(lambda: score(node) < before, timeout_s=30)
        nursery.cancel_scope.cancel()


async def test_undecodable_consensus_payload_and_bad_transactions_lower_the_score(tmp_path, autojump_clock):
    cluster = Cluster(tmp_path, "aura", n=4)
    async with trio.open_nursery() as nursery:
        node, mallory = await start_with_mallory(cluster, nursery, tmp_path)
        before = score(node)
        mallory.send("node0", ConsensusMessage(VOTES_ENGINE_ID, b"\x07garbage"))
        await cluster.wait_until(lambda: score(node) < before, timeout_s=30)
        middle = score(node)
        from tests.api.test_node_rpc import ALICE  # noqa: F401 - dev keys
        from node.primitives.era import IMMORTAL
        from node.primitives.extrinsic import sign_extrinsic
        from node.primitives.keys import dev_keypair

        v = node.config.runtime.version
        call = node.config.runtime.call_type.encode({"System": {"remark": {"remark": b"x"}}})
        xt = bytearray(sign_extrinsic(dev_keypair("Alice"), call, 0, IMMORTAL, 0, v.spec_version, v.transaction_version, node.chain.genesis_hash))
        xt[40] ^= 1
        mallory.send("node0", Transactions((bytes(xt),)))
        await cluster.wait_until(lambda: score(node) < middle, timeout_s=30)
        assert len(node.pool) == 0
        assert node.chain.best.number >= 0  # still running
        nursery.cancel_scope.cancel()
