"""ParachainSystem.set_relay_data: relay headers and messages get in only on proof.

Real relay state (the relay runtime, two transfer Credits queued for demand), a real trie and
read proofs, headers finalized by real ed25519 justifications. Every refusal is the pallet's
typed error and leaves the parachain's state exactly as it was.
"""

from __future__ import annotations

import dataclasses

import pytest

from node.consensus.authorities import AuthoritySet
from node.pallets.messaging import EMPTY_HEAD, next_head
from node.pallets.transfer_messages import encode_message
from node.primitives.header import Header
from node.primitives.keys import ED25519, dev_keypair
from node.primitives.scale_types import Bytes
from node.runtime.pallet import NONE
from node.trie import MemoryStore, Trie, build_trie
from parachains.parachain_system import MAX_MESSAGES_PER_BLOCK, MAX_SOURCES, RelayData
from relay.router import ChannelHead, channel_head_key, content_key
from tests.xchain.world import DEMAND, DG, RELAY_CHAIN, STORAGE, UNIT, VALIDATORS, Para, Relay, justify, rejects

AMOUNT = 5 * UNIT


@pytest.fixture
def relay():
    """Relay block 2 queues two Credits for Bob on demand (Alice's transfers)."""
    relay = Relay()
    for _ in range(2):
        relay.apply(relay.signed(relay.alice, "XTransfers", "transfer", dest=DEMAND, beneficiary=relay.bob.public_key,
                                 amount=AMOUNT, timeout_blocks=100))
    return relay


@pytest.fixture
def para():
    return Para(DEMAND)


def refused(para, error: str, data: RelayData):
    return rejects(para, "ParachainSystem", error, para.set_relay_data(data))


def test_an_honest_delivery_is_imported_and_credits_once(relay, para):
    bob = para.free(para.bob)
    applied = para.import_relay(relay.finalize(3), deliver=[(RELAY_CHAIN, 2)])
    assert para.watermark(RELAY_CHAIN) == 2
    assert len(applied.named("TransferReceived")) == 2
    assert para.free(para.bob) == bob + 2 * AMOUNT
    assert para.system.relay_number(para.overlay()) == 3


# -- forged and replayed messages ---------------------------------------------------------------

def test_delivery_rejected_if_a_proven_message_is_tampered(relay, para):
    snapshot = relay.finalize(3)
    data = para.relay_data(snapshot, deliver=[(RELAY_CHAIN, 2)])
    credit = relay.router.Contents.get(relay.overlay(), RELAY_CHAIN, DEMAND, 0)
    (i,) = [i for i, node in enumerate(data.proof) if credit in node]
    node = data.proof[i]
    doubled = node.replace((AMOUNT).to_bytes(16, "little"), (1000 * AMOUNT).to_bytes(16, "little"))
    assert doubled != node
    proof = data.proof[:i] + (doubled,) + data.proof[i + 1:]
    refused(para, "BadProof", dataclasses.replace(data, proof=proof))
    assert para.free(para.bob) == Para(DEMAND).free(para.bob)


def test_relay_genesis_header_is_never_imported_on_trust(para):
    """Header #0 has no justification: taking it on trust would let a collator pick the state root
    (here one with a Credit the relay never sent) that messages are proven against."""
    credit = encode_message("Credit", id={"origin": 0, "nonce": 7}, beneficiary=para.bob.public_key, amount=10**15, timeout=100)
    fake = build_trie({content_key(RELAY_CHAIN, DEMAND, 0): Bytes.encode(credit),
                       channel_head_key(RELAY_CHAIN, DEMAND): ChannelHead.encode(
                           {"head": next_head(EMPTY_HEAD, credit), "count": 1, "processed": 0})})
    proof = Trie(MemoryStore(fake.new_nodes), fake.root).read_proof(para.keys([(RELAY_CHAIN, 1)]))
    genesis = Header(bytes(32), 0, fake.root, bytes(32))
    refused(para, "BadJustification", RelayData(genesis, None, ((RELAY_CHAIN, 1),), (), tuple(proof)))
    refused(para, "BadJustification", RelayData(genesis, None))


def test_replayed_delivery_is_refused_and_credits_nothing(relay, para):
    """After a delivery the watermark says which entries are read: the same delivery again asks
    for messages 2 and 3, which the old proof does not hold and the relay never queued."""
    snapshot = relay.finalize(3)
    data = para.relay_data(snapshot, deliver=[(RELAY_CHAIN, 2)])
    para.apply(para.set_relay_data(data))
    bob = para.free(para.bob)
    refused(para, "BadProof", data)  # the same inherent, replayed
    refused(para, "BadProof", para.relay_data(snapshot, deliver=[(RELAY_CHAIN, 2)]))  # re-proven: absent
    assert para.free(para.bob) == bob and para.watermark(RELAY_CHAIN) == 2


def test_delivery_rejected_if_its_proof_is_for_other_indices(relay, para):
    """Skipping ahead is impossible: the watermark (0) fixes the keys, so a proof of message 1
    alone does not prove a delivery of one message."""
    snapshot = relay.finalize(3)
    keys = [channel_head_key(RELAY_CHAIN, DEMAND), content_key(RELAY_CHAIN, DEMAND, 1)]
    data = para.relay_data(snapshot, deliver=[(RELAY_CHAIN, 1)], proof=tuple(snapshot.proof(keys)))
    refused(para, "BadProof", data)


def test_delivery_rejected_if_it_goes_past_the_anchored_queue(relay, para):
    refused(para, "BadProof", para.relay_data(relay.finalize(3), deliver=[(RELAY_CHAIN, 3)]))


def test_delivery_rejected_if_the_relay_has_no_such_queue(relay, para):
    refused(para, "UnknownQueue", para.relay_data(relay.finalize(3), deliver=[(DG, 1)]))
    refused(para, "UnknownQueue", para.relay_data(relay.finalize(3), deliver=[(STORAGE, 1)]))
    refused(para, "UnknownQueue", para.relay_data(relay.finalize(3), acknowledge=[DG]))  # demand never sent to dg


def test_empty_delivery_is_refused_as_stale(relay, para):
    data = para.relay_data(relay.finalize(3), deliver=[(RELAY_CHAIN, 0)])
    rejects(para, "Messaging", "StaleDelivery", para.set_relay_data(data))


# -- proofs ----------------------------------------------------------------------------------

def test_proof_rejected_if_it_lacks_any_node(relay, para):
    data = para.relay_data(relay.finalize(3), deliver=[(RELAY_CHAIN, 2)])
    for i in range(len(data.proof)):
        refused(para, "BadProof", dataclasses.replace(data, proof=data.proof[:i] + data.proof[i + 1:]))


def test_proof_rejected_if_it_has_an_unused_node(relay, para):
    snapshot = relay.finalize(3)
    data = para.relay_data(snapshot, deliver=[(RELAY_CHAIN, 1)])
    extras = set(snapshot.proof(para.keys([(RELAY_CHAIN, 2)]))) - set(data.proof)  # message 1's nodes
    assert extras
    for extra in extras:
        refused(para, "BadProof", dataclasses.replace(data, proof=data.proof + (extra,)))


def test_proof_rejected_if_it_repeats_a_node(relay, para):
    data = para.relay_data(relay.finalize(3), deliver=[(RELAY_CHAIN, 2)])
    refused(para, "BadProof", dataclasses.replace(data, proof=data.proof + data.proof[:1]))


def test_proof_rejected_if_it_is_for_another_relay_block(relay, para):
    old = relay.finalize(3)
    relay.apply(relay.signed(relay.alice, "XTransfers", "transfer", dest=DEMAND, beneficiary=relay.bob.public_key,
                             amount=AMOUNT, timeout_blocks=100))
    new = relay.finalize(4)
    data = para.relay_data(new, deliver=[(RELAY_CHAIN, 2)], proof=tuple(old.proof(para.keys([(RELAY_CHAIN, 2)]))))
    refused(para, "BadProof", data)


# -- relay headers ------------------------------------------------------------------------------

OUTSIDERS = [dev_keypair(f"Outsider{i}", ED25519) for i in range(4)]


def forged_justifications(header: Header) -> dict[str, bytes | None]:
    other_header = dataclasses.replace(header, state_root=bytes(32))
    return {
        "missing": None,
        "garbage": b"\x01\x02\x03",
        "for another block": justify(other_header),
        "too few votes": justify(header, VALIDATORS[:2]),
        "another chain's authorities": justify(header, OUTSIDERS[:3], AuthoritySet.of(OUTSIDERS, chain_id=b"parawatt-relay-test")),
        "another chain id": justify(header, chain_id=b"another-relay"),
        "another set id": justify(header, set_id=1),
        "with trailing bytes": justify(header) + b"\x00",
    }


@pytest.mark.parametrize("forgery", list(forged_justifications(Header(bytes(32), 1, bytes(32), bytes(32)))))
def test_relay_header_rejected_unless_the_relay_finalized_it(relay, para, forgery):
    snapshot = relay.finalize(3)
    justification = forged_justifications(snapshot.header)[forgery]
    refused(para, "BadJustification", para.relay_data(snapshot, deliver=[(RELAY_CHAIN, 2)], justification=justification))
    refused(para, "BadJustification", para.relay_data(snapshot, justification=justification))


def test_relay_header_rejected_if_its_state_root_is_not_the_finalized_one(relay, para):
    """A collator's own trie under the finalized header's justification: the hash differs."""
    snapshot = relay.finalize(3)
    fake = build_trie({b"anything": b"at all"})
    forged = dataclasses.replace(snapshot.header, state_root=fake.root)
    refused(para, "BadJustification", para.relay_data(snapshot, header=forged))


def test_stale_relay_header_is_refused(relay, para):
    para.import_relay(relay.finalize(5))
    refused(para, "StaleRelayHeader", para.relay_data(relay.finalize(4)))
    other_five = Header(bytes([1]) * 32, 5, relay.finalize(5).header.state_root, bytes(32))
    refused(para, "StaleRelayHeader", RelayData(other_five, justify(other_five)))


def test_the_imported_relay_header_may_come_again_without_justification(relay, para):
    snapshot = relay.finalize(3)
    para.import_relay(snapshot)
    para.apply(para.set_relay_data(para.relay_data(snapshot, deliver=[(RELAY_CHAIN, 2)], justification=None)))
    assert para.watermark(RELAY_CHAIN) == 2


def test_relay_header_that_does_not_decode_is_refused(para):
    call = RelayData(Header(bytes(32), 1, bytes(32), bytes(32)), None).call()
    call["ParachainSystem"]["set_relay_data"]["header"] = b"\x00" * 10
    rejects(para, "ParachainSystem", "InvalidRelayHeader", lambda ctx: para.runtime.dispatch(ctx, NONE, call))


# -- shape of the call --------------------------------------------------------------------------

def test_duplicate_sources_or_destinations_are_refused(relay, para):
    snapshot = relay.finalize(3)
    refused(para, "DuplicateSource", para.relay_data(snapshot, deliver=[(RELAY_CHAIN, 1), (RELAY_CHAIN, 1)]))
    refused(para, "DuplicateSource", para.relay_data(snapshot, acknowledge=[RELAY_CHAIN, RELAY_CHAIN]))


def test_too_many_messages_or_sources_are_refused(relay, para):
    snapshot = relay.finalize(3)
    too_many = RelayData(snapshot.header, snapshot.justification, ((RELAY_CHAIN, MAX_MESSAGES_PER_BLOCK + 1),))
    refused(para, "TooManyMessages", too_many)
    split = RelayData(snapshot.header, snapshot.justification, ((RELAY_CHAIN, MAX_MESSAGES_PER_BLOCK), (DG, 1)))
    refused(para, "TooManyMessages", split)
    sources = RelayData(snapshot.header, snapshot.justification, tuple((s, 1) for s in range(MAX_SOURCES + 1)))
    refused(para, "TooManyMessages", sources)


def test_relay_data_is_refused_twice_in_one_block(relay, para):
    data = para.relay_data(relay.finalize(3), deliver=[(RELAY_CHAIN, 1)])
    again = para.relay_data(relay.finalize(3))

    def twice(ctx):
        para.set_relay_data(data)(ctx)
        para.set_relay_data(again)(ctx)

    refused_twice = rejects(para, "ParachainSystem", "AlreadyEntered", twice)
    assert refused_twice.error == "AlreadyEntered" and para.watermark(RELAY_CHAIN) == 0
