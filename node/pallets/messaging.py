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
caller's business (`parachains.parachain_system`): `receive` takes the head and count the caller
has proven. What a block sent and processed goes into its candidate's commitments
(`block_commitments`), which validators recompute and the relay stores.

Messages start with a protocol byte naming their handler: 0 is a remark (`send` — any signed
account can message another chain, which records it as an event), 1 is a token transfer
(`pallet_xtransfers`). A handler that fails is rolled back on its own and reported as
`MessageFailed`; the watermark moves anyway, so every message is processed exactly once.
"""

from __future__ import annotations

from typing import Callable

from node.primitives.hashing import blake2_256
from node.primitives.scale_types import U32, U64, AccountId, Bytes, Composite, Field, H256
from node.runtime.errors import DispatchError
from node.runtime.pallet import Constant, Pallet, StorageMap, call, event, map_of

RELAY_CHAIN = 0  # the relay's chain id in channel names
EMPTY_HEAD = bytes(32)
OPEN_WEIGHT = 20_000_000
SEND_WEIGHT = 30_000_000
REMARK, TRANSFER = 0, 1  # protocol bytes: the handler a message is for
MAX_REMARK = 1024

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


class ChannelBook:
    """Opening channels, for a pallet with a `Channels` double map (sender, receiver) →
    ChannelConfig and the errors `ChannelExists` and `BadChannelBounds` (Messaging, Router)."""

    def _open(self, state, sender: int, receiver: int, capacity: int, max_size: int) -> None:
        if self.Channels.contains(state, sender, receiver):
            raise self.error("ChannelExists")
        if capacity <= 0 or max_size <= 0:
            raise self.error("BadChannelBounds")
        self.Channels.set(state, sender, receiver, {"capacity": capacity, "max_message_size": max_size})

    def build_genesis(self, state, config):
        """``{"channels": [(sender, receiver, capacity, max_message_size), …]}``."""
        for sender, receiver, capacity, max_size in config.get("channels", []):
            self._open(state, sender, receiver, capacity, max_size)


class MessageHandlers:
    """Received messages to their handlers by protocol byte. Each runs in its own storage
    transaction: one that raises is rolled back alone and reported as `MessageFailed` by the
    owning pallet (which declares that event), and the queue moves on."""

    def __init__(self, pallet):
        self.pallet = pallet  # declares the `Remark` and `MessageFailed` events
        self.handlers: dict[int, Callable] = {REMARK: self._on_remark}  # protocol -> fn(ctx, source, seq, body)

    def register(self, protocol: int, handler: Callable) -> None:
        self.handlers[protocol] = handler

    def dispatch(self, ctx, source: int, seq: int, message: bytes) -> None:
        handler = self.handlers.get(message[0]) if message else None
        try:
            if handler is None:
                raise ValueError("unknown message protocol")
            with ctx.state.transaction():
                handler(ctx, source, seq, message[1:])
        except (DispatchError, ValueError) as e:
            self.pallet.deposit_event(ctx, "MessageFailed", {"source": source, "seq": seq, "error": str(e).encode()[:200]})

    def _on_remark(self, ctx, source: int, seq: int, body: bytes) -> None:
        if len(body) < 32:
            raise ValueError("a remark names its sender")
        self.pallet.deposit_event(ctx, "Remark", {"source": source, "sender": body[:32], "data": body[32:]})


class Messaging(ChannelBook, Pallet):
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
        event(4, "Remark", "A remark arrived from another chain.", source=U32, sender=AccountId, data=Bytes),
        event(5, "MessageFailed", "A received message could not be processed; nothing of it was kept.", source=U32, seq=U64, error=Bytes),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("NoChannel", "No channel is open between these chains."),
        ("ChannelFull", "The channel holds its capacity of unacknowledged messages."),
        ("MessageTooLarge", "The message exceeds the channel's maximum message size."),
        ("ChannelExists", "This channel is already open."),
        ("BadChannelBounds", "Capacity and message size must be positive."),
        ("HeadMismatch", "The messages do not continue the queue from the watermark to the proven head."),
        ("StaleDelivery", "The proven queue is not ahead of the watermark (a replay)."),
        ("BadAcknowledgement", "An acknowledgement beyond what was sent, or going backwards."),
        ("BeyondQueue", "The delivery goes past the proven end of the queue."),
        ("RemarkTooLarge", "A remark is at most 1024 bytes."),
    )

    def __init__(self, index: int, chain_id: int):
        super().__init__(index)
        self.chain_id = chain_id  # this chain's id: RELAY_CHAIN or its para id
        self.handlers = MessageHandlers(self)

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

    @call(1, dest=U32, data=Bytes, weight=SEND_WEIGHT)
    def send_remark(self, ctx, origin, dest, data):
        """Send ``data`` to chain ``dest`` (0 is the relay); it arrives there as a `Remark` event."""
        who = ctx.ensure_signed(origin)
        if len(data) > MAX_REMARK:
            raise self.error("RemarkTooLarge")
        self.send(ctx, dest, bytes((REMARK,)) + who + data)

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
        """Accept ``messages`` from ``source``: the next ones of its queue after the watermark,
        each already proven by the caller. When they reach the proven end of the queue
        (``proven_count``), the hash chain from the watermark must give ``proven_head`` too.
        Moves the watermark, then hands each message to its handler."""
        state = ctx.state
        if self.Channels.get(state, source, self.chain_id) is None:
            raise self.error("NoChannel")
        watermark = self.Inbound.get(state, source)
        if not messages or proven_count <= watermark["count"]:
            raise self.error("StaleDelivery")
        count = watermark["count"] + len(messages)
        if count > proven_count:
            raise self.error("BeyondQueue")
        head = chain_heads(watermark["head"], messages)
        if count == proven_count and head != proven_head:
            raise self.error("HeadMismatch")
        self.Inbound.set(state, source, {"head": head, "count": count})
        self.deposit_event(ctx, "MessagesReceived", {"source": source, "count": count, "head": head})
        for seq, message in enumerate(messages, start=watermark["count"]):
            self.handlers.dispatch(ctx, source, seq, message)

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

    def has_channel(self, state, sender: int, receiver: int) -> bool:
        return self.Channels.contains(state, sender, receiver)

    def pending(self, state, dest: int, since: int) -> list[bytes]:
        """Queued messages for ``dest`` from index ``since`` on (what a relayer fetches)."""
        count = self.Outbound.get(state, dest)["count"]
        return [self.OutboundMessages.get(state, dest, i) for i in range(since, count)]

    def block_commitments(self, changes: dict[bytes, bytes | None]):
        """What a block's storage changes say it sent and processed, for its candidate:
        (outbound batches, per destination; inbound watermarks moved, per source). Validators
        run this on their re-execution, collators on theirs, so both derive the same."""
        from relay.primitives import OutboundBatch  # the candidate type; relay imports this module

        sent: dict[int, dict[int, bytes]] = {}
        heads: dict[int, dict] = {}
        processed: list[tuple[int, int]] = []
        out_prefix, msg_prefix, in_prefix = self.Outbound.prefix, self.OutboundMessages.prefix, self.Inbound.prefix
        for key, value in changes.items():
            if value is None:
                continue  # pruned by an acknowledgement
            if key.startswith(msg_prefix):
                dest, index = _u32_at(key, len(msg_prefix)), int.from_bytes(key[len(msg_prefix) + 20:], "little")
                sent.setdefault(dest, {})[index] = self.OutboundMessages.value.decode_all(value)
            elif key.startswith(out_prefix):
                heads[_u32_at(key, len(out_prefix))] = QueueState.decode_all(value)
            elif key.startswith(in_prefix):
                processed.append((_u32_at(key, len(in_prefix)), QueueState.decode_all(value)["count"]))
        batches = []
        for dest in sorted(sent):
            by_index = sent[dest]
            first = min(by_index)
            batches.append(OutboundBatch(dest, first, tuple(by_index[i] for i in range(first, first + len(by_index))), heads[dest]["head"]))
        return tuple(batches), tuple(sorted(processed))



def _u32_at(key: bytes, offset: int) -> int:
    """The u32 of a Twox64Concat key part starting at ``offset`` (8 hash bytes, then the u32)."""
    return int.from_bytes(key[offset + 8:offset + 12], "little")


__all__ = ["Messaging", "next_head", "chain_heads", "RELAY_CHAIN", "EMPTY_HEAD", "REMARK", "TRANSFER", "MessageHandlers", "ChannelBook", "ChannelConfig", "QueueState"]
