"""Metadata V14 generated from the pallet declarations, as the clients read it."""

import pytest

from node.dev_runtime import build_runtime
from node.runtime.metadata import decode_metadata, encode_metadata


@pytest.fixture(scope="module")
def metadata():
    raw = encode_metadata(build_runtime())
    return raw, decode_metadata(raw).value[1]["V14"]


def type_paths(v14):
    return {"::".join(t["type"]["path"]): t for t in v14["types"]["types"] if t["type"]["path"]}


def test_metadata_is_prefixed_v14(metadata):
    raw, _ = metadata
    assert raw[:4] == b"meta" and raw[4] == 14


def test_pallets_in_runtime_order_with_stable_indices(metadata):
    _, v14 = metadata
    assert [(p["name"], p["index"]) for p in v14["pallets"]] == [
        ("System", 0), ("Timestamp", 1), ("Balances", 2), ("TransactionPayment", 3), ("Sudo", 4), ("Offences", 5)
    ]


def test_frame_style_paths_the_clients_look_up(metadata):
    _, v14 = metadata
    paths = type_paths(v14)
    for path in [
        "sp_core::crypto::AccountId32",
        "sp_runtime::multiaddress::MultiAddress",
        "sp_runtime::generic::era::Era",
        "sp_runtime::generic::unchecked_extrinsic::UncheckedExtrinsic",
        "sp_runtime::MultiSignature",
        "frame_system::EventRecord",
        "frame_system::Phase",
        "frame_system::AccountInfo",
        "pallet_balances::types::AccountData",
        "sp_runtime::generic::digest::DigestItem",
        "sp_weights::weight_v2::Weight",
        "sp_runtime::DispatchError",
        "pallet_balances::pallet::Call",
        "pallet_balances::pallet::Event",
        "pallet_balances::pallet::Error",
        "parawatt_dev_runtime::RuntimeCall",
        "parawatt_dev_runtime::RuntimeEvent",
    ]:
        assert path in paths, path
    multi_sig = [v["name"] for v in paths["sp_runtime::MultiSignature"]["type"]["def"]["variant"]["variants"]]
    assert multi_sig == ["Ed25519", "Sr25519", "Ecdsa"]


def test_signed_extensions_in_canonical_order(metadata):
    _, v14 = metadata
    assert [e["identifier"] for e in v14["extrinsic"]["signed_extensions"]] == [
        "CheckNonZeroSender", "CheckSpecVersion", "CheckTxVersion", "CheckGenesis",
        "CheckMortality", "CheckNonce", "CheckWeight", "ChargeTransactionPayment",
    ]
    assert v14["extrinsic"]["version"] == 4


def test_errors_carry_their_docs(metadata):
    _, v14 = metadata
    error = type_paths(v14)["pallet_balances::pallet::Error"]["type"]
    insufficient = next(v for v in error["def"]["variant"]["variants"] if v["name"] == "InsufficientBalance")
    assert insufficient["index"] == 2 and insufficient["docs"] == ["Balance too low to send value."]


def test_storage_entries_have_hashers_and_defaults(metadata):
    _, v14 = metadata
    system = next(p for p in v14["pallets"] if p["name"] == "System")
    account = next(e for e in system["storage"]["entries"] if e["name"] == "Account")
    assert account["type"]["Map"]["hashers"] == ["Blake2_128Concat"]
    assert account["modifier"] == "Default"
    events = next(e for e in system["storage"]["entries"] if e["name"] == "Events")
    assert "Plain" in events["type"]


def test_constants_the_clients_read(metadata):
    _, v14 = metadata
    system = next(p for p in v14["pallets"] if p["name"] == "System")
    # scalecodec hands back `Bytes` as text when they happen to be valid UTF-8
    raw = lambda v: bytes.fromhex(v[2:]) if v.startswith("0x") else v.encode()  # noqa: E731
    constants = {c["name"]: raw(c["value"]) for c in system["constants"]}
    assert constants["SS58Prefix"] == (42).to_bytes(2, "little")
    assert constants["BlockHashCount"] == (2400).to_bytes(4, "little")


def test_call_enum_variant_for_transfer_keep_alive(metadata):
    _, v14 = metadata
    call = type_paths(v14)["pallet_balances::pallet::Call"]["type"]
    tka = next(v for v in call["def"]["variant"]["variants"] if v["name"] == "transfer_keep_alive")
    assert tka["index"] == 3 and [f["name"] for f in tka["fields"]] == ["dest", "value"]
