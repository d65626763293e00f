"""Block execution (FRAME's Executive): initialize, apply extrinsics, finalize; and the checks a
transaction must pass to enter the pool or a block.

The signed extensions run in Substrate's canonical order: CheckNonZeroSender, CheckSpecVersion,
CheckTxVersion, CheckGenesis, CheckMortality (the last four through the signature, whose payload
commits to them), CheckNonce, CheckWeight, ChargeTransactionPayment. Every check happens before
the first write, so a refused extrinsic leaves the state as it was.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from node.primitives.extrinsic import UncheckedExtrinsic, signed_message, verify_extrinsic_signature
from node.primitives.scale import DecodeError, encode_compact
from node.runtime import errors as tx
from node.runtime.errors import DispatchError
from node.runtime.overlay import StateOverlay
from node.runtime.pallet import NONE, Origin
from node.runtime.runtime import (
    PHASE_FINALIZATION,
    PHASE_INITIALIZATION,
    CallInfo,
    ExecutionContext,
    InherentFailed,
    Runtime,
    phase_apply_extrinsic,
)
from node.pallets.system import BLOCK_HASH_COUNT
from node.pallets.transaction_payment import EXTRINSIC_BASE_WEIGHT

MAX_BLOCK_WEIGHT = 4 * 10**12  # ref_time per block (4 s of reference compute)
MAX_BLOCK_LENGTH = 5 * 1024 * 1024
NORMAL_RATIO_PERCENT = 75  # share of weight and length open to ordinary transactions
MAX_EXTRINSIC_LENGTH = MAX_BLOCK_LENGTH * NORMAL_RATIO_PERCENT // 100
MAX_EXTRINSIC_WEIGHT = MAX_BLOCK_WEIGHT * NORMAL_RATIO_PERCENT // 100

ZERO_ACCOUNT = bytes(32)


@dataclass(frozen=True, slots=True)
class ValidTransaction:
    """What the pool needs to order and chain transactions (Substrate's ValidTransaction)."""

    priority: int
    requires: tuple[bytes, ...]  # tags: (signer ++ nonce-1) while earlier nonces are pending
    provides: tuple[bytes, ...]  # tags: (signer ++ nonce)
    longevity: int  # blocks until the mortal era ends
    fee: int


@dataclass(frozen=True, slots=True)
class CheckedExtrinsic:
    """An extrinsic that decoded and whose call decoded; `call` is the runtime call value."""

    xt: UncheckedExtrinsic
    call: object
    info: CallInfo
    length: int


@dataclass(frozen=True, slots=True)
class ApplyOutcome:
    success: bool
    error: DispatchError | None
    fee: int


def _dispatch_info(info) -> dict:
    return {
        "weight": {"ref_time": info.weight + EXTRINSIC_BASE_WEIGHT, "proof_size": 0},
        "class": info.dispatch_class,
        "pays_fee": "Yes" if info.pays_fee else "No",
    }


def nonce_tag(account: bytes, nonce: int) -> bytes:
    return account + nonce.to_bytes(4, "little")


class Executive:
    def __init__(self, runtime: Runtime, genesis_hash: bytes):
        self.runtime = runtime
        self.genesis_hash = genesis_hash
        self.system = runtime.pallet("System")
        self.payment = runtime.pallet("TransactionPayment")
        # (weight, class, pays fee) -> the encoded ExtrinsicSuccess event: one per kind of call,
        # encoded once instead of once per extrinsic (a nested DispatchInfo is slow to encode).
        self._success_events: dict[tuple, bytes] = {}

    # -- decoding -----------------------------------------------------------------------------
    def check_format(self, xt: UncheckedExtrinsic) -> CheckedExtrinsic:
        """Decode the call and weigh it. Raises DecodeError (undecodable) or ExhaustsResources."""
        length = len(xt.data)
        if length > MAX_EXTRINSIC_LENGTH:
            raise tx.ExhaustsResources(f"{length} bytes exceeds the {MAX_EXTRINSIC_LENGTH}-byte extrinsic limit")
        try:
            call = self.runtime.decode_call(xt.call)
        except (DecodeError, ValueError) as e:
            raise DecodeError(f"could not decode the call: {e}") from None
        info = self.runtime.call_info(call)
        if info.weight + EXTRINSIC_BASE_WEIGHT > MAX_EXTRINSIC_WEIGHT:
            raise tx.ExhaustsResources("the call's weight exceeds the per-extrinsic limit")
        return CheckedExtrinsic(xt, call, info, length)

    # -- the signed-extension checks ----------------------------------------------------------
    def _block_hash(self, number: int, current: int, block_hash) -> bytes | None:
        if number == 0:
            return self.genesis_hash
        return block_hash(number) if 0 < number < current else None

    def signature_check(self, xt: UncheckedExtrinsic, current: int, block_hash) -> tuple | None:
        """(crypto, public key, message, signature) for checking ``xt``'s signature against the
        checkpoint it must commit to, or None when that checkpoint block is unknown. Lets callers
        check many signatures at once (in another process) before `validate`."""
        if xt.signer is None:
            return None
        checkpoint = self.genesis_hash if xt.era.is_immortal else self._block_hash(xt.era.birth(current), current, block_hash)
        if checkpoint is None:
            return None
        version = self.runtime.version
        message = signed_message(xt, version.spec_version, version.transaction_version, self.genesis_hash, checkpoint)
        return xt.crypto, xt.signer, message, xt.signature

    def _verify_signature(self, xt: UncheckedExtrinsic, current: int, block_hash) -> None:
        """CheckGenesis, CheckSpecVersion, CheckTxVersion and CheckMortality, through the
        signature: its payload commits to the genesis hash, the versions and the birth block.
        Raises the precise refusal (expired era, unknown birth block, bad signature)."""
        version = self.runtime.version

        def signed_against(checkpoint: bytes) -> bool:
            return verify_extrinsic_signature(xt, version.spec_version, version.transaction_version, self.genesis_hash, checkpoint)

        if xt.era.is_immortal:
            if signed_against(self.genesis_hash):
                return
            raise tx.BadProof()
        birth = xt.era.birth(current)
        checkpoint = self._block_hash(birth, current, block_hash)
        if checkpoint is not None and signed_against(checkpoint):
            return
        # A transaction past its era signed an older checkpoint. Try the two previous births to
        # say so, instead of Substrate's bare error; only two, so a forgery costs at most three checks.
        for earlier in (birth - xt.era.period, birth - 2 * xt.era.period):
            old = self._block_hash(earlier, current, block_hash) if earlier >= 0 else None
            if old is not None and signed_against(old):
                raise tx.Stale(f"mortal era ended at block {earlier + xt.era.period}")
        if checkpoint is None:
            raise tx.AncientBirthBlock(f"birth block {birth} is unknown or older than {BLOCK_HASH_COUNT} blocks")
        raise tx.BadProof()

    def validate(
        self,
        state: StateOverlay,
        checked: CheckedExtrinsic,
        current: int,
        block_hash: Callable[[int], bytes | None],
        *,
        for_block: bool,
        signature_verified: bool = False,
    ) -> ValidTransaction:
        """All checks, no writes. ``current`` is the number of the block it would go in.

        For a block (``for_block``) the nonce must be exactly the account's; for the pool a
        higher nonce is valid and `requires` the one before it.
        """
        return self.validate_with_account(state, checked, current, block_hash, for_block, signature_verified)[0]

    def validate_with_account(self, state, checked, current, block_hash, for_block, signature_verified=False):
        """`validate`, also returning the signer's AccountInfo as read (None if unsigned)."""
        xt = checked.xt
        if xt.signer is None:
            if not self.runtime.is_inherent(checked.call):
                raise tx.CallNotExpected("unsigned extrinsics may only carry inherents")
            if not for_block:
                raise tx.CallNotExpected("inherents are added by the block author, not submitted")
            return ValidTransaction(0, (), (), 0, 0), None
        if xt.signer == ZERO_ACCOUNT:
            raise tx.BadSigner("the zero account cannot sign")
        if self.runtime.is_inherent(checked.call):
            raise tx.CallNotExpected("inherents cannot be signed")
        if not signature_verified:
            self._verify_signature(xt, current, block_hash)
        account = self.system.account(state, xt.signer)
        if xt.nonce < account.nonce:
            raise tx.Stale(f"nonce {xt.nonce} is below the account's next nonce {account.nonce}")
        if for_block and xt.nonce > account.nonce:
            raise tx.Future(f"nonce {xt.nonce} is ahead of the account's next nonce {account.nonce}")
        fee = self.payment.compute_fee(checked.length, checked.info.weight, xt.tip, checked.info.pays_fee)
        if not self.payment.can_pay(account, fee):
            raise tx.Payment(f"fee {fee} exceeds what the account can pay and stay alive")
        requires = () if xt.nonce == account.nonce else (nonce_tag(xt.signer, xt.nonce - 1),)
        longevity = 2**64 - 1 if xt.era.is_immortal else max(0, xt.era.death(current) - current)
        return ValidTransaction(xt.tip, requires, (nonce_tag(xt.signer, xt.nonce),), longevity, fee), account

    # -- block lifecycle ----------------------------------------------------------------------
    def initialize_block(self, state: StateOverlay, number: int, parent_hash: bytes, digest: tuple) -> ExecutionContext:
        """Start block ``number``; ``digest`` holds the header's DigestItems known before execution."""
        ctx = self.runtime.new_context(state, number)
        system = self.system
        system.Number.set(state, number)
        system.ParentHash.set(state, parent_hash)
        state.set(system.Digest.key(), encode_compact(len(digest)) + b"".join(item.encode() for item in digest))
        system.BlockHash.set(state, number - 1, parent_hash)
        if number > BLOCK_HASH_COUNT:
            system.BlockHash.remove(state, number - 1 - BLOCK_HASH_COUNT)
        state.delete(system.Events.key())
        state.delete(system.EventCount.key())
        state.events.clear()
        ctx.phase = PHASE_INITIALIZATION
        for pallet in self.runtime.pallets:
            pallet.on_initialize(ctx)
        return ctx

    def block_hash_in_state(self, state: StateOverlay) -> Callable[[int], bytes | None]:
        return lambda n: self.system.block_hash(state, n)

    def apply_extrinsic(self, ctx: ExecutionContext, index: int, checked: CheckedExtrinsic, *, signature_verified: bool = False) -> ApplyOutcome:
        """Apply one extrinsic. Raises TransactionValidityError (nothing written) if it may not
        be in this block; otherwise it is applied and its outcome recorded in events."""
        state = ctx.state
        xt = checked.xt
        valid, account = self.validate_with_account(state, checked, ctx.block_number, self.block_hash_in_state(state), True, signature_verified)
        ctx.phase = phase_apply_extrinsic(index)
        if account is not None:
            # CheckNonce and ChargeTransactionPayment's pre-dispatch, in one account write.
            account.nonce += 1
            self.payment.charge(ctx, xt.signer, account, valid.fee)
            origin = Origin.signed(xt.signer)
        else:
            origin = NONE
        error = None
        try:
            with state.transaction():
                self.runtime.dispatch(ctx, origin, checked.call)
        except DispatchError as e:
            error = e
        except InherentFailed:
            raise
        if error is not None and xt.signer is None:
            raise InherentFailed(f"inherent failed: {error}")
        if xt.signer is not None:
            self.payment.note_paid(ctx, xt.signer, valid.fee, xt.tip)
        info = checked.info
        if error is None:
            key = (info.weight, info.dispatch_class, info.pays_fee)
            event = self._success_events.get(key)
            if event is None:
                if len(self._success_events) >= 1024:
                    self._success_events.clear()
                event = self._success_events[key] = self.system.encode_event("ExtrinsicSuccess", {"dispatch_info": _dispatch_info(info)})
            ctx.deposit_event(event)
        else:
            self.system.deposit_event(ctx, "ExtrinsicFailed", {"dispatch_error": error.value, "dispatch_info": _dispatch_info(info)})
        return ApplyOutcome(error is None, error, valid.fee)

    def finalize_block(self, ctx: ExecutionContext, extrinsic_count: int) -> None:
        ctx.phase = PHASE_FINALIZATION
        for pallet in self.runtime.pallets:
            pallet.on_finalize(ctx)
        state = ctx.state
        self.system.ExtrinsicCount.set(state, extrinsic_count)
        events = state.events
        # System.Events is written once per block from the records deposited along the way.
        state.set(self.system.Events.key(), encode_compact(len(events)) + b"".join(events))
        self.system.EventCount.set(state, len(events))
