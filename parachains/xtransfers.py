"""XTransfers on a parachain: send the relay's token to another chain, receive it, get it back.

This chain's balances are the relay token held in reserve by its sovereign account on the relay
(`relay.xtransfers`). A transfer burns here and goes up to the relay as a `Transfer` message;
the relay moves the reserve and, for another parachain, sends that chain a `Credit`. A Credit
is applied only while this chain's relay clock (the newest relay block it imported,
`ParachainSystem.LastRelay`) is within the transfer's timeout: a late one is not applied and
not acknowledged, and the relay refunds the origin when it sees this chain's watermark pass
the Credit without an Ack. The clock is in this chain's anchored state, so the timeout is
proven on the destination, never assumed from the origin's clock.

Amounts are at least the existential deposit, so a Credit or Refund can always be minted, even
into an account that no longer exists.
"""

from __future__ import annotations

from node.pallets.messaging import RELAY_CHAIN, TRANSFER, Messaging
from node.pallets.transfer_messages import decode_message, encode_message, id_tuple
from node.primitives.scale_types import U32, U64, AccountId, Balance
from node.runtime.pallet import Constant, Pallet, StorageValue, call, event

TRANSFER_WEIGHT = 60_000_000
MAX_TIMEOUT_BLOCKS = 14_400  # relay blocks: a day at 6 s, four hours at 1 s


class XTransfers(Pallet):
    name = "XTransfers"
    crate = "parawatt_xtransfers"

    # -- storage ------------------------------------------------------------------------------
    NextNonce = StorageValue(U64, default=0, docs="The nonce of the next transfer this chain sends.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "TransferSent", "A transfer left this chain (burned here).", origin=U32, nonce=U64, dest=U32,
              sender=AccountId, beneficiary=AccountId, amount=Balance, timeout=U32),
        event(1, "TransferReceived", "A transfer arrived and was minted to its beneficiary.", origin=U32, nonce=U64,
              beneficiary=AccountId, amount=Balance),
        event(2, "TransferExpired", "A transfer arrived after its timeout; not applied (the origin is refunded).",
              origin=U32, nonce=U64, timeout=U32, relay_number=U32),
        event(3, "TransferRefunded", "A transfer from this chain failed and was minted back.", origin=U32, nonce=U64,
              account=AccountId, amount=Balance),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("AmountTooLow", "A transfer moves at least the existential deposit."),
        ("SameChain", "The destination is this chain."),
        ("BadTimeout", "The timeout must be between 1 and MaxTimeoutBlocks relay blocks."),
        ("InsufficientBalance", "The sender cannot pay the amount and stay alive."),
    )

    def __init__(self, index: int, para_id: int, balances, messaging: Messaging, parachain_system):
        super().__init__(index)
        self.para_id = para_id
        self.balances = balances
        self.messaging = messaging
        self.parachain_system = parachain_system
        messaging.handlers.register(TRANSFER, self._on_message)

    def constants(self):
        return [Constant("MaxTimeoutBlocks", U32, MAX_TIMEOUT_BLOCKS, "The longest timeout a transfer may set, in relay blocks.")]

    # -- calls --------------------------------------------------------------------------------
    @call(0, dest=U32, beneficiary=AccountId, amount=Balance, timeout_blocks=U32, weight=TRANSFER_WEIGHT)
    def transfer(self, ctx, origin, dest, beneficiary, amount, timeout_blocks):
        """Send ``amount`` to ``beneficiary`` on chain ``dest`` (0 is the relay). Refunded if it
        is not applied within ``timeout_blocks`` relay blocks of this chain's relay clock."""
        who = ctx.ensure_signed(origin)
        state = ctx.state
        if dest == self.para_id:
            raise self.error("SameChain")
        if amount < self.balances.existential_deposit:
            raise self.error("AmountTooLow")
        if not 1 <= timeout_blocks <= MAX_TIMEOUT_BLOCKS:
            raise self.error("BadTimeout")
        if self.balances.free_balance(state, who) - amount < self.balances.existential_deposit:
            raise self.error("InsufficientBalance")
        nonce = self.NextNonce.get(state)
        timeout = self.parachain_system.relay_number(state) + timeout_blocks
        self.balances.burn(ctx, who, amount)
        self.messaging.send(ctx, RELAY_CHAIN, encode_message(
            "Transfer", id={"origin": self.para_id, "nonce": nonce}, origin_account=who, dest=dest,
            beneficiary=beneficiary, amount=amount, timeout=timeout))
        self.NextNonce.set(state, nonce + 1)
        self.deposit_event(ctx, "TransferSent", {"origin": self.para_id, "nonce": nonce, "dest": dest, "sender": who,
                                                 "beneficiary": beneficiary, "amount": amount, "timeout": timeout})

    # -- messages from the relay ----------------------------------------------------------------
    def _on_message(self, ctx, source: int, seq: int, body: bytes) -> None:
        if source != RELAY_CHAIN:
            raise ValueError("transfers arrive through the relay")
        kind, m = decode_message(body)
        origin, nonce = id_tuple(m["id"])
        if kind == "Credit":
            relay_number = self.parachain_system.relay_number(ctx.state)
            if relay_number > m["timeout"]:
                self.deposit_event(ctx, "TransferExpired", {"origin": origin, "nonce": nonce, "timeout": m["timeout"],
                                                            "relay_number": relay_number})
                return
            self.balances.mint(ctx, m["beneficiary"], m["amount"])
            self.messaging.send(ctx, RELAY_CHAIN, encode_message("Ack", id=m["id"]))  # raising undoes the mint
            self.deposit_event(ctx, "TransferReceived", {"origin": origin, "nonce": nonce, "beneficiary": m["beneficiary"],
                                                         "amount": m["amount"]})
        elif kind == "Refund":
            self.balances.mint(ctx, m["account"], m["amount"])
            self.deposit_event(ctx, "TransferRefunded", {"origin": origin, "nonce": nonce, "account": m["account"],
                                                         "amount": m["amount"]})
        else:
            raise ValueError(f"a parachain does not take {kind} messages")


__all__ = ["XTransfers", "MAX_TIMEOUT_BLOCKS"]
