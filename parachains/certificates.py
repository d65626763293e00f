"""X.509 certificates from the VPP operator's CA: what they bind, and how they are checked.

The operator's CA is not the network's CA (node/security): it certifies market participants,
not nodes. Its certificate is in the parachain's genesis. Checks are pure: the time is the block's
Timestamp.Now, passed in; nothing reads a clock or a file.

What a certificate binds, as subjectAltName URIs (exactly one of each required kind):

Aggregator certificate (the operator vouches for who it is and what it may trade)
    ``parawatt:aggregator:<ss58 account>``   the account that must sign `register_aggregator`
    ``parawatt:resource:<kind>``             load | ev | pv | wind | battery
    ``parawatt:capacity-w:<int>``            pv, wind: rated power in watts (> 0)
    ``parawatt:capacity-10wh:<int>``         battery: usable capacity in 10 Wh units (> 0)
    ``parawatt:soc-10wh:<int>``              battery: state of charge at registration (≤ capacity)
  Its subject key is not used: accounts sign with sr25519, which X.509 cannot carry, so the
  binding is the URI plus the extrinsic's signature.

Device (meter) certificate
    subject public key: the meter's ed25519 key, which signs its readings
    ``parawatt:meter:<ss58 aggregator>:<flow>``   the owning aggregator; flow import | export

Both must be end-entity certificates (not CAs) issued directly by the operator CA, with its
signature, within their validity and the CA's at the block's time.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from node.security.x509_checks import BAD_SIGNATURE, EXPIRED, FOREIGN_CA, NOT_YET_VALID, issuer_problem, validity_problem
from node.primitives.ss58 import InvalidAddress, ss58_decode, ss58_encode
from parachains.roles import Flow, ResourceKind

MAX_CERTIFICATE_BYTES = 8 * 1024  # ours are under 1 KiB; the call's weight assumes at most this
MAX_U64 = 2**64 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)

AGGREGATOR = "parawatt:aggregator:"
RESOURCE = "parawatt:resource:"
CAPACITY_W = "parawatt:capacity-w:"
CAPACITY_10WH = "parawatt:capacity-10wh:"
SOC_10WH = "parawatt:soc-10wh:"
METER = "parawatt:meter:"
_INT = re.compile(r"0|[1-9][0-9]{0,19}")


class Fault(Enum):
    MALFORMED = "not a parseable X.509 certificate"
    FOREIGN_CA = "not issued by the operator CA"
    BAD_SIGNATURE = "signature does not verify against the operator CA"
    NOT_YET_VALID = "not yet valid"
    EXPIRED = "expired"
    NOT_END_ENTITY = "a CA certificate, not an end-entity one"
    BAD_BINDING = "missing, repeated or badly formed parawatt binding"
    BAD_RESOURCE = "resource attributes do not fit the resource kind"
    NOT_ED25519 = "the device key is not an ed25519 key"


class CertificateInvalid(ValueError):
    def __init__(self, fault: Fault, detail: str = ""):
        super().__init__(f"{fault.value}: {detail}" if detail else fault.value)
        self.fault = fault
        self.detail = detail


@dataclass(frozen=True, slots=True)
class AggregatorCertificate:
    account: bytes  # 32-byte account id the certificate names
    kind: ResourceKind
    capacity: int  # W for generators, 10 Wh for batteries, 0 otherwise
    state_of_charge: int  # 10 Wh, batteries only
    serial: bytes  # big-endian serial number
    valid_until_ms: int  # notAfter, ms since the epoch


@dataclass(frozen=True, slots=True)
class DeviceCertificate:
    key: bytes  # the meter's raw ed25519 public key (also its device id)
    aggregator: bytes
    flow: Flow
    serial: bytes
    valid_until_ms: int


# -- encoding the bindings (for the operator's issuing tool and tests) --------------------------


def aggregator_uris(account: bytes, kind: ResourceKind, *, capacity: int = 0, state_of_charge: int = 0, ss58_prefix: int = 42) -> list[str]:
    uris = [AGGREGATOR + ss58_encode(account, ss58_prefix), RESOURCE + kind.value]
    if kind.is_generator:
        uris.append(f"{CAPACITY_W}{capacity}")
    elif kind is ResourceKind.BATTERY:
        uris += [f"{CAPACITY_10WH}{capacity}", f"{SOC_10WH}{state_of_charge}"]
    return uris


def meter_uri(aggregator: bytes, flow: Flow, *, ss58_prefix: int = 42) -> str:
    return f"{METER}{ss58_encode(aggregator, ss58_prefix)}:{flow.value}"


# -- checking -----------------------------------------------------------------------------------


def ms_of(moment: datetime) -> int:
    return (moment - EPOCH) // _MS  # integer division of timedeltas: whole ms, no floats


def moment_of(ms: int) -> datetime:
    return EPOCH + ms * _MS


def _parse(pem: bytes) -> x509.Certificate:
    if len(pem) > MAX_CERTIFICATE_BYTES:
        raise CertificateInvalid(Fault.MALFORMED, f"{len(pem)} bytes, more than {MAX_CERTIFICATE_BYTES}")
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as e:
        raise CertificateInvalid(Fault.MALFORMED, str(e)) from None


_CA_CACHE: dict[bytes, x509.Certificate] = {}


def load_operator_ca(pem: bytes) -> x509.Certificate:
    """The operator CA certificate from genesis; it must be a CA. Parsed once per process."""
    ca = _CA_CACHE.get(pem)
    if ca is None:
        ca = _parse(pem)
        try:
            is_ca = ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except (x509.ExtensionNotFound, ValueError):
            is_ca = False
        if not is_ca:
            raise CertificateInvalid(Fault.MALFORMED, "the operator certificate is not a CA")
        if len(_CA_CACHE) >= 16:
            _CA_CACHE.clear()
        _CA_CACHE[pem] = ca
    return ca


_FAULTS = {FOREIGN_CA: Fault.FOREIGN_CA, BAD_SIGNATURE: Fault.BAD_SIGNATURE, NOT_YET_VALID: Fault.NOT_YET_VALID, EXPIRED: Fault.EXPIRED}


def _check_issued_by(cert: x509.Certificate, ca: x509.Certificate) -> None:
    problem = issuer_problem(cert, ca, "operator CA")
    if problem is not None:
        raise CertificateInvalid(_FAULTS[problem[0]], problem[1])


def _check_validity(cert: x509.Certificate, ca: x509.Certificate, now_ms: int) -> None:
    problem = validity_problem(cert, ca, moment_of(now_ms), "operator CA")
    if problem is not None:
        raise CertificateInvalid(_FAULTS[problem[0]], problem[1])


def _check_end_entity(cert: x509.Certificate) -> None:
    try:
        if cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
            raise CertificateInvalid(Fault.NOT_END_ENTITY)
    except x509.ExtensionNotFound:
        pass


def _uris(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [u for u in san.get_values_for_type(x509.UniformResourceIdentifier) if u.startswith("parawatt:")]


def _one(uris: list[str], prefix: str, *, required: bool = True) -> str | None:
    found = [u[len(prefix):] for u in uris if u.startswith(prefix)]
    if len(found) > 1 or (required and not found):
        raise CertificateInvalid(Fault.BAD_BINDING, f"{len(found)} {prefix}… URIs, need exactly one")
    return found[0] if found else None


def _account(text: str, ss58_prefix: int) -> bytes:
    try:
        _, account = ss58_decode(text, ss58_prefix)
    except InvalidAddress as e:
        raise CertificateInvalid(Fault.BAD_BINDING, f"account {text[:60]!r}: {e}") from None
    if len(account) != 32:
        raise CertificateInvalid(Fault.BAD_BINDING, "the account must be 32 bytes")
    return account


def _amount(text: str | None, what: str) -> int:
    if text is None or not _INT.fullmatch(text) or int(text) > MAX_U64:
        raise CertificateInvalid(Fault.BAD_RESOURCE, f"{what} must be a decimal u64, got {text!r}")
    return int(text)


def _checked(pem: bytes, ca_pem: bytes, now_ms: int) -> tuple[x509.Certificate, list[str]]:
    ca = load_operator_ca(ca_pem)
    cert = _parse(pem)
    try:
        _check_issued_by(cert, ca)
        _check_validity(cert, ca, now_ms)
        _check_end_entity(cert)
        return cert, _uris(cert)
    except (ValueError, x509.DuplicateExtension, x509.UnsupportedGeneralNameType) as e:
        if isinstance(e, CertificateInvalid):
            raise
        # cryptography parses extensions lazily: a broken one surfaces only when read.
        raise CertificateInvalid(Fault.MALFORMED, f"{type(e).__name__}: {e}") from None


def verify_aggregator_certificate(pem: bytes, ca_pem: bytes, now_ms: int, *, ss58_prefix: int = 42) -> AggregatorCertificate:
    """What an aggregator certificate binds, if the operator CA issued it and it is valid at
    ``now_ms``; otherwise CertificateInvalid with the fault."""
    cert, uris = _checked(pem, ca_pem, now_ms)
    account = _account(_one(uris, AGGREGATOR), ss58_prefix)
    kind_text = _one(uris, RESOURCE)
    try:
        kind = ResourceKind(kind_text)
    except ValueError:
        raise CertificateInvalid(Fault.BAD_RESOURCE, f"unknown resource kind {kind_text[:40]!r}") from None
    watts, energy, soc = (_one(uris, p, required=False) for p in (CAPACITY_W, CAPACITY_10WH, SOC_10WH))
    capacity = state_of_charge = 0
    if kind.is_generator:
        if energy is not None or soc is not None:
            raise CertificateInvalid(Fault.BAD_RESOURCE, "a generator has a power capacity, not an energy one")
        capacity = _amount(watts, "capacity-w")
    elif kind is ResourceKind.BATTERY:
        if watts is not None:
            raise CertificateInvalid(Fault.BAD_RESOURCE, "a battery has an energy capacity, not a power one")
        capacity, state_of_charge = _amount(energy, "capacity-10wh"), _amount(soc, "soc-10wh")
        if state_of_charge > capacity:
            raise CertificateInvalid(Fault.BAD_RESOURCE, f"state of charge {state_of_charge} exceeds capacity {capacity}")
    elif watts is not None or energy is not None or soc is not None:
        raise CertificateInvalid(Fault.BAD_RESOURCE, f"a {kind.value} aggregator has no capacity or state of charge")
    if (kind.is_generator or kind is ResourceKind.BATTERY) and capacity == 0:
        raise CertificateInvalid(Fault.BAD_RESOURCE, "capacity must be positive")
    return AggregatorCertificate(account, kind, capacity, state_of_charge, _serial(cert), ms_of(cert.not_valid_after_utc))


def verify_device_certificate(pem: bytes, ca_pem: bytes, now_ms: int, *, ss58_prefix: int = 42) -> DeviceCertificate:
    """The meter key and owner a device certificate binds, if the operator CA issued it and it
    is valid at ``now_ms``; otherwise CertificateInvalid with the fault."""
    cert, uris = _checked(pem, ca_pem, now_ms)
    binding = _one(uris, METER)
    owner, sep, flow_text = binding.rpartition(":")
    if not sep or flow_text not in ("import", "export"):
        raise CertificateInvalid(Fault.BAD_BINDING, f"meter binding {binding[:80]!r} lacks :import or :export")
    if _one(uris, AGGREGATOR, required=False) is not None:
        raise CertificateInvalid(Fault.BAD_BINDING, "an aggregator certificate cannot register a device")
    try:
        key = cert.public_key()
    except ValueError as e:
        raise CertificateInvalid(Fault.MALFORMED, str(e)) from None
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateInvalid(Fault.NOT_ED25519, type(key).__name__)
    return DeviceCertificate(key.public_bytes_raw(), _account(owner, ss58_prefix), Flow(flow_text), _serial(cert), ms_of(cert.not_valid_after_utc))


def _serial(cert: x509.Certificate) -> bytes:
    n = cert.serial_number
    if n < 0:  # RFC 5280 requires a positive serial; old cryptography parses negative ones
        raise CertificateInvalid(Fault.MALFORMED, "negative serial number")
    return n.to_bytes(max(1, (n.bit_length() + 7) // 8), "big")
