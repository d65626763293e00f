"""Meters: per-period readings signed by a registered, unrevoked device; one per period."""

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parachains.meters import READING_DOMAIN, encode_reading_payload, sign_reading
from parachains.roles import Flow, ResourceKind
from tests.parachains.certs import NOW, NOW_MS
from tests.parachains.harness import HOUR, ParaHarness, module_error

PARA_STORAGE = 2002


@pytest.fixture
def h():
    h = ParaHarness("storage")
    h.register("Bob", ResourceKind.BATTERY, capacity=10_000, state_of_charge=5_000)
    return h


@pytest.fixture
def meter(h):
    return h.add_meter("Bob", Flow.EXPORT)


def device_of(key):
    return key.public_key().public_bytes_raw()


def reading(h, key, period, energy, *, signer="Charlie", signature=None, device=None):
    signature = signature if signature is not None else sign_reading(key, PARA_STORAGE, period, energy)
    return h.submit(signer, "Meters", "submit_reading", device=device or device_of(key), period=period, energy_10wh=energy, signature=signature)


def assert_rejected(h, error, *args, **kw):
    before = h.market_state()
    outcome, events = reading(h, *args, **kw)
    assert module_error(outcome) == ("Meters", error)
    assert h.market_state() == before
    assert not any(p == "Meters" for p, _, _ in events)


LAST = NOW_MS // HOUR - 1  # the period that ended when the chain's clock starts


def test_reading_of_a_finished_period_is_recorded(h, meter):
    outcome, events = reading(h, meter, LAST, 1234)
    assert outcome.success
    device = device_of(meter)
    assert ("Meters", "ReadingAccepted", {"device": device, "aggregator": h.bob, "period": LAST, "flow": "Export", "energy": 1234}) in events
    assert h.meters.reading(h.overlay(), device, LAST) == 1234
    assert h.meters.delivered(h.overlay(), h.bob, LAST) == {"imported": 0, "exported": 1234}


def test_readings_are_summed_per_aggregator_period_and_flow(h, meter):
    second = h.add_meter("Bob", Flow.EXPORT)
    charging = h.add_meter("Bob", Flow.IMPORT)
    for key, energy in ((meter, 100), (second, 20), (charging, 7)):
        assert reading(h, key, LAST, energy)[0].success
    assert h.meters.delivered(h.overlay(), h.bob, LAST) == {"imported": 7, "exported": 120}
    assert h.meters.delivered(h.overlay(), h.bob, LAST - 1) == {"imported": 0, "exported": 0}


def test_anyone_may_relay_a_signed_reading(h, meter):
    assert reading(h, meter, LAST, 5, signer="Bob")[0].success
    assert reading(h, meter, LAST - 1, 5, signer="Ferdie")[0].success


def test_reading_rejected_if_the_device_is_unknown(h):
    assert_rejected(h, "UnknownDevice", Ed25519PrivateKey.generate(), LAST, 10)


def test_reading_rejected_if_the_device_is_revoked(h, meter):
    h.submit("Ferdie", "Registry", "revoke_device", device=device_of(meter))
    assert_rejected(h, "DeviceRevoked", meter, LAST, 10)


def test_reading_rejected_if_the_aggregator_is_revoked(h, meter):
    h.submit("Ferdie", "Registry", "revoke", who=h.bob)
    assert_rejected(h, "DeviceRevoked", meter, LAST, 10)


def test_reading_rejected_if_the_device_certificate_has_expired(h):
    key = Ed25519PrivateKey.generate()
    pem = h.ca.device(key, h.bob, Flow.EXPORT, not_after=NOW + timedelta(minutes=10))
    assert h.submit("Bob", "Registry", "register_device", aggregator=h.bob, certificate=pem)[0].success
    h.block_at(NOW_MS + HOUR)
    assert_rejected(h, "DeviceExpired", key, LAST, 10)


def test_reading_rejected_if_the_period_is_in_the_future(h, meter):
    assert_rejected(h, "PeriodInFuture", meter, LAST + 5, 10)


def test_reading_rejected_while_its_period_is_still_running(h, meter):
    assert_rejected(h, "PeriodInFuture", meter, LAST + 1, 10)  # the current period
    h.block_at(NOW_MS + HOUR)  # now it has ended
    assert reading(h, meter, LAST + 1, 10)[0].success


def test_reading_rejected_if_it_is_a_duplicate(h, meter):
    assert reading(h, meter, LAST, 10)[0].success
    assert_rejected(h, "DuplicateReading", meter, LAST, 10)
    assert_rejected(h, "DuplicateReading", meter, LAST, 11)  # even a different value


def test_reading_rejected_if_signed_by_another_key(h, meter):
    forged = sign_reading(Ed25519PrivateKey.generate(), PARA_STORAGE, LAST, 10)
    assert_rejected(h, "BadSignature", meter, LAST, 10, signature=forged)


def test_reading_rejected_if_the_energy_was_altered(h, meter):
    assert_rejected(h, "BadSignature", meter, LAST, 11, signature=sign_reading(meter, PARA_STORAGE, LAST, 10))


def test_reading_rejected_if_the_period_was_altered(h, meter):
    assert_rejected(h, "BadSignature", meter, LAST, 10, signature=sign_reading(meter, PARA_STORAGE, LAST - 1, 10))


def test_reading_signed_for_another_chain_is_rejected(h, meter):
    assert_rejected(h, "BadSignature", meter, LAST, 10, signature=sign_reading(meter, 2001, LAST, 10))


def test_a_signature_without_the_domain_tag_is_rejected(h, meter):
    payload = encode_reading_payload(PARA_STORAGE, device_of(meter), LAST, 10)
    assert payload.startswith(READING_DOMAIN)
    assert_rejected(h, "BadSignature", meter, LAST, 10, signature=meter.sign(payload[len(READING_DOMAIN):]))


def test_reading_payload_layout():
    device = bytes(range(32))
    payload = encode_reading_payload(2000, device, 0x0102030405060708, 300)
    assert payload == b"parawatt/meter-reading/v1" + bytes.fromhex("d0070000") + device + bytes.fromhex("0807060504030201") + (300).to_bytes(8, "little")
