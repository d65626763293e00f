"""Router: the relay's side of cross-chain messages. Heads go up, messages are anchored here.

Every channel (sender, receiver) between the relay (chain 0) and the parachains has, in relay
state,

- `Heads[(s, d)]`: the hash-chained head of the sender's queue and its length, as the sender's
  last included candidate committed them, and `processed` — how far the receiver's last
  included candidate says it has processed the queue;
- `Contents[(s, d, i)]`: message number i, from inclusion until the receiver has processed it.

A parachain receives by proving `Heads` and `Contents` with a read proof against a finalized
relay header it has imported (`parachains.parachain_system`); the sender learns what was
processed (its acknowledgement) the same way. The relay itself receives upward messages
(d = 0) when the candidate that sent them is included, and sends downward ones (s = 0) with
`send`; both kinds live in the same maps, so a parachain proves every inbound queue alike.

Decisions:
- The relay re-chains every batch from its stored head and refuses a candidate whose messages
  do not continue the queue: the backers already checked the commitments against
  re-execution, this keeps a backing majority from rewriting anchored history.
- Message bodies sit in relay state until processed (Polkadot's HRMP does the same); the
  sender keeps its own copy until acknowledged, so no party can lose a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from node.pallets.messaging import ChannelBook, ChannelConfig, EMPTY_HEAD, MessageHandlers, chain_heads, next_head
from node.primitives.scale_types import U32, U64, AccountId, Bytes, Composite, Field, H256
from node.runtime.pallet import Pallet, StorageMap, call, event
from relay.primitives import CandidateCommitments, ParaId

RELAY_CHAIN = 0
OPEN_WEIGHT = 20_000_000

ChannelHead = Composite(
    "parawatt_relay::router::ChannelHead",
    [Field("head", H256, "H256"), Field("count", U64, "u64"), Field("processed", U64, "u64")],
)
EMPTY_CHANNEL = {"head": EMPTY_HEAD, "count": 0, "processed": 0}


@dataclass(frozen=True, slots=True)
class Routed:
    """What including one candidate did to the channels, for `dispatch` to act on."""

    para_id: ParaId
    upward: tuple[tuple[int, bytes], ...]  # (seq, message) sent to the relay
    downward_processed: tuple[int, int] | None  # (from, to): relay messages the para processed


class Router(ChannelBook, Pallet):  # genesis: {"channels": [(sender, receiver, capacity, max size), …]}
    name = "Router"
    crate = "parawatt_relay::router"

    # -- storage ------------------------------------------------------------------------------
    Channels = StorageMap([(U32, "Twox64Concat"), (U32, "Twox64Concat")], ChannelConfig,
                          docs="Open channels (sender, receiver) with their bounds.")
    Heads = StorageMap([(U32, "Twox64Concat"), (U32, "Twox64Concat")], ChannelHead, default=EMPTY_CHANNEL,
                       docs="Per channel: the anchored queue head and length, and how far the receiver processed it.")
    Contents = StorageMap([(U32, "Twox64Concat"), (U32, "Twox64Concat"), (U64, "Twox64Concat")], Bytes,
                          docs="Anchored messages by (sender, receiver, index), until the receiver processed them.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "ChannelOpened", "A channel was opened.", sender=U32, receiver=U32, capacity=U32, max_message_size=U32),
        event(1, "MessagesAnchored", "A candidate's messages were anchored; the queue head moved.", sender=U32, receiver=U32, count=U64, head=H256),
        event(2, "MessagesProcessed", "The receiver processed messages of a queue up to `processed`.", sender=U32, receiver=U32, processed=U64),
        event(3, "MessageSent", "The relay queued a message for a parachain as number `seq`.", dest=U32, seq=U64, head=H256),
        event(4, "MessageFailed", "An upward message could not be processed; nothing of it was kept.", source=U32, seq=U64, error=Bytes),
        event(5, "Remark", "A remark arrived from a parachain.", source=U32, sender=AccountId, data=Bytes),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("NoChannel", "No channel is open between these chains."),
        ("ChannelExists", "This channel is already open."),
        ("BadChannelBounds", "Capacity and message size must be positive."),
        ("WrongQueueIndex", "The messages do not start where the anchored queue ends."),
        ("HeadMismatch", "The messages do not chain from the anchored head to the committed one."),
        ("ChannelFull", "The channel holds its capacity of unprocessed messages."),
        ("MessageTooLarge", "A message exceeds the channel's maximum message size."),
        ("BadWatermark", "A processed watermark goes backwards or past the queue's end."),
        ("DuplicateWatermark", "A candidate lists one source's processed watermark twice."),
    )

    def __init__(self, index: int):
        super().__init__(index)
        self.handlers = MessageHandlers(self)
        self.delivered_listeners: list[Callable] = []  # fn(ctx, dest, first, last) for downward messages

    # -- calls --------------------------------------------------------------------------------
    @call(0, sender=U32, receiver=U32, capacity=U32, max_message_size=U32, weight=OPEN_WEIGHT)
    def open_channel(self, ctx, origin, sender, receiver, capacity, max_message_size):
        """Open a channel (root: the operator). Both chains must open it in their own state too."""
        ctx.ensure_root(origin)
        self._open(ctx.state, sender, receiver, capacity, max_message_size)
        self.deposit_event(ctx, "ChannelOpened", {"sender": sender, "receiver": receiver, "capacity": capacity,
                                                  "max_message_size": max_message_size})

    # -- inclusion ----------------------------------------------------------------------------
    def include(self, state, para: ParaId, commitments: CandidateCommitments) -> Routed:
        """Anchor a candidate's outbound messages and processed watermarks; raises the pallet's
        error (the caller's transaction rolls back) if they do not continue the queues."""
        upward: list[tuple[int, bytes]] = []
        for batch in commitments.outbound:
            config = self.Channels.get(state, para, batch.dest)
            if config is None:
                raise self.error("NoChannel")
            queue = self.Heads.get(state, para, batch.dest)
            if batch.first != queue["count"] or not batch.messages:
                raise self.error("WrongQueueIndex")
            if any(len(m) > config["max_message_size"] for m in batch.messages):
                raise self.error("MessageTooLarge")
            if chain_heads(queue["head"], batch.messages) != batch.head:
                raise self.error("HeadMismatch")
            count = queue["count"] + len(batch.messages)
            if batch.dest == RELAY_CHAIN:  # received here and now
                upward.extend(enumerate(batch.messages, start=batch.first))
                self.Heads.set(state, para, RELAY_CHAIN, {"head": batch.head, "count": count, "processed": count})
                continue
            if count - queue["processed"] > config["capacity"]:
                raise self.error("ChannelFull")
            for seq, message in enumerate(batch.messages, start=batch.first):
                self.Contents.set(state, para, batch.dest, seq, message)
            self.Heads.set(state, para, batch.dest, {"head": batch.head, "count": count, "processed": queue["processed"]})
        downward = None
        if len({source for source, _ in commitments.processed}) != len(commitments.processed):
            raise self.error("DuplicateWatermark")  # a second one would hide the first's range from `downward`
        for source, watermark in commitments.processed:
            if not self.Channels.contains(state, source, para):
                raise self.error("NoChannel")  # else a watermark of 0 would store a head for it
            queue = self.Heads.get(state, source, para)
            if watermark < queue["processed"] or watermark > queue["count"]:
                raise self.error("BadWatermark")
            for seq in range(queue["processed"], watermark):
                self.Contents.remove(state, source, para, seq)
            if source == RELAY_CHAIN and watermark > queue["processed"]:
                downward = (queue["processed"], watermark)
            self.Heads.set(state, source, para, {**queue, "processed": watermark})
        return Routed(para, tuple(upward), downward)

    def dispatch(self, ctx, routed: Routed, commitments: CandidateCommitments) -> None:
        """After inclusion: events, upward messages to their handlers, and the news of processed
        downward messages to whoever sent them (transfers settle on it)."""
        para = routed.para_id
        for batch in commitments.outbound:
            self.deposit_event(ctx, "MessagesAnchored", {"sender": para, "receiver": batch.dest,
                                                         "count": batch.first + len(batch.messages), "head": batch.head})
        for source, watermark in commitments.processed:
            self.deposit_event(ctx, "MessagesProcessed", {"sender": source, "receiver": para, "processed": watermark})
        for seq, message in routed.upward:
            self.handlers.dispatch(ctx, para, seq, message)
        if routed.downward_processed is not None:
            first, last = routed.downward_processed
            for listener in self.delivered_listeners:
                listener(ctx, para, first, last)

    # -- downward -----------------------------------------------------------------------------
    def send(self, ctx, dest: ParaId, message: bytes) -> int:
        """Queue ``message`` from the relay to parachain ``dest``; its number. Refused (nothing
        written) with no channel, a message too large, or a full channel."""
        state = ctx.state
        config = self.Channels.get(state, RELAY_CHAIN, dest)
        if config is None:
            raise self.error("NoChannel")
        if len(message) > config["max_message_size"]:
            raise self.error("MessageTooLarge")
        queue = self.Heads.get(state, RELAY_CHAIN, dest)
        if queue["count"] - queue["processed"] >= config["capacity"]:
            raise self.error("ChannelFull")
        seq = queue["count"]
        head = next_head(queue["head"], message)
        self.Contents.set(state, RELAY_CHAIN, dest, seq, message)
        self.Heads.set(state, RELAY_CHAIN, dest, {"head": head, "count": seq + 1, "processed": queue["processed"]})
        self.deposit_event(ctx, "MessageSent", {"dest": dest, "seq": seq, "head": head})
        return seq



def channel_head_key(sender: int, receiver: int) -> bytes:
    return Router.Heads.key(sender, receiver)


def content_key(sender: int, receiver: int, seq: int) -> bytes:
    return Router.Contents.key(sender, receiver, seq)


__all__ = ["Router", "Routed", "ChannelHead", "channel_head_key", "content_key", "RELAY_CHAIN"]
