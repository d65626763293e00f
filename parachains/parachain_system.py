"""ParachainSystem: relay headers come down, messages come in — each only on proof.

One inherent per parachain block, `set_relay_data`, which the collator adds (as Cumulus'
`set_validation_data`):

1. a finalized relay header, with the justification that finalizes it, verified here against
   the relay authority set from this chain's genesis; it becomes `LastRelay` (the same header
   as last time needs no justification; an older one is refused; the relay's genesis, which no
   justification finalizes, is never imported);
2. deliveries — for each source chain, how many of its next messages to process — and the
   destinations whose acknowledgements to read;
3. one read proof against that header's state root holding exactly the Router entries those
   need: `Heads[(source, me)]` and `Contents[(source, me, i)]` from the watermark on, and
   `Heads[(me, dest)]` for acknowledgements (`relay.router`).

The message bytes are the proof's values — nothing the collator says about a message counts,
so a forged, replayed or reordered message cannot get in: the watermark alone says which
entries are read, and the queue's hash chain must reach the anchored head once the delivery
catches up with it. A proof with a missing or an extra node is refused whole.

The relay number of `LastRelay` is this chain's clock for cross-chain timeouts
(`parachains.xtransfers`): it only moves forward, and it is in this chain's anchored state.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.consensus.authorities import AuthoritySet
from node.consensus.errors import ConsensusError
from node.consensus.justification import decode_justification, verify_justification
from node.pallets.messaging import Messaging
from node.primitives.header import Header
from node.primitives.scale import DecodeError, decode_all
from node.primitives.scale_types import U32, Bool, Bytes, Composite, Field, H256, Option, Sequence_, Tuple
from node.runtime.pallet import Pallet, StorageValue, call, event
from node.trie import InvalidProof, verify_read_proof
from relay.router import ChannelHead, channel_head_key, content_key

MAX_SOURCES = 64
MAX_MESSAGES_PER_BLOCK = 4096
BASE_WEIGHT = 20_000_000
JUSTIFICATION_WEIGHT = 200_000_000  # a few ed25519 verifications
MESSAGE_WEIGHT = 5_000_000

RelayBlock = Composite(
    "parawatt_parachain_system::RelayBlock",
    [Field("number", U32, "u32"), Field("hash", H256, "Hash"), Field("state_root", H256, "Hash")],
)


def _weight(header, justification, deliver, acknowledge, proof) -> int:
    return BASE_WEIGHT + JUSTIFICATION_WEIGHT + MESSAGE_WEIGHT * sum(n for _, n in deliver)


@dataclass(frozen=True, slots=True)
class RelayData:
    """The arguments of one `set_relay_data`."""

    header: Header
    justification: bytes | None
    deliver: tuple[tuple[int, int], ...] = ()
    acknowledge: tuple[int, ...] = ()
    proof: tuple[bytes, ...] = ()

    def call(self) -> dict:
        return {"ParachainSystem": {"set_relay_data": {
            "header": self.header.encode(), "justification": self.justification,
            "deliver": list(self.deliver), "acknowledge": list(self.acknowledge), "proof": list(self.proof)}}}


def relay_keys(para_id: int, deliver, acknowledge, watermarks: dict[int, int]) -> list[bytes]:
    """The relay state keys a delivery reads: each source's queue head and its next messages
    from the watermark, and the heads of the channels being acknowledged."""
    keys = []
    for source, count in deliver:
        keys.append(channel_head_key(source, para_id))
        start = watermarks.get(source, 0)
        keys.extend(content_key(source, para_id, seq) for seq in range(start, start + count))
    keys.extend(channel_head_key(para_id, dest) for dest in acknowledge)
    return keys


class ParachainSystem(Pallet):
    name = "ParachainSystem"
    crate = "parawatt_parachain_system"

    # -- storage ------------------------------------------------------------------------------
    RelayAuthorities = StorageValue(Sequence_(H256), default=[], docs="The relay's ed25519 authorities (from genesis).")
    RelayChainId = StorageValue(Bytes, default=b"", docs="What the relay's votes sign as their chain id.")
    LastRelay = StorageValue(RelayBlock, docs="The newest finalized relay block this chain has imported.")
    Entered = StorageValue(Bool, default=False, docs="Whether `set_relay_data` ran in this block (cleared at its end).")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "RelayBlockImported", "A finalized relay block was imported.", number=U32, hash=H256),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("AlreadyEntered", "`set_relay_data` may run once per block."),
        ("InvalidRelayHeader", "The relay header does not decode."),
        ("StaleRelayHeader", "The relay header is older than the one already imported."),
        ("BadJustification", "The justification does not finalize the relay header with the relay authorities' votes."),
        ("BadProof", "The relay state proof does not verify, or lacks a message the delivery needs."),
        ("UnknownQueue", "The relay has no queue from that source to this chain."),
        ("DuplicateSource", "A source or destination appears twice."),
        ("TooManyMessages", "More messages than one block may process."),
    )

    def __init__(self, index: int, para_id: int, messaging: Messaging):
        super().__init__(index)
        self.para_id = para_id
        self.messaging = messaging

    # -- calls --------------------------------------------------------------------------------
    @call(0, header=Bytes, justification=Option(Bytes), deliver=Sequence_(Tuple(U32, U32)), acknowledge=Sequence_(U32),
          proof=Sequence_(Bytes), weight=_weight, pays_fee=False)
    def set_relay_data(self, ctx, origin, header, justification, deliver, acknowledge, proof):
        """Import a finalized relay header and the messages proven against it. An inherent."""
        ctx.ensure_none(origin)
        state = ctx.state
        if self.Entered.get(state):
            raise self.error("AlreadyEntered")
        self.Entered.set(state, True)
        if len({s for s, _ in deliver}) != len(deliver) or len(set(acknowledge)) != len(acknowledge):
            raise self.error("DuplicateSource")
        if len(deliver) > MAX_SOURCES or len(acknowledge) > MAX_SOURCES or sum(n for _, n in deliver) > MAX_MESSAGES_PER_BLOCK:
            raise self.error("TooManyMessages")
        relay = self._import_header(ctx, header, justification)
        watermarks = {source: self.messaging.Inbound.get(state, source)["count"] for source, _ in deliver}
        keys = relay_keys(self.para_id, deliver, acknowledge, watermarks)
        try:
            values = verify_read_proof(relay["state_root"], proof, keys)
        except InvalidProof:
            raise self.error("BadProof") from None
        for source, count in deliver:
            queue = self._queue(values, source, self.para_id)
            start = watermarks[source]
            raw = [values[content_key(source, self.para_id, seq)] for seq in range(start, start + count)]
            if any(m is None for m in raw):
                raise self.error("BadProof")
            try:
                messages = [Bytes.decode_all(m) for m in raw]
            except DecodeError:
                raise self.error("BadProof") from None
            self.messaging.receive(ctx, source, messages, queue["head"], queue["count"])
        for dest in acknowledge:
            self.messaging.acknowledge(ctx, dest, self._queue(values, self.para_id, dest)["processed"])

    # -- hooks --------------------------------------------------------------------------------
    def on_finalize(self, ctx):
        if self.Entered.get(ctx.state):
            self.Entered.kill(ctx.state)

    # -- what other pallets read --------------------------------------------------------------
    def relay_number(self, state) -> int:
        """The newest relay block this chain has imported (0 before any): its timeout clock."""
        last = self.LastRelay.get(state)
        return 0 if last is None else last["number"]

    def relay_authorities(self, state) -> AuthoritySet:
        return AuthoritySet("ed25519", tuple(self.RelayAuthorities.get(state)), 0, self.RelayChainId.get(state))

    # -- internals ----------------------------------------------------------------------------
    def _import_header(self, ctx, encoded: bytes, justification: bytes | None) -> dict:
        state = ctx.state
        try:
            header = Header.decode(encoded)
        except (DecodeError, ValueError):
            raise self.error("InvalidRelayHeader") from None
        last = self.LastRelay.get(state)
        if last is not None and header.hash == last["hash"]:
            return last
        if last is not None and header.number <= last["number"]:
            raise self.error("StaleRelayHeader")
        # Every header needs its justification, genesis too: nothing here pins the relay's
        # genesis hash, so a header #0 taken on trust would let a collator choose the state
        # root that messages are proven against. The relay's genesis holds no messages anyway.
        if justification is None:
            raise self.error("BadJustification")
        try:
            decoded = decode_all(decode_justification, justification)
            verify_justification(decoded, self.relay_authorities(state), lambda ancestor, block: False,
                                 target=(header.hash, header.number))
        except (ConsensusError, DecodeError, ValueError):
            raise self.error("BadJustification") from None
        relay = {"number": header.number, "hash": header.hash, "state_root": header.state_root}
        self.LastRelay.set(state, relay)
        self.deposit_event(ctx, "RelayBlockImported", {"number": header.number, "hash": header.hash})
        return relay

    def _queue(self, values: dict, sender: int, receiver: int) -> dict:
        raw = values[channel_head_key(sender, receiver)]
        if raw is None:
            raise self.error("UnknownQueue")
        return ChannelHead.decode_all(raw)

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, state, config):
        """``{"relay_authorities": [ed25519 keys], "relay_chain_id": b"…"}``."""
        self.RelayAuthorities.set(state, list(config.get("relay_authorities", [])))
        self.RelayChainId.set(state, config.get("relay_chain_id", b""))


__all__ = ["ParachainSystem", "RelayData", "relay_keys"]
