"""Trading periods on a parachain's clock (Timestamp.Now, ms since the Unix epoch).

Period ``p`` covers ``[p · length, (p + 1) · length)`` of market time: period indices count from
the epoch, so every chain and the relay agree on them without coordination. Market time is the
chain's clock times ``compression`` (1 in production): an experiment with compression 1200 runs an
hour-long period in 3 s of wall time, while energy, capacity and the TOU hour of a period stay
those of the hour it stands for (market.md "Time"; the relay counts the same periods in blocks). A parachain keeps a period's order
window open until ``gate_closure`` before the period starts; after that the order may already be
in the relay's auction, so it can neither be placed nor cancelled here (market.md, "Time": the
relay's own gates are finer and counted in relay blocks; this is the parachain's side of them).
"""

from __future__ import annotations

from dataclasses import dataclass

from node.primitives.scale_types import U32, U64, Composite, Field
from node.runtime.pallet import Pallet, StorageValue

HOUR_MS = 3_600_000


class InvalidPeriodConfig(ValueError):
    """A period configuration a chain cannot run with."""


@dataclass(frozen=True, slots=True)
class PeriodConfig:
    length_ms: int = HOUR_MS  # market.md: 60 minutes by default; 15 minutes must also work
    gate_closure_ms: int = 600_000  # the order window closes this long before the period starts
    horizon: int = 168  # orders may be placed at most this many periods ahead (a week of hours)
    compression: int = 1  # market ms per ms of the chain's clock (experiments run days in minutes)

    def __post_init__(self) -> None:
        for name in ("length_ms", "gate_closure_ms", "horizon", "compression"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise InvalidPeriodConfig(f"{name} must be a non-negative integer, got {value!r}")
        if self.length_ms == 0:
            raise InvalidPeriodConfig("a period must last at least 1 ms")
        if self.compression == 0:
            raise InvalidPeriodConfig("compression must be at least 1")

    def start(self, period: int) -> int:
        return period * self.length_ms

    def end(self, period: int) -> int:
        return (period + 1) * self.length_ms

    def market_time(self, now_ms: int) -> int:
        return now_ms * self.compression

    def current(self, now_ms: int) -> int:
        return self.market_time(now_ms) // self.length_ms  # divides: the period containing `now`

    def is_window_open(self, now_ms: int, period: int) -> bool:
        """Can orders for ``period`` be placed or cancelled at ``now`` (the chain's clock)?"""
        return self.market_time(now_ms) < self.start(period) - self.gate_closure_ms

    def is_beyond_horizon(self, now_ms: int, period: int) -> bool:
        return period > self.current(now_ms) + self.horizon

    def has_ended(self, now_ms: int, period: int) -> bool:
        """Is ``period`` over, so that a whole-period meter reading of it can exist?"""
        return self.market_time(now_ms) >= self.end(period)


SCHEDULE_FIELDS = ("length_ms", "gate_closure_ms", "horizon", "compression")
PeriodSchedule = Composite("parawatt_periods::Schedule", [
    Field("length_ms", U64), Field("gate_closure_ms", U64), Field("horizon", U32), Field("compression", U32)])


class Periods(Pallet):
    """The chain's trading-period schedule, set in genesis (the chain spec's `Periods` section)
    so that a testnet can compress time; the runtime's `PeriodConfig` is the default. Kept in
    state, not in code, so relay validators re-executing this chain's blocks use it too."""

    name = "Periods"
    crate = "parawatt_periods"

    Schedule = StorageValue(PeriodSchedule, docs="Period length and gate closure (market ms), horizon (periods), time compression.")

    def __init__(self, index: int, default: PeriodConfig = PeriodConfig()):
        super().__init__(index)
        self.default = default

    def config(self, state) -> PeriodConfig:
        stored = self.Schedule.get(state)
        return self.default if stored is None else PeriodConfig(**stored)

    def build_genesis(self, state, config):
        """``{"length_ms", "gate_closure_ms", "horizon", "compression"}``, each optional (the
        runtime's default); stored only when it differs from the default."""
        unknown = set(config) - set(SCHEDULE_FIELDS)
        if unknown:
            raise InvalidPeriodConfig(f"unknown Periods genesis key(s): {', '.join(sorted(unknown))}")
        merged = PeriodConfig(**{name: config.get(name, getattr(self.default, name)) for name in SCHEDULE_FIELDS})
        if merged.horizon >= 2**32 or merged.compression >= 2**32 or merged.length_ms >= 2**64 or merged.gate_closure_ms >= 2**64:
            raise InvalidPeriodConfig("a Periods genesis value does not fit its width")
        if merged != self.default:
            self.Schedule.set(state, {name: getattr(merged, name) for name in SCHEDULE_FIELDS})

