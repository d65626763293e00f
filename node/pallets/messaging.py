"""pallet_messaging: ordered, bounded message queues between chains, each with a hash-chained head.

The first building block of cross-chain messages (issue 5): every chain (the relay is chain 0,
parachains their para id) keeps, per channel,

- an outbound queue: messages by index and a head `h_n = blake2_256(h_{n-1} ++ blake2_256(m_n))`
  with `h_0 = 0`, so one 32-byte head commits to the whole ordered history;
- an inbound watermark: how many messages of the sender's queue it has processed, and the head
  after them. A delivery must continue the chain exactly from the watermark: a replayed, reordered,
  forged or skipped message cannot reproduce the proven head, so it is refused whole.

Channels are opened in genesis or by root (the operator through Sudo), with a capacity and a
message size bound. A full channel refuses the sender with `ChannelFull`; nothing is dropped.
The receiver acknowledges by its watermark (proven back to the sender); the sender prunes up to
it, which frees capacity.

What proves a delivery (the relay-anchored queue head and the SPV proofs of the messages) is the
caller's business: `receive` takes the head and count the caller has proven.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.primitives.hashing import blake2_256
from node.primitives.scale_types import U32, U64, Bytes, Composite, Field, H256
from node.runtime.pallet import Constant, Pallet, StorageMap, call, event, map_of

RELAY_CHAIN = 0  # the relay's chain id in channel names
EMPTY_HEAD = bytes(32)
OPEN_WEIGHT = 20_000_000

ChannelConfig = Composite(
    "pallet_messaging::ChannelConfig",
    [Field("capacity", U32, "u32"), Field("max_message_size", U32, "u32")],
)
QueueState = Composite(
    "pallet_messaging::QueueState",
    [Field("head", H256, "H256"), Field("count", U64, "u64")],
)


def next_head(head: bytes, message: bytes) -> bytes:
    """The queue head after ``message``: a hash chain over the whole ordered history."""
    return blake2_256(head + blake2_256(message))


def chain_heads(head: bytes, messages) -> bytes:
    for message in messages:
        head = next_head(head, message)
    return head


@dataclass(frozen=True, slots=True)
class Commitment:
    """What a chain's block commits to for one outbound channel (goes into candidate
    commitments, and the relay stores it)."""

    dest: int
    head: bytes
    count: int


class Messaging(Pallet):
    name = "Messaging"
    crate = "pallet_messaging"

    # -- storage ------------------------------------------------------------------------------
    Channels = StorageMap([(U32, "Twox64Concat"), (U32, "Twox64Concat")], ChannelConfig,
                          docs="Open channels (sender, receiver) with their bounds.")
    Outbound = map_of(U32, QueueState, hasher="Twox64Concat", default={"head": EMPTY_HEAD, "count": 0},
                      docs="Per destination: the head of the queue and how many messages were ever sent.")
    OutboundMessages = StorageMap([(U32, "Twox64Concat"), (U64, "Twox64Concat")], Bytes,
                                  docs="Queued messages by (destination, index), until acknowledged.")
    Acknowledged = map_of(U32, U64, hasher="Twox64Concat", default=0,
                          docs="Per destination: how many messages the receiver has confirmed processing.")
    Inbound = map_of(U32, QueueState, hasher="Twox64Concat", default={"head": EMPTY_HEAD, "count": 0},
                     docs="Per source: the watermark — messages processed and the head after them.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "ChannelOpened", "A channel was opened.", sender=U32, receiver=U32, capacity=U32, max_message_size=U32),
        event(1, "MessageSent", "A message was queued as number `seq` of its channel.", dest=U32, seq=U64, head=H256),
        event(2, "MessagesReceived", "Messages were received in order; the watermark moved.", source=U32, count=U64, head=H256),
        event(3, "Acknowledged", "The receiver confirmed messages; the queue was pruned.", dest=U32, count=U64),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("NoChannel", "No channel is open between these chains."),
        ("ChannelFull", "The channel holds its capacity of unacknowledged messages."),
        ("MessageTooLarge", "The message exceeds the channel's maximum message size."),
        ("ChannelExists", "This channel is already open."),
        ("BadChannelBounds", "Capacity and message size must be positive."),
        ("HeadMismatch", "The messages do not continue the queue from the watermark to the proven head."),
        ("CountMismatch", "The number of messages does not match the proven count."),
        ("StaleDelivery", "The proven queue is not ahead of the watermark (a replay)."),
        ("BadAcknowledgement", "An acknowledgement beyond what was sent, or going backwards."),
    )

    def __init__(self, index: int, chain_id: int):
        super().__init__(index)
        self.chain_id = chain_id  # this chain's id: RELAY_CHAIN or its para id

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [Constant("ChainId", U32, self.chain_id, "This chain's id in channel names (0 is the relay).")]

    # -- calls --------------------------------------------------------------------------------
    @call(0, sender=U32, receiver=U32, capacity=U32, max_message_size=U32, weight=OPEN_WEIGHT)
    def open_channel(self, ctx, origin, sender, receiver, capacity, max_message_size):
        """Open a channel (root: the operator)."""
        ctx.ensure_root(origin)
        self._open(ctx.state, sender, receiver, capacity, max_message_size)
        self.deposit_event(ctx, "ChannelOpened", {"sender": sender, "receiver": receiver, "capacity": capacity,
                                                  "max_message_size": max_message_size})

    # -- the interface other pallets use ------------------------------------------------------
    def send(self, ctx, dest: int, message: bytes) -> int:
        """Queue ``message`` for ``dest``; returns its index. Refused (nothing written) when there
        is no channel, the message is too large, or the channel is full."""
        state = ctx.state
        config = self.Channels.get(state, self.chain_id, dest)
        if config is None:
            raise self.error("NoChannel")
        if len(message) > config["max_message_size"]:
            raise self.error("MessageTooLarge")
        queue = self.Outbound.get(state, dest)
        if queue["count"] - self.Acknowledged.get(state, dest) >= config["capacity"]:
            raise self.error("ChannelFull")
        index = queue["count"]
        head = next_head(queue["head"], message)
        self.OutboundMessages.set(state, dest, index, message)
        self.Outbound.set(state, dest, {"head": head, "count": index + 1})
        self.deposit_event(ctx, "MessageSent", {"dest": dest, "seq": index, "head": head})
        return index

    def receive(self, ctx, source: int, messages: list[bytes], proven_head: bytes, proven_count: int) -> None:
        """Accept ``messages`` from ``source`` if they continue the queue from the watermark to the
        proven (head, count) exactly; move the watermark. The caller dispatches them after."""
        state = ctx.state
        if self.Channels.get(state, source, self.chain_id) is None:
            raise self.error("NoChannel")
        watermark = self.Inbound.get(state, source)
        if proven_count <= watermark["count"]:
            raise self.error("StaleDelivery")
        if watermark["count"] + len(messages) != proven_count:
            raise self.error("CountMismatch")
        if chain_heads(watermark["head"], messages) != proven_head:
            raise self.error("HeadMismatch")
        self.Inbound.set(state, source, {"head": proven_head, "count": proven_count})
        self.deposit_event(ctx, "MessagesReceived", {"source": source, "count": proven_count, "head": proven_head})

    def acknowledge(self, ctx, dest: int, processed: int) -> None:
        """The receiver has processed ``processed`` messages (proven by the caller): prune them."""
        state = ctx.state
        done = self.Acknowledged.get(state, dest)
        sent = self.Outbound.get(state, dest)["count"]
        if processed < done or processed > sent:
            raise self.error("BadAcknowledgement")
        for index in range(done, processed):
            self.OutboundMessages.remove(state, dest, index)
        self.Acknowledged.set(state, dest, processed)
        if processed > done:
            self.deposit_event(ctx, "Acknowledged", {"dest": dest, "count": processed})

    def pending(self, state, dest: int, since: int) -> list[bytes]:
        """Queued messages for ``dest`` from index ``since`` on (what a relayer fetches)."""
        count = self.Outbound.get(state, dest)["count"]
        return [self.OutboundMessages.get(state, dest, i) for i in range(since, count)]

    def commitments(self, state, destinations) -> list[Commitment]:
        """The outbound heads a block commits to, for the candidate's commitments."""
        out = []
        for dest in destinations:
            queue = self.Outbound.get(state, dest)
            if queue["count"]:
                out.append(Commitment(dest, queue["head"], queue["count"]))
        return out

    def _open(self, state, sender: int, receiver: int, capacity: int, max_size: int) -> None:
        if self.Channels.contains(state, sender, receiver):
            raise self.error("ChannelExists")
        if capacity <= 0 or max_size <= 0:
            raise self.error("BadChannelBounds")
        self.Channels.set(state, sender, receiver, {"capacity": capacity, "max_message_size": max_size})

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, state, config):
        """``{"channels": [(sender, receiver, capacity, max_message_size), …]}``."""
        for sender, receiver, capacity, max_size in config.get("channels", []):
            self._open(state, sender, receiver, capacity, max_size)


__all__ = ["Messaging", "Commitment", "next_head", "chain_heads", "RELAY_CHAIN", "EMPTY_HEAD"]
