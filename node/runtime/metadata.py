"""Runtime metadata V14, generated from the pallet declarations and encoded with scalecodec.

Encoding takes a noticeable fraction of a second, so a node builds it once at start-up and serves
the cached bytes (`state_getMetadata`, `Metadata_metadata_at_version`).
"""

from __future__ import annotations

from scalecodec.base import RuntimeConfiguration, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset

from node.primitives.extrinsic import SIGNED_EXTENSIONS
from node.primitives.scale_types import (
    U32,
    U128,
    Bytes,
    Composite,
    Compact,
    Field,
    H256,
    MultiAddress,
    ScaleType,
    Tuple,
    TypeRegistry,
    Unit,
)
from node.runtime.pallet import RuntimePlaceholder, StorageMap
from node.runtime.runtime import Runtime
from node.runtime.types import Era, MultiSignature

METADATA_VERSION = 14
MAGIC = b"meta"


def _ext(path: str, *fields: ScaleType) -> Composite:
    return Composite(path, [Field(None, t, t.name()) for t in fields])


# (identifier, extension type, additional-signed type), in FRAME's canonical order.
_EXTENSION_TYPES = {
    "CheckNonZeroSender": (_ext("frame_system::extensions::check_non_zero_sender::CheckNonZeroSender"), Unit),
    "CheckSpecVersion": (_ext("frame_system::extensions::check_spec_version::CheckSpecVersion"), U32),
    "CheckTxVersion": (_ext("frame_system::extensions::check_tx_version::CheckTxVersion"), U32),
    "CheckGenesis": (_ext("frame_system::extensions::check_genesis::CheckGenesis"), H256),
    "CheckMortality": (_ext("frame_system::extensions::check_mortality::CheckMortality", Era), H256),
    "CheckNonce": (_ext("frame_system::extensions::check_nonce::CheckNonce", Compact(U32)), Unit),
    "CheckWeight": (_ext("frame_system::extensions::check_weight::CheckWeight"), Unit),
    "ChargeTransactionPayment": (_ext("pallet_transaction_payment::ChargeTransactionPayment", Compact(U128)), Unit),
}


class _Registry(TypeRegistry):
    """A type registry that resolves the runtime's placeholders (call enum, event records)."""

    def __init__(self, runtime: Runtime):
        super().__init__()
        self._placeholders = runtime.placeholders

    def id_of(self, t: ScaleType) -> int:
        if isinstance(t, RuntimePlaceholder):
            t = self._placeholders[t]
        return super().id_of(t)


def _storage_entry(item, registry: _Registry) -> dict:
    if isinstance(item, StorageMap):
        key_types = [t for t, _ in item.keys]
        key = key_types[0] if len(key_types) == 1 else Tuple(*key_types)
        entry_type = {"Map": {"hashers": [h for _, h in item.keys], "key": registry.id_of(key), "value": registry.id_of(item.value)}}
    else:
        entry_type = {"Plain": registry.id_of(item.value)}
    if isinstance(item.value, RuntimePlaceholder):
        default = b"\x00"  # an empty Vec
    else:
        default = item.default_bytes()
    return {
        "name": item.item,
        "modifier": "Optional" if item.optional else "Default",
        "type": entry_type,
        "default": "0x" + default.hex(),
        "documentation": [item.docs] if item.docs else [],
    }


def build_metadata_dict(runtime: Runtime) -> dict:
    registry = _Registry(runtime)
    pallets = []
    for p in runtime.pallets:
        pallets.append(
            {
                "name": p.name,
                "storage": {"prefix": p.name, "entries": [_storage_entry(i, registry) for i in p.storage_items]}
                if p.storage_items
                else None,
                "calls": {"ty": registry.id_of(p.call_type)} if p.call_type is not None else None,
                "event": {"ty": registry.id_of(p.event_type)} if p.event_type is not None else None,
                "constants": [
                    {"name": c.name, "type": registry.id_of(c.type), "value": "0x" + c.type.encode(c.value).hex(), "documentation": [c.docs] if c.docs else []}
                    for c in p.constants()
                ],
                "error": {"ty": registry.id_of(p.error_type)} if p.error_type is not None else None,
                "index": p.index,
            }
        )
    extensions = [_EXTENSION_TYPES[name] for name in SIGNED_EXTENSIONS]
    extrinsic_type = Composite(
        "sp_runtime::generic::unchecked_extrinsic::UncheckedExtrinsic",
        [Field(None, Bytes, "Vec<u8>")],
        params=(
            ("Address", MultiAddress),
            ("Call", runtime.call_type),
            ("Signature", MultiSignature),
            ("Extra", Tuple(*(ext for ext, _ in extensions))),
        ),
    )
    signed_extensions = [
        {"identifier": name, "ty": registry.id_of(ext), "additional_signed": registry.id_of(extra)}
        for name, (ext, extra) in zip(SIGNED_EXTENSIONS, extensions)
    ]
    extrinsic = {"ty": registry.id_of(extrinsic_type), "version": 4, "signed_extensions": signed_extensions}
    runtime_type = registry.id_of(Composite(f"{runtime.crate}::Runtime", []))
    # The clients look some types up by path even when no pallet mentions them.
    registry.id_of(runtime.event_record_type)
    return {"types": {"types": registry.types}, "pallets": pallets, "extrinsic": extrinsic, "runtime_type": runtime_type}


def encode_metadata(runtime: Runtime) -> bytes:
    """`RuntimeMetadataPrefixed` bytes: b"meta" ++ 14u8 ++ RuntimeMetadataV14."""
    config = RuntimeConfiguration()
    config.update_type_registry(load_type_registry_preset("core"))
    obj = config.create_scale_object("MetadataVersioned")
    data = obj.encode(["0x" + MAGIC.hex(), {"V14": build_metadata_dict(runtime)}])
    return bytes(data.data)


def decode_metadata(data: bytes):
    """Decode metadata bytes with scalecodec (used by tests and tools, not the node)."""
    config = RuntimeConfiguration()
    config.update_type_registry(load_type_registry_preset("core"))
    obj = config.create_scale_object("MetadataVersioned", data=ScaleBytes(data))
    obj.decode()
    return obj
