"""The dev node's Substrate JSON-RPC, in process over real HTTP and WebSocket connections:
what clients rely on, and every malformed or hostile request refused with Substrate's error
while the node stays up and its state stays as it was."""

import dataclasses

import pytest
import trio

from node.cli import dev_node_config
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import sign_extrinsic
from node.primitives.keys import dev_keypair
from node.runtime.executive import MAX_EXTRINSIC_LENGTH
from node.service.node import Node
from node.trie import verify_read_proof
from tests.rpc.clients import HttpClient, WsClient, request

ALICE, BOB = dev_keypair("Alice"), dev_keypair("Bob")


@pytest.fixture
async def node(tmp_path, nursery):
    config = dataclasses.replace(dev_node_config(tmp_path, rpc_port=0, block_time_ms=1000), authoring=False)
    node = Node(config)
    url = await nursery.start(node.run)
    node.port = int(url.rsplit(":", 1)[1])
    yield node


@pytest.fixture
async def http(node):
    client = HttpClient(node.port)
    yield client
    await client.close()


async def call(http, method, params=None):
    return await http.call(request(method, params))


def signed_transfer(node, *, nonce=0, value=10**12, genesis=None, signer=ALICE):
    rt = node.config.runtime
    call_bytes = rt.call_type.encode({"Balances": {"transfer_keep_alive": {"dest": {"Id": BOB.public_key}, "value": value}}})
    v = rt.version
    xt = sign_extrinsic(signer, call_bytes, nonce, IMMORTAL, 0, v.spec_version, v.transaction_version, genesis or node.chain.genesis_hash)
    return "0x" + xt.hex()


def author(node, n=1):
    for _ in range(n):
        slot = node.chain.best.number + 1
        node.consensus.author_slot(slot)


async def test_rpc_methods_lists_what_clients_need(http):
    methods = set((await call(http, "rpc_methods"))["result"]["methods"])
    for needed in ["system_chain", "system_properties", "chain_getBlockHash", "chain_getHead", "chain_getHeader",
                   "chain_getBlock", "chain_getFinalizedHead", "state_getRuntimeVersion", "state_getMetadata",
                   "state_getStorage", "state_getStorageAt", "state_queryStorageAt", "state_getKeysPaged",
                   "state_getReadProof", "state_call", "author_submitExtrinsic", "author_submitAndWatchExtrinsic",
                   "author_unwatchExtrinsic", "author_pendingExtrinsics", "payment_queryInfo", "system_accountNextIndex",
                   "chain_subscribeNewHeads", "chain_subscribeNewHead", "chain_subscribeFinalizedHeads",
                   "chain_subscribeFinalisedHeads", "state_subscribeStorage", "state_subscribeRuntimeVersion", "system_health"]:
        assert needed in methods, needed


async def test_block_hash_accepts_numbers_hex_lists_and_nothing(node, http):
    author(node, 2)
    genesis = "0x" + node.chain.genesis_hash.hex()
    assert (await call(http, "chain_getBlockHash", [0]))["result"] == genesis
    assert (await call(http, "chain_getBlockHash", ["0x0"]))["result"] == genesis
    assert (await call(http, "chain_getBlockHash", [[0, 1, 99]]))["result"][0] == genesis
    assert (await call(http, "chain_getBlockHash", [[0, 1, 99]]))["result"][2] is None
    best = "0x" + node.chain.best.hash.hex()
    assert (await call(http, "chain_getBlockHash"))["result"] == best
    assert (await call(http, "chain_getBlockHash", [None]))["result"] == best
    assert (await call(http, "chain_getBlockHash", [[]]))["result"] == best


async def test_header_and_block_json_shapes(node, http):
    author(node)
    header = (await call(http, "chain_getHeader"))["result"]
    assert header["number"] == "0x1" and header["parentHash"] == "0x" + node.chain.genesis_hash.hex()
    assert header["digest"]["logs"][0].startswith("0x06")  # PreRuntime aura slot
    block = (await call(http, "chain_getBlock"))["result"]
    assert block["block"]["header"] == header and block["justifications"] is None
    assert len(block["block"]["extrinsics"]) == 1  # the timestamp inherent
    assert (await call(http, "chain_getHeader", ["0x" + "ab" * 32]))["result"] is None


async def test_storage_query_and_read_proof(node, http):
    key = node.config.runtime.pallet("System").Account.key(ALICE.public_key)
    value = (await call(http, "state_getStorage", ["0x" + key.hex()]))["result"]
    assert value is not None
    proof = (await call(http, "state_getReadProof", [["0x" + key.hex()]]))["result"]
    nodes = [bytes.fromhex(p[2:]) for p in proof["proof"]]
    assert verify_read_proof(node.chain.best.state_root, nodes, [key]) == {key: bytes.fromhex(value[2:])}


async def test_state_call_answers_the_runtime_apis(node, http):
    version = (await call(http, "state_call", ["Core_version", "0x"]))["result"]
    assert bytes.fromhex(version[2:])[1:13] == b"parawatt-dev"
    meta = (await call(http, "state_call", ["Metadata_metadata_at_version", "0x0e000000"]))["result"]
    assert meta.startswith("0x01") and bytes.fromhex(meta[2:])[5:9] == b"meta"  # Some ++ compact length (4 bytes)
    assert (await call(http, "state_call", ["Metadata_metadata_at_version", "0x0f000000"]))["result"] == "0x00"
    nonce = (await call(http, "state_call", ["AccountNonceApi_account_nonce", "0x" + ALICE.public_key.hex()]))["result"]
    assert nonce == "0x00000000"


async def test_state_call_refuses_unknown_functions_and_bad_arguments(http):
    unknown = await call(http, "state_call", ["Nope_nothing", "0x"])
    assert unknown["error"]["code"] == 4003
    bad = await call(http, "state_call", ["AccountNonceApi_account_nonce", "0x01"])
    assert bad["error"]["code"] == 4003 and "Execution failed" in bad["error"]["message"]


async def test_submitted_transfer_is_pooled_then_included(node, http):
    reply = await call(http, "author_submitExtrinsic", [signed_transfer(node)])
    assert reply["result"].startswith("0x") and len(node.pool) == 1
    assert (await call(http, "system_accountNextIndex", [ALICE.ss58_address]))["result"] == 1
    author(node)
    assert len(node.pool) == 0
    assert (await call(http, "system_accountNextIndex", [ALICE.ss58_address]))["result"] == 1


@pytest.mark.parametrize(
    "case,code,fragment",
    [
        ("bad signature", 1010, "bad signature"),
        ("wrong genesis", 1010, "bad signature"),
        ("stale nonce", 1010, "outdated"),
        ("undecodable", 1002, "decode"),
        ("truncated", 1002, "decode"),
        ("trailing bytes", 1002, "decode"),
        ("oversized", 1010, "exhaust"),
        ("malformed hex", -32602, "hex"),
        ("not a string", -32602, "hex"),
        ("cannot pay", 1010, "fees"),
    ],
)
async def test_bad_extrinsics_are_refused_and_change_nothing(node, http, case, code, fragment):
    author(node)
    await call(http, "author_submitExtrinsic", [signed_transfer(node)])
    author(node)  # Alice's nonce is now 1
    good = signed_transfer(node, nonce=1)
    raw = bytes.fromhex(good[2:])
    payloads = {
        "bad signature": "0x" + (raw[:40] + bytes([raw[40] ^ 1]) + raw[41:]).hex(),
        "wrong genesis": signed_transfer(node, nonce=1, genesis=bytes(32)),
        "stale nonce": signed_transfer(node, nonce=0),
        "undecodable": "0x0c840102",
        "truncated": good[:-10],
        "trailing bytes": good + "00",
        "oversized": None,
        "malformed hex": "0xzz",
        "not a string": 12,
        "cannot pay": signed_transfer(node, signer=dev_keypair("Ferdie//stash"), nonce=0),
    }
    if case == "oversized":
        rt = node.config.runtime
        remark = rt.call_type.encode({"System": {"remark": {"remark": bytes(MAX_EXTRINSIC_LENGTH)}}})
        v = rt.version
        payloads[case] = "0x" + sign_extrinsic(ALICE, remark, 1, IMMORTAL, 0, v.spec_version, v.transaction_version, node.chain.genesis_hash).hex()
    state_before = dict(node.db._db.items())
    reply = await call(http, "author_submitExtrinsic", [payloads[case]])
    assert reply["error"]["code"] == code, reply
    assert fragment in (reply["error"]["message"] + str(reply["error"].get("data", ""))).lower()
    assert len(node.pool) == 0
    assert dict(node.db._db.items()) == state_before
    assert (await call(http, "system_health"))["result"]["isSyncing"] is False  # still up


async def test_duplicate_submission_is_1013(node, http):
    xt = signed_transfer(node)
    await call(http, "author_submitExtrinsic", [xt])
    assert (await call(http, "author_submitExtrinsic", [xt]))["error"]["code"] == 1013


@pytest.mark.parametrize(
    "method,params",
    [
        ("chain_getBlockHash", ["x"]),
        ("chain_getBlockHash", [-1]),
        ("chain_getHeader", [5]),
        ("state_getStorage", ["nohex"]),
        ("state_getStorage", ["0x00", "0x1234"]),
        ("state_getKeysPaged", ["0x", "many"]),
        ("system_accountNextIndex", ["5NotAnAddress"]),
        ("state_queryStorageAt", ["0x00"]),
        ("chain_getFinalizedHead", [1, 2, 3]),
    ],
)
async def test_wrong_parameter_types_are_32602(http, method, params):
    assert (await call(http, method, params))["error"]["code"] == -32602


async def test_unknown_method_and_unknown_block(http):
    assert (await call(http, "nope_nothing"))["error"]["code"] == -32601
    unknown = await call(http, "state_getStorage", ["0x00", "0x" + "11" * 32])
    assert unknown["error"]["code"] == 4003


async def test_keys_paged_limits_the_page_size(http):
    assert (await call(http, "state_getKeysPaged", ["0x", 1001]))["error"]["code"] == 4002


async def test_payment_query_info(node, http):
    info = (await call(http, "payment_queryInfo", [signed_transfer(node)]))["result"]
    assert info["class"] == "normal" and int(info["partialFee"]) > 0 and info["weight"]["ref_time"] > 0


async def test_watched_extrinsic_reports_ready_in_block_then_finalized(node):
    ws = await WsClient.connect(node.port)
    reply = await ws.call(request("author_submitAndWatchExtrinsic", [signed_transfer(node)]))
    sub = reply["result"]
    statuses = [(await ws.recv())["params"]]
    author(node)  # includes it
    statuses.append((await ws.recv())["params"])
    author(node)  # finalizes the previous block
    statuses.append((await ws.recv())["params"])
    assert all(s["subscription"] == sub for s in statuses)
    results = [s["result"] for s in statuses]
    assert results[0] == "ready"
    assert results[1] == {"inBlock": "0x" + node.chain.finalized.hash.hex()}
    assert results[2] == {"finalized": "0x" + node.chain.finalized.hash.hex()}
    await ws.close()


async def test_new_and_finalized_head_subscriptions(node):
    ws = await WsClient.connect(node.port)
    new_heads = (await ws.call(request("chain_subscribeNewHead")))["result"]
    first = await ws.recv()
    assert first["params"]["subscription"] == new_heads and first["params"]["result"]["number"] == "0x0"
    author(node)
    assert (await ws.recv())["params"]["result"]["number"] == "0x1"
    finalized = (await ws.call(request("chain_subscribeFinalisedHeads", None, 2)))["result"]
    assert (await ws.recv())["params"]["subscription"] == finalized
    assert (await ws.call(request("chain_unsubscribeNewHead", [new_heads], 3)))["result"] is True
    await ws.close()


async def test_storage_subscription_sends_current_value_then_changes(node):
    key = "0x" + node.config.runtime.pallet("System").Account.key(BOB.public_key).hex()
    ws = await WsClient.connect(node.port)
    await ws.call(request("state_subscribeStorage", [[key]]))
    initial = (await ws.recv())["params"]["result"]
    assert initial["changes"][0][0] == key
    node.submit(bytes.fromhex(signed_transfer(node)[2:]))
    author(node)
    changed = (await ws.recv())["params"]["result"]
    assert changed["changes"][0][0] == key and changed["changes"][0][1] != initial["changes"][0][1]
    await ws.close()


async def test_batch_of_submissions_is_checked_together_with_per_call_errors(node, http):
    good = [signed_transfer(node, nonce=n) for n in range(100)]  # over the verifier's batch size
    forged = bytes.fromhex(good[50][2:])
    forged = "0x" + (forged[:40] + bytes([forged[40] ^ 1]) + forged[41:]).hex()
    calls = [request("author_submitExtrinsic", [xt], i) for i, xt in enumerate(good)]
    calls.insert(10, request("author_submitExtrinsic", [forged], "forged"))
    calls.insert(20, request("author_submitExtrinsic", ["0xzz"], "bad hex"))
    calls.insert(30, request("chain_getFinalizedHead", [], "other method in between"))
    replies = {r["id"]: r for r in await http.call(calls)}
    assert replies["forged"]["error"]["code"] == 1010 and "bad signature" in replies["forged"]["error"]["data"]
    assert replies["bad hex"]["error"]["code"] == -32602
    assert replies["other method in between"]["result"].startswith("0x")
    assert all(replies[i]["result"].startswith("0x") for i in range(100))
    assert len(node.pool) == 100
    author(node)
    assert node.executive.system.account(node_state(node), ALICE.public_key).nonce == 100


def node_state(node):
    from node.runtime.overlay import StateOverlay

    return StateOverlay(node.db.state)


async def test_prometheus_endpoint_reports_heights_and_pool(tmp_path, nursery):
    import urllib.request

    config = dataclasses.replace(dev_node_config(tmp_path / "m", rpc_port=0, block_time_ms=1000), authoring=False, prometheus_port=0)
    node = Node(config)
    await nursery.start(node.run)
    node.consensus.author_slot(1)
    node.consensus.author_slot(2)
    node.submit(bytes.fromhex(signed_transfer(node)[2:]))
    node._refresh_stats()
    body = await trio.to_thread.run_sync(lambda: urllib.request.urlopen(f"http://127.0.0.1:{node.metrics_port}/metrics", timeout=10).read().decode())
    assert 'substrate_block_height{status="best"} 2.0' in body
    assert 'substrate_block_height{status="finalized"} 1.0' in body
    assert "substrate_ready_transactions_number 1.0" in body
