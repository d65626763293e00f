"""The grid's time-of-use (TOU) tariff: the counterparty of last resort.

Decisions where market.md is open:

- A tariff needs ``0 < grid_purchase ≤ grid_sale``: the grid never pays more for fed-in energy
  than it charges for supplied energy (the first-offer strategy's spread ``λ_grid − λ_0`` would
  otherwise be negative), and a zero price is as unusable for the grid as for an order.
- A period takes the tariff of the TOU slot its first minute falls in. The case study's periods
  sit inside one slot each, so this only matters for periods that straddle a slot boundary.
- A schedule must cover the 1,440 minutes of a day exactly once; slots may wrap midnight.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.errors import InvalidTariff
from bridge.orders import MAX_PRICE, Price

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True, slots=True)
class Tariff:
    """The grid's prices for one period, planck per kWh."""

    grid_sale: Price  # λ_grid(t): what a consumer pays the grid
    grid_purchase: Price  # λ_0(t): what the grid pays for fed-in energy


def validate_tariff(tariff: Tariff) -> None:
    for name in ("grid_sale", "grid_purchase"):
        value = getattr(tariff, name)
        if type(value) is not int or not 0 < value <= MAX_PRICE:
            raise InvalidTariff(f"{name} must be a positive u128 price, got {value!r}")
    if tariff.grid_purchase > tariff.grid_sale:
        raise InvalidTariff(
            f"grid purchase price {tariff.grid_purchase} exceeds grid sale price {tariff.grid_sale}"
        )


@dataclass(frozen=True, slots=True)
class TouSlot:
    start: int  # minute of day, inclusive
    end: int  # minute of day, exclusive; end ≤ start means the slot wraps midnight
    tariff: Tariff

    def covers(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end


@dataclass(frozen=True, slots=True)
class TouSchedule:
    slots: tuple[TouSlot, ...]

    def tariff_at(self, minute: int) -> Tariff:
        """The tariff in force at ``minute`` of the day (a period uses its first minute)."""
        minute %= MINUTES_PER_DAY
        for slot in self.slots:
            if slot.covers(minute):
                return slot.tariff
        raise InvalidTariff(f"no TOU slot covers minute {minute}")  # unreachable once validated


def validate_schedule(schedule: TouSchedule) -> None:
    """Every minute of the day in exactly one slot, every tariff valid."""
    covered = bytearray(MINUTES_PER_DAY)
    for i, slot in enumerate(schedule.slots):
        validate_tariff(slot.tariff)
        if not (0 <= slot.start < MINUTES_PER_DAY and 0 <= slot.end < MINUTES_PER_DAY):
            raise InvalidTariff(f"slot {i}: minutes must lie in [0, {MINUTES_PER_DAY})")
        length = (slot.end - slot.start) % MINUTES_PER_DAY or MINUTES_PER_DAY
        for k in range(length):
            m = (slot.start + k) % MINUTES_PER_DAY
            if covered[m]:
                raise InvalidTariff(f"slot {i} overlaps another slot at minute {m}")
            covered[m] = 1
    if not all(covered):
        raise InvalidTariff(f"the schedule leaves minute {covered.index(0)} without a tariff")
