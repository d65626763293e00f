"""frame_system: accounts and nonces, block bookkeeping, events.

The account record (`AccountInfo` with Balances' `AccountData` inside) is read and written for
every transaction, so it has a hand-written codec; the declared type still produces the exact
metadata (`frame_system::AccountInfo`, `pallet_balances::types::AccountData`) the clients expect.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.primitives.hashing import blake2_128, blake2_256
from node.primitives.scale import DecodeError
from node.primitives.scale_types import (
    U16,
    U32,
    U128,
    AccountId,
    Bytes,
    Composite,
    Field,
    H256,
    Tuple,
    Vec,
)
from node.runtime.pallet import (
    EVENT_RECORDS,
    Constant,
    Pallet,
    StorageValue,
    call,
    event,
    map_of,
)
from node.runtime.types import DispatchError, DispatchInfo, Digest

BLOCK_HASH_COUNT = 2400  # how long block hashes are kept; bounds mortal eras
SS58_PREFIX = 42


@dataclass(slots=True)
class AccountInfo:
    nonce: int = 0
    consumers: int = 0
    providers: int = 0
    sufficients: int = 0
    free: int = 0
    reserved: int = 0
    frozen: int = 0
    flags: int = 1 << 127  # ExtraFlags: the "new logic" bit every account created today carries

    @property
    def is_empty(self) -> bool:
        return self.providers == 0 and self.sufficients == 0 and self.nonce == 0


_ACCOUNT_INFO_LEN = 16 + 64
_FLAGS_DEFAULT = 1 << 127


class AccountInfoType(Composite):
    """`AccountInfo<u32, AccountData<u128>>` with a fixed-layout fast path (80 bytes)."""

    def __init__(self):
        account_data = Composite(
            "pallet_balances::types::AccountData",
            [
                Field("free", U128, "Balance"),
                Field("reserved", U128, "Balance"),
                Field("frozen", U128, "Balance"),
                Field("flags", Composite("pallet_balances::types::ExtraFlags", [Field(None, U128, "u128")]), "ExtraFlags"),
            ],
        )
        super().__init__(
            "frame_system::AccountInfo",
            [
                Field("nonce", U32, "Nonce"),
                Field("consumers", U32, "RefCount"),
                Field("providers", U32, "RefCount"),
                Field("sufficients", U32, "RefCount"),
                Field("data", account_data, "AccountData"),
            ],
            params=(("Nonce", U32), ("AccountData", account_data)),
        )
        self.encode = self._encode_info
        self.decode = self._decode_info

    @staticmethod
    def _encode_info(a: AccountInfo) -> bytes:
        return (
            a.nonce.to_bytes(4, "little")
            + a.consumers.to_bytes(4, "little")
            + a.providers.to_bytes(4, "little")
            + a.sufficients.to_bytes(4, "little")
            + a.free.to_bytes(16, "little")
            + a.reserved.to_bytes(16, "little")
            + a.frozen.to_bytes(16, "little")
            + a.flags.to_bytes(16, "little")
        )

    @staticmethod
    def _decode_info(data: bytes, offset: int) -> tuple[AccountInfo, int]:
        end = offset + _ACCOUNT_INFO_LEN
        if end > len(data):
            raise DecodeError("unexpected end of input reading AccountInfo")
        f = int.from_bytes
        o = offset
        info = AccountInfo(
            f(data[o : o + 4], "little"),
            f(data[o + 4 : o + 8], "little"),
            f(data[o + 8 : o + 12], "little"),
            f(data[o + 12 : o + 16], "little"),
            f(data[o + 16 : o + 32], "little"),
            f(data[o + 32 : o + 48], "little"),
            f(data[o + 48 : o + 64], "little"),
            f(data[o + 64 : o + 80], "little"),
        )
        return info, end


AccountInfoCodec = AccountInfoType()


class System(Pallet):
    name = "System"
    crate = "frame_system"

    # -- storage ------------------------------------------------------------------------------
    Account = map_of(AccountId, AccountInfoCodec, default=AccountInfo(), docs="The full account information for a particular account ID.")
    ExtrinsicCount = StorageValue(U32, docs="Total extrinsics count for the current block.")
    BlockHash = map_of(U32, H256, hasher="Twox64Concat", default=bytes(32), docs="Map of block numbers to block hashes.")
    Number = StorageValue(U32, default=0, docs="The current block number being processed.")
    ParentHash = StorageValue(H256, default=bytes(32), docs="Hash of the previous block.")
    Digest = StorageValue(Digest, default={"logs": []}, docs="Digest of the current block, also part of the block header.")
    Events = StorageValue(EVENT_RECORDS, default=[], docs="Events deposited for the current block.")
    EventCount = StorageValue(U32, default=0, docs="The number of events in the `Events<T>` list.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "ExtrinsicSuccess", "An extrinsic completed successfully.", dispatch_info=DispatchInfo),
        event(1, "ExtrinsicFailed", "An extrinsic failed.", dispatch_error=DispatchError, dispatch_info=DispatchInfo),
        event(2, "CodeUpdated", "`:code` was updated."),
        event(3, "NewAccount", "A new account was created.", account=AccountId),
        event(4, "KilledAccount", "An account was reaped.", account=AccountId),
        event(5, "Remarked", "On on-chain remark happened.", sender=AccountId, hash=H256),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("InvalidSpecName", "The name of specification does not match between the current runtime and the new runtime."),
        ("SpecVersionNeedsToIncrease", "The specification version is not allowed to decrease between the current runtime and the new runtime."),
        ("FailedToExtractRuntimeVersion", "Failed to extract the runtime version from the new runtime."),
        ("NonDefaultComposite", "Suicide called when the account has non-default composite data."),
        ("NonZeroRefCount", "There is a non-zero reference count preventing the account from being purged."),
        ("CallFiltered", "The origin filter prevent the call to be dispatched."),
    )

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [
            Constant("BlockHashCount", U32, BLOCK_HASH_COUNT, "Maximum number of block number to block hash mappings to keep (oldest pruned first)."),
            Constant("SS58Prefix", U16, SS58_PREFIX, "The designated SS58 prefix of this chain."),
        ]

    # -- calls --------------------------------------------------------------------------------
    @call(0, remark=Bytes, weight=lambda remark: 1_000_000 + len(remark) * 100)
    def remark(self, ctx, origin, remark):
        """Make some on-chain remark."""
        ctx.ensure_signed(origin)

    @call(4, items=Vec(Tuple(Bytes, Bytes)), weight=lambda items: 10_000_000 * (1 + len(items)))
    def set_storage(self, ctx, origin, items):
        """Set some items of storage (root only)."""
        ctx.ensure_root(origin)
        for key, value in items:
            ctx.state.set(key, value)

    @call(7, remark=Bytes, weight=lambda remark: 5_000_000 + len(remark) * 100)
    def remark_with_event(self, ctx, origin, remark):
        """Make some on-chain remark and emit an event."""
        sender = ctx.ensure_signed(origin)
        self.deposit_event(ctx, "Remarked", {"sender": sender, "hash": blake2_256(remark)})

    # -- the interface other pallets use ------------------------------------------------------
    def account(self, state, who: bytes) -> AccountInfo:
        raw = state.get(self.Account.prefix + _blake2_128_concat(who))
        return AccountInfo() if raw is None else AccountInfoCodec.decode_all(raw)

    def set_account(self, state, who: bytes, info: AccountInfo) -> None:
        key = self.Account.prefix + _blake2_128_concat(who)
        if info.is_empty and info.free == 0 and info.reserved == 0:
            state.delete(key)
        else:
            state.set(key, AccountInfoCodec.encode(info))

    def block_hash(self, state, number: int) -> bytes | None:
        return state.get(self.BlockHash.key(number))

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, state, config):
        # FRAME's placeholder; block 1 overwrites it with the real genesis hash.
        self.BlockHash.set(state, 0, bytes([69]) * 32)


_ACCOUNT_KEY_CACHE: dict[bytes, bytes] = {}
_ACCOUNT_KEY_CACHE_LIMIT = 1 << 16


def _blake2_128_concat(who: bytes) -> bytes:
    # Every transaction hashes its accounts' keys several times; the hash of an account id
    # never changes, so remember recent ones (bounded: cleared when full).
    key = _ACCOUNT_KEY_CACHE.get(who)
    if key is None:
        if len(_ACCOUNT_KEY_CACHE) >= _ACCOUNT_KEY_CACHE_LIMIT:
            _ACCOUNT_KEY_CACHE.clear()
        key = _ACCOUNT_KEY_CACHE[who] = blake2_128(who) + who
    return key
