"""pallet_transaction_payment: what an extrinsic costs, charged before it is dispatched.

fee = weight_to_fee(base weight + call weight) + length × byte fee + tip. Fees are burned (they
leave total issuance), which is what the cross-chain supply invariant accounts for; so is the
dust of reaped accounts (`Balances.dust_listeners`), the only other way value leaves a chain
without going to another chain.
"""

from __future__ import annotations

from node.primitives.scale_types import U8, U128, AccountId, Balance, Composite, Field
from node.runtime.pallet import Constant, Pallet, StorageValue, event

EXTRINSIC_BASE_WEIGHT = 125_000_000  # ref_time every extrinsic costs before its call
BYTE_FEE = 1_000_000  # planck per encoded byte
WEIGHT_FEE_DIVISOR = 100  # planck per 100 units of ref_time (integer, rounds toward zero)

FixedU128 = Composite("sp_arithmetic::fixed_point::FixedU128", [Field(None, U128, "u128")])


def weight_to_fee(ref_time: int) -> int:
    return ref_time // WEIGHT_FEE_DIVISOR


class TransactionPayment(Pallet):
    name = "TransactionPayment"
    crate = "pallet_transaction_payment"

    # -- storage ------------------------------------------------------------------------------
    NextFeeMultiplier = StorageValue(FixedU128, default=10**18)
    FeesBurned = StorageValue(U128, default=0, docs="All fees (and dust of reaped accounts) ever burned on this chain, for the cross-chain supply check.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "TransactionFeePaid", "A transaction fee `actual_fee`, of which `tip` was added to the minimum inclusion fee, has been paid by `who`.",
              who=AccountId, actual_fee=Balance, tip=Balance),
    )

    def __init__(self, index: int, balances):
        super().__init__(index)
        self.balances = balances
        balances.dust_listeners.append(self._count_burned)

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [Constant("OperationalFeeMultiplier", U8, 5, "A fee multiplier for `Operational` extrinsics to compute \"virtual tip\" to boost their `priority`")]

    # -- the interface the executive uses -----------------------------------------------------
    @staticmethod
    def compute_fee(length: int, call_weight: int, tip: int = 0, pays_fee: bool = True) -> int:
        if not pays_fee:
            return tip
        return weight_to_fee(EXTRINSIC_BASE_WEIGHT + call_weight) + length * BYTE_FEE + tip

    def can_pay(self, account, fee: int) -> bool:
        """Can ``account`` (the payer's AccountInfo) pay ``fee`` and stay alive?"""
        return fee == 0 or self.balances.can_withdraw(account, fee)

    def charge(self, ctx, who: bytes, account, fee: int) -> None:
        """Withdraw the fee from ``account`` (already checked by `can_pay`) and store it."""
        self.balances.withdraw_from(ctx, who, account, fee)
        if fee:
            self.FeesBurned.set(ctx.state, self.FeesBurned.get(ctx.state) + fee)

    def _count_burned(self, state, amount: int) -> None:
        self.FeesBurned.set(state, self.FeesBurned.get(state) + amount)

    def note_paid(self, ctx, who: bytes, fee: int, tip: int) -> None:
        self.deposit_event(ctx, "TransactionFeePaid", {"who": who, "actual_fee": fee, "tip": tip})
