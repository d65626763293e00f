"""Router.include: a candidate's messages must continue the anchored queues, or it is not included.

Candidates go through `ParaInclusion.apply_backed` (backed by real validator signatures) on the
relay runtime's state; the last tests take the whole `enter` inherent. Every refusal is the
Router's typed error and leaves relay state exactly as it was — a candidate is all or nothing.
"""

from __future__ import annotations

import dataclasses

import pytest

from node.pallets.messaging import EMPTY_HEAD, chain_heads
from node.runtime.executive import InherentFailed
from relay.inclusion import EnterData
from relay.primitives import CandidateCommitments, OutboundBatch
from tests.relay.harness import child_header
from tests.xchain.world import CAPACITY, DEMAND, DG, MAX_MESSAGE, RELAY_CHAIN, STORAGE, Relay, rejects


@pytest.fixture
def relay():
    return Relay()


def batch(dest: int, first: int, messages, prior: bytes = EMPTY_HEAD, head: bytes | None = None) -> OutboundBatch:
    messages = tuple(messages)
    return OutboundBatch(dest, first, messages, chain_heads(prior, messages) if head is None else head)


def candidate(relay: Relay, para_id: int, outbound=(), processed=()):
    """A candidate of ``para_id``'s next block, backed by two validators, with these messages."""
    parent = relay.head_header(para_id)
    header = child_header(parent, salt=repr((outbound, processed)).encode())
    receipt = relay.receipt(para_id, parent, header=header, relay_parent=relay.hashes[0])
    receipt = dataclasses.replace(receipt, commitments=CandidateCommitments(header.encode(), tuple(outbound), tuple(processed)))
    return relay.backed(receipt)


def include(relay: Relay, backed):
    inclusion = relay.inclusion

    def run(ctx):
        context = inclusion.inclusion_context(ctx.state, ctx.block_number)
        return inclusion.apply_backed(ctx.state, context, backed)

    return relay.apply(run)


def refused(relay: Relay, error: str, backed):
    return rejects(relay, "Router", error, lambda ctx: relay.inclusion.apply_backed(
        ctx.state, relay.inclusion.inclusion_context(ctx.state, ctx.block_number), backed))


def queue(relay: Relay, sender: int, receiver: int) -> dict:
    return relay.router.Heads.get(relay.overlay(), sender, receiver)


MESSAGES = (b"\x00one", b"\x00two")


@pytest.fixture
def anchored(relay):
    """demand has sent two messages to dg, anchored on the relay."""
    include(relay, candidate(relay, DEMAND, [batch(DG, 0, MESSAGES)]))
    return relay


def test_messages_continuing_the_queue_are_anchored(anchored):
    assert queue(anchored, DEMAND, DG) == {"head": chain_heads(EMPTY_HEAD, MESSAGES), "count": 2, "processed": 0}
    assert anchored.router.Contents.get(anchored.overlay(), DEMAND, DG, 1) == MESSAGES[1]


def test_batch_rejected_unless_it_starts_at_the_anchored_count(anchored):
    head = queue(anchored, DEMAND, DG)["head"]
    refused(anchored, "WrongQueueIndex", candidate(anchored, DEMAND, [batch(DG, 3, [b"x"], head)]))  # a gap
    refused(anchored, "WrongQueueIndex", candidate(anchored, DEMAND, [batch(DG, 1, [b"x"], head)]))  # overlap
    refused(anchored, "WrongQueueIndex", candidate(anchored, DEMAND, [batch(DG, 0, MESSAGES)]))  # a replay
    refused(anchored, "WrongQueueIndex", candidate(anchored, DEMAND, [batch(DG, 2, [], head)]))  # empty


def test_batch_rejected_if_it_does_not_chain_to_the_committed_head(anchored):
    head = queue(anchored, DEMAND, DG)["head"]
    refused(anchored, "HeadMismatch", candidate(anchored, DEMAND, [batch(DG, 2, [b"x"], head, head=bytes(32))]))
    forged = batch(DG, 2, [b"y"], head)  # the head of other messages than the ones carried
    refused(anchored, "HeadMismatch", candidate(anchored, DEMAND, [dataclasses.replace(forged, messages=(b"x",))]))
    refused(anchored, "HeadMismatch", candidate(anchored, DEMAND, [batch(DG, 2, [b"x"], EMPTY_HEAD)]))  # not from the anchored head


def test_upward_batch_must_continue_the_queue_too(relay):
    refused(relay, "WrongQueueIndex", candidate(relay, DEMAND, [batch(RELAY_CHAIN, 1, [b"\x00up"])]))
    refused(relay, "HeadMismatch", candidate(relay, DEMAND, [batch(RELAY_CHAIN, 0, [b"\x00up"], head=bytes(32))]))


def test_batch_rejected_without_an_open_channel(relay):
    refused(relay, "NoChannel", candidate(relay, DEMAND, [batch(STORAGE, 0, [b"x"])]))
    refused(relay, "NoChannel", candidate(relay, DEMAND, [batch(DEMAND, 0, [b"x"])]))  # to itself


def test_watermark_rejected_without_an_open_channel(relay):
    """A watermark of 0 on a channel that does not exist would store an entry for it."""
    refused(relay, "NoChannel", candidate(relay, DEMAND, processed=[(STORAGE, 0)]))
    refused(relay, "NoChannel", candidate(relay, DEMAND, processed=[(4242, 0)]))


def test_batch_rejected_over_the_channel_capacity(anchored):
    head = queue(anchored, DEMAND, DG)["head"]
    refused(anchored, "ChannelFull", candidate(anchored, DEMAND, [batch(DG, 2, [b"3", b"4", b"5"], head)]))
    include(anchored, candidate(anchored, DEMAND, [batch(DG, 2, [b"3", b"4"], head)]))  # exactly full
    assert queue(anchored, DEMAND, DG)["count"] == CAPACITY
    refused(anchored, "ChannelFull", candidate(anchored, DEMAND, [batch(DG, 4, [b"5"], queue(anchored, DEMAND, DG)["head"])]))


def test_processing_frees_capacity(anchored):
    head = queue(anchored, DEMAND, DG)["head"]
    include(anchored, candidate(anchored, DG, processed=[(DEMAND, 2)]))
    include(anchored, candidate(anchored, DEMAND, [batch(DG, 2, [b"3", b"4", b"5", b"6"], head)]))
    assert queue(anchored, DEMAND, DG) == {"head": chain_heads(head, [b"3", b"4", b"5", b"6"]), "count": 6, "processed": 2}
    assert anchored.router.Contents.get(anchored.overlay(), DEMAND, DG, 0) is None  # pruned when processed


def test_batch_rejected_if_a_message_exceeds_the_size_bound(relay):
    refused(relay, "MessageTooLarge", candidate(relay, DEMAND, [batch(DG, 0, [bytes(MAX_MESSAGE + 1)])]))


def test_watermark_rejected_if_past_the_anchored_queue(anchored):
    refused(anchored, "BadWatermark", candidate(anchored, DG, processed=[(DEMAND, 3)]))
    refused(anchored, "BadWatermark", candidate(anchored, DG, processed=[(RELAY_CHAIN, 1)]))  # nothing sent down


def test_watermark_rejected_if_it_goes_backwards(anchored):
    include(anchored, candidate(anchored, DG, processed=[(DEMAND, 2)]))
    refused(anchored, "BadWatermark", candidate(anchored, DG, processed=[(DEMAND, 1)]))
    include(anchored, candidate(anchored, DG, processed=[(DEMAND, 2)]))  # standing still is fine
    assert queue(anchored, DEMAND, DG)["processed"] == 2


def test_candidate_is_refused_whole_if_its_last_batch_is_bad(relay):
    """The good batch to dg is written before the bad upward one fails: the transaction drops it."""
    bad = candidate(relay, DEMAND, [batch(DG, 0, MESSAGES), batch(RELAY_CHAIN, 0, [b"\x00up"], head=bytes(32))])
    refused(relay, "HeadMismatch", bad)
    assert queue(relay, DEMAND, DG)["count"] == 0


def test_enter_drops_a_candidate_whose_messages_break_the_queue(anchored):
    head = queue(anchored, DEMAND, DG)["head"]
    bad = candidate(anchored, DEMAND, [batch(DG, 2, [b"x"], head, head=bytes(32))])
    check = anchored.check(EnterData((bad,)))
    assert check.data.backed == () and [d.error for d in check.dropped] == ["HeadMismatch"]
    before = dict(anchored.state)
    with pytest.raises(InherentFailed, match="Router.HeadMismatch"):
        anchored.block(enter=EnterData((bad,)))
    assert anchored.state == before
    good = candidate(anchored, DEMAND, [batch(DG, 2, [b"x"], head)])
    anchored.block(enter=EnterData((good,)))
    assert queue(anchored, DEMAND, DG)["count"] == 3


def test_watermark_rejected_if_a_source_is_listed_twice(relay):
    """Listing the relay twice would report only the second range of processed downward
    messages: the transfers in the first would wait in transit forever."""
    for _ in range(2):
        relay.apply(relay.signed(relay.alice, "XTransfers", "transfer", dest=DEMAND, beneficiary=relay.bob.public_key,
                                 amount=10**12, timeout_blocks=100))
    refused(relay, "DuplicateWatermark", candidate(relay, DEMAND, processed=[(RELAY_CHAIN, 1), (RELAY_CHAIN, 2)]))
    refused(relay, "DuplicateWatermark", candidate(relay, DEMAND, processed=[(RELAY_CHAIN, 2), (RELAY_CHAIN, 2)]))
    relay.include(DEMAND, candidate(relay, DEMAND, processed=[(RELAY_CHAIN, 2)]).receipt.commitments)  # and dispatch
    assert relay.xtransfers.Transit.get(relay.overlay(), DEMAND, 0) is None  # both settled
    assert relay.xtransfers.Transit.get(relay.overlay(), DEMAND, 1) is None
