"""pallet_balances: the chain's native token, kept in `System.Account`.

Accounts below the existential deposit do not exist: a transfer that would create one is refused,
and one that would leave one behind (allowed only by `transfer_allow_death`) reaps the account and
burns the dust — unless the account holds a reserve or another pallet still needs it
(`keep_alive_checks`, as FRAME's consumer references): then the transfer is refused, because
settlement will pay out of that reserve or into that account and must not fail. Other pallets
escrow funds through the reserve (`reserve`, `unreserve`,
`repatriate_reserved`, `slash_reserved`), which is exact: releasing more than is reserved is an
error, never a silent partial release. Event and error indices follow polkadot-sdk so client tooling reads them right.
"""

from __future__ import annotations

from node.primitives.scale_types import U32, AccountId, Balance, Bool, Compact, MultiAddress, Variant, VariantSpec
from node.runtime.errors import ArithmeticOverflow, CannotLookup
from node.runtime.pallet import Constant, Pallet, StorageValue, call, event

TRANSFER_WEIGHT = 150_000_000
SET_BALANCE_WEIGHT = 50_000_000


def lookup(address) -> bytes:
    """Resolve a `MultiAddress`; only `Id` names an account on these chains (AccountIdLookup)."""
    if isinstance(address, dict) and "Id" in address:
        return address["Id"]
    raise CannotLookup()


# Where repatriated reserved funds land on the beneficiary's account.
BalanceStatus = Variant("frame_support::traits::tokens::misc::BalanceStatus", [VariantSpec(0, "Free"), VariantSpec(1, "Reserved")])


class Balances(Pallet):
    name = "Balances"
    crate = "pallet_balances"

    # -- storage ------------------------------------------------------------------------------
    TotalIssuance = StorageValue(Balance, default=0, docs="The total units issued in the system.")
    InactiveIssuance = StorageValue(Balance, default=0, docs="The total units of outstanding deactivated balance in the system.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "Endowed", "An account was created with some free balance.", account=AccountId, free_balance=Balance),
        event(1, "DustLost", "An account was removed whose balance was non-zero but below ExistentialDeposit, resulting in an outright loss.", account=AccountId, amount=Balance),
        event(2, "Transfer", "Transfer succeeded.", from_=AccountId, to=AccountId, amount=Balance),
        event(3, "BalanceSet", "A balance was set by root.", who=AccountId, free=Balance),
        event(4, "Reserved", "Some balance was reserved (moved from free to reserved).", who=AccountId, amount=Balance),
        event(5, "Unreserved", "Some balance was unreserved (moved from reserved to free).", who=AccountId, amount=Balance),
        event(6, "ReserveRepatriated", "Some balance was moved from the reserve of the first account to the second account. Final argument indicates the destination balance type.",
              from_=AccountId, to=AccountId, amount=Balance, destination_status=BalanceStatus),
        event(7, "Deposit", "Some amount was deposited (e.g. for transaction fees).", who=AccountId, amount=Balance),
        event(8, "Withdraw", "Some amount was withdrawn from the account (e.g. for transaction fees).", who=AccountId, amount=Balance),
        event(9, "Slashed", "Some amount was removed from the account (e.g. for misbehavior).", who=AccountId, amount=Balance),
        event(10, "Minted", "Some amount was minted into an account.", who=AccountId, amount=Balance),
        event(11, "Burned", "Some amount was burned from an account.", who=AccountId, amount=Balance),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("VestingBalance", "Vesting balance too high to send value."),
        ("LiquidityRestrictions", "Account liquidity restrictions prevent withdrawal."),
        ("InsufficientBalance", "Balance too low to send value."),
        ("ExistentialDeposit", "Value too low to create account due to existential deposit."),
        ("Expendability", "Transfer/payment would kill account."),
        ("ExistingVestingSchedule", "A vesting schedule already exists for this account."),
        ("DeadAccount", "Beneficiary account must pre-exist."),
        ("TooManyReserves", "Number of named reserves exceed `MaxReserves`."),
        ("TooManyHolds", "Number of holds exceed `VariantCountOf<T::RuntimeHoldReason>`."),
        ("TooManyFreezes", "Number of freezes exceed `MaxFreezes`."),
        ("IssuanceDeactivated", "The issuance cannot be modified since it is already deactivated."),
        ("DeltaZero", "The delta cannot be zero."),
    )

    def __init__(self, index: int, system, existential_deposit: int):
        super().__init__(index)
        self.system = system
        self.existential_deposit = existential_deposit
        # fn(state, who) -> bool: another pallet still needs ``who`` to exist (an open order whose
        # payment will be minted to it); a transfer may not reap such an account
        self.keep_alive_checks: list = []
        # fn(state, amount) for dust burned with a reaped account: TransactionPayment counts it
        # with the fees, so issuance + burned changes only by cross-chain moves
        self.dust_listeners: list = []

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [
            Constant("ExistentialDeposit", Balance, self.existential_deposit, "The minimum amount required to keep an account open."),
            Constant("MaxLocks", U32, 50, "The maximum number of locks that should exist on an account."),
            Constant("MaxReserves", U32, 50, "The maximum number of named reserves that can exist on an account."),
            Constant("MaxFreezes", U32, 0, "The maximum number of individual freeze locks that can exist on an account."),
        ]

    # -- calls --------------------------------------------------------------------------------
    @call(0, dest=MultiAddress, value=Compact(Balance), weight=TRANSFER_WEIGHT)
    def transfer_allow_death(self, ctx, origin, dest, value):
        """Transfer some liquid free balance to another account; the sender may be reaped."""
        self.transfer(ctx, ctx.ensure_signed(origin), lookup(dest), value, keep_alive=False)

    @call(2, source=MultiAddress, dest=MultiAddress, value=Compact(Balance), weight=TRANSFER_WEIGHT)
    def force_transfer(self, ctx, origin, source, dest, value):
        """Exactly as `transfer_allow_death`, except the origin must be root and the source account may be specified."""
        ctx.ensure_root(origin)
        self.transfer(ctx, lookup(source), lookup(dest), value, keep_alive=False)

    @call(3, dest=MultiAddress, value=Compact(Balance), weight=TRANSFER_WEIGHT)
    def transfer_keep_alive(self, ctx, origin, dest, value):
        """Same as `transfer_allow_death`, but the sender must stay above the existential deposit."""
        self.transfer(ctx, ctx.ensure_signed(origin), lookup(dest), value, keep_alive=True)

    @call(4, dest=MultiAddress, keep_alive=Bool, weight=TRANSFER_WEIGHT)
    def transfer_all(self, ctx, origin, dest, keep_alive):
        """Transfer the entire transferable balance from the caller account."""
        sender = ctx.ensure_signed(origin)
        free = self.system.account(ctx.state, sender).free
        value = free - self.existential_deposit if keep_alive else free
        self.transfer(ctx, sender, lookup(dest), max(0, value), keep_alive=keep_alive)

    @call(8, who=MultiAddress, new_free=Compact(Balance), weight=SET_BALANCE_WEIGHT)
    def force_set_balance(self, ctx, origin, who, new_free):
        """Set the regular balance of a given account (root only)."""
        ctx.ensure_root(origin)
        who = lookup(who)
        info = self.system.account(ctx.state, who)
        if new_free < self.existential_deposit:
            new_free = 0
        self._adjust_issuance(ctx.state, new_free - info.free)
        self._set_free(ctx, who, info, new_free)
        self.deposit_event(ctx, "BalanceSet", {"who": who, "free": new_free})

    # -- the interface other pallets use ------------------------------------------------------
    def free_balance(self, state, who: bytes) -> int:
        return self.system.account(state, who).free

    def transfer(self, ctx, source: bytes, dest: bytes, value: int, *, keep_alive: bool) -> None:
        state = ctx.state
        sender = self.system.account(state, source)
        if sender.free < value:
            raise self.error("InsufficientBalance")
        remaining = sender.free - value
        if remaining < self.existential_deposit and (keep_alive or sender.reserved or self._needed(state, source)):
            raise self.error("Expendability")  # allow-death transfers reap the remainder instead
        if source == dest:
            self.deposit_event(ctx, "Transfer", {"from": source, "to": dest, "amount": value})
            return
        self._credit(ctx, dest, value)
        sender.free = remaining
        self._store_or_reap(ctx, source, sender)
        self.deposit_event(ctx, "Transfer", {"from": source, "to": dest, "amount": value})

    def _needed(self, state, who: bytes) -> bool:
        return any(check(state, who) for check in self.keep_alive_checks)

    def can_withdraw(self, account, amount: int) -> bool:
        """Can ``account`` (an AccountInfo) give ``amount`` out of circulation and stay alive?"""
        return account.free - amount >= self.existential_deposit

    def withdraw_from(self, ctx, who: bytes, account, amount: int) -> None:
        """Take ``amount`` out of circulation (fees) from ``account``, checked by `can_withdraw`,
        and store the account (with whatever else the caller changed on it)."""
        if not self.can_withdraw(account, amount):
            raise self.error("InsufficientBalance")  # the caller checked; never mint on a bug
        account.free -= amount
        if amount:
            self._adjust_issuance(ctx.state, -amount)
        self.system.set_account(ctx.state, who, account)
        if amount:
            self.deposit_event(ctx, "Withdraw", {"who": who, "amount": amount})

    def mint(self, ctx, who: bytes, amount: int) -> None:
        info = self.system.account(ctx.state, who)
        if info.providers == 0 and amount < self.existential_deposit:
            raise self.error("ExistentialDeposit")
        self._adjust_issuance(ctx.state, amount)
        self._set_free(ctx, who, info, info.free + amount)
        self.deposit_event(ctx, "Minted", {"who": who, "amount": amount})

    def burn(self, ctx, who: bytes, amount: int) -> None:
        info = self.system.account(ctx.state, who)
        if info.free < amount:
            raise self.error("InsufficientBalance")
        info.free -= amount
        self._adjust_issuance(ctx.state, -amount)
        self._store_or_reap(ctx, who, info)
        self.deposit_event(ctx, "Burned", {"who": who, "amount": amount})

    # -- reserves (escrow): other pallets lock funds here and release or pay them out -------------
    def reserved_balance(self, state, who: bytes) -> int:
        return self.system.account(state, who).reserved

    def can_reserve(self, state, who: bytes, amount: int) -> bool:
        """Can ``who`` move ``amount`` from free to reserved and keep the existential deposit free?"""
        return self.system.account(state, who).free - amount >= self.existential_deposit

    def reserve(self, ctx, who: bytes, amount: int) -> None:
        """Move ``amount`` from free to reserved. The free balance must stay at or above the
        existential deposit, so a reserve never reaps an account (as FRAME's `reserve`)."""
        info = self.system.account(ctx.state, who)
        if info.free < amount:
            raise self.error("InsufficientBalance")
        if info.free - amount < self.existential_deposit:
            raise self.error("Expendability")
        if amount == 0:
            return
        info.free -= amount
        info.reserved += amount
        self.system.set_account(ctx.state, who, info)
        self.deposit_event(ctx, "Reserved", {"who": who, "amount": amount})

    def unreserve(self, ctx, who: bytes, amount: int) -> None:
        """Move exactly ``amount`` from reserved back to free. Unlike FRAME's best-effort
        `unreserve`, asking for more than is reserved is refused: escrow accounting is exact."""
        info = self.system.account(ctx.state, who)
        if info.reserved < amount:
            raise self.error("InsufficientBalance")
        if amount == 0:
            return
        info.reserved -= amount
        info.free += amount
        self.system.set_account(ctx.state, who, info)
        self.deposit_event(ctx, "Unreserved", {"who": who, "amount": amount})

    def repatriate_reserved(self, ctx, source: bytes, dest: bytes, amount: int) -> None:
        """Pay ``amount`` out of ``source``'s reserve into ``dest``'s free balance (a settlement
        leg on one chain). Total issuance is unchanged."""
        state = ctx.state
        sender = self.system.account(state, source)
        if sender.reserved < amount:
            raise self.error("InsufficientBalance")
        if source == dest:  # FRAME: repatriating to oneself is an unreserve
            self.unreserve(ctx, source, amount)
            return
        self._credit(ctx, dest, amount)
        sender.reserved -= amount
        self._store_or_reap(ctx, source, sender)
        self.deposit_event(ctx, "ReserveRepatriated", {"from": source, "to": dest, "amount": amount, "destination_status": "Free"})

    def slash_reserved(self, ctx, who: bytes, amount: int) -> None:
        """Take exactly ``amount`` out of ``who``'s reserve and out of circulation (value that
        leaves this chain, e.g. a payment minted on the counterparty's chain)."""
        info = self.system.account(ctx.state, who)
        if info.reserved < amount:
            raise self.error("InsufficientBalance")
        if amount == 0:
            return
        info.reserved -= amount
        self._adjust_issuance(ctx.state, -amount)
        self._store_or_reap(ctx, who, info)
        self.deposit_event(ctx, "Slashed", {"who": who, "amount": amount})

    # -- internals ----------------------------------------------------------------------------
    def _credit(self, ctx, dest: bytes, amount: int) -> None:
        """Add ``amount`` to ``dest``'s free balance, creating the account (NewAccount, Endowed)
        if it does not exist; refused below the existential deposit before anything is written."""
        receiver = self.system.account(ctx.state, dest)
        created = receiver.providers == 0
        if created and amount < self.existential_deposit:
            raise self.error("ExistentialDeposit")
        receiver.free += amount
        if created:
            receiver.providers = 1
            self.system.deposit_event(ctx, "NewAccount", {"account": dest})
            self.deposit_event(ctx, "Endowed", {"account": dest, "free_balance": receiver.free})
        self.system.set_account(ctx.state, dest, receiver)

    def _set_free(self, ctx, who, info, new_free: int) -> None:
        created = info.providers == 0 and new_free > 0
        info.free = new_free
        if created:
            info.providers = 1
            self.system.deposit_event(ctx, "NewAccount", {"account": who})
            self.deposit_event(ctx, "Endowed", {"account": who, "free_balance": new_free})
        self._store_or_reap(ctx, who, info)

    def _store_or_reap(self, ctx, who: bytes, info) -> None:
        if info.providers and info.free + info.reserved < self.existential_deposit:
            dust = info.free + info.reserved  # a reaped account keeps no reserve either
            info.free = info.reserved = 0
            info.providers = 0
            if dust:
                self._adjust_issuance(ctx.state, -dust)
                for listener in self.dust_listeners:
                    listener(ctx.state, dust)
                self.deposit_event(ctx, "DustLost", {"account": who, "amount": dust})
            self.system.deposit_event(ctx, "KilledAccount", {"account": who})
        self.system.set_account(ctx.state, who, info)

    def _adjust_issuance(self, state, delta: int) -> None:
        total = self.TotalIssuance.get(state) + delta
        if total < 0 or total >= 1 << 128:
            raise ArithmeticOverflow()
        self.TotalIssuance.set(state, total)

    # -- genesis ------------------------------------------------------------------------------
    def genesis_endow(self, state, who: bytes, amount: int) -> None:
        """Give ``who`` ``amount`` more at genesis (another pallet's accounts), in the issuance."""
        if amount < self.existential_deposit and self.system.account(state, who).providers == 0:
            raise ValueError(f"genesis balance {amount} is below the existential deposit")
        info = self.system.account(state, who)
        info.free += amount
        info.providers = 1
        self.system.set_account(state, who, info)
        self._adjust_issuance(state, amount)

    def build_genesis(self, state, config):
        total = 0
        for who, amount in config.get("balances", []):
            if amount < self.existential_deposit:
                raise ValueError(f"genesis balance {amount} is below the existential deposit")
            info = self.system.account(state, who)
            info.free += amount
            info.providers = 1
            self.system.set_account(state, who, info)
            total += amount
        self.TotalIssuance.set(state, total)
