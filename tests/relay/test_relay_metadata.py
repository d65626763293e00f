"""The relay runtime's metadata, as clients read it: scalecodec decodes it, and with it decodes
(and re-encodes, byte for byte) a ParaInclusion.enter call and the events it emits."""

from __future__ import annotations

import pytest
from scalecodec.base import RuntimeConfigurationObject, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset

from node.dev_runtime import RUNTIME_APIS
from node.primitives.extrinsic import decode_extrinsic, encode_unsigned
from node.primitives.header import Header
from node.primitives.scale import DecodeError
from node.runtime.metadata import encode_metadata
from relay.inclusion import EnterData
from relay.primitives import INVALID, MAX_HEAD_DATA, VALID, CandidateCommitments, CandidateReceipt, Statement
from relay.runtime import build_relay_runtime
from relay.types import BackedCandidateType, CandidateReceiptType, InvalidReportType, StatementType
from tests.relay.harness import DEMAND, DG, RelayHarness


@pytest.fixture(scope="module")
def client():
    """scalecodec configured from the relay metadata, as substrate-interface sets itself up."""
    raw = encode_metadata(build_relay_runtime())
    rc = RuntimeConfigurationObject()
    rc.update_type_registry(load_type_registry_preset("core"))
    metadata = rc.create_scale_object("MetadataVersioned", data=ScaleBytes(raw))
    metadata.decode()
    rc.add_portable_registry(metadata)
    return raw, rc, metadata


@pytest.fixture
def enter_data():
    h = RelayHarness()
    h.block()
    candidate, _ = h.candidate(DEMAND)
    second, _ = h.candidate(DEMAND, parent=_header_of(candidate))
    report = h.receipt(DG, h.head_header(DG))
    statements = (h.statement(3, report.hash, INVALID, "état invalide".encode()),)
    return h, EnterData(backed=(candidate, second), invalid=((report, statements),))


def _header_of(candidate):
    return Header.decode(candidate.receipt.commitments.head_data)


def v14(metadata) -> dict:
    return metadata.value[1]["V14"]


def pallet(metadata, name: str) -> dict:
    return next(p for p in v14(metadata)["pallets"] if p["name"] == name)


def test_relay_metadata_is_v14_with_the_relay_pallets_in_order(client):
    raw, _, metadata = client
    assert raw[:4] == b"meta" and raw[4] == 14
    assert [(p["name"], p["index"]) for p in v14(metadata)["pallets"]] == [
        ("System", 0), ("Timestamp", 1), ("Balances", 2), ("TransactionPayment", 3), ("Sudo", 4),
        ("Offences", 5), ("Paras", 6), ("ParaInclusion", 7), ("Router", 8), ("XTransfers", 9), ("Market", 10),
    ]


def test_relay_runtime_identity():
    runtime = build_relay_runtime()
    assert runtime.crate == "parawatt_relay_runtime"
    assert runtime.version.spec_name == "parawatt-relay" and runtime.version.apis == RUNTIME_APIS
    assert runtime.inherents == {("Timestamp", "set"), ("Offences", "report_equivocation"), ("ParaInclusion", "enter")}


def test_paras_storage_and_inclusion_constant_are_declared(client):
    _, _, metadata = client
    entries = {e["name"]: e for e in pallet(metadata, "Paras")["storage"]["entries"]}
    assert set(entries) == {"Parachains", "Info", "Heads", "Validators", "BackingThreshold", "ChainId", "BackingGroups"}
    assert entries["Heads"]["type"]["Map"]["hashers"] == ["Twox64Concat"]
    (constant,) = pallet(metadata, "ParaInclusion")["constants"]
    assert constant["name"] == "MaxRelayParentAge"


def test_inclusion_events_have_the_documented_fields(client):
    _, _, metadata = client
    types = {t["id"]: t["type"] for t in v14(metadata)["types"]["types"]}
    event = types[pallet(metadata, "ParaInclusion")["event"]["ty"]]
    assert event["path"] == ["parawatt_relay", "inclusion", "pallet", "Event"]
    fields = {v["name"]: [f["name"] for f in v["fields"]] for v in event["def"]["variant"]["variants"]}
    assert fields == {
        "CandidateBacked": ["para_id", "candidate_hash", "head_hash", "relay_parent"],
        "CandidateIncluded": ["para_id", "candidate_hash", "head_hash", "number"],
        "CandidateInvalid": ["para_id", "candidate_hash", "reason"],
    }


def test_enter_call_decodes_and_reencodes_with_the_metadata(client, enter_data):
    _, rc, metadata = client
    h, data = enter_data
    call = h.enter_call(data)
    decoded = rc.create_scale_object("Call", data=ScaleBytes(call), metadata=metadata)
    value = decoded.decode()
    assert (value["call_module"], value["call_function"]) == ("ParaInclusion", "enter")
    args = {a["name"]: a["value"] for a in value["call_args"]}
    first = args["backed"][0]
    assert first["receipt"]["descriptor"]["para_id"] == DEMAND
    assert [s["kind"] for s in first["statements"]] == ["Valid", "Valid"]
    assert args["invalid"][0][1][0]["kind"] == "Invalid"
    rebuilt = rc.create_scale_object("Call", metadata=metadata).encode(
        {"call_module": "ParaInclusion", "call_function": "enter", "call_args": args}
    )
    assert bytes(rebuilt.data) == call


def test_inclusion_events_decode_with_the_metadata(client, enter_data):
    _, rc, metadata = client
    h, data = enter_data
    h.block(enter=data)
    system = pallet(metadata, "System")
    events_type = next(e for e in system["storage"]["entries"] if e["name"] == "Events")["type"]["Plain"]
    raw = h.state[h.system.Events.key()]
    records = rc.create_scale_object(f"scale_info::{events_type}", data=ScaleBytes(raw)).decode()
    names = [(r["event"]["module_id"], r["event"]["event_id"]) for r in records if r["event"]["module_id"] == "ParaInclusion"]
    assert names == [("ParaInclusion", n) for n in ("CandidateBacked", "CandidateIncluded") * 2 + ("CandidateInvalid",)]


# -- the candidate types: the primitives' bytes, typed -------------------------------------------


def test_candidate_types_encode_as_the_primitives_do(enter_data):
    _, data = enter_data
    candidate = data.backed[0]
    assert BackedCandidateType.encode(candidate) == candidate.encode()
    assert BackedCandidateType.decode_all(candidate.encode()) == candidate
    receipt, statements = data.invalid[0]
    encoded = InvalidReportType.encode((receipt, list(statements)))
    assert encoded == receipt.encode() + bytes([len(statements) << 2]) + b"".join(s.encode() for s in statements)
    assert InvalidReportType.decode_all(encoded) == (receipt, list(statements))


@pytest.mark.parametrize(
    "statement",
    [
        Statement(VALID, bytes(32), 0, b"", b"short"),
        Statement(3, bytes(32), 0, b"", bytes(64)),
        Statement(VALID, bytes(31), 0, b"", bytes(64)),
        Statement(VALID, bytes(32), 1 << 32, b"", bytes(64)),
        Statement(INVALID, bytes(32), 0, b"x" * 257, bytes(64)),
    ],
    ids=["short-signature", "unknown-kind", "short-hash", "index-overflow", "long-reason"],
)
def test_malformed_statements_are_refused_when_encoded(statement):
    with pytest.raises(ValueError):
        StatementType.encode(statement)


def test_oversized_head_data_is_refused_when_encoded(enter_data):
    _, data = enter_data
    receipt = data.backed[0].receipt
    huge = CandidateReceipt(receipt.descriptor, CandidateCommitments(bytes(MAX_HEAD_DATA + 1)))
    with pytest.raises(ValueError):
        CandidateReceiptType.encode(huge)


def test_malformed_candidate_bytes_are_refused_when_decoded(enter_data):
    _, data = enter_data
    encoded = data.backed[0].encode()
    with pytest.raises(DecodeError):
        BackedCandidateType.decode_all(encoded[:-1])
    with pytest.raises(DecodeError):
        CandidateReceiptType.decode_all(data.backed[0].receipt.encode() + b"\x00")
    kind_zero = bytearray(data.backed[0].statements[0].encode())
    kind_zero[0] = 0
    with pytest.raises(DecodeError):
        StatementType.decode_all(bytes(kind_zero))


def test_an_enter_extrinsic_that_does_not_decode_is_refused_before_execution(enter_data):
    h, data = enter_data
    truncated = h.enter_call(data)[:-3]
    with pytest.raises(DecodeError):
        h.executive.check_format(decode_extrinsic(encode_unsigned(truncated)))
