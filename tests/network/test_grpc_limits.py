"""What only the gRPC transport has: grpc's own message limit, above ours."""

from __future__ import annotations

from node.network.messages import MAX_MESSAGE_SIZE, ConsensusMessage
from node.network.proto import parawatt_network_pb2 as pb
from tests.network.helpers import GrpcHarness, connected, raw_handshake, receive, wait_until


async def test_message_beyond_grpcs_own_limit_ends_that_stream_only(nursery, logs):
    harness = GrpcHarness(nursery)
    alice, address, _ = await harness.start("alice")
    bob, _, _ = await harness.start("bob", bootnodes=[address])
    link = await harness.raw_link(address)
    await raw_handshake(link)
    await connected((alice, "mallory"), (alice, "bob"), (bob, "alice"))
    # Up to twice our limit we reject the envelope ourselves (test_conformance); beyond that
    # grpc refuses to read it and ends the stream, before any of it reaches the node.
    monster = pb.Envelope(consensus=pb.Consensus(engine_id=b"aura", payload=bytes(2 * MAX_MESSAGE_SIZE + 1)))
    await link.send(monster.SerializeToString())
    await wait_until(alice, lambda: [p.name for p in alice.peers()] == ["bob"])
    await logs.wait_for("disconnected from mallory")
    assert bob.send("alice", ConsensusMessage(b"aura", b"still here"))
    assert await receive(alice) == [("bob", ConsensusMessage(b"aura", b"still here"))]
