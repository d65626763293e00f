"""Cross-chain transfers on the whole in-memory system (relay + three parachains)."""

from __future__ import annotations

import trio

from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import sign_extrinsic
from node.primitives.keys import dev_keypair
from tests.multinode.multichain import PARA_IDS, MultiChain

AMOUNT = 10**12


def submit(node, signer, call: dict, nonce: int) -> None:
    v = node.config.runtime.version
    call_bytes = node.config.runtime.call_type.encode(call)
    node.submit(sign_extrinsic(signer, call_bytes, nonce, IMMORTAL, 0, v.spec_version, v.transaction_version, node.chain.genesis_hash))


def free(system, chain, who) -> int:
    node = system.node(chain)
    return node.config.runtime.pallet("Balances").free_balance(system.finalized_state(chain), who)


async def test_a_transfer_between_parachains_arrives_and_supply_holds(tmp_path, autojump_clock):
    system = MultiChain(tmp_path, kinds=("demand", "dg"))
    alice, bob = dev_keypair("Alice"), dev_keypair("Bob")
    async with trio.open_nursery() as nursery:
        await system.start(nursery)
        await system.relay.wait_until(lambda: system.node("relay").chain.finalized.number >= 3, timeout_s=60)
        before = free(system, "dg", bob.public_key)
        submit(system.node("demand"), alice, {"XTransfers": {"transfer": {
            "dest": PARA_IDS["dg"], "beneficiary": bob.public_key, "amount": AMOUNT, "timeout_blocks": 50}}}, nonce=0)
        await system.relay.wait_until(lambda: free(system, "dg", bob.public_key) == before + AMOUNT, timeout_s=120)
        relay = system.node("relay")
        xt = relay.config.runtime.pallet("XTransfers")
        await system.relay.wait_until(
            lambda: (xt.Transfers.get(system.finalized_state("relay"), PARA_IDS["demand"], 0) or {}).get("status") == 1, timeout_s=120)
        report = system.supply(system.finalized_state("relay"))
        for kind in ("demand", "dg"):
            sovereign, backed = report[kind]
            assert sovereign == backed, (kind, report)
        # The metrics see it: a message sent by demand and received by dg, candidates validated on the relay.
        assert metric(system.node("demand"), "parawatt_xcm_messages_sent") >= 1
        assert metric(system.node("dg"), "parawatt_xcm_messages_received") >= 1
        assert metric(relay, "parawatt_xcm_messages_sent") >= 1  # the Credit down to dg
        assert metric(relay, "parawatt_candidates_validated", {"verdict": "valid"}) >= 2
        relay._refresh_stats()  # the snapshot is refreshed per block; take one now
        included = metric(relay, "parawatt_para_included_height", {"para": str(PARA_IDS["demand"])})
        assert included >= 1 and metric(system.node("demand"), "parawatt_market_orders_placed") == 0
        nursery.cancel_scope.cancel()


def metric(node, name: str, labels: dict | None = None) -> float:
    from node.service.metrics import NodeCollector

    family = next(m for m in NodeCollector(node).collect() if m.name == name)
    return sum(s.value for s in family.samples if labels is None or s.labels == labels)
