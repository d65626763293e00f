"""pallet Registry: who may act in the market — aggregators and their meters, certified by the
VPP operator's CA (its certificate in genesis), revocable by the operator.

What the certificates bind and how they are checked is in `parachains.certificates`. Decisions:

- `register_aggregator(certificate)` must be signed by the account the certificate names; the
  certificate also fixes the resource kind, capacity and initial state of charge, so an
  aggregator cannot declare itself a bigger plant than the operator certified.
- A device is identified by its ed25519 public key (the certificate's subject key); the owning
  aggregator and the flow it measures come from the certificate. The aggregator or the operator
  may submit it.
- Revocation is final for that account or device key: a revoked aggregator cannot re-register
  (the operator issues to a new account). Revoking an aggregator also silences its devices.
- A registration lapses when its certificate expires (`valid_until`), without a transaction.
- Genesis may list aggregators and devices directly (the chain spec is the operator's word).
"""

from __future__ import annotations

from enum import Enum

from node.primitives.ss58 import parse_account
from node.primitives.scale_types import U8, U64, AccountId, Array, Bool, Bytes, Composite, Field, Variant, VariantSpec
from node.runtime.pallet import Constant, Pallet, StorageValue, call, event, map_of
from parachains.certificates import (
    MAX_CERTIFICATE_BYTES,
    CertificateInvalid,
    Fault,
    load_operator_ca,
    verify_aggregator_certificate,
    verify_device_certificate,
)
from parachains.roles import ChainRules, Flow, ResourceKind

MAX_U64 = 2**64 - 1
REGISTER_WEIGHT = 600_000_000  # parse + one signature check; the length term covers the PEM
REVOKE_WEIGHT = 50_000_000


def _register_weight(certificate=b"", **_) -> int:
    return REGISTER_WEIGHT + 10_000 * len(certificate)


# -- types ----------------------------------------------------------------------------------------

_CRATE = "pallet_parawatt_registry"
ResourceKindType = Variant(f"{_CRATE}::types::ResourceKind", [VariantSpec(i, k.variant) for i, k in enumerate(ResourceKind)])
FlowType = Variant(f"{_CRATE}::types::Flow", [VariantSpec(i, f.variant) for i, f in enumerate(Flow)])
DeviceKey = Composite("sp_core::ed25519::Public", [Field(None, Array(U8, 32), "[u8; 32]")])
AggregatorInfo = Composite(
    f"{_CRATE}::types::AggregatorInfo",
    [
        Field("kind", ResourceKindType, "ResourceKind"),
        Field("capacity", U64, "u64"),  # W (pv, wind) or 10 Wh (battery); 0 for loads and EVs
        Field("state_of_charge", U64, "u64"),  # 10 Wh, batteries
        Field("serial", Bytes, "Vec<u8>"),  # the certificate's serial number, big-endian
        Field("valid_until", U64, "u64"),  # the certificate's notAfter, ms since the epoch
        Field("revoked", Bool, "bool"),
    ],
)
DeviceInfo = Composite(
    f"{_CRATE}::types::DeviceInfo",
    [
        Field("aggregator", AccountId, "AccountId"),
        Field("flow", FlowType, "Flow"),
        Field("serial", Bytes, "Vec<u8>"),
        Field("valid_until", U64, "u64"),
        Field("revoked", Bool, "bool"),
    ],
)


class Status(Enum):
    UNKNOWN = "unknown"
    ACTIVE = "active"
    REVOKED = "revoked"
    EXPIRED = "expired"


_FAULT_ERRORS = {
    Fault.MALFORMED: "MalformedCertificate",
    Fault.FOREIGN_CA: "ForeignCa",
    Fault.BAD_SIGNATURE: "BadCertificateSignature",
    Fault.NOT_YET_VALID: "CertificateNotYetValid",
    Fault.EXPIRED: "CertificateExpired",
    Fault.NOT_END_ENTITY: "NotAnEndEntityCertificate",
    Fault.BAD_BINDING: "BadBinding",
    Fault.BAD_RESOURCE: "BadResourceAttributes",
    Fault.NOT_ED25519: "NotAnEd25519Key",
}


class Registry(Pallet):
    name = "Registry"
    crate = _CRATE

    # -- storage ------------------------------------------------------------------------------
    Operator = StorageValue(AccountId, docs="The VPP operator: revokes registrations.")
    OperatorCa = StorageValue(Bytes, docs="The VPP operator CA's certificate (PEM); it issues every aggregator and device certificate.")
    Aggregators = map_of(AccountId, AggregatorInfo, docs="Registered aggregators, by account.")
    Devices = map_of(DeviceKey, DeviceInfo, docs="Registered meters, by their ed25519 public key.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "AggregatorRegistered", "An aggregator was registered with its certified resource.",
              who=AccountId, kind=ResourceKindType, capacity=U64, state_of_charge=U64),
        event(1, "DeviceRegistered", "A meter was registered to an aggregator.", aggregator=AccountId, device=DeviceKey, flow=FlowType),
        event(2, "AggregatorRevoked", "The operator revoked an aggregator (and so its devices).", who=AccountId),
        event(3, "DeviceRevoked", "A meter was revoked.", device=DeviceKey),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("MalformedCertificate", "The certificate is not a parseable PEM X.509 certificate, or is too large."),
        ("ForeignCa", "The certificate was not issued by the operator CA."),
        ("BadCertificateSignature", "The certificate's signature does not verify against the operator CA."),
        ("CertificateNotYetValid", "The certificate is not yet valid at this block's time."),
        ("CertificateExpired", "The certificate (or the operator CA) has expired at this block's time."),
        ("NotAnEndEntityCertificate", "The certificate is a CA certificate."),
        ("BadBinding", "The certificate lacks, repeats or garbles its parawatt:aggregator or parawatt:meter binding."),
        ("BadResourceAttributes", "The certified resource kind, capacity or state of charge is missing or inconsistent."),
        ("NotAnEd25519Key", "The device certificate's key is not an ed25519 key."),
        ("AccountMismatch", "The certificate names another account than the signer."),
        ("ResourceNotOnThisChain", "The certified resource kind does not trade on this parachain."),
        ("FlowNotOnThisChain", "This parachain has no meters of the certified flow."),
        ("AlreadyRegistered", "The account is already a registered aggregator."),
        ("AggregatorRevoked", "The aggregator was revoked; revocation is final."),
        ("UnknownAggregator", "The account is not a registered aggregator."),
        ("AggregatorInactive", "The aggregator is revoked or its certificate has expired."),
        ("DeviceAlreadyRegistered", "The device key is already registered."),
        ("DeviceOwnerMismatch", "The device certificate names another aggregator."),
        ("UnknownDevice", "The device key is not registered."),
        ("AlreadyRevoked", "The registration is already revoked."),
        ("NotOperator", "Only the VPP operator (or root) may do this."),
        ("NotAggregatorOrOperator", "Only the aggregator itself or the operator may do this."),
        ("NoOperatorCa", "The chain has no operator CA in genesis."),
    )

    def __init__(self, index: int, timestamp, rules: ChainRules, *, ss58_prefix: int = 42):
        super().__init__(index)
        self.timestamp = timestamp
        self.rules = rules
        self.ss58_prefix = ss58_prefix
        self._kinds = frozenset(k.variant for k in rules.resources)

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [Constant("MaxCertificateLength", U64, MAX_CERTIFICATE_BYTES, "The largest certificate, in bytes, a registration accepts.")]

    # -- calls --------------------------------------------------------------------------------
    @call(0, certificate=Bytes, weight=_register_weight)
    def register_aggregator(self, ctx, origin, certificate):
        """Register the signer as an aggregator with an operator-issued certificate naming it."""
        who = ctx.ensure_signed(origin)
        state = ctx.state
        existing = self.Aggregators.get(state, who)
        if existing is not None:
            raise self.error("AggregatorRevoked" if existing["revoked"] else "AlreadyRegistered")
        cert = self._verify(state, verify_aggregator_certificate, certificate)
        if cert.account != who:
            raise self.error("AccountMismatch")
        if cert.kind.variant not in self._kinds:
            raise self.error("ResourceNotOnThisChain")
        info = {"kind": cert.kind.variant, "capacity": cert.capacity, "state_of_charge": cert.state_of_charge,
                "serial": cert.serial, "valid_until": min(cert.valid_until_ms, MAX_U64), "revoked": False}
        self.Aggregators.set(state, who, info)
        self.deposit_event(ctx, "AggregatorRegistered", {"who": who, "kind": info["kind"], "capacity": cert.capacity, "state_of_charge": cert.state_of_charge})

    @call(1, aggregator=AccountId, certificate=Bytes, weight=_register_weight)
    def register_device(self, ctx, origin, aggregator, certificate):
        """Register a meter of ``aggregator``; signed by the aggregator or the operator."""
        signer = ctx.ensure_signed(origin)
        state = ctx.state
        if signer != aggregator and signer != self.Operator.get(state):
            raise self.error("NotAggregatorOrOperator")
        status = self.status(state, aggregator)
        if status is Status.UNKNOWN:
            raise self.error("UnknownAggregator")
        if status is not Status.ACTIVE:
            raise self.error("AggregatorInactive")
        cert = self._verify(state, verify_device_certificate, certificate)
        if cert.aggregator != aggregator:
            raise self.error("DeviceOwnerMismatch")
        if cert.flow not in self.rules.flows:
            raise self.error("FlowNotOnThisChain")
        if self.Devices.contains(state, cert.key):
            raise self.error("DeviceAlreadyRegistered")
        info = {"aggregator": aggregator, "flow": cert.flow.variant, "serial": cert.serial,
                "valid_until": min(cert.valid_until_ms, MAX_U64), "revoked": False}
        self.Devices.set(state, cert.key, info)
        self.deposit_event(ctx, "DeviceRegistered", {"aggregator": aggregator, "device": cert.key, "flow": info["flow"]})

    @call(2, who=AccountId, weight=REVOKE_WEIGHT)
    def revoke(self, ctx, origin, who):
        """Revoke an aggregator (operator or root). Its open orders stay escrowed until they
        settle or are refunded; it cannot place new ones, and its meters' readings are refused."""
        self._ensure_operator(ctx, origin)
        info = self.Aggregators.get(ctx.state, who)
        if info is None:
            raise self.error("UnknownAggregator")
        if info["revoked"]:
            raise self.error("AlreadyRevoked")
        info["revoked"] = True
        self.Aggregators.set(ctx.state, who, info)
        self.deposit_event(ctx, "AggregatorRevoked", {"who": who})

    @call(3, device=DeviceKey, weight=REVOKE_WEIGHT)
    def revoke_device(self, ctx, origin, device):
        """Revoke a meter: by the operator, root, or the aggregator that owns it."""
        info = self.Devices.get(ctx.state, device)
        if origin.kind != "root" and not (origin.kind == "signed" and info is not None and origin.account == info["aggregator"]):
            self._ensure_operator(ctx, origin)
        if info is None:
            raise self.error("UnknownDevice")
        if info["revoked"]:
            raise self.error("AlreadyRevoked")
        info["revoked"] = True
        self.Devices.set(ctx.state, device, info)
        self.deposit_event(ctx, "DeviceRevoked", {"device": device})

    # -- the interface other pallets use ------------------------------------------------------
    def aggregator(self, state, who: bytes) -> dict | None:
        return self.Aggregators.get(state, who)

    def status(self, state, who: bytes) -> Status:
        return self._status_of(state, self.Aggregators.get(state, who))

    def status_of(self, state, info: dict | None) -> Status:
        """The status of an aggregator record already read (`aggregator`), or of None."""
        return self._status_of(state, info)

    def is_active_aggregator(self, state, who: bytes) -> bool:
        return self.status(state, who) is Status.ACTIVE

    def device(self, state, key: bytes) -> dict | None:
        return self.Devices.get(state, key)

    def device_status(self, state, key: bytes) -> Status:
        """A device is active while its own registration is and its aggregator's is."""
        info = self.Devices.get(state, key)
        own = self._status_of(state, info)
        if own is not Status.ACTIVE:
            return own
        return self.status(state, info["aggregator"])

    def device_key(self, state, key: bytes) -> bytes | None:
        """The ed25519 key readings of ``key`` must be signed with, if the device is active.
        A device's id is its key, so this is the key itself or None."""
        return key if self.device_status(state, key) is Status.ACTIVE else None

    def set_state_of_charge(self, ctx, who: bytes, state_of_charge: int) -> None:
        """Record a battery's new state of charge (for the delivery update)."""
        info = self.Aggregators.get(ctx.state, who)
        if info is None:
            raise self.error("UnknownAggregator")
        if info["kind"] != ResourceKind.BATTERY.variant or not 0 <= state_of_charge <= info["capacity"]:
            raise self.error("BadResourceAttributes")
        info["state_of_charge"] = state_of_charge
        self.Aggregators.set(ctx.state, who, info)

    # -- internals ----------------------------------------------------------------------------
    def _status_of(self, state, info: dict | None) -> Status:
        if info is None:
            return Status.UNKNOWN
        if info["revoked"]:
            return Status.REVOKED
        if self.timestamp.now(state) > info["valid_until"]:
            return Status.EXPIRED
        return Status.ACTIVE

    def _verify(self, state, verify, certificate: bytes):
        ca = self.OperatorCa.get(state)
        if ca is None:
            raise self.error("NoOperatorCa")
        try:
            return verify(certificate, ca, self.timestamp.now(state), ss58_prefix=self.ss58_prefix)
        except CertificateInvalid as e:
            raise self.error(_FAULT_ERRORS[e.fault]) from e

    def _ensure_operator(self, ctx, origin) -> None:
        if origin.kind == "root":
            return
        if ctx.ensure_signed(origin) != self.Operator.get(ctx.state):
            raise self.error("NotOperator")

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, state, config):
        if config.get("operator") is not None:
            self.Operator.set(state, parse_account(config["operator"]))
        if config.get("operator_ca") is not None:
            ca = config["operator_ca"]
            ca = ca.encode() if isinstance(ca, str) else bytes(ca)
            load_operator_ca(ca)  # a chain must not start with a CA no certificate can be checked against
            self.OperatorCa.set(state, ca)
        for entry in config.get("aggregators", []):
            entry = {**entry, "account": parse_account(entry["account"])}  # chain specs write accounts as text
            kind = ResourceKind(entry["kind"])
            if kind not in self.rules.resources:
                raise ValueError(f"genesis aggregator of kind {kind.value} does not trade on the {self.rules.kind} chain")
            capacity, soc = entry.get("capacity", 0), entry.get("state_of_charge", 0)
            if soc > capacity or ((kind.is_generator or kind is ResourceKind.BATTERY) and capacity <= 0):
                raise ValueError(f"genesis aggregator {entry['account'].hex()}: bad capacity or state of charge")
            self.Aggregators.set(state, entry["account"], {"kind": kind.variant, "capacity": capacity, "state_of_charge": soc,
                                                           "serial": b"", "valid_until": MAX_U64, "revoked": False})
        for entry in config.get("devices", []):
            entry = {**entry, "key": parse_account(entry["key"]), "aggregator": parse_account(entry["aggregator"])}
            flow = Flow(entry["flow"])
            if flow not in self.rules.flows or not self.Aggregators.contains(state, entry["aggregator"]):
                raise ValueError(f"genesis device {entry['key'].hex()}: unknown aggregator or flow not on this chain")
            self.Devices.set(state, entry["key"], {"aggregator": entry["aggregator"], "flow": flow.variant, "serial": b"",
                                                   "valid_until": MAX_U64, "revoked": False})
