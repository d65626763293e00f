"""Test-only oracles: scalecodec 1.2.12 and an unmodified substrate-interface 1.8.1.

substrate-interface needs V14 metadata to build extrinsics, so this module hand-builds a minimal
one (System with SS58Prefix, Balances.transfer_keep_alive, the FRAME signed extensions) with
scalecodec's own encoder, and answers the client's RPC calls from an in-memory chain of headers.
Nothing here may be imported by runtime code.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from scalecodec.base import RuntimeConfigurationObject, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset
from substrateinterface import SubstrateInterface

from node.primitives.extrinsic import SIGNED_EXTENSIONS
from node.primitives.header import Header

SPEC_VERSION = 7
TX_VERSION = 3
SYSTEM_INDEX = 0
REMARK = 0
BALANCES_INDEX = 5
TRANSFER_KEEP_ALIVE = 3


@cache
def legacy_config() -> RuntimeConfigurationObject:
    """scalecodec with its built-in ("legacy") type registry: Header, DigestItem, Era, Compact…"""
    rc = RuntimeConfigurationObject()
    rc.update_type_registry(load_type_registry_preset("legacy"))
    return rc


class _Types:
    def __init__(self) -> None:
        self.types: list[dict[str, Any]] = []

    def add(self, definition: dict[str, Any], path: tuple[str, ...] = (), params: tuple = ()) -> int:
        type_id = len(self.types)
        self.types.append(
            {
                "id": type_id,
                "type": {
                    "path": list(path),
                    "params": [{"name": name, "type": ty} for name, ty in params],
                    "def": definition,
                    "docs": [],
                },
            }
        )
        return type_id

    def composite(self, path: tuple[str, ...], fields: list[tuple[str | None, int, str]], params=()) -> int:
        return self.add({"composite": {"fields": [_field(*f) for f in fields]}}, path, params)

    def variant(self, path: tuple[str, ...], variants: list[tuple[str, int, list]], params=()) -> int:
        return self.add(
            {
                "variant": {
                    "variants": [
                        {"name": name, "fields": [_field(*f) for f in fields], "index": index, "docs": []}
                        for name, index, fields in variants
                    ]
                }
            },
            path,
            params,
        )


def _field(name: str | None, ty: int, type_name: str) -> dict[str, Any]:
    return {"name": name, "type": ty, "typeName": type_name, "docs": []}


def build_metadata() -> bytes:
    t = _Types()
    u8 = t.add({"primitive": "u8"})
    u16 = t.add({"primitive": "u16"})
    u32 = t.add({"primitive": "u32"})
    u128 = t.add({"primitive": "u128"})
    unit = t.add({"tuple": []})
    arr20 = t.add({"array": {"len": 20, "type": u8}})
    arr32 = t.add({"array": {"len": 32, "type": u8}})
    arr64 = t.add({"array": {"len": 64, "type": u8}})
    arr65 = t.add({"array": {"len": 65, "type": u8}})
    bytes_ = t.add({"sequence": {"type": u8}})
    compact_u32 = t.add({"compact": {"type": u32}})
    compact_u128 = t.add({"compact": {"type": u128}})
    account = t.composite(("sp_core", "crypto", "AccountId32"), [(None, arr32, "[u8; 32]")])
    h256 = t.composite(("primitive_types", "H256"), [(None, arr32, "[u8; 32]")])
    address = t.variant(
        ("sp_runtime", "multiaddress", "MultiAddress"),
        [
            ("Id", 0, [(None, account, "AccountId")]),
            ("Index", 1, [(None, compact_u32, "AccountIndex")]),
            ("Raw", 2, [(None, bytes_, "Vec<u8>")]),
            ("Address32", 3, [(None, arr32, "[u8; 32]")]),
            ("Address20", 4, [(None, arr20, "[u8; 20]")]),
        ],
        params=(("AccountId", account), ("AccountIndex", u32)),
    )
    balances_call = t.variant(
        ("pallet_balances", "pallet", "Call"),
        [
            (
                "transfer_keep_alive",
                TRANSFER_KEEP_ALIVE,
                [("dest", address, "AccountIdLookupOf<T>"), ("value", compact_u128, "T::Balance")],
            )
        ],
    )
    system_call = t.variant(
        ("frame_system", "pallet", "Call"), [("remark", REMARK, [("remark", bytes_, "Vec<u8>")])]
    )
    runtime_call = t.variant(
        ("parawatt_runtime", "RuntimeCall"),
        [
            ("System", SYSTEM_INDEX, [(None, system_call, "frame_system::Call<Runtime>")]),
            ("Balances", BALANCES_INDEX, [(None, balances_call, "pallet_balances::Call<Runtime>")]),
        ],
    )
    ed_sig = t.composite(("sp_core", "ed25519", "Signature"), [(None, arr64, "[u8; 64]")])
    sr_sig = t.composite(("sp_core", "sr25519", "Signature"), [(None, arr64, "[u8; 64]")])
    ecdsa_sig = t.composite(("sp_core", "ecdsa", "Signature"), [(None, arr65, "[u8; 65]")])
    signature = t.variant(
        ("sp_runtime", "MultiSignature"),
        [
            ("Ed25519", 0, [(None, ed_sig, "ed25519::Signature")]),
            ("Sr25519", 1, [(None, sr_sig, "sr25519::Signature")]),
            ("Ecdsa", 2, [(None, ecdsa_sig, "ecdsa::Signature")]),
        ],
    )
    era = t.variant(
        ("sp_runtime", "generic", "era", "Era"),
        [("Immortal", 0, [])] + [(f"Mortal{i}", i, [(None, u8, None)]) for i in range(1, 256)],
    )
    ext_fields = {
        "CheckMortality": [(None, era, "Era")],
        "CheckNonce": [(None, compact_u32, "T::Nonce")],
        "ChargeTransactionPayment": [(None, compact_u128, "BalanceOf<T>")],
    }
    additional = {
        "CheckSpecVersion": u32,
        "CheckTxVersion": u32,
        "CheckGenesis": h256,
        "CheckMortality": h256,
    }
    extensions = []
    for name in SIGNED_EXTENSIONS:
        ty = t.composite(("frame_system", "extensions", name), ext_fields.get(name, []))
        extensions.append({"identifier": name, "ty": ty, "additional_signed": additional.get(name, unit)})
    extra = t.add({"tuple": [e["ty"] for e in extensions]})
    uxt = t.composite(
        ("sp_runtime", "generic", "unchecked_extrinsic", "UncheckedExtrinsic"),
        [(None, bytes_, "Vec<u8>")],
        params=(("Address", address), ("Call", runtime_call), ("Signature", signature), ("Extra", extra)),
    )
    runtime = t.composite(("parawatt_runtime", "Runtime"), [])

    def pallet(name: str, index: int, calls: int | None = None, constants=()) -> dict[str, Any]:
        return {
            "name": name,
            "storage": None,
            "calls": None if calls is None else {"ty": calls},
            "event": None,
            "constants": [
                {"name": c, "type": ty, "value": value, "documentation": []} for c, ty, value in constants
            ],
            "error": None,
            "index": index,
        }

    value = [
        "0x6d657461",
        {
            "V14": {
                "types": {"types": t.types},
                "pallets": [
                    pallet(
                        "System",
                        SYSTEM_INDEX,
                        calls=system_call,
                        constants=[("SS58Prefix", u16, "0x2a00")],
                    ),
                    pallet("Balances", BALANCES_INDEX, calls=balances_call),
                ],
                "extrinsic": {"ty": uxt, "version": 4, "signed_extensions": extensions},
                "runtime_type": runtime,
            }
        },
    ]
    rc = RuntimeConfigurationObject()
    rc.update_type_registry(load_type_registry_preset("core"))
    return bytes(rc.create_scale_object("MetadataVersioned").encode(value).data)


@cache
def metadata_bytes() -> bytes:
    return build_metadata()


def make_chain(length: int) -> list[Header]:
    """Headers 0..length-1, each the child of the previous, with distinct roots."""
    headers = [Header(bytes(32), 0, bytes([1]) * 32, bytes([2]) * 32)]
    for n in range(1, length):
        root = n.to_bytes(32, "little")
        headers.append(Header(headers[-1].hash, n, root, root))
    return headers


class OfflineSubstrate(SubstrateInterface):
    """The real client, with its transport replaced by answers from an in-memory chain."""

    def __init__(self, headers: list[Header]) -> None:
        self.headers = headers
        self.by_hash = {"0x" + h.hash.hex(): h for h in headers}
        super().__init__(url="http://offline.invalid", ss58_format=42)

    def rpc_request(self, method, params, result_handler=None):
        return {"jsonrpc": "2.0", "id": 1, "result": self._answer(method, params or [])}

    def _answer(self, method: str, params: list) -> Any:
        head = self.headers[-1]
        if method == "system_chain":
            return "Parawatt Oracle"
        if method == "system_properties":
            return {"ss58Format": 42, "tokenDecimals": 12, "tokenSymbol": "UNIT"}
        if method == "rpc_methods":
            return {"version": 1, "methods": ["chain_getHead", "chain_getBlockHash", "chain_getHeader",
                                               "state_getRuntimeVersion", "state_getMetadata"]}
        if method in ("chain_getHead", "chain_getFinalizedHead"):
            return "0x" + head.hash.hex()
        if method == "chain_getBlockHash":
            n = params[0] if params else None
            header = head if n is None else self.headers[n]
            return "0x" + header.hash.hex()
        if method == "chain_getHeader":
            header = self.by_hash.get(params[0]) if params else head
            return None if header is None else header.to_json()
        if method == "state_getRuntimeVersion":
            return {
                "specName": "parawatt-oracle",
                "implName": "parawatt-oracle",
                "authoringVersion": 1,
                "specVersion": SPEC_VERSION,
                "implVersion": 1,
                "apis": [],
                "transactionVersion": TX_VERSION,
                "stateVersion": 1,
            }
        if method == "state_getMetadata":
            return "0x" + metadata_bytes().hex()
        raise NotImplementedError(f"the offline oracle does not answer {method}")


def decode_with_scalecodec(substrate: OfflineSubstrate, data: bytes) -> dict[str, Any]:
    substrate.init_runtime()
    config = substrate.runtime_config
    return config.create_scale_object("Extrinsic", ScaleBytes(data), metadata=substrate.metadata).decode()
