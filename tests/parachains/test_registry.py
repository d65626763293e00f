"""Registry: aggregators and meters certified by the operator CA, revocation by the operator."""

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parachains.certificates import aggregator_uris, meter_uri
from parachains.registry import Status
from parachains.roles import Flow, ResourceKind
from tests.parachains.certs import NOW, OperatorCa
from tests.parachains.harness import ParaHarness, module_error


@pytest.fixture
def dg():
    return ParaHarness("dg")


def register(h, who, pem):
    return h.submit(who, "Registry", "register_aggregator", certificate=pem)


def assert_rejected(h, signer, pallet_call, error, /, **args):
    pallet, name = pallet_call.split(".")
    before = h.market_state()
    outcome, events = h.submit(signer, pallet, name, **args)
    assert module_error(outcome) == (pallet, error)
    assert h.market_state() == before
    assert not any(p == pallet for p, _, _ in events)
    return outcome


# -- aggregators ---------------------------------------------------------------------------------


def test_aggregator_registers_with_a_certificate_naming_its_account(dg):
    pem = dg.ca.aggregator(dg.bob, ResourceKind.PV, capacity=250_000)
    outcome, events = register(dg, "Bob", pem)
    assert outcome.success
    registered = [f for p, n, f in events if (p, n) == ("Registry", "AggregatorRegistered")]
    assert registered == [{"who": dg.bob, "kind": "Pv", "capacity": 250_000, "state_of_charge": 0}]
    assert dg.registry.is_active_aggregator(dg.overlay(), dg.bob)
    assert dg.registry.aggregator(dg.overlay(), dg.bob)["capacity"] == 250_000


def test_registration_rejected_if_the_certificate_names_another_account(dg):
    pem = dg.ca.aggregator(dg.alice, ResourceKind.PV, capacity=1000)
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "AccountMismatch", certificate=pem)


def test_registration_rejected_if_the_certificate_is_from_a_foreign_ca(dg):
    pem = OperatorCa("Someone else").aggregator(dg.bob, ResourceKind.PV, capacity=1000)
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "ForeignCa", certificate=pem)


def test_registration_rejected_if_a_foreign_ca_copies_the_operator_ca_name(dg):
    pem = OperatorCa().aggregator(dg.bob, ResourceKind.PV, capacity=1000)  # same subject, other key
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "ForeignCa", certificate=pem)


def test_registration_rejected_if_the_certificate_signature_is_tampered(dg):
    pem = dg.ca.aggregator(dg.bob, ResourceKind.PV, capacity=1000)
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    der = bytearray(x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER))
    der[-5] ^= 0x01  # inside the signature
    import base64

    tampered = b"-----BEGIN CERTIFICATE-----\n" + base64.encodebytes(bytes(der)) + b"-----END CERTIFICATE-----\n"
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "BadCertificateSignature", certificate=tampered)


def test_registration_rejected_if_the_certificate_has_expired(dg):
    pem = dg.ca.aggregator(dg.bob, ResourceKind.PV, capacity=1000, not_before=NOW - timedelta(days=10), not_after=NOW - timedelta(days=1))
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "CertificateExpired", certificate=pem)


def test_registration_rejected_if_the_certificate_is_not_yet_valid(dg):
    pem = dg.ca.aggregator(dg.bob, ResourceKind.PV, capacity=1000, not_before=NOW + timedelta(days=1))
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "CertificateNotYetValid", certificate=pem)


def test_registration_rejected_if_the_operator_ca_has_expired():
    h = ParaHarness("dg", ca=OperatorCa(not_before=NOW - timedelta(days=20), days=10))
    pem = h.ca.aggregator(h.bob, ResourceKind.PV, capacity=1000, not_before=NOW - timedelta(days=15))
    assert_rejected(h, "Bob", "Registry.register_aggregator", "CertificateExpired", certificate=pem)


def test_registration_rejected_if_the_certificate_is_a_ca(dg):
    pem = dg.ca.issue(aggregator_uris(dg.bob, ResourceKind.PV, capacity=1000), is_ca=True)
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "NotAnEndEntityCertificate", certificate=pem)


@pytest.mark.parametrize("pem", [b"", b"not a certificate", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", b"x" * 9000])
def test_registration_rejected_if_the_certificate_is_malformed(dg, pem):
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "MalformedCertificate", certificate=pem)


@pytest.mark.parametrize("uris", [
    [],
    ["parawatt:resource:pv", "parawatt:capacity-w:1000"],
    ["parawatt:aggregator:not-an-address", "parawatt:resource:pv", "parawatt:capacity-w:1000"],
])
def test_registration_rejected_if_the_account_binding_is_missing_or_garbled(dg, uris):
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "BadBinding", certificate=dg.ca.issue(uris))


def test_registration_rejected_if_the_account_binding_is_repeated(dg):
    uris = aggregator_uris(dg.bob, ResourceKind.PV, capacity=1000) + aggregator_uris(dg.alice, ResourceKind.PV, capacity=1000)[:1]
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "BadBinding", certificate=dg.ca.issue(uris))


@pytest.mark.parametrize("extra", [
    ["parawatt:resource:nuclear"],
    ["parawatt:resource:pv"],  # no capacity
    ["parawatt:resource:pv", "parawatt:capacity-w:0"],
    ["parawatt:resource:pv", "parawatt:capacity-w:-5"],
    ["parawatt:resource:pv", "parawatt:capacity-w:007"],
    ["parawatt:resource:pv", f"parawatt:capacity-w:{2**64}"],
    ["parawatt:resource:pv", "parawatt:capacity-10wh:1000"],
])
def test_registration_rejected_if_the_resource_attributes_are_inconsistent(dg, extra):
    uris = aggregator_uris(dg.bob, ResourceKind.PV, capacity=1)[:1] + extra
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "BadResourceAttributes", certificate=dg.ca.issue(uris))


def test_battery_state_of_charge_cannot_exceed_its_capacity():
    h = ParaHarness("storage")
    pem = h.ca.aggregator(h.bob, ResourceKind.BATTERY, capacity=100, state_of_charge=101)
    assert_rejected(h, "Bob", "Registry.register_aggregator", "BadResourceAttributes", certificate=pem)


@pytest.mark.parametrize("kind,wrong", [("demand", ResourceKind.PV), ("dg", ResourceKind.LOAD), ("storage", ResourceKind.EV), ("dg", ResourceKind.BATTERY)])
def test_registration_rejected_if_the_resource_does_not_trade_on_this_chain(kind, wrong):
    h = ParaHarness(kind)
    pem = h.ca.aggregator(h.bob, wrong, capacity=1000, state_of_charge=10)
    assert_rejected(h, "Bob", "Registry.register_aggregator", "ResourceNotOnThisChain", certificate=pem)


def test_an_aggregator_registers_once(dg):
    dg.register("Bob", ResourceKind.WIND, capacity=1000)
    pem = dg.ca.aggregator(dg.bob, ResourceKind.WIND, capacity=5000)
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "AlreadyRegistered", certificate=pem)


def test_chain_without_operator_ca_refuses_registration():
    h = ParaHarness("dg", genesis={"Registry": {"operator_ca": None}})
    pem = h.ca.aggregator(h.bob, ResourceKind.PV, capacity=1000)
    assert_rejected(h, "Bob", "Registry.register_aggregator", "NoOperatorCa", certificate=pem)


# -- revocation ----------------------------------------------------------------------------------


def test_operator_revokes_an_aggregator_for_good(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    outcome, events = dg.submit("Ferdie", "Registry", "revoke", who=dg.bob)
    assert outcome.success and ("Registry", "AggregatorRevoked", {"who": dg.bob}) in events
    assert dg.registry.status(dg.overlay(), dg.bob) is Status.REVOKED
    pem = dg.ca.aggregator(dg.bob, ResourceKind.PV, capacity=1000)
    assert_rejected(dg, "Bob", "Registry.register_aggregator", "AggregatorRevoked", certificate=pem)


def test_only_the_operator_revokes(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    assert_rejected(dg, "Bob", "Registry.revoke", "NotOperator", who=dg.bob)
    assert dg.registry.is_active_aggregator(dg.overlay(), dg.bob)


def test_revoking_twice_or_an_unknown_account_is_refused(dg):
    assert_rejected(dg, "Ferdie", "Registry.revoke", "UnknownAggregator", who=dg.bob)
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    dg.submit("Ferdie", "Registry", "revoke", who=dg.bob)
    assert_rejected(dg, "Ferdie", "Registry.revoke", "AlreadyRevoked", who=dg.bob)


def test_registration_lapses_when_the_certificate_expires(dg):
    pem = dg.ca.aggregator(dg.bob, ResourceKind.PV, capacity=1000, not_after=NOW + timedelta(hours=1))
    assert register(dg, "Bob", pem)[0].success
    assert dg.registry.is_active_aggregator(dg.overlay(), dg.bob)
    dg.block_at(dg.now + 2 * 3_600_000)
    assert dg.registry.status(dg.overlay(), dg.bob) is Status.EXPIRED


# -- devices -------------------------------------------------------------------------------------


def test_device_registers_its_ed25519_key(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    key = Ed25519PrivateKey.generate()
    outcome, events = dg.submit("Bob", "Registry", "register_device", aggregator=dg.bob, certificate=dg.ca.device(key, dg.bob, Flow.EXPORT))
    assert outcome.success
    device = key.public_key().public_bytes_raw()
    assert ("Registry", "DeviceRegistered", {"aggregator": dg.bob, "device": device, "flow": "Export"}) in events
    assert dg.registry.device_key(dg.overlay(), device) == device


def test_operator_may_register_an_aggregators_device(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    key = Ed25519PrivateKey.generate()
    outcome, _ = dg.submit("Ferdie", "Registry", "register_device", aggregator=dg.bob, certificate=dg.ca.device(key, dg.bob, Flow.EXPORT))
    assert outcome.success


def test_device_registration_rejected_for_someone_elses_aggregator(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    pem = dg.ca.device(Ed25519PrivateKey.generate(), dg.bob, Flow.EXPORT)
    assert_rejected(dg, "Charlie", "Registry.register_device", "NotAggregatorOrOperator", aggregator=dg.bob, certificate=pem)


def test_device_registration_rejected_if_the_certificate_names_another_aggregator(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    pem = dg.ca.device(Ed25519PrivateKey.generate(), dg.alice, Flow.EXPORT)
    assert_rejected(dg, "Bob", "Registry.register_device", "DeviceOwnerMismatch", aggregator=dg.bob, certificate=pem)


def test_device_registration_rejected_if_the_key_is_not_ed25519(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    pem = dg.ca.issue([meter_uri(dg.bob, Flow.EXPORT)])  # an ECDSA key
    assert_rejected(dg, "Bob", "Registry.register_device", "NotAnEd25519Key", aggregator=dg.bob, certificate=pem)


def test_device_registration_rejected_if_the_flow_is_not_on_this_chain(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    pem = dg.ca.device(Ed25519PrivateKey.generate(), dg.bob, Flow.IMPORT)
    assert_rejected(dg, "Bob", "Registry.register_device", "FlowNotOnThisChain", aggregator=dg.bob, certificate=pem)


def test_device_registration_rejected_with_an_aggregator_certificate(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    pem = dg.ca.aggregator(dg.bob, ResourceKind.PV, capacity=1000, public_key=Ed25519PrivateKey.generate().public_key())
    assert_rejected(dg, "Bob", "Registry.register_device", "BadBinding", aggregator=dg.bob, certificate=pem)


@pytest.mark.parametrize("uri_of", [lambda bob: f"parawatt:meter:{bob}", lambda bob: "parawatt:meter:nobody:export"])
def test_device_registration_rejected_if_the_meter_binding_is_garbled(dg, uri_of):
    from node.primitives.ss58 import ss58_encode

    dg.register("Bob", ResourceKind.PV, capacity=1000)
    pem = dg.ca.issue([uri_of(ss58_encode(dg.bob))], public_key=Ed25519PrivateKey.generate().public_key())
    assert_rejected(dg, "Bob", "Registry.register_device", "BadBinding", aggregator=dg.bob, certificate=pem)


def test_device_registration_rejected_for_unknown_or_revoked_aggregators(dg):
    key = Ed25519PrivateKey.generate()
    assert_rejected(dg, "Bob", "Registry.register_device", "UnknownAggregator", aggregator=dg.bob, certificate=dg.ca.device(key, dg.bob, Flow.EXPORT))
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    dg.submit("Ferdie", "Registry", "revoke", who=dg.bob)
    assert_rejected(dg, "Ferdie", "Registry.register_device", "AggregatorInactive", aggregator=dg.bob, certificate=dg.ca.device(key, dg.bob, Flow.EXPORT))


def test_a_device_key_registers_once(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    dg.register("Charlie", ResourceKind.PV, capacity=1000)
    key = Ed25519PrivateKey.generate()
    dg.submit("Bob", "Registry", "register_device", aggregator=dg.bob, certificate=dg.ca.device(key, dg.bob, Flow.EXPORT))
    charlie = dg.public("Charlie")
    assert_rejected(dg, "Charlie", "Registry.register_device", "DeviceAlreadyRegistered", aggregator=charlie,
                    certificate=dg.ca.device(key, charlie, Flow.EXPORT))


def test_expired_device_certificate_is_refused(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    pem = dg.ca.device(Ed25519PrivateKey.generate(), dg.bob, Flow.EXPORT, not_after=NOW - timedelta(seconds=1))
    assert_rejected(dg, "Bob", "Registry.register_device", "CertificateExpired", aggregator=dg.bob, certificate=pem)


def test_device_revoked_by_its_owner_or_the_operator_but_nobody_else(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    keys = [dg.add_meter("Bob", Flow.EXPORT) for _ in range(2)]
    devices = [k.public_key().public_bytes_raw() for k in keys]
    assert_rejected(dg, "Charlie", "Registry.revoke_device", "NotOperator", device=devices[0])
    assert dg.submit("Bob", "Registry", "revoke_device", device=devices[0])[0].success
    assert dg.submit("Ferdie", "Registry", "revoke_device", device=devices[1])[0].success
    assert [dg.registry.device_key(dg.overlay(), d) for d in devices] == [None, None]
    assert_rejected(dg, "Ferdie", "Registry.revoke_device", "AlreadyRevoked", device=devices[0])
    assert_rejected(dg, "Ferdie", "Registry.revoke_device", "UnknownDevice", device=bytes(32))


def test_revoking_an_aggregator_silences_its_devices(dg):
    dg.register("Bob", ResourceKind.PV, capacity=1000)
    device = dg.add_meter("Bob", Flow.EXPORT).public_key().public_bytes_raw()
    dg.submit("Ferdie", "Registry", "revoke", who=dg.bob)
    assert dg.registry.device_status(dg.overlay(), device) is Status.REVOKED
    assert dg.registry.device_key(dg.overlay(), device) is None


def test_genesis_aggregators_and_devices_are_registered():
    key = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    bob = ParaHarness("storage").bob
    h = ParaHarness("storage", genesis={"Registry": {
        "aggregators": [{"account": bob, "kind": "battery", "capacity": 500, "state_of_charge": 100}],
        "devices": [{"key": key, "aggregator": bob, "flow": "import"}],
    }})
    assert h.registry.is_active_aggregator(h.overlay(), bob)
    assert h.registry.device_key(h.overlay(), key) == key


def test_genesis_refuses_an_aggregator_of_another_chain():
    bob = ParaHarness("dg").bob
    with pytest.raises(ValueError, match="does not trade"):
        ParaHarness("dg", genesis={"Registry": {"aggregators": [{"account": bob, "kind": "load"}]}})


@pytest.mark.parametrize("bad_ca", [b"garbage", "ca-as-text", None])
def test_genesis_refuses_an_operator_certificate_that_is_not_a_ca(bad_ca):
    from parachains.certificates import CertificateInvalid

    if bad_ca is None:  # a well-formed end-entity certificate is no CA either
        ca = OperatorCa()
        bad_ca = ca.aggregator(bytes(32), ResourceKind.PV, capacity=1)
    with pytest.raises(CertificateInvalid):
        ParaHarness("dg", genesis={"Registry": {"operator_ca": bad_ca}})
