"""XTransfers calls on both sides, and the ways a transfer comes back instead of arriving.

The relay and parachain runtimes exchange real messages: parachain blocks' commitments go
through `Router.include`, relay state reaches the parachains through finalized headers and
read proofs. Refused calls are typed errors that change nothing; a late Credit is neither
minted nor acknowledged, and the value goes back to where it came from, exactly once.
"""

from __future__ import annotations

import pytest

from node.runtime.pallet import ROOT
from parachains.xtransfers import MAX_TIMEOUT_BLOCKS
from relay.router import RELAY_CHAIN
from relay.xtransfers import DELIVERED, REFUNDED, REFUNDING, TRANSIT_ACCOUNT, sovereign_account
from tests.xchain.world import CAPACITY, CLAIM_KEYS, DEMAND, DG, ISSUANCE, STORAGE, UNIT, Para, Relay, rejects

AMOUNT = 3 * UNIT
NOBODY = bytes([0xAB]) * 32


@pytest.fixture
def relay():
    return Relay()


@pytest.fixture
def demand():
    return Para(DEMAND)


def para_transfer(para: Para, who=None, **kw):
    args = dict(dest=DG, beneficiary=para.bob.public_key, amount=AMOUNT, timeout_blocks=10) | kw
    return para.signed(who or para.alice, "XTransfers", "transfer", **args)


def relay_transfer(relay: Relay, who=None, **kw):
    args = dict(dest=DEMAND, beneficiary=relay.bob.public_key, amount=AMOUNT, timeout_blocks=10) | kw
    return relay.signed(who or relay.alice, "XTransfers", "transfer", **args)


def status(relay: Relay, origin: int, nonce: int) -> int:
    return relay.xtransfers.Transfers.get(relay.overlay(), origin, nonce)["status"]


# -- refused calls -------------------------------------------------------------------------------

def test_parachain_transfer_rejected_below_the_existential_deposit(demand):
    ed = demand.balances.existential_deposit
    rejects(demand, "XTransfers", "AmountTooLow", para_transfer(demand, amount=ed - 1))
    rejects(demand, "XTransfers", "AmountTooLow", para_transfer(demand, amount=0))


@pytest.mark.parametrize("timeout_blocks", [0, MAX_TIMEOUT_BLOCKS + 1, 2**32 - 1])
def test_parachain_transfer_rejected_with_a_bad_timeout(demand, timeout_blocks):
    rejects(demand, "XTransfers", "BadTimeout", para_transfer(demand, timeout_blocks=timeout_blocks))


def test_parachain_transfer_rejected_beyond_the_balance(demand):
    rejects(demand, "XTransfers", "InsufficientBalance", para_transfer(demand, NOBODY))
    everything = demand.free(demand.alice)
    rejects(demand, "XTransfers", "InsufficientBalance", para_transfer(demand, amount=everything))  # would reap
    rejects(demand, "XTransfers", "InsufficientBalance", para_transfer(demand, amount=everything + 1))


def test_parachain_transfer_rejected_to_its_own_chain(demand):
    rejects(demand, "XTransfers", "SameChain", para_transfer(demand, dest=DEMAND))


def test_parachain_transfer_rejected_when_the_channel_to_the_relay_is_full(demand):
    for _ in range(CAPACITY):
        demand.apply(para_transfer(demand))
    alice = demand.free(demand.alice)
    rejects(demand, "Messaging", "ChannelFull", para_transfer(demand))
    assert demand.free(demand.alice) == alice


def test_relay_transfer_rejected_below_the_existential_deposit(relay):
    ed = relay.balances.existential_deposit
    rejects(relay, "XTransfers", "AmountTooLow", relay_transfer(relay, amount=ed - 1))


@pytest.mark.parametrize("timeout_blocks", [0, MAX_TIMEOUT_BLOCKS + 1])
def test_relay_transfer_rejected_with_a_bad_timeout(relay, timeout_blocks):
    rejects(relay, "XTransfers", "BadTimeout", relay_transfer(relay, timeout_blocks=timeout_blocks))


@pytest.mark.parametrize("dest", [RELAY_CHAIN, 4242])
def test_relay_transfer_rejected_to_an_unknown_destination(relay, dest):
    rejects(relay, "XTransfers", "UnknownDestination", relay_transfer(relay, dest=dest))


def test_relay_transfer_rejected_to_a_parachain_without_a_channel(relay):
    rejects(relay, "Router", "NoChannel", relay_transfer(relay, dest=STORAGE))


def test_relay_transfer_rejected_to_a_deregistered_parachain(relay):
    relay.apply(lambda ctx: relay.runtime.dispatch(ctx, ROOT, {"Paras": {"deregister": {"para_id": DG}}}))
    rejects(relay, "XTransfers", "UnknownDestination", relay_transfer(relay, dest=DG))


def test_relay_transfer_rejected_beyond_the_balance(relay):
    rejects(relay, "Balances", "InsufficientBalance", relay_transfer(relay, NOBODY))
    rejects(relay, "Balances", "Expendability", relay_transfer(relay, amount=relay.free(relay.alice.public_key)))


def test_relay_transfer_rejected_when_the_channel_down_is_full(relay):
    for _ in range(CAPACITY):
        relay.apply(relay_transfer(relay))
    rejects(relay, "Router", "ChannelFull", relay_transfer(relay))
    assert relay.xtransfers.NextNonce.get(relay.overlay()) == CAPACITY


# -- late credits and refunds --------------------------------------------------------------------

def test_credit_at_its_timeout_is_still_applied(relay, demand):
    relay.apply(relay_transfer(relay, timeout_blocks=1))  # relay block 2: timeout 3
    applied = demand.import_relay(relay.finalize(3), deliver=[(RELAY_CHAIN, 1)])
    assert len(applied.named("TransferReceived")) == 1 and demand.free(demand.bob) == ISSUANCE // 2 + AMOUNT
    relay.include(DEMAND, demand.commitments(applied))
    assert status(relay, RELAY_CHAIN, 0) == DELIVERED
    assert relay.free(sovereign_account(DEMAND)) == ISSUANCE + AMOUNT


def test_credit_after_its_timeout_is_neither_minted_nor_acknowledged_and_is_refunded(relay, demand):
    alice = relay.free(relay.alice.public_key)
    relay.apply(relay_transfer(relay, timeout_blocks=1))  # relay block 2: timeout 3
    applied = demand.import_relay(relay.finalize(4), deliver=[(RELAY_CHAIN, 1)])
    assert applied.named("TransferExpired") == [{"origin": 0, "nonce": 0, "timeout": 3, "relay_number": 4}]
    assert not applied.named("TransferReceived")
    assert demand.free(demand.bob) == ISSUANCE // 2
    assert demand.messaging.Outbound.get(demand.overlay(), RELAY_CHAIN)["count"] == 0  # no Ack
    assert demand.watermark(RELAY_CHAIN) == 1  # processed all the same
    relay.include(DEMAND, demand.commitments(applied))  # the relay sees the watermark pass, no Ack
    assert status(relay, RELAY_CHAIN, 0) == REFUNDED
    assert relay.free(relay.alice.public_key) == alice
    assert relay.free(sovereign_account(DEMAND)) == ISSUANCE and relay.free(TRANSIT_ACCOUNT) == 0


def test_a_refund_mints_back_on_the_origin_chain(relay, demand):
    """demand → dg, late at dg: the relay sends a Refund down to demand, which mints it back;
    when demand's watermark passes it, the reserve returns to demand's sovereign account."""
    dg = Para(DG)
    alice = demand.free(demand.alice)
    sent = demand.apply(para_transfer(demand, timeout_blocks=5))  # demand's relay clock is 0: timeout 5
    relay.include(DEMAND, demand.commitments(sent))
    assert relay.free(TRANSIT_ACCOUNT) == AMOUNT and relay.free(sovereign_account(DEMAND)) == ISSUANCE - AMOUNT

    late = dg.import_relay(relay.finalize(6), deliver=[(RELAY_CHAIN, 1)])
    assert late.named("TransferExpired") and dg.free(dg.bob) == ISSUANCE // 2
    relay.include(DG, dg.commitments(late))
    assert status(relay, DEMAND, 0) == REFUNDING

    refunded = demand.import_relay(relay.finalize(7), deliver=[(RELAY_CHAIN, 1)])
    assert refunded.named("TransferRefunded") == [{"origin": DEMAND, "nonce": 0, "account": demand.alice.public_key, "amount": AMOUNT}]
    assert demand.free(demand.alice) == alice
    relay.include(DEMAND, demand.commitments(refunded))
    assert status(relay, DEMAND, 0) == REFUNDED
    assert relay.free(sovereign_account(DEMAND)) == ISSUANCE and relay.free(TRANSIT_ACCOUNT) == 0
    assert relay.free(sovereign_account(DG)) == ISSUANCE


def test_transfer_to_an_unknown_chain_comes_back(relay, demand):
    alice = demand.free(demand.alice)
    sent = demand.apply(para_transfer(demand, dest=4242))
    relay.include(DEMAND, demand.commitments(sent))
    assert status(relay, DEMAND, 0) == REFUNDING
    refunded = demand.import_relay(relay.finalize(3), deliver=[(RELAY_CHAIN, 1)])
    assert demand.free(demand.alice) == alice
    relay.include(DEMAND, demand.commitments(refunded))
    assert relay.free(sovereign_account(DEMAND)) == ISSUANCE and relay.free(TRANSIT_ACCOUNT) == 0


def test_a_claimed_transfer_is_not_settled_again_when_the_destination_wakes_up(relay, demand):
    """After a timeout claim, dg processing the (expired) Credit settles nothing: the value
    went back once, as the Refund."""
    dg = Para(DG)
    sent = demand.apply(para_transfer(demand, timeout_blocks=5))
    relay.include(DEMAND, demand.commitments(sent))
    dg.import_relay(relay.finalize(6))  # dg's clock passes the timeout; it takes no messages yet
    relay.apply(relay.signed(relay.bob, "XTransfers", "claim_timeout", origin_chain=DEMAND, nonce=0,
                             proof=dg.anchor(relay).read_proof(CLAIM_KEYS)))
    assert status(relay, DEMAND, 0) == REFUNDING
    rejects(relay, "XTransfers", "NotRefundable", relay.signed(
        relay.bob, "XTransfers", "claim_timeout", origin_chain=DEMAND, nonce=0, proof=dg.anchor(relay).read_proof(CLAIM_KEYS)))

    woke = dg.import_relay(relay.finalize(8), deliver=[(RELAY_CHAIN, 1)])
    assert woke.named("TransferExpired")
    included = relay.include(DG, dg.commitments(woke))
    assert not [e for e in included.events if e[0] == "XTransfers"]  # nothing settled twice
    assert status(relay, DEMAND, 0) == REFUNDING and relay.free(TRANSIT_ACCOUNT) == AMOUNT

    refunded = demand.import_relay(relay.finalize(9), deliver=[(RELAY_CHAIN, 1)])
    relay.include(DEMAND, demand.commitments(refunded))
    assert status(relay, DEMAND, 0) == REFUNDED
    assert relay.free(sovereign_account(DEMAND)) == ISSUANCE and relay.free(TRANSIT_ACCOUNT) == 0
