"""The three parachain runtimes: identity, composition, and metadata the clients can read."""

import pytest
from scalecodec.base import RuntimeConfiguration, ScaleBytes
from scalecodec.type_registry import load_type_registry_preset

from node.runtime.metadata import decode_metadata, encode_metadata
from parachains.runtimes import build_parachain_runtime

KINDS = {"demand": 2000, "dg": 2001, "storage": 2002}
PALLETS = [("System", 0), ("Timestamp", 1), ("Balances", 2), ("TransactionPayment", 3), ("Sudo", 4),
           ("Messaging", 5), ("ParachainSystem", 6), ("XTransfers", 7), ("MarketLink", 8), ("Periods", 9), ("Registry", 10), ("Meters", 11), ("Orders", 12)]


@pytest.fixture(scope="module", params=list(KINDS))
def chain(request):
    runtime = build_parachain_runtime(request.param)
    raw = encode_metadata(runtime)
    return request.param, runtime, raw, decode_metadata(raw)


def test_runtime_identity_per_kind(chain):
    kind, runtime, _, _ = chain
    assert runtime.version.spec_name == f"parawatt-{kind}"
    assert runtime.crate == f"parawatt_{kind}_runtime"
    assert runtime.pallet("Meters").para_id == KINDS[kind]
    assert runtime.pallet("Orders").rules.para_id == KINDS[kind]


def test_para_id_can_be_overridden():
    assert build_parachain_runtime("dg", para_id=3001).pallet("Meters").para_id == 3001


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown parachain kind"):
        build_parachain_runtime("hydro")


def test_metadata_decodes_with_pallets_in_order(chain):
    _, _, raw, decoded = chain
    assert raw[:4] == b"meta" and raw[4] == 14
    v14 = decoded.value[1]["V14"]
    assert [(p["name"], p["index"]) for p in v14["pallets"]] == PALLETS


def test_metadata_names_the_market_calls_events_and_errors(chain):
    kind, _, _, decoded = chain
    v14 = decoded.value[1]["V14"]
    paths = {"::".join(t["type"]["path"]): t["type"] for t in v14["types"]["types"] if t["type"]["path"]}
    variants = lambda path: [v["name"] for v in paths[path]["def"]["variant"]["variants"]]  # noqa: E731
    assert variants("pallet_parawatt_orders::pallet::Call") == ["place_order", "cancel_order"]
    assert variants("pallet_parawatt_registry::pallet::Call") == ["register_aggregator", "register_device", "revoke", "revoke_device"]
    assert variants("pallet_parawatt_meters::pallet::Call") == ["submit_reading"]
    assert {"OrderPlaced", "OrderCancelled"} <= set(variants("pallet_parawatt_orders::pallet::Event"))
    errors = paths["pallet_parawatt_orders::pallet::Error"]["def"]["variant"]["variants"]
    assert all(e["docs"] for e in errors)
    assert f"parawatt_{kind}_runtime::RuntimeCall" in paths


def runtime_config(raw):
    config = RuntimeConfiguration()
    config.update_type_registry(load_type_registry_preset("core"))
    metadata = decode_metadata(raw)
    config.add_portable_registry(metadata)
    return config, metadata


def test_a_call_scalecodec_composes_from_metadata_decodes_in_the_runtime(chain):
    _, runtime, raw, _ = chain
    config, metadata = runtime_config(raw)
    call = config.create_scale_object("Call", metadata=metadata)
    data = call.encode({"call_module": "Orders", "call_function": "place_order",
                        "call_args": {"side": "Sell", "quantity_10wh": 250, "price": 3 * 10**12, "reserve": 2 * 10**12, "period": 482_137}})
    decoded = runtime.decode_call(bytes(data.data))
    assert decoded == {"Orders": {"place_order": {"side": "Sell", "quantity_10wh": 250, "price": 3 * 10**12, "reserve": 2 * 10**12, "period": 482_137}}}


def test_storage_values_decode_with_the_metadata_types(chain):
    _, runtime, raw, _ = chain
    config, metadata = runtime_config(raw)
    orders = runtime.pallet("Orders")
    record = {"owner": bytes(range(32)), "side": "Buy", "quantity": 5, "price": 7, "reserve": 9, "period": 11,
              "remaining": 5, "escrow": 0, "status": "Open"}
    encoded = orders.Orders.value.encode(record)
    pallet = next(p for p in metadata.value[1]["V14"]["pallets"] if p["name"] == "Orders")
    entry = next(e for e in pallet["storage"]["entries"] if e["name"] == "Orders")
    type_string = config.get_decoder_class(f"scale_info::{entry['type']['Map']['value']}")
    obj = type_string(data=ScaleBytes(encoded), runtime_config=config)
    value = obj.decode()
    assert value["side"] == "Buy" and value["status"] == "Open" and value["reserve"] == 9
