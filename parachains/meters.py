"""pallet Meters: per-period energy readings, signed by the meter's own ed25519 key.

A reading is ``(device, period, energy)``: the energy (10 Wh units) that flowed through the
meter, in the direction its certificate names, over the whole trading period. Decisions:

- The signature is over a domain-separated payload (`encode_reading_payload`):
  ``b"parawatt/meter-reading/v1" ++ para_id (u32 LE) ++ device (32) ++ period (u64 LE) ++
  energy (u64 LE)``. The tag keeps these signatures from being valid for anything else the key
  might sign; the para id keeps a reading for one chain from being replayed on another.
- It arrives in a signed extrinsic from any account (the aggregator, the operator, a gateway):
  the device's signature makes it authentic, the submitter pays the fee. Letting anyone relay it
  stops an aggregator from suppressing its own unfavourable readings. (Unsigned submission would
  need a ValidateUnsigned hook in the executive, which it does not have yet.)
- A reading covers a whole period, so it is refused until the period has ended at the block's
  timestamp (`PeriodInFuture`). One reading per device and period (`DuplicateReading`).
- Accepted readings are summed per (aggregator, period) by flow (`Delivered`), which the credit
  update reads later. `reading_listeners` run after a reading is recorded, in the same
  transaction (the market link reports the period's delivery; a listener that raises refuses
  the reading whole).
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from node.primitives.scale_types import U8, U32, U64, AccountId, Array, Bytes, Composite, Field
from node.runtime.errors import ArithmeticOverflow
from node.runtime.pallet import Constant, Pallet, StorageMap, call, event
from parachains.periods import Periods
from parachains.registry import DeviceKey, FlowType, Status
from parachains.roles import Flow

READING_DOMAIN = b"parawatt/meter-reading/v1"
SUBMIT_WEIGHT = 400_000_000  # one ed25519 verification dominates
MAX_U64 = 2**64 - 1

_CRATE = "pallet_parawatt_meters"
Signature = Composite("sp_core::ed25519::Signature", [Field(None, Array(U8, 64), "[u8; 64]")])
MeteredEnergy = Composite(
    f"{_CRATE}::types::MeteredEnergy",
    [Field("imported", U64, "u64"), Field("exported", U64, "u64")],  # 10 Wh units
)
_NOTHING = {"imported": 0, "exported": 0}


def encode_reading_payload(para_id: int, device: bytes, period: int, energy_10wh: int) -> bytes:
    """The bytes a meter signs for one reading (see the module doc)."""
    if len(device) != 32:
        raise ValueError("a device key is 32 bytes")
    return READING_DOMAIN + para_id.to_bytes(4, "little") + device + period.to_bytes(8, "little") + energy_10wh.to_bytes(8, "little")


def sign_reading(key: Ed25519PrivateKey, para_id: int, period: int, energy_10wh: int) -> bytes:
    """A meter's signature over its reading (for device software and tests)."""
    device = key.public_key().public_bytes_raw()
    return key.sign(encode_reading_payload(para_id, device, period, energy_10wh))


def verify_reading_signature(para_id: int, device: bytes, period: int, energy_10wh: int, signature: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(device).verify(signature, encode_reading_payload(para_id, device, period, energy_10wh))
    except (InvalidSignature, ValueError):
        return False
    return True


class Meters(Pallet):
    name = "Meters"
    crate = _CRATE

    # -- storage ------------------------------------------------------------------------------
    Readings = StorageMap([(DeviceKey, "Blake2_128Concat"), (U64, "Twox64Concat")], U64,
                          docs="Each device's accepted reading per period (10 Wh units).")
    Delivered = StorageMap([(AccountId, "Blake2_128Concat"), (U64, "Twox64Concat")], MeteredEnergy, default=dict(_NOTHING),
                           docs="Metered energy per aggregator and period, summed over its devices by flow.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "ReadingAccepted", "A signed meter reading was recorded.",
              device=DeviceKey, aggregator=AccountId, period=U64, flow=FlowType, energy=U64),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("UnknownDevice", "The device key is not registered."),
        ("DeviceRevoked", "The device, or its aggregator, has been revoked."),
        ("DeviceExpired", "The device's or its aggregator's certificate has expired."),
        ("PeriodInFuture", "The period has not ended at this block's time."),
        ("DuplicateReading", "The device already has a reading for this period."),
        ("BadSignature", "The reading is not signed by the device's key."),
    )

    def __init__(self, index: int, registry, timestamp, para_id: int, periods: Periods):
        super().__init__(index)
        self.registry = registry
        self.timestamp = timestamp
        self.para_id = para_id
        self.periods = periods
        self.reading_listeners: list = []  # fn(ctx, aggregator, period) after a reading is recorded

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [
            Constant("ParaId", U32, self.para_id, "This parachain's id, part of every signed reading."),
            Constant("ReadingDomain", Bytes, READING_DOMAIN, "The tag a reading's signed payload starts with."),
        ]

    # -- calls --------------------------------------------------------------------------------
    @call(0, device=DeviceKey, period=U64, energy_10wh=U64, signature=Signature, weight=SUBMIT_WEIGHT)
    def submit_reading(self, ctx, origin, device, period, energy_10wh, signature):
        """Record a meter's reading of a finished period, signed by the meter."""
        ctx.ensure_signed(origin)  # anyone may relay a reading; the device's signature proves it
        state = ctx.state
        info = self.registry.device(state, device)
        status = self.registry.device_status(state, device)
        if status is Status.UNKNOWN:
            raise self.error("UnknownDevice")
        if status is Status.REVOKED:
            raise self.error("DeviceRevoked")
        if status is Status.EXPIRED:
            raise self.error("DeviceExpired")
        if not self.periods.config(state).has_ended(self.timestamp.now(state), period):
            raise self.error("PeriodInFuture")
        if self.Readings.contains(state, device, period):
            raise self.error("DuplicateReading")
        if not verify_reading_signature(self.para_id, device, period, energy_10wh, signature):
            raise self.error("BadSignature")
        aggregator = info["aggregator"]
        field = "imported" if Flow.from_variant(info["flow"]) is Flow.IMPORT else "exported"
        totals = dict(self.Delivered.get(state, aggregator, period))  # never mutate the shared default
        totals[field] += energy_10wh
        if totals[field] > MAX_U64:
            raise ArithmeticOverflow()
        self.Readings.set(state, device, period, energy_10wh)
        self.Delivered.set(state, aggregator, period, totals)
        self.deposit_event(ctx, "ReadingAccepted", {"device": device, "aggregator": aggregator, "period": period,
                                                    "flow": info["flow"], "energy": energy_10wh})
        for listener in self.reading_listeners:
            listener(ctx, aggregator, period)

    # -- the interface other pallets use ------------------------------------------------------
    def reading(self, state, device: bytes, period: int) -> int | None:
        return self.Readings.get(state, device, period)

    def delivered(self, state, aggregator: bytes, period: int) -> dict:
        """{"imported": …, "exported": …} metered for ``aggregator`` in ``period`` (10 Wh units)."""
        return dict(self.Delivered.get(state, aggregator, period))
