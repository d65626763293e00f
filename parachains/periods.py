"""Trading periods on a parachain's clock (Timestamp.Now, ms since the Unix epoch).

Period ``p`` covers ``[p · length, (p + 1) · length)``: period indices count from the epoch, so
every chain and the relay agree on them without coordination. A parachain keeps a period's order
window open until ``gate_closure`` before the period starts; after that the order may already be
in the relay's auction, so it can neither be placed nor cancelled here (market.md, "Time": the
relay's own gates are finer and counted in relay blocks; this is the parachain's side of them).
"""

from __future__ import annotations

from dataclasses import dataclass

HOUR_MS = 3_600_000


class InvalidPeriodConfig(ValueError):
    """A period configuration a chain cannot run with."""


@dataclass(frozen=True, slots=True)
class PeriodConfig:
    length_ms: int = HOUR_MS  # market.md: 60 minutes by default; 15 minutes must also work
    gate_closure_ms: int = 600_000  # the order window closes this long before the period starts
    horizon: int = 168  # orders may be placed at most this many periods ahead (a week of hours)

    def __post_init__(self) -> None:
        for name in ("length_ms", "gate_closure_ms", "horizon"):
            value = getattr(self, name)
            if type(value) is not int or value < 0:
                raise InvalidPeriodConfig(f"{name} must be a non-negative integer, got {value!r}")
        if self.length_ms == 0:
            raise InvalidPeriodConfig("a period must last at least 1 ms")

    def start(self, period: int) -> int:
        return period * self.length_ms

    def end(self, period: int) -> int:
        return (period + 1) * self.length_ms

    def current(self, now_ms: int) -> int:
        return now_ms // self.length_ms  # divides: the period containing `now`

    def is_window_open(self, now_ms: int, period: int) -> bool:
        """Can orders for ``period`` be placed or cancelled at ``now``?"""
        return now_ms < self.start(period) - self.gate_closure_ms

    def is_beyond_horizon(self, now_ms: int, period: int) -> bool:
        return period > self.current(now_ms) + self.horizon

    def has_ended(self, now_ms: int, period: int) -> bool:
        """Is ``period`` over, so that a whole-period meter reading of it can exist?"""
        return now_ms >= self.end(period)
