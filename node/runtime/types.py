"""The sp_runtime / frame_support / frame_system types that clients look up by path.

substrate-interface and polkadot.js give these paths special treatment (substrate-compat.md,
section 3), so the paths and variant orders here are Substrate's, not ours to choose.
"""

from __future__ import annotations

from node.primitives.scale_types import (
    U8,
    U32,
    U64,
    AccountId,
    Array,
    Bytes,
    Composite,
    Compact,
    Field,
    H256,
    MultiAddress,
    Primitive,
    Sequence_,
    Unit,
    Variant,
    VariantSpec,
    Weight,
    Balance,
)


def _unit_variants(path: str, names: list[str]) -> Variant:
    return Variant(path, [VariantSpec(i, n) for i, n in enumerate(names)])


def _newtype(t, type_name: str | None = None) -> tuple[Field, ...]:
    return (Field(None, t, type_name or t.name()),)


ModuleError = Composite(
    "sp_runtime::ModuleError", [Field("index", U8, "u8"), Field("error", Array(U8, 4), "[u8; MAX_MODULE_ERROR_ENCODED_SIZE]")]
)
TokenError = _unit_variants(
    "sp_runtime::TokenError",
    ["FundsUnavailable", "OnlyProvider", "BelowMinimum", "CannotCreate", "UnknownAsset", "Frozen", "Unsupported",
     "CannotCreateHold", "NotExpendable", "Blocked"],
)
ArithmeticError = _unit_variants("sp_arithmetic::ArithmeticError", ["Underflow", "Overflow", "DivisionByZero"])
TransactionalError = _unit_variants("sp_runtime::TransactionalError", ["LimitReached", "NoLayer"])

DispatchError = Variant(
    "sp_runtime::DispatchError",
    [
        VariantSpec(0, "Other"),
        VariantSpec(1, "CannotLookup"),
        VariantSpec(2, "BadOrigin"),
        VariantSpec(3, "Module", _newtype(ModuleError, "ModuleError")),
        VariantSpec(4, "ConsumerRemaining"),
        VariantSpec(5, "NoProviders"),
        VariantSpec(6, "TooManyConsumers"),
        VariantSpec(7, "Token", _newtype(TokenError, "TokenError")),
        VariantSpec(8, "Arithmetic", _newtype(ArithmeticError, "ArithmeticError")),
        VariantSpec(9, "Transactional", _newtype(TransactionalError, "TransactionalError")),
        VariantSpec(10, "Exhausted"),
        VariantSpec(11, "Corruption"),
        VariantSpec(12, "Unavailable"),
        VariantSpec(13, "RootNotAllowed"),
    ],
)

DispatchClass = _unit_variants("frame_support::dispatch::DispatchClass", ["Normal", "Operational", "Mandatory"])
Pays = _unit_variants("frame_support::dispatch::Pays", ["Yes", "No"])
DispatchInfo = Composite(
    "frame_support::dispatch::DispatchInfo",
    [Field("weight", Weight, "Weight"), Field("class", DispatchClass, "DispatchClass"), Field("pays_fee", Pays, "Pays")],
)

Phase = Variant(
    "frame_system::Phase",
    [VariantSpec(0, "ApplyExtrinsic", _newtype(U32, "u32")), VariantSpec(1, "Finalization"), VariantSpec(2, "Initialization")],
)

DigestItem = Variant(
    "sp_runtime::generic::digest::DigestItem",
    [
        VariantSpec(6, "PreRuntime", (Field(None, Array(U8, 4), "ConsensusEngineId"), Field(None, Bytes, "Vec<u8>"))),
        VariantSpec(4, "Consensus", (Field(None, Array(U8, 4), "ConsensusEngineId"), Field(None, Bytes, "Vec<u8>"))),
        VariantSpec(5, "Seal", (Field(None, Array(U8, 4), "ConsensusEngineId"), Field(None, Bytes, "Vec<u8>"))),
        VariantSpec(0, "Other", _newtype(Bytes, "Vec<u8>")),
        VariantSpec(8, "RuntimeEnvironmentUpdated"),
    ],
)
Digest = Composite("sp_runtime::generic::digest::Digest", [Field("logs", Sequence_(DigestItem), "Vec<DigestItem>")])


def _era() -> Variant:
    # Substrate's Era is an enum of Immortal plus 255 `MortalN(u8)` variants; scalecodec swaps in
    # its own Era codec when it sees this path, and polkadot.js does the same.
    variants = [VariantSpec(0, "Immortal")]
    variants += [VariantSpec(i, f"Mortal{i}", _newtype(U8, "u8")) for i in range(1, 256)]
    return Variant("sp_runtime::generic::era::Era", variants)


Era = _era()

Signature64 = Composite("sp_core::sr25519::Signature", [Field(None, Array(U8, 64), "[u8; 64]")])
Ed25519Signature = Composite("sp_core::ed25519::Signature", [Field(None, Array(U8, 64), "[u8; 64]")])
EcdsaSignature = Composite("sp_core::ecdsa::Signature", [Field(None, Array(U8, 65), "[u8; 65]")])
MultiSignature = Variant(
    "sp_runtime::MultiSignature",
    [
        VariantSpec(0, "Ed25519", _newtype(Ed25519Signature, "ed25519::Signature")),
        VariantSpec(1, "Sr25519", _newtype(Signature64, "sr25519::Signature")),
        VariantSpec(2, "Ecdsa", _newtype(EcdsaSignature, "ecdsa::Signature")),
    ],
)

__all__ = [
    "AccountId", "Balance", "Compact", "DigestItem", "Digest", "DispatchClass", "DispatchError", "DispatchInfo",
    "Era", "H256", "ModuleError", "MultiAddress", "MultiSignature", "Pays", "Phase", "Primitive", "U64", "Unit",
    "Weight",
]
