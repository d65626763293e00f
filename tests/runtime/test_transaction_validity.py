"""Every way an extrinsic can be refused before inclusion: a typed error and no state change."""

import pytest

from node.primitives.era import Era
from node.primitives.scale import DecodeError
from node.runtime import errors as tx
from node.runtime.executive import MAX_EXTRINSIC_LENGTH
from tests.runtime.harness import Harness


@pytest.fixture
def h():
    return Harness()


def transfer_call(h, value=10**12):
    return h.call("Balances", "transfer_keep_alive", dest={"Id": h.bob}, value=value)


def assert_refused(h, xt, error_type, match=None):
    before = dict(h.state)
    with pytest.raises(error_type, match=match):
        h.validate(xt)
    with pytest.raises(error_type, match=match):
        h.block(xt)
    h.number -= 1  # the refused block was never made
    assert h.state == before


def test_valid_transfer_is_valid(h):
    valid = h.validate(h.sign("Alice", transfer_call(h)))
    assert valid.requires == () and valid.fee > 0


def test_transaction_rejected_if_signature_is_wrong(h):
    xt = bytearray(h.sign("Alice", transfer_call(h)))
    xt[40] ^= 1  # inside the signature
    assert_refused(h, bytes(xt), tx.BadProof)


def test_transaction_rejected_if_signed_for_another_genesis(h):
    assert_refused(h, h.sign("Alice", transfer_call(h), genesis=bytes(32)), tx.BadProof, "bad signature")


def test_transaction_rejected_if_nonce_is_stale(h):
    h.block(h.sign("Alice", transfer_call(h)))
    assert_refused(h, h.sign("Alice", transfer_call(h), nonce=0), tx.Stale, "outdated")


def test_future_nonce_waits_in_the_pool_but_not_in_a_block(h):
    xt = h.sign("Alice", transfer_call(h), nonce=3)
    valid = h.validate(xt)
    assert valid.requires  # waits for nonce 2
    with pytest.raises(tx.Future):
        h.block(xt)


def test_transaction_rejected_if_mortal_era_has_expired(h):
    for _ in range(10):
        h.block()
    era = Era.mortal(8, 3)  # born at block 3, dead from block 11 (the next block)
    xt = h.sign("Alice", transfer_call(h), era=era, checkpoint=h.block_hash(3))
    with pytest.raises(tx.Stale, match="mortal era ended"):
        h.validate(xt)


def test_mortal_transaction_within_its_era_is_valid(h):
    for _ in range(5):
        h.block()
    era = Era.mortal(64, 5)
    xt = h.sign("Alice", transfer_call(h), era=era, checkpoint=h.block_hash(era.birth(6)))
    assert h.validate(xt).longevity > 0
    (outcome,), _ = h.block(xt)
    assert outcome.success


def test_transaction_rejected_if_birth_block_is_unknown(h):
    era = Era.mortal(64, 40)  # birth at block 40, which does not exist yet
    xt = h.sign("Alice", transfer_call(h), era=era, checkpoint=bytes(32))
    with pytest.raises(tx.AncientBirthBlock):
        h.executive.validate(h.overlay(), h.check(xt), 45, h.block_hash, for_block=False)


def test_transaction_rejected_if_sender_cannot_pay_the_fee(h):
    h.block(h.sign("Alice", h.call("Sudo", "sudo", call={"Balances": {"force_set_balance": {"who": {"Id": h.bob}, "new_free": 10**9}}})))
    assert_refused(h, h.sign("Bob", transfer_call(h, 1)), tx.Payment)


def test_transaction_rejected_if_over_the_size_limit(h):
    xt = h.sign("Alice", h.call("System", "remark", remark=bytes(MAX_EXTRINSIC_LENGTH)))
    with pytest.raises(tx.ExhaustsResources):
        h.validate(xt)


def test_undecodable_call_is_a_decode_error(h):
    xt = h.sign("Alice", b"\x02\x03\xff")  # Balances.transfer_keep_alive with garbage arguments
    with pytest.raises(DecodeError):
        h.check(xt)


def test_unknown_pallet_is_a_decode_error(h):
    with pytest.raises(DecodeError):
        h.check(h.sign("Alice", b"\x63\x00"))


def test_signed_inherent_is_refused(h):
    xt = h.sign("Alice", h.call("Timestamp", "set", now=5))
    with pytest.raises(tx.CallNotExpected):
        h.validate(xt)


def test_unsigned_transfer_is_refused(h):
    from node.primitives.extrinsic import encode_unsigned

    with pytest.raises(tx.CallNotExpected):
        h.validate(encode_unsigned(transfer_call(h)))


def test_failed_dispatch_rolls_back_nested_writes_and_events(h):
    # sudo_as dispatches the inner call in its own transaction; the outer call still succeeds
    inner = {"Balances": {"transfer_keep_alive": {"dest": {"Id": h.alice}, "value": 10**40}}}
    before_bob = h.free(h.bob)
    (outcome,), events = h.block(h.sign("Alice", h.call("Sudo", "sudo_as", who={"Id": h.bob}, call=inner)))
    assert outcome.success
    assert h.free(h.bob) == before_bob
    assert not any(n == "Transfer" for _, n, _ in events)
