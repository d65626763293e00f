"""The daily credit update (market.md, "Credit"), in integer ppm.

Per delivered contract: ``δ = |P_actual − P_contract| / |P_contract|``; ``a = 1`` if ``δ ≤ 2%``,
else ``max(0, 1 − δ)``. The day's ``a_t`` is the quantity-weighted mean of the contracts'
coefficients, and

    a_t ≥ a_{t−1}:  R_t = R_{t−1} + (a_t − a_{t−1})² · (1 − R_{t−1})
    a_t < a_{t−1}:  R_t = R_{t−1} − (a_t − a_{t−1})² · R_{t−1}

Where it divides (all operands non-negative, so ``//`` rounds toward zero):

- the 2% test is exact, by cross-multiplying (``50·|P_actual − P_contract| ≤ |P_contract|``);
- ``a = (|P_contract| − |diff|)·10^6 // |P_contract|``: the coefficient rounds down;
- ``a_t = Σ |P_contract|·a // Σ |P_contract|``: the mean rounds down;
- the credit step ``Δ²·(1 − R)`` or ``Δ²·R`` is ppm³, divided once by 10^12: the step rounds
  toward zero, so an increase rounds down and a decrease rounds up (credit moves less, never more).
  Either way ``R_t`` stays in [0, 10^6].

Decisions where market.md is open (each tested):

- A day with no delivered contracts changes nothing: credit and ``a_{t−1}`` carry over.
- An aggregator's first ``a_{t−1}`` (genesis) is 10^6, a perfect record: the first bad day
  lowers its credit, and a good first day leaves it where genesis put it.
- A contract with ``P_contract = 0`` is refused (:class:`InvalidCredit`): every contract comes
  from a trade, and trades have positive quantity, so it can only be a bad reading.
- Readings reach this module already verified (signed by a registered, unrevoked device);
  that check belongs to the pallet that stores them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bridge.errors import CreditBelowThreshold, InvalidCredit
from bridge.orders import DEFAULT_EXCLUSION_THRESHOLD, PPM, Energy, Ppm

TOLERANCE_PER_CONTRACT = 50  # δ ≤ 2% ⟺ 50·|diff| ≤ |P_contract|
GENESIS_COEFFICIENT: Ppm = PPM


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivered contract of the day: the energy contracted and what the meters measured."""

    contracted: Energy
    actual: Energy


@dataclass(frozen=True, slots=True)
class CreditState:
    """What the bridge keeps per aggregator."""

    credit: Ppm  # R, in [0, 10^6]
    coefficient: Ppm = GENESIS_COEFFICIENT  # a_{t−1}, the last day with deliveries


def contract_coefficient(delivery: Delivery) -> Ppm:
    if type(delivery.contracted) is not int or type(delivery.actual) is not int:
        raise InvalidCredit("delivered and contracted energy must be integers")
    contracted = abs(delivery.contracted)
    if contracted == 0:
        raise InvalidCredit("a contract with zero contracted energy cannot be scored")
    diff = abs(delivery.actual - delivery.contracted)
    if diff * TOLERANCE_PER_CONTRACT <= contracted:
        return PPM
    if diff >= contracted:
        return 0
    return (contracted - diff) * PPM // contracted


def day_coefficient(deliveries: Iterable[Delivery]) -> Ppm | None:
    """The quantity-weighted mean coefficient of a day, or None for a day without contracts."""
    weight = 0
    total = 0
    for d in deliveries:
        a = contract_coefficient(d)
        w = abs(d.contracted)
        weight += w
        total += w * a
    if weight == 0:
        return None
    return total // weight


def next_credit(credit: Ppm, previous: Ppm, current: Ppm) -> Ppm:
    """``R_t`` from ``R_{t−1}``, ``a_{t−1}`` and ``a_t`` (all ppm)."""
    for name, value in (("credit", credit), ("previous", previous), ("current", current)):
        if type(value) is not int or not 0 <= value <= PPM:
            raise InvalidCredit(f"{name} must be in [0, {PPM}] ppm, got {value!r}")
    step = (current - previous) ** 2  # ppm²
    if current >= previous:
        return credit + step * (PPM - credit) // (PPM * PPM)
    return credit - step * credit // (PPM * PPM)


def apply_daily_credit(state: CreditState, deliveries: Iterable[Delivery]) -> CreditState:
    """The state after one day's deliveries; a day without any leaves it unchanged."""
    current = day_coefficient(deliveries)
    if current is None:
        return state
    return CreditState(next_credit(state.credit, state.coefficient, current), current)


def is_excluded(credit: Ppm, threshold: Ppm = DEFAULT_EXCLUSION_THRESHOLD) -> bool:
    """Below the threshold an aggregator cannot place orders; at or above it can."""
    return credit < threshold


def validate_credit(credit: Ppm, threshold: Ppm = DEFAULT_EXCLUSION_THRESHOLD) -> None:
    """Reject an order from an excluded aggregator (:class:`CreditBelowThreshold`)."""
    if is_excluded(credit, threshold):
        raise CreditBelowThreshold(
            f"credit {credit} ppm is below the exclusion threshold {threshold} ppm"
        )
