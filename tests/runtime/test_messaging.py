"""Message queues: ordered, bounded, hash-chained; deliveries continue the watermark exactly."""

import pytest
from hypothesis import given, strategies as st

from node.pallets.messaging import EMPTY_HEAD, Messaging, chain_heads, next_head
from node.pallets.system import System
from node.runtime.errors import ModuleError
from node.runtime.overlay import StateOverlay
from node.runtime.runtime import Runtime, RuntimeVersion

DEMAND, DG = 2000, 2001


def runtime(chain_id):
    return Runtime(crate="test_messaging", version=RuntimeVersion("t", "t", 1), pallets=[System(0), Messaging(1, chain_id)])


class Chain:
    """One chain's state with channels demand <-> dg (capacity 3, 64-byte messages)."""

    def __init__(self, chain_id):
        self.runtime = runtime(chain_id)
        self.state = dict(self.runtime.build_genesis({"Messaging": {"channels": [(DEMAND, DG, 3, 64), (DG, DEMAND, 3, 64)]}}))
        self.messaging = self.runtime.pallet("Messaging")

    def run(self, fn):
        """Run ``fn(ctx)`` in a transaction; commit on success, leave nothing on failure."""
        overlay = StateOverlay(self.state.get)
        ctx = self.runtime.new_context(overlay, 1)
        with overlay.transaction():
            result = fn(ctx)
        for k, v in overlay.changes.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        return result

    def view(self):
        return StateOverlay(self.state.get)


def test_sent_messages_form_a_hash_chain():
    demand = Chain(DEMAND)
    for payload in (b"a", b"b"):
        demand.run(lambda ctx, p=payload: demand.messaging.send(ctx, DG, p))
    queue = demand.messaging.Outbound.get(demand.view(), DG)
    assert queue == {"head": next_head(next_head(EMPTY_HEAD, b"a"), b"b"), "count": 2}
    assert demand.messaging.pending(demand.view(), DG, 0) == [b"a", b"b"]


def test_full_channel_refuses_the_sender_and_drops_nothing():
    demand = Chain(DEMAND)
    for i in range(3):
        demand.run(lambda ctx, i=i: demand.messaging.send(ctx, DG, bytes([i])))
    before = dict(demand.state)
    with pytest.raises(ModuleError, match="ChannelFull"):
        demand.run(lambda ctx: demand.messaging.send(ctx, DG, b"x"))
    assert demand.state == before
    demand.run(lambda ctx: demand.messaging.acknowledge(ctx, DG, 2))  # frees two places
    demand.run(lambda ctx: demand.messaging.send(ctx, DG, b"x"))
    assert demand.messaging.pending(demand.view(), DG, 2) == [b"\x02", b"x"]


def test_message_over_the_size_bound_and_unknown_channel_are_refused():
    demand = Chain(DEMAND)
    with pytest.raises(ModuleError, match="MessageTooLarge"):
        demand.run(lambda ctx: demand.messaging.send(ctx, DG, bytes(65)))
    with pytest.raises(ModuleError, match="NoChannel"):
        demand.run(lambda ctx: demand.messaging.send(ctx, 2002, b"x"))


def deliver(sender, receiver, count_from=0):
    messages = sender.messaging.pending(sender.view(), receiver.messaging.chain_id, count_from)
    queue = sender.messaging.Outbound.get(sender.view(), receiver.messaging.chain_id)
    return messages, queue["head"], queue["count"]


def test_delivery_moves_the_watermark_exactly_once_and_in_order():
    demand, dg = Chain(DEMAND), Chain(DG)
    for p in (b"1", b"2"):
        demand.run(lambda ctx, p=p: demand.messaging.send(ctx, DG, p))
    messages, head, count = deliver(demand, dg)
    dg.run(lambda ctx: dg.messaging.receive(ctx, DEMAND, messages, head, count))
    assert dg.messaging.Inbound.get(dg.view(), DEMAND) == {"head": head, "count": 2}
    with pytest.raises(ModuleError, match="StaleDelivery"):  # the same delivery again
        dg.run(lambda ctx: dg.messaging.receive(ctx, DEMAND, messages, head, count))
    demand.run(lambda ctx: demand.messaging.send(ctx, DG, b"3"))
    messages, head, count = deliver(demand, dg, 2)
    dg.run(lambda ctx: dg.messaging.receive(ctx, DEMAND, messages, head, count))
    assert dg.messaging.Inbound.get(dg.view(), DEMAND)["count"] == 3


@pytest.mark.parametrize("tamper", ["forged", "reordered", "missing", "extra"])
def test_delivery_refused_if_it_does_not_continue_the_chain(tamper):
    demand, dg = Chain(DEMAND), Chain(DG)
    for p in (b"1", b"2", b"3"):
        demand.run(lambda ctx, p=p: demand.messaging.send(ctx, DG, p))
    messages, head, count = deliver(demand, dg)
    bad = {
        "forged": [b"1", b"X", b"3"],
        "reordered": [b"2", b"1", b"3"],
        "missing": [b"1", b"3", b"3"],
        "extra": [b"1", b"2", b"3", b"4"],
    }[tamper]
    before = dict(dg.state)
    with pytest.raises(ModuleError, match="HeadMismatch|BeyondQueue"):
        dg.run(lambda ctx: dg.messaging.receive(ctx, DEMAND, bad, head, count))
    assert dg.state == before


def test_a_partial_delivery_moves_the_watermark_and_the_rest_must_reach_the_head():
    demand, dg = Chain(DEMAND), Chain(DG)
    for p in (b"1", b"2", b"3"):
        demand.run(lambda ctx, p=p: demand.messaging.send(ctx, DG, p))
    messages, head, count = deliver(demand, dg)
    dg.run(lambda ctx: dg.messaging.receive(ctx, DEMAND, messages[:2], head, count))
    assert dg.messaging.Inbound.get(dg.view(), DEMAND)["count"] == 2
    with pytest.raises(ModuleError, match="HeadMismatch"):
        dg.run(lambda ctx: dg.messaging.receive(ctx, DEMAND, [b"X"], head, count))
    dg.run(lambda ctx: dg.messaging.receive(ctx, DEMAND, messages[2:], head, count))
    assert dg.messaging.Inbound.get(dg.view(), DEMAND) == {"head": head, "count": 3}


def test_acknowledgement_cannot_go_backwards_or_beyond_what_was_sent():
    demand = Chain(DEMAND)
    demand.run(lambda ctx: demand.messaging.send(ctx, DG, b"1"))
    with pytest.raises(ModuleError, match="BadAcknowledgement"):
        demand.run(lambda ctx: demand.messaging.acknowledge(ctx, DG, 2))
    demand.run(lambda ctx: demand.messaging.acknowledge(ctx, DG, 1))
    with pytest.raises(ModuleError, match="BadAcknowledgement"):
        demand.run(lambda ctx: demand.messaging.acknowledge(ctx, DG, 0))


@given(st.lists(st.binary(max_size=8), min_size=1, max_size=20), st.integers(0, 19))
def test_any_split_of_a_queue_into_deliveries_reaches_the_same_head(messages, split):
    split = min(split, len(messages))
    first = chain_heads(EMPTY_HEAD, messages[:split])
    assert chain_heads(first, messages[split:]) == chain_heads(EMPTY_HEAD, messages)
