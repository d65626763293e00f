"""XTransfers on the relay: the reserve of every cross-chain token transfer.

Each parachain's token supply is backed by its sovereign account here (`sovereign_account`):
genesis funds it with the parachain's genesis issuance, and every transfer moves the reserve
with the tokens. Value between chains waits in the transit account, one entry per value-carrying
downward message (`Transit`), so at any relay block

    sovereign(p) == issuance(p, as anchored) + fees burned on p        for every parachain p
    balance(transit) == sum of the Transit entries

(`parawatt supply` checks both). The path of a transfer from para A to para B:

1. A burns and sends `Transfer` up. Included in relay block R: sovereign(A) → transit, and a
   `Credit` goes down to B (refunded at once if B is unknown, its channel is full, or R is past
   the timeout).
2. B applies the Credit (if its relay clock is within the timeout) and sends `Ack` up in the
   same block. When B's candidate is included, the Router reports B's downward watermark moved
   past the Credit: acknowledged → transit → sovereign(B), `Delivered`; not acknowledged (late,
   or it failed) → `Refund` goes down to A.
3. When A's watermark passes the Refund (A minted it back): transit → sovereign(A), `Refunded`.

A transfer from a relay account starts at step 1 with the account instead of sovereign(A), and
its refund is paid here at once. One to the relay is paid out of sovereign(A) on inclusion.

If B stops producing blocks, anyone may prove the timeout from B's anchored state
(`claim_timeout`): B's relay clock is past the timeout while its watermark has not reached the
Credit — B can then never apply it — and the refund starts right away.
"""

from __future__ import annotations

from node.pallets.messaging import TRANSFER, Messaging
from node.pallets.transfer_messages import decode_message, encode_message, id_tuple
from node.primitives.header import Header
from node.primitives.scale import DecodeError
from node.primitives.scale_types import U8, U32, U64, AccountId, Balance, Bool, Bytes, Composite, Field, Sequence_, Tuple
from node.runtime.errors import DispatchError
from node.runtime.pallet import Constant, Pallet, StorageMap, StorageValue, call, event
from node.trie import InvalidProof, verify_read_proof
from parachains.parachain_system import ParachainSystem, RelayBlock
from parachains.xtransfers import MAX_TIMEOUT_BLOCKS
from relay.router import RELAY_CHAIN, Router

TRANSFER_WEIGHT = 80_000_000
CLAIM_WEIGHT = 200_000_000
TRANSIT_ACCOUNT = b"modlpw/xfer".ljust(32, b"\0")  # a pallet account: no key can sign for it
IN_FLIGHT, DELIVERED, REFUNDING, REFUNDED, STUCK = range(5)
STATUS_NAMES = ("InFlight", "Delivered", "Refunding", "Refunded", "Stuck")
CREDIT, REFUND = 0, 1


def sovereign_account(para_id: int) -> bytes:
    """A parachain's account on the relay, as Polkadot derives it: b"para" ++ id, zero-padded."""
    return (b"para" + para_id.to_bytes(4, "little")).ljust(32, b"\0")


TransferRecord = Composite("parawatt_xtransfers::TransferRecord", [
    Field("origin_account", AccountId), Field("dest", U32), Field("beneficiary", AccountId), Field("amount", Balance),
    Field("timeout", U32), Field("status", U8), Field("acknowledged", Bool), Field("credit_seq", U64),
])


class RelayXTransfers(Pallet):
    name = "XTransfers"
    crate = "parawatt_relay::xtransfers"

    # -- storage ------------------------------------------------------------------------------
    NextNonce = StorageValue(U64, default=0, docs="The nonce of the next transfer sent from a relay account.")
    Transfers = StorageMap([(U32, "Twox64Concat"), (U64, "Twox64Concat")], TransferRecord,
                           docs="Every transfer through the relay by (origin chain, nonce), with its status.")
    Transit = StorageMap([(U32, "Twox64Concat"), (U64, "Twox64Concat")], Tuple(U32, U64, U8),
                         docs="Value waiting in transit per downward message (dest, seq): (origin, nonce, Credit=0|Refund=1).")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "TransferForwarded", "A transfer was taken into transit and credited to its destination.",
              origin=U32, nonce=U64, dest=U32, amount=Balance),
        event(1, "TransferDelivered", "The destination applied the transfer; the reserve moved to it.",
              origin=U32, nonce=U64, dest=U32, amount=Balance),
        event(2, "TransferRefunding", "The transfer was not applied; a refund is on its way to the origin.",
              origin=U32, nonce=U64),
        event(3, "TransferRefunded", "The origin got the transfer back.", origin=U32, nonce=U64, amount=Balance),
        event(4, "TransferStuck", "Neither the credit nor the refund could be queued; the value waits in transit.",
              origin=U32, nonce=U64),
        event(6, "TransferSent", "A transfer left a relay account for a parachain (into transit).", origin=U32, nonce=U64,
              dest=U32, sender=AccountId, beneficiary=AccountId, amount=Balance, timeout=U32),
        event(5, "TimeoutProven", "The destination's anchored state proves it can no longer apply the transfer.",
              origin=U32, nonce=U64, relay_number=U32),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("AmountTooLow", "A transfer moves at least the existential deposit."),
        ("UnknownDestination", "The destination is not a registered parachain."),
        ("BadTimeout", "The timeout must be between 1 and MaxTimeoutBlocks relay blocks."),
        ("UnknownTransfer", "No such transfer."),
        ("NotRefundable", "The transfer has no credit waiting at its destination (delivered, or already refunded)."),
        ("BadProof", "The proof does not verify against the destination's anchored head."),
        ("TransferDelivered", "The destination's anchored state shows the credit was processed."),
        ("NotTimedOut", "The destination's relay clock has not passed the timeout."),
    )

    def __init__(self, index: int, balances, paras, router: Router):
        super().__init__(index)
        self.balances = balances
        self.paras = paras
        self.router = router
        router.handlers.register(TRANSFER, self._on_upward)
        router.delivered_listeners.append(self._on_delivered)

    def constants(self):
        return [Constant("MaxTimeoutBlocks", U32, MAX_TIMEOUT_BLOCKS, "The longest timeout a transfer may set, in relay blocks.")]

    # -- calls --------------------------------------------------------------------------------
    @call(0, dest=U32, beneficiary=AccountId, amount=Balance, timeout_blocks=U32, weight=TRANSFER_WEIGHT)
    def transfer(self, ctx, origin, dest, beneficiary, amount, timeout_blocks):
        """Send ``amount`` from a relay account to ``beneficiary`` on parachain ``dest``."""
        who = ctx.ensure_signed(origin)
        state = ctx.state
        if amount < self.balances.existential_deposit:
            raise self.error("AmountTooLow")
        if not 1 <= timeout_blocks <= MAX_TIMEOUT_BLOCKS:
            raise self.error("BadTimeout")
        if not self.paras.is_registered(state, dest):
            raise self.error("UnknownDestination")
        nonce = self.NextNonce.get(state)
        self.NextNonce.set(state, nonce + 1)
        self.balances.transfer(ctx, who, TRANSIT_ACCOUNT, amount, keep_alive=True)
        record = {"origin_account": who, "dest": dest, "beneficiary": beneficiary, "amount": amount,
                  "timeout": ctx.block_number + timeout_blocks, "status": IN_FLIGHT, "acknowledged": False, "credit_seq": 0}
        self._credit(ctx, RELAY_CHAIN, nonce, record)  # a full channel fails the call: nothing written
        self.deposit_event(ctx, "TransferSent", {"origin": RELAY_CHAIN, "nonce": nonce, "dest": dest, "sender": who,
                                                 "beneficiary": beneficiary, "amount": amount, "timeout": record["timeout"]})

    @call(1, origin_chain=U32, nonce=U64, proof=Sequence_(Bytes), weight=CLAIM_WEIGHT)
    def claim_timeout(self, ctx, origin, origin_chain, nonce, proof):
        """Refund a transfer whose destination can no longer apply it, proven by a read proof of
        the destination's `ParachainSystem.LastRelay` and `Messaging.Inbound[0]` against its
        head anchored here. Anyone may submit it."""
        ctx.ensure_signed(origin)
        state = ctx.state
        record = self.Transfers.get(state, origin_chain, nonce)
        if record is None:
            raise self.error("UnknownTransfer")
        dest, seq = record["dest"], record["credit_seq"]
        if record["status"] != IN_FLIGHT or self.Transit.get(state, dest, seq) is None:
            raise self.error("NotRefundable")
        head = self.paras.head_of(state, dest)
        if head is None:  # deregistered since: no anchored state to prove anything against
            raise self.error("UnknownDestination")
        keys = [ParachainSystem.LastRelay.key(), Messaging.Inbound.key(RELAY_CHAIN)]
        try:
            values = verify_read_proof(Header.decode(head.head_data).state_root, proof, keys)
            last = RelayBlock.decode_all(values[keys[0]]) if values[keys[0]] is not None else None
            inbound = Messaging.Inbound.value.decode_all(values[keys[1]]) if values[keys[1]] is not None else {"count": 0}
        except (InvalidProof, DecodeError, ValueError):
            raise self.error("BadProof") from None
        if inbound["count"] > seq:
            raise self.error("TransferDelivered")
        if last is None or last["number"] <= record["timeout"]:
            raise self.error("NotTimedOut")
        self.Transit.remove(state, dest, seq)
        self.deposit_event(ctx, "TimeoutProven", {"origin": origin_chain, "nonce": nonce, "relay_number": last["number"]})
        self._refund(ctx, origin_chain, nonce, record)

    # -- messages from parachains -------------------------------------------------------------
    def _on_upward(self, ctx, source: int, seq: int, body: bytes) -> None:
        kind, m = decode_message(body)
        origin, nonce = id_tuple(m["id"])
        state = ctx.state
        if kind == "Transfer":
            if origin != source:
                raise ValueError("a transfer is named by the chain it comes from")
            if self.Transfers.contains(state, origin, nonce):
                raise ValueError("transfer id used twice")
            record = {"origin_account": m["origin_account"], "dest": m["dest"], "beneficiary": m["beneficiary"],
                      "amount": m["amount"], "timeout": m["timeout"], "status": IN_FLIGHT, "acknowledged": False, "credit_seq": 0}
            if m["dest"] == RELAY_CHAIN:
                self.balances.transfer(ctx, sovereign_account(source), m["beneficiary"], m["amount"], keep_alive=False)
                self._set(ctx, origin, nonce, record, DELIVERED, "TransferDelivered")
                return
            self.balances.transfer(ctx, sovereign_account(source), TRANSIT_ACCOUNT, m["amount"], keep_alive=False)
            try:
                if ctx.block_number > m["timeout"] or not self.paras.is_registered(state, m["dest"]):
                    raise self.error("UnknownDestination" if ctx.block_number <= m["timeout"] else "BadTimeout")
                with state.transaction():
                    self._credit(ctx, origin, nonce, record)
            except DispatchError:
                self._refund(ctx, origin, nonce, record)
        elif kind == "Ack":
            record = self.Transfers.get(state, origin, nonce)
            if record is None or record["dest"] != source or record["status"] != IN_FLIGHT or record["acknowledged"]:
                raise ValueError("an acknowledgement for no transfer in flight to this chain")
            self.Transfers.set(state, origin, nonce, {**record, "acknowledged": True})
        else:
            raise ValueError(f"the relay does not take {kind} messages")

    def _on_delivered(self, ctx, dest: int, first: int, last: int) -> None:
        """``dest`` processed downward messages first…last-1: settle what they carried."""
        state = ctx.state
        for seq in range(first, last):
            entry = self.Transit.get(state, dest, seq)
            if entry is None:
                continue
            origin, nonce, kind = entry
            self.Transit.remove(state, dest, seq)
            record = self.Transfers.get(state, origin, nonce)
            try:
                with state.transaction():
                    if kind == CREDIT and record["acknowledged"]:
                        self.balances.transfer(ctx, TRANSIT_ACCOUNT, sovereign_account(dest), record["amount"], keep_alive=False)
                        self._set(ctx, origin, nonce, record, DELIVERED, "TransferDelivered")
                    elif kind == CREDIT:
                        self._refund(ctx, origin, nonce, record)
                    else:
                        self.balances.transfer(ctx, TRANSIT_ACCOUNT, sovereign_account(dest), record["amount"], keep_alive=False)
                        self._set(ctx, origin, nonce, record, REFUNDED, "TransferRefunded")
            except DispatchError:  # never fail the inclusion inherent; the value stays in transit
                self._set(ctx, origin, nonce, record, STUCK, "TransferStuck")

    # -- internals ----------------------------------------------------------------------------
    def _credit(self, ctx, origin: int, nonce: int, record: dict) -> None:
        """Send the Credit down (raises ChannelFull etc.) and record the value in transit."""
        dest = record["dest"]
        seq = self.router.send(ctx, dest, encode_message(
            "Credit", id={"origin": origin, "nonce": nonce}, beneficiary=record["beneficiary"],
            amount=record["amount"], timeout=record["timeout"]))
        self.Transit.set(ctx.state, dest, seq, (origin, nonce, CREDIT))
        self.Transfers.set(ctx.state, origin, nonce, {**record, "credit_seq": seq})
        self.deposit_event(ctx, "TransferForwarded", {"origin": origin, "nonce": nonce, "dest": dest, "amount": record["amount"]})

    def _refund(self, ctx, origin: int, nonce: int, record: dict) -> None:
        """Give the value in transit back: here at once for a relay account, else as a Refund
        down to the origin chain (settled when it processes it)."""
        state = ctx.state
        if origin == RELAY_CHAIN:
            self.balances.transfer(ctx, TRANSIT_ACCOUNT, record["origin_account"], record["amount"], keep_alive=False)
            self._set(ctx, origin, nonce, record, REFUNDED, "TransferRefunded")
            return
        try:
            with state.transaction():
                seq = self.router.send(ctx, origin, encode_message(
                    "Refund", id={"origin": origin, "nonce": nonce}, account=record["origin_account"], amount=record["amount"]))
        except DispatchError:
            self._set(ctx, origin, nonce, record, STUCK, "TransferStuck")
            return
        self.Transit.set(state, origin, seq, (origin, nonce, REFUND))
        self._set(ctx, origin, nonce, record, REFUNDING, "TransferRefunding")

    def _set(self, ctx, origin: int, nonce: int, record: dict, status: int, event_name: str) -> None:
        self.Transfers.set(ctx.state, origin, nonce, {**record, "status": status})
        fields = {"origin": origin, "nonce": nonce}
        if event_name == "TransferDelivered":
            fields.update(dest=record["dest"], amount=record["amount"])
        elif event_name == "TransferRefunded":
            fields["amount"] = record["amount"]
        self.deposit_event(ctx, event_name, fields)


__all__ = ["RelayXTransfers", "sovereign_account", "TRANSIT_ACCOUNT", "STATUS_NAMES"]
