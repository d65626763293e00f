"""Fault injection on the in-memory network, in trio's virtual time (autojump_clock)."""

from __future__ import annotations

from dataclasses import replace

import trio

from node.network.memory import MemoryHub, MemoryNetwork
from node.network.messages import ConsensusMessage
from tests.network.helpers import CONFIG, connected, receive, status, wait_until

NAMES = ("a", "b", "c", "d")


def consensus(i: int) -> ConsensusMessage:
    return ConsensusMessage(b"bft0", i.to_bytes(4, "little"))


async def mesh(nursery, hub: MemoryHub, names=NAMES) -> dict[str, MemoryNetwork]:
    """Every node lists every other as a bootnode; returns once all pairs are connected."""
    nets = {n: MemoryNetwork(hub, n, status(), bootnodes=[m for m in names if m != n], config=CONFIG) for n in names}
    for net in nets.values():
        await nursery.start(net.run)
    await _all_connected(nets)
    return nets


async def _all_connected(nets) -> None:
    for name, net in nets.items():
        others = set(nets) - {name}
        await wait_until(net, lambda net=net, others=others: {p.name for p in net.peers()} == others)
    # (no link is replaced after this: each pair keeps whatever link it has)


async def test_partition_cuts_links_between_groups_and_heal_reconnects_them(nursery, autojump_clock):
    hub = MemoryHub()
    nets = await mesh(nursery, hub)
    hub.partition({"a", "b"}, {"c", "d"})
    await wait_until(nets["a"], lambda: {p.name for p in nets["a"].peers()} == {"b"})
    await wait_until(nets["c"], lambda: {p.name for p in nets["c"].peers()} == {"d"})
    assert nets["a"].broadcast(consensus(1)) == 1
    assert await receive(nets["b"]) == [("a", consensus(1))]
    # a long partition: dial loops keep failing with backoff, no link forms across
    await trio.sleep(60)
    assert {p.name for p in nets["a"].peers()} == {"b"}
    hub.heal()
    await _all_connected(nets)  # within the backoff cap (0.5 s in CONFIG), in virtual time
    assert nets["a"].broadcast(consensus(2)) == 3
    for name in ("b", "c", "d"):
        assert await receive(nets[name]) == [("a", consensus(2))]


async def test_node_in_no_group_is_cut_off_from_everyone(nursery, autojump_clock):
    hub = MemoryHub()
    nets = await mesh(nursery, hub)
    hub.partition({"a", "b", "c"})
    await wait_until(nets["d"], lambda: nets["d"].peers() == [])
    assert {p.name for p in nets["a"].peers()} == {"b", "c"}


async def test_delay_postpones_delivery_by_that_much_trio_time_and_keeps_order(nursery, autojump_clock):
    hub = MemoryHub()
    nets = await mesh(nursery, hub, ("a", "b"))
    hub.set_delay("a", "b", 2.5)
    start = trio.current_time()
    assert nets["a"].send("b", consensus(1))
    await trio.sleep(0.1)  # (virtual) the writer puts it on the link, where the delay applies
    hub.set_delay("a", "b", 0.5)  # a shorter delay later must not overtake the earlier message
    assert nets["a"].send("b", consensus(2))
    [(_, first)] = await receive(nets["b"])
    assert first == consensus(1)
    assert trio.current_time() - start >= 2.5
    [(_, second)] = await receive(nets["b"])
    assert second == consensus(2)
    # and the other direction is delayed too
    start = trio.current_time()
    assert nets["b"].send("a", consensus(3))
    assert await receive(nets["a"]) == [("b", consensus(3))]
    assert 0.5 <= trio.current_time() - start < 1.0


async def test_dropped_envelopes_are_lost_but_the_link_stays_up(nursery, autojump_clock):
    hub = MemoryHub()
    nets = await mesh(nursery, hub, ("a", "b"))
    hub.set_drop("a", "b", 1.0)
    for i in range(10):
        assert nets["a"].send("b", consensus(i))
    await trio.sleep(1)  # (virtual) the writer puts them on the link, where they are lost
    hub.set_drop("a", "b", 0.0)
    assert nets["a"].send("b", consensus(99))
    assert await receive(nets["b"]) == [("a", consensus(99))]
    assert {p.name for p in nets["a"].peers()} == {"b"}


async def test_disconnected_node_stays_away_until_reconnected(nursery, autojump_clock):
    hub = MemoryHub()
    nets = await mesh(nursery, hub, ("a", "b", "c"))
    hub.disconnect("c")
    await wait_until(nets["c"], lambda: nets["c"].peers() == [])
    await trio.sleep(30)
    assert nets["c"].peers() == [] and {p.name for p in nets["a"].peers()} == {"b"}
    hub.reconnect("c")
    await _all_connected(nets)


async def _lossy_run(seed: int) -> list[int]:
    """Which of 200 messages arrive over a link dropping half of them, for one seed."""
    hub = MemoryHub(seed=seed)
    received: list[int] = []
    async with trio.open_nursery() as nursery:
        nets = await mesh(nursery, hub, ("a", "b"))
        hub.set_drop("a", "b", 0.5)
        for i in range(200):
            assert nets["a"].send("b", consensus(i))
            await trio.sleep(0.01)
        hub.set_drop("a", "b", 0.0)
        assert nets["a"].send("b", consensus(1000))
        while True:
            [(_, message)] = await receive(nets["b"])
            number = int.from_bytes(message.payload, "little")
            if number == 1000:
                break
            received.append(number)
        nursery.cancel_scope.cancel()
    return received


async def test_same_seed_gives_the_same_losses(autojump_clock):
    first = await _lossy_run(seed=3)
    assert first == await _lossy_run(seed=3)
    assert 50 < len(first) < 150
    assert first != await _lossy_run(seed=4)


async def test_stopped_node_is_dropped_by_its_peers(nursery, autojump_clock):
    hub = MemoryHub()
    scope = trio.CancelScope()
    a = MemoryNetwork(hub, "a", status(), config=CONFIG)
    b = MemoryNetwork(hub, "b", status(), bootnodes=["a"], config=CONFIG)
    await nursery.start(a.run)

    async def run_b(task_status=trio.TASK_STATUS_IGNORED):
        with scope:
            await b.run(task_status=task_status)

    await nursery.start(run_b)
    await connected((a, "b"))
    scope.cancel()
    await wait_until(a, lambda: a.peers() == [])


async def test_nodes_dialing_each_other_at_the_same_instant_settle_on_one_link(nursery, autojump_clock, logs):
    hub = MemoryHub()
    config = replace(CONFIG, backoff_jitter=0.0)
    hub.partition({"alice"}, {"bob"})  # both fail their first dial at t=0 ...
    alice = MemoryNetwork(hub, "alice", status(), bootnodes=["bob"], config=config)
    bob = MemoryNetwork(hub, "bob", status(), bootnodes=["alice"], config=config)
    await nursery.start(alice.run)
    await nursery.start(bob.run)
    await trio.sleep(config.backoff_initial / 2)
    hub.heal()  # ... and redial at the same virtual instant
    await connected((alice, "bob"), (bob, "alice"))
    await trio.sleep(60)
    # The link the lower name dialed stays, at both ends, and nothing churns after that.
    assert [(p.name, p.direction) for p in alice.peers()] == [("bob", "outbound")]
    assert [(p.name, p.direction) for p in bob.peers()] == [("alice", "inbound")]
    assert sum("connected to" in line and "disconnected" not in line for line in logs.lines) <= 3
    assert alice.send("bob", consensus(1)) and bob.send("alice", consensus(2))
    assert await receive(bob) == [("alice", consensus(1))]
    assert await receive(alice) == [("bob", consensus(2))]
