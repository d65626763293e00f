"""The network's contract, run against both transports (``harness`` is memory, then gRPC).

Each test names the rule it defends. Waits are bounded (helpers.WAIT); nothing sleeps.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
import trio

from node.network.codec import encode_message
from node.network.messages import (
    MAX_MESSAGE_SIZE,
    PROTOCOL_VERSION,
    BlockAnnounce,
    BlockData,
    BlockRequest,
    BlockResponse,
    ConsensusMessage,
    Disconnect,
    Handshake,
    Head,
    Justification,
    Role,
    Transactions,
)
from node.network.proto import parawatt_network_pb2 as pb
from node.network.reputation import Penalty
from node.network.transport import NetworkConfig, RequestFailed
from node.primitives.header import Header
from node.primitives.scale import encode_compact
from tests.network.helpers import (
    CONFIG,
    GENESIS,
    OTHER_GENESIS,
    WAIT,
    connected,
    raw_handshake,
    receive,
    status,
    wait_until,
)


def tx(i: int, size: int = 100) -> bytes:
    body = i.to_bytes(4, "little") + bytes(size - 4)
    return encode_compact(len(body)) + body


def consensus(i: int) -> ConsensusMessage:
    return ConsensusMessage(b"aura", i.to_bytes(4, "little"))


def header(number: int) -> Header:
    return Header(bytes([number % 256]) * 32, number, bytes(32), bytes(32))


async def pair(harness, *, a_config=CONFIG, b_config=CONFIG):
    """alice listens, bob dials her; returns (alice, bob, alice's address, alice's stop scope)
    once both sessions are up."""
    alice, address, alice_scope = await harness.start("alice", config=a_config, chain=status(best=3, roles=(Role.AUTHORITY,)))
    bob, _, _ = await harness.start("bob", bootnodes=[address], config=b_config, chain=status(best=5))
    await connected((alice, "bob"), (bob, "alice"))
    return alice, bob, address, alice_scope


# -- handshake ------------------------------------------------------------------------------------
async def test_handshake_tells_each_side_the_others_roles_and_heads(harness):
    alice, bob, address, _ = await pair(harness)
    [seen_by_alice] = alice.peers()
    [seen_by_bob] = bob.peers()
    assert (seen_by_alice.name, seen_by_alice.direction) == ("bob", "inbound")
    assert (seen_by_bob.name, seen_by_bob.direction, seen_by_bob.address) == ("alice", "outbound", address)
    assert seen_by_alice.best == status(best=5).best and seen_by_alice.roles == {Role.FULL}
    assert seen_by_bob.best == status(best=3).best and seen_by_bob.roles == {Role.AUTHORITY}
    assert seen_by_bob.finalized == Head(GENESIS, 0) and seen_by_bob.score == 0


async def test_peer_on_another_genesis_is_refused_with_a_logged_reason(harness, logs):
    alice, address, _ = await harness.start("alice")
    stranger, _, _ = await harness.start("stranger", bootnodes=[address], chain=status(genesis=OTHER_GENESIS))
    line = await logs.wait_for("refused stranger")
    assert "genesis" in line
    await logs.wait_for("refused us: genesis")  # the refused side learns why
    assert alice.peers() == [] and stranger.peers() == []


async def test_peer_speaking_another_protocol_version_is_refused(harness, logs):
    alice, address, _ = await harness.start("alice")
    link = await harness.raw_link(address)
    answer = await raw_handshake(link, version=PROTOCOL_VERSION + 1)
    assert isinstance(answer, Disconnect) and "protocol version" in answer.reason
    await logs.wait_for("refused mallory")
    assert alice.peers() == []


async def test_first_message_must_be_a_handshake(harness, logs):
    alice, address, _ = await harness.start("alice")
    link = await harness.raw_link(address)
    await link.send(encode_message(consensus(1)))
    await logs.wait_for("expected Handshake, got ConsensusMessage")
    assert alice.peers() == []


def _free_port() -> int:
    """A port to listen on that is known before the node starts (for bootnode lists that name
    it); port 0 everywhere else."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_node_dialing_its_own_address_stops_dialing_it(harness, logs):
    if harness.kind == "grpc":
        port = _free_port()
        listen = f"127.0.0.1:{port}"
        me, address, _ = await harness.start("me", listen=listen, bootnodes=[listen])
    else:
        me, address, _ = await harness.start("me", bootnodes=["me"])
    await logs.wait_for("is this node")
    assert me.peers() == []


# -- sending --------------------------------------------------------------------------------------
async def test_messages_to_one_peer_arrive_in_the_order_sent(harness):
    alice, bob, _, _ = await pair(harness)
    sent = []
    for i in range(300):
        message = [consensus(i), Transactions((tx(i),)), Justification(bytes(32), i, b"j")][i % 3]
        assert bob.send("alice", message)
        sent.append(message)
    got = []
    while sum(len(m.extrinsics) if isinstance(m, Transactions) else 1 for m in got) < len(sent):
        [(peer, message)] = await receive(alice)
        assert peer == "bob"
        got.append(message)
    assert got == sent  # no two Transactions are adjacent here, so none are merged


async def test_broadcast_reaches_every_peer_but_the_excluded(harness):
    hub, address, _ = await harness.start("hub")
    spokes = [(await harness.start(name, bootnodes=[address]))[0] for name in ("s1", "s2", "s3")]
    await connected(*((hub, s.local_name) for s in spokes), *((s, "hub") for s in spokes))
    assert hub.broadcast(consensus(1), exclude=["s2"]) == 2
    assert hub.send("s2", consensus(2))
    for spoke, first in zip(spokes, (1, 2, 1)):
        [(peer, message)] = await receive(spoke)
        assert peer == "hub" and message == consensus(first)


async def test_many_transactions_travel_in_few_envelopes(harness):
    alice, bob, _, _ = await pair(harness)
    txs = [tx(i) for i in range(1000)]
    for t in txs:  # one call per transaction, as gossip would do it
        assert bob.send("alice", Transactions((t,)))
    got: list[bytes] = []
    envelopes = 0
    while len(got) < len(txs):
        [(_, message)] = await receive(alice)
        got.extend(message.extrinsics)
        envelopes += 1
    assert got == txs
    assert envelopes <= 2
    assert bob.peers()[0].sent == envelopes


async def test_a_large_transaction_batch_is_split_under_the_batch_size(harness):
    config = _with(CONFIG, tx_batch_bytes=20_000)
    alice, bob, _, _ = await pair(harness, b_config=config)
    txs = tuple(tx(i, 1000) for i in range(100))  # ~100 kB in one message
    assert bob.send("alice", Transactions(txs))
    got: list[bytes] = []
    while len(got) < len(txs):
        [(_, message)] = await receive(alice)
        assert sum(map(len, message.extrinsics)) <= 20_000
        got.extend(message.extrinsics)
    assert tuple(got) == txs


def _with(config: NetworkConfig, **changes) -> NetworkConfig:
    return replace(config, **changes)


async def test_send_to_an_unknown_peer_returns_false(harness):
    alice, _, _ = await harness.start("alice")
    assert alice.send("nobody", consensus(1)) is False
    assert alice.broadcast(consensus(1)) == 0


async def test_send_queue_is_bounded_and_refuses_when_full(harness):
    alice, bob, _, _ = await pair(harness, b_config=_with(CONFIG, send_queue=8))
    # No checkpoint between the calls: the writer cannot drain, the queue fills.
    # (A writer already waiting on the queue takes the first message straight away.)
    results = [bob.send("alice", consensus(i)) for i in range(12)]
    accepted = results.count(True)
    assert accepted in (8, 9) and results == [True] * accepted + [False] * (12 - accepted)
    assert bob.peers()[0].dropped == 12 - accepted
    got = [m for _, m in await receive(alice, accepted)]
    assert got == [consensus(i) for i in range(accepted)]


async def test_full_inbound_queue_holds_back_the_sender_without_losing_messages(harness):
    tight = _with(CONFIG, inbound_queue=2, link_buffer=2, send_queue=4)
    alice, bob, _, _ = await pair(harness, a_config=tight, b_config=tight)
    refused = 0
    sent = 0
    while refused == 0:  # alice reads nothing: bob's queue must fill up
        if bob.send("alice", consensus(sent)):
            sent += 1
        else:
            refused += 1
        await trio.lowlevel.checkpoint()
        if sent > 10_000:
            pytest.fail("the send queue never filled: inbound is not bounded")
    got = [m for _, m in await receive(alice, sent)]
    assert got == [consensus(i) for i in range(sent)]


# -- requests -------------------------------------------------------------------------------------
async def serve_blocks(net):
    """A peer that answers block requests with `max_blocks` headers counting up from `start`."""
    async for peer, message in net.inbound:
        if isinstance(message, BlockRequest):
            blocks = tuple(BlockData(header(message.start + i).hash, header(message.start + i)) for i in range(message.max_blocks))
            net.send(peer, BlockResponse(message.request_id, blocks))


async def test_block_request_gets_the_matching_response(harness, nursery):
    alice, bob, _, _ = await pair(harness)
    nursery.start_soon(serve_blocks, alice)
    first, second = await _both(
        bob.request("alice", BlockRequest(0, 10, max_blocks=2)),
        bob.request("alice", BlockRequest(0, 20, max_blocks=3)),
    )
    assert [b.header.number for b in first.blocks] == [10, 11]
    assert [b.header.number for b in second.blocks] == [20, 21, 22]
    assert first.request_id != second.request_id


async def _both(a, b):
    results = [None, None]

    async def run(i, coro):
        results[i] = await coro

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run, 0, a)
        nursery.start_soon(run, 1, b)
    return results


async def test_block_request_fails_if_the_peer_does_not_answer_in_time(harness):
    alice, bob, _, _ = await pair(harness)
    with pytest.raises(RequestFailed, match="did not answer"):
        await bob.request("alice", BlockRequest(0, 1), timeout=0.2)
    [(_, request)] = await receive(alice)
    assert isinstance(request, BlockRequest)


async def test_block_request_fails_at_once_when_the_peer_disconnects(harness, nursery):
    alice, bob, _, alice_scope = await pair(harness)

    async def stop_alice_on_request():
        [(_, message)] = await receive(alice)
        assert isinstance(message, BlockRequest)
        alice_scope.cancel()

    nursery.start_soon(stop_alice_on_request)
    with trio.fail_after(WAIT):  # well before the request's own timeout
        with pytest.raises(RequestFailed, match="disconnected"):
            await bob.request("alice", BlockRequest(0, 1), timeout=WAIT * 10)


async def test_unrequested_block_response_goes_to_inbound(harness):
    alice, bob, _, _ = await pair(harness)
    assert bob.send("alice", BlockResponse(99, ()))
    [(_, message)] = await receive(alice)
    assert message == BlockResponse(99, ())


async def test_announced_best_block_updates_the_peer_info(harness):
    alice, bob, _, _ = await pair(harness)
    assert bob.send("alice", BlockAnnounce(header(42), True))
    assert bob.send("alice", Justification(header(40).hash, 40, b"proof"))
    await receive(alice, 2)
    [info] = alice.peers()
    assert info.best == Head(header(42).hash, 42)
    assert info.finalized == Head(header(40).hash, 40)


# -- hostile input --------------------------------------------------------------------------------
async def hostile(harness):
    """alice, plus mallory on a raw link with a completed handshake, plus bob as a good peer."""
    alice, address, _ = await harness.start("alice")
    link = await harness.raw_link(address)
    answer = await raw_handshake(link)
    assert isinstance(answer, Handshake) and answer.node_name == "alice"
    bob, _, _ = await harness.start("bob", bootnodes=[address])
    await connected((alice, "mallory"), (alice, "bob"), (bob, "alice"))
    return alice, bob, link, address


async def test_undecodable_message_is_rejected_with_a_reason_and_a_lower_score(harness, logs):
    alice, bob, link, address = await hostile(harness)
    await link.send(b"\xff\xfe not protobuf \x00\x01")
    line = await logs.wait_for("peer mallory: invalid message")
    assert "undecodable" in line
    assert alice.score("mallory") == -Penalty.UNDECODABLE
    # the connection and the node carry on
    await link.send(encode_message(consensus(7)))
    [(peer, message)] = await receive(alice)
    assert (peer, message) == ("mallory", consensus(7))
    assert bob.send("alice", consensus(8))
    assert await receive(alice) == [("bob", consensus(8))]


async def test_message_breaking_a_field_rule_is_rejected(harness, logs):
    alice, bob, link, address = await hostile(harness)
    bad = pb.Envelope(justification=pb.Justification(block_hash=b"short", number=1, justification=b"j"))
    await link.send(bad.SerializeToString())
    line = await logs.wait_for("peer mallory: invalid message")
    assert "justified block hash must be 32 bytes" in line
    assert alice.score("mallory") == -Penalty.UNDECODABLE


async def test_oversized_message_is_rejected_with_a_reason_and_a_lower_score(harness, logs):
    alice, bob, link, address = await hostile(harness)
    huge = pb.Envelope(consensus=pb.Consensus(engine_id=b"aura", payload=bytes(MAX_MESSAGE_SIZE))).SerializeToString()
    assert len(huge) > MAX_MESSAGE_SIZE
    await link.send(huge)
    line = await logs.wait_for("peer mallory: invalid message")
    assert "exceeds" in line
    assert alice.score("mallory") == -Penalty.OVERSIZED
    await link.send(encode_message(consensus(1)))
    assert await receive(alice) == [("mallory", consensus(1))]


async def test_peer_is_banned_and_disconnected_when_its_score_falls_to_the_threshold(harness, logs):
    alice, bob, link, address = await hostile(harness)
    for _ in range(-CONFIG.ban_threshold // Penalty.UNDECODABLE):
        await link.send(b"\xff garbage")
    await logs.wait_for("banning mallory")
    await wait_until(alice, lambda: "mallory" not in {p.name for p in alice.peers()})
    assert [p.name for p in alice.peers()] == ["bob"]
    # it cannot come back while banned
    again = await harness.raw_link(address)
    answer = await raw_handshake(again)
    assert isinstance(answer, Disconnect) and "banned" in answer.reason


async def test_second_handshake_on_a_connection_is_penalized(harness, logs):
    alice, bob, link, address = await hostile(harness)
    head = Head(GENESIS, 0)
    await link.send(encode_message(Handshake(PROTOCOL_VERSION, GENESIS, "x", {Role.FULL}, "mallory", head, head, 1)))
    await logs.wait_for("a second handshake")
    assert alice.score("mallory") == -Penalty.PROTOCOL_VIOLATION


async def test_reported_peer_loses_score_and_is_logged(harness, logs):
    alice, bob, _, _ = await pair(harness)
    alice.report("bob", 30, "block with a bad seal")
    assert alice.peers()[0].score == -30
    await logs.wait_for("peer bob: block with a bad seal")
    alice.report("bob", 70, "vote by a non-authority")
    await wait_until(alice, lambda: alice.peers() == [])
    await logs.wait_for("refused us: banned")  # bob sees why


# -- disconnects ----------------------------------------------------------------------------------
async def test_peer_that_goes_away_is_dropped_and_its_replacement_accepted(harness):
    alice, address, _ = await harness.start("alice")
    bob, _, bob_scope = await harness.start("bob", bootnodes=[address])
    await connected((alice, "bob"))
    bob_scope.cancel()
    await wait_until(alice, lambda: alice.peers() == [])
    bob2, _, _ = await harness.start("bob", bootnodes=[address])
    await connected((alice, "bob"), (bob2, "alice"))
    assert bob2.send("alice", consensus(5))
    assert await receive(alice) == [("bob", consensus(5))]


async def test_dialer_reconnects_when_its_bootnode_comes_back(harness):
    alice, address, alice_scope = await harness.start("alice")
    bob, _, _ = await harness.start("bob", bootnodes=[address])
    await connected((bob, "alice"))
    alice_scope.cancel()
    await wait_until(bob, lambda: bob.peers() == [])
    alice2, _, _ = await harness.start("alice", listen=address)  # (gRPC: the same port again)
    await connected((bob, "alice"), (alice2, "bob"))
    assert alice2.send("bob", consensus(1))
    assert await receive(bob) == [("alice", consensus(1))]


async def test_nodes_dialing_each_other_keep_one_connection(harness):
    listen_a = f"127.0.0.1:{_free_port()}" if harness.kind == "grpc" else None
    listen_b = f"127.0.0.1:{_free_port()}" if harness.kind == "grpc" else None
    address_a = listen_a or "alice"
    address_b = listen_b or "bob"
    alice, _, _ = await harness.start("alice", listen=listen_a, bootnodes=[address_b])
    bob, _, _ = await harness.start("bob", listen=listen_b, bootnodes=[address_a])
    # Both end up on the same single link, whoever dialed it.
    await connected((alice, "bob"), (bob, "alice"))
    await wait_until(bob, lambda: {bob.peers()[0].direction, alice.peers()[0].direction} == {"inbound", "outbound"})
    assert alice.send("bob", consensus(1)) and bob.send("alice", consensus(2))
    assert await receive(bob) == [("alice", consensus(1))]
    assert await receive(alice) == [("bob", consensus(2))]
