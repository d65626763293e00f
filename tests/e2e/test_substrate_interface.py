"""Unmodified substrate-interface against a real dev node process: what a Python wallet, script or
indexer does with a Substrate chain, over WebSocket and HTTP."""

from __future__ import annotations

import pytest
from substrateinterface import Keypair, SubstrateInterface

from node.cli import DEV_ENDOWMENT
from node.pallets.transaction_payment import BYTE_FEE

pytestmark = pytest.mark.slow

UNIT = 10**12
CLIENT_TIMEOUT_S = 20  # socket timeout: a silent node fails the test instead of hanging it
DEV_NAMES = ("Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie")

ALICE = Keypair.create_from_uri("//Alice")
BOB = Keypair.create_from_uri("//Bob")


@pytest.fixture(scope="module")
def substrate(dev_node):
    client = SubstrateInterface(url=dev_node.ws_url, ws_options={"timeout": CLIENT_TIMEOUT_S})
    yield client
    client.close()


def free_at(substrate: SubstrateInterface, who: str, block_hash: str) -> int:
    return substrate.query("System", "Account", [who], block_hash=block_hash).value["data"]["free"]


def parent_of(substrate: SubstrateInterface, block_hash: str) -> str:
    return substrate.get_block_header(block_hash)["header"]["parentHash"]


def events_named(receipt, module: str, name: str) -> list[dict]:
    return [e.value["event"]["attributes"] for e in receipt.triggered_events
            if e.value["event"]["module_id"] == module and e.value["event"]["event_id"] == name]


def test_connect_reads_the_chain_identity(substrate):
    assert substrate.chain == "Parawatt Development"
    assert substrate.properties == {"ss58Format": 42, "tokenDecimals": 12, "tokenSymbol": "UNIT"}
    assert substrate.ss58_format == 42
    assert substrate.token_symbol == "UNIT"
    substrate.init_runtime()
    assert substrate.runtime_version == 100
    assert substrate.metadata.get_metadata_pallet("Balances") is not None


def test_account_query_shows_the_dev_endowment(substrate):
    genesis = substrate.get_block_hash(0)
    account = substrate.query("System", "Account", [ALICE.ss58_address], block_hash=genesis).value
    assert account["data"]["free"] == DEV_ENDOWMENT
    assert account["nonce"] == 0
    assert account["providers"] == 1


def test_query_map_lists_every_dev_account(substrate):
    at = substrate.get_chain_head()
    accounts = {key.value: value.value for key, value in substrate.query_map("System", "Account", block_hash=at, page_size=2)}
    for name in DEV_NAMES:
        address = Keypair.create_from_uri(f"//{name}").ss58_address
        assert address in accounts, name
        assert accounts[address] == substrate.query("System", "Account", [address], block_hash=at).value


def test_transfer_keep_alive_moves_exactly_the_amount_and_the_fee(substrate):
    dest = Keypair.create_from_uri("//Alice//e2e-transfer-dest")
    amount = 3 * UNIT
    call = substrate.compose_call("Balances", "transfer_keep_alive", {"dest": dest.ss58_address, "value": amount})
    info = substrate.get_payment_info(call, ALICE)
    xt = substrate.create_signed_extrinsic(call, ALICE, era={"period": 64})
    assert xt.value["era"]["period"] == 64  # mortal, born at the finalized head

    receipt = substrate.submit_extrinsic(xt, wait_for_inclusion=True)

    assert receipt.is_success, receipt.error_message
    assert receipt.extrinsic_hash == "0x" + xt.extrinsic_hash.hex()
    (paid,) = events_named(receipt, "TransactionPayment", "TransactionFeePaid")
    fee = paid["actual_fee"]
    assert receipt.total_fee_amount == fee
    assert paid["who"] == ALICE.ss58_address and paid["tip"] == 0
    assert events_named(receipt, "Balances", "Transfer") == [{"from": ALICE.ss58_address, "to": dest.ss58_address, "amount": amount}]
    (success,) = events_named(receipt, "System", "ExtrinsicSuccess")
    assert success["dispatch_info"]["weight"] == info["weight"]
    # get_payment_info prices an immortal extrinsic; the mortal era is one byte longer.
    immortal = substrate.create_signed_extrinsic(call, ALICE)
    assert fee == info["partialFee"] + (len(xt.data) - len(immortal.data)) * BYTE_FEE

    before, after = parent_of(substrate, receipt.block_hash), receipt.block_hash
    assert free_at(substrate, ALICE.ss58_address, before) - free_at(substrate, ALICE.ss58_address, after) == amount + fee
    assert free_at(substrate, dest.ss58_address, after) - free_at(substrate, dest.ss58_address, before) == amount
    nonce_before = substrate.query("System", "Account", [ALICE.ss58_address], block_hash=before).value["nonce"]
    assert substrate.query("System", "Account", [ALICE.ss58_address], block_hash=after).value["nonce"] == nonce_before + 1

    # The same block, fetched and decoded by number, holds the transfer as signed.
    number = substrate.get_block_number(receipt.block_hash)
    block = substrate.get_block(block_number=number)
    assert block["header"]["hash"] == receipt.block_hash
    extrinsics = [x.value for x in block["extrinsics"]]
    assert extrinsics[0]["call"]["call_module"] == "Timestamp" and extrinsics[0]["call"]["call_function"] == "set"
    sent = extrinsics[receipt.extrinsic_idx]
    assert sent["extrinsic_hash"] == receipt.extrinsic_hash
    assert sent["address"] == ALICE.ss58_address
    assert sent["era"][0] == 64 and sent["nonce"] == nonce_before
    assert sent["call"]["call_module"] == "Balances" and sent["call"]["call_function"] == "transfer_keep_alive"
    assert {a["name"]: a["value"] for a in sent["call"]["call_args"]} == {"dest": dest.ss58_address, "value": amount}

    # get_events reads System.Events of that block: the same records the receipt was built from.
    records = [e.value for e in substrate.get_events(receipt.block_hash)]
    mine = [r for r in records if r["phase"] == "ApplyExtrinsic" and r["extrinsic_idx"] == receipt.extrinsic_idx]
    assert mine == [e.value for e in receipt.triggered_events]
    assert [r["event"]["event_id"] for r in records if r["extrinsic_idx"] == 0] == ["ExtrinsicSuccess"]  # the timestamp inherent


def test_failed_call_is_included_charges_its_fee_and_names_the_module_error(substrate):
    sender = BOB
    call = substrate.compose_call("Balances", "transfer_keep_alive", {"dest": ALICE.ss58_address, "value": 2 * DEV_ENDOWMENT})
    info = substrate.get_payment_info(call, sender)
    xt = substrate.create_signed_extrinsic(call, sender)  # immortal: priced exactly as get_payment_info prices it

    receipt = substrate.submit_extrinsic(xt, wait_for_inclusion=True)

    assert not receipt.is_success
    assert receipt.error_message["type"] == "Module"
    assert receipt.error_message["name"] == "InsufficientBalance"
    assert receipt.error_message["docs"] == ["Balance too low to send value."]
    assert receipt.total_fee_amount == info["partialFee"]
    assert events_named(receipt, "Balances", "Transfer") == []
    (failed,) = events_named(receipt, "System", "ExtrinsicFailed")
    assert failed["dispatch_info"]["weight"] == info["weight"]
    before, after = parent_of(substrate, receipt.block_hash), receipt.block_hash
    assert free_at(substrate, sender.ss58_address, before) - free_at(substrate, sender.ss58_address, after) == receipt.total_fee_amount


def sudo_set_balance(substrate: SubstrateInterface, who: Keypair, free: int):
    inner = substrate.compose_call("Balances", "force_set_balance", {"who": who.ss58_address, "new_free": free})
    return substrate.compose_call("Sudo", "sudo", {"call": inner})


def test_sudo_key_dispatches_force_set_balance_as_root(substrate):
    target = Keypair.create_from_uri("//Alice//e2e-sudo-target")
    call = sudo_set_balance(substrate, target, 42 * UNIT)

    receipt = substrate.submit_extrinsic(substrate.create_signed_extrinsic(call, ALICE, era={"period": 64}), wait_for_inclusion=True)

    assert receipt.is_success, receipt.error_message
    assert events_named(receipt, "Sudo", "Sudid") == [{"sudo_result": {"Ok": ()}}]
    assert events_named(receipt, "Balances", "BalanceSet") == [{"who": target.ss58_address, "free": 42 * UNIT}]
    assert free_at(substrate, target.ss58_address, receipt.block_hash) == 42 * UNIT


def test_sudo_from_another_signer_fails_with_require_sudo(substrate):
    target = Keypair.create_from_uri("//Alice//e2e-sudo-refused")
    call = sudo_set_balance(substrate, target, 42 * UNIT)

    receipt = substrate.submit_extrinsic(substrate.create_signed_extrinsic(call, BOB, era={"period": 64}), wait_for_inclusion=True)

    assert not receipt.is_success
    assert receipt.error_message["name"] == "RequireSudo"
    assert events_named(receipt, "Sudo", "Sudid") == []
    assert free_at(substrate, target.ss58_address, receipt.block_hash) == 0


def test_new_heads_subscription_delivers_consecutive_headers(substrate):
    headers = []

    def on_header(block, update_nr, subscription_id):
        headers.append(block["header"])
        if len(headers) == 3:
            return headers  # anything but None ends the subscription

    substrate.subscribe_block_headers(on_header)

    numbers = [h["number"] for h in headers]
    assert numbers == list(range(numbers[0], numbers[0] + 3))
    for previous, header in zip(headers, headers[1:]):
        assert header["parentHash"] == substrate.get_block_hash(previous["number"])
    # Each header carries the author's slot as an aura PreRuntime digest, decoded via the metadata.
    logs = headers[-1]["digest"]["logs"]
    assert [list(log.value.keys()) for log in logs] == [["PreRuntime"]]


def test_finalized_head_progresses_and_trails_the_best_block(substrate):
    first = substrate.get_chain_finalised_head()
    first_number = substrate.get_block_number(first)

    def on_finalized(block, update_nr, subscription_id):
        if block["header"]["number"] > first_number:
            return block["header"]

    substrate.subscribe_block_headers(on_finalized, finalized_only=True)

    finalized = substrate.get_chain_finalised_head()
    number = substrate.get_block_number(finalized)
    assert number > first_number
    assert substrate.get_block_hash(number) == finalized  # finalized blocks are canonical
    block = substrate.get_block(finalized_only=True)
    assert block["header"]["number"] >= number
    assert substrate.get_block_number(substrate.get_chain_head()) >= block["header"]["number"]


def test_plain_queries_work_over_http(substrate, dev_node):
    http = SubstrateInterface(url=dev_node.http_url)
    try:
        at = substrate.get_chain_finalised_head()
        assert http.chain == "Parawatt Development"
        assert http.get_block_header(at)["header"]["number"] == substrate.get_block_number(at)
        over_http = http.query("System", "Account", [ALICE.ss58_address], block_hash=at).value
        assert over_http == substrate.query("System", "Account", [ALICE.ss58_address], block_hash=at).value
    finally:
        http.close()
