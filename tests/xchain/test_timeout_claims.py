"""XTransfers.claim_timeout on the relay: a refund only on proof that the destination can never
apply the transfer.

The destination (dg) is a real parachain runtime: it imports finalized relay headers (its relay
clock) and maybe the Credit; its real state root is then anchored in relay `Paras.Heads`, and the
claim proves `ParachainSystem.LastRelay` and `Messaging.Inbound[0]` against it.
"""

from __future__ import annotations

import pytest

from node.runtime.pallet import ROOT
from node.trie import MemoryStore, Trie, build_trie
from parachains.parachain_system import ParachainSystem
from relay.router import RELAY_CHAIN
from relay.xtransfers import REFUNDED, TRANSIT_ACCOUNT
from tests.xchain.world import CLAIM_KEYS, DEMAND, DG, UNIT, Para, Relay, rejects

AMOUNT = 7 * UNIT
TIMEOUT_BLOCKS = 10


@pytest.fixture
def relay():
    """Alice (on the relay) sends AMOUNT to Bob on dg in relay block 2: the timeout is block 12."""
    relay = Relay()
    relay.apply(relay.signed(relay.alice, "XTransfers", "transfer", dest=DG, beneficiary=relay.bob.public_key,
                             amount=AMOUNT, timeout_blocks=TIMEOUT_BLOCKS))
    assert relay.xtransfers.Transfers.get(relay.overlay(), RELAY_CHAIN, 0)["timeout"] == 12
    return relay


@pytest.fixture
def dg():
    return Para(DG)


def claim(relay: Relay, proof, origin_chain=RELAY_CHAIN, nonce=0):
    return relay.signed(relay.bob, "XTransfers", "claim_timeout", origin_chain=origin_chain, nonce=nonce, proof=list(proof))


def refused(relay: Relay, error: str, proof, **kw):
    return rejects(relay, "XTransfers", error, claim(relay, proof, **kw))


def stuck_at(relay: Relay, dg: Para, relay_number: int):
    """dg imports relay block ``relay_number`` without taking the Credit; its state is anchored.
    Returns the proof a claimant would build from it."""
    dg.import_relay(relay.finalize(relay_number))
    return dg.anchor(relay).read_proof(CLAIM_KEYS)


def test_claim_refunds_once_the_destination_clock_passed_the_timeout(relay, dg):
    alice = relay.free(relay.alice.public_key)
    applied = relay.apply(claim(relay, stuck_at(relay, dg, 13)))
    assert applied.named("TimeoutProven") == [{"origin": 0, "nonce": 0, "relay_number": 13}]
    assert relay.free(relay.alice.public_key) == alice + AMOUNT
    assert relay.xtransfers.Transfers.get(relay.overlay(), RELAY_CHAIN, 0)["status"] == REFUNDED
    assert relay.xtransfers.Transit.get(relay.overlay(), DG, 0) is None


def test_claim_rejected_twice(relay, dg):
    proof = stuck_at(relay, dg, 13)
    relay.apply(claim(relay, proof))
    alice = relay.free(relay.alice.public_key)
    refused(relay, "NotRefundable", proof)
    assert relay.free(relay.alice.public_key) == alice


def test_claim_rejected_before_the_destination_clock_passed_the_timeout(relay, dg):
    refused(relay, "NotTimedOut", stuck_at(relay, dg, 12))  # at the timeout the Credit still applies


def test_claim_rejected_if_the_destination_never_imported_a_relay_block(relay, dg):
    refused(relay, "NotTimedOut", dg.anchor(relay).read_proof(CLAIM_KEYS))


def test_claim_rejected_if_the_destination_processed_the_credit(relay, dg):
    dg.import_relay(relay.finalize(5), deliver=[(RELAY_CHAIN, 1)])
    assert dg.free(dg.bob) > 0 and dg.watermark(RELAY_CHAIN) == 1
    refused(relay, "TransferDelivered", stuck_at(relay, dg, 20))  # even once its clock is far past


def test_claim_rejected_for_an_unknown_transfer(relay, dg):
    proof = stuck_at(relay, dg, 13)
    refused(relay, "UnknownTransfer", proof, nonce=1)
    refused(relay, "UnknownTransfer", proof, origin_chain=DG)


def test_claim_proof_rejected_if_it_lacks_or_adds_a_node(relay, dg):
    dg.import_relay(relay.finalize(13))
    trie = dg.anchor(relay)
    proof = trie.read_proof(CLAIM_KEYS)
    for i in range(len(proof)):
        refused(relay, "BadProof", proof[:i] + proof[i + 1:])
    extra = set(trie.read_proof([ParachainSystem.RelayAuthorities.key()])) - set(proof)
    for node in extra:
        refused(relay, "BadProof", proof + [node])
    refused(relay, "BadProof", proof + proof[:1])


def test_claim_proof_rejected_if_tampered(relay, dg):
    """The claimant edits dg's LastRelay in the proof to a later relay block: its hash changes."""
    dg.import_relay(relay.finalize(12))
    proof = dg.anchor(relay).read_proof(CLAIM_KEYS)
    tampered = [node.replace((12).to_bytes(4, "little") + dg.system.LastRelay.get(dg.overlay())["hash"],
                             (99).to_bytes(4, "little") + dg.system.LastRelay.get(dg.overlay())["hash"]) for node in proof]
    assert tampered != proof
    refused(relay, "BadProof", tampered)


def test_claim_proof_rejected_against_a_superseded_head(relay, dg):
    """A proof from a dg state the relay no longer anchors does not verify against the current
    head, though it was honest when made."""
    dg.import_relay(relay.finalize(13))
    old = dg.anchor(relay).read_proof(CLAIM_KEYS)
    dg.anchor(relay, {**dg.state, b"a later block": b"changed something"})
    refused(relay, "BadProof", old)


def test_claim_proof_rejected_if_it_is_from_another_chain(relay, dg):
    """demand's state proves nothing about dg, even with a clock past the timeout."""
    demand = Para(DEMAND)
    demand.import_relay(relay.finalize(13))
    update = build_trie(demand.state)
    dg.anchor(relay)
    refused(relay, "BadProof", Trie(MemoryStore(update.new_nodes), update.root).read_proof(CLAIM_KEYS))


def test_claim_rejected_if_the_destination_is_no_longer_registered(relay, dg):
    proof = stuck_at(relay, dg, 13)
    relay.apply(lambda ctx: relay.runtime.dispatch(ctx, ROOT, {"Paras": {"deregister": {"para_id": DG}}}))
    refused(relay, "UnknownDestination", proof)
    assert relay.free(TRANSIT_ACCOUNT) == AMOUNT
