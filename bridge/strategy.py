"""The built-in first-offer strategy of simulated agents (market.md, "Orders"), in integers.

From predicted generation ``P_pre`` and load ``P_load`` of the period (energy units), the tariff
``λ_grid``/``λ_0`` and, for sellers, generation cost ``c_j`` (planck per kWh):

    buyer:  λ_i = λ_0 + μ · (P_load − P_pre)/P_load · (λ_grid − λ_0)
    seller: λ_j = λ_grid − (P_pre − P_load)/P_pre · |λ_grid − max(λ_0, c_j)|

Each ratio is clamped to [0, 1] and held in ppm: ``(num)·10^6 // den`` on non-negative operands,
rounding toward zero. The buyer's increment ``μ·ratio·spread // 10^12`` and the seller's discount
``ratio·spread // 10^6`` also round toward zero, so a buyer's bid rounds down and a seller's ask
rounds up (each by under one planck).

Decisions where market.md is open:

- A zero denominator (a buyer with no predicted load, a seller with no predicted generation) gives
  ratio 0: no shortfall or surplus to price, so the buyer bids ``λ_0`` and the seller asks
  ``λ_grid``.
- The seller's formula goes below 1 planck only when ``c_j > 2·λ_grid``; the ask is then held at
  1 planck so it is still a valid order (market.md rejects a zero price).
- Reserves for simulated agents: a buyer's is ``λ_grid`` (it never pays more than the grid would
  charge); a seller's is ``max(λ_0, c_j)`` (never less than the grid pays or its cost), capped at
  its ask so it stays on the right side of the offer.
"""

from __future__ import annotations

from bridge.errors import InvalidStrategyInput
from bridge.orders import PPM, Energy, Ppm, Price
from bridge.tariff import Tariff, validate_tariff

DEFAULT_MU: Ppm = PPM // 2  # μ = 0.5


def _check(**amounts: int) -> None:
    for name, value in amounts.items():
        if type(value) is not int or value < 0:
            raise InvalidStrategyInput(f"{name} must be a non-negative integer, got {value!r}")


def clamped_ratio(numerator: int, denominator: int) -> Ppm:
    """``numerator / denominator`` clamped to [0, 1], in ppm; 0 when the denominator is 0."""
    if denominator <= 0 or numerator <= 0:
        return 0
    if numerator >= denominator:
        return PPM
    return numerator * PPM // denominator  # both positive: rounds toward zero


def buyer_first_offer(
    predicted_generation: Energy, predicted_load: Energy, tariff: Tariff, mu: Ppm = DEFAULT_MU
) -> Price:
    _check(predicted_generation=predicted_generation, predicted_load=predicted_load, mu=mu)
    if mu > PPM:
        raise InvalidStrategyInput(f"mu must be in [0, {PPM}] ppm, got {mu}")
    validate_tariff(tariff)
    ratio = clamped_ratio(predicted_load - predicted_generation, predicted_load)
    spread = tariff.grid_sale - tariff.grid_purchase  # ≥ 0 for a valid tariff
    return tariff.grid_purchase + mu * ratio * spread // (PPM * PPM)


def seller_first_offer(
    predicted_generation: Energy, predicted_load: Energy, tariff: Tariff, cost: Price
) -> Price:
    _check(predicted_generation=predicted_generation, predicted_load=predicted_load, cost=cost)
    validate_tariff(tariff)
    ratio = clamped_ratio(predicted_generation - predicted_load, predicted_generation)
    spread = abs(tariff.grid_sale - max(tariff.grid_purchase, cost))
    return max(1, tariff.grid_sale - ratio * spread // PPM)


def buyer_reserve(tariff: Tariff) -> Price:
    return tariff.grid_sale


def seller_reserve(tariff: Tariff, cost: Price, offer: Price) -> Price:
    return min(offer, max(tariff.grid_purchase, cost))
