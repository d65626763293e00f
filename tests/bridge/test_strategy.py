"""The built-in first-offer strategy, in integers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.errors import InvalidStrategyInput
from bridge.orders import Order, Side, validate_order_fields
from bridge.strategy import (
    buyer_first_offer,
    buyer_reserve,
    clamped_ratio,
    seller_first_offer,
    seller_reserve,
)
from bridge.tariff import Tariff

T = 10**12 // 1000  # 0.001 token per kWh
NIGHT = Tariff(grid_sale=380 * T, grid_purchase=240 * T)
energy = st.integers(0, 10**7)


def test_buyer_with_no_generation_bids_halfway_between_grid_prices():
    # ratio 1, μ = 0.5: λ_0 + 0.5·(λ_grid − λ_0) = 0.31
    assert buyer_first_offer(0, 1000, NIGHT) == 310 * T


def test_buyer_bid_scales_with_its_shortfall():
    # (1000 − 750)/1000 = 0.25; 0.24 + 0.5·0.25·0.14 = 0.2575
    assert buyer_first_offer(750, 1000, NIGHT) == 257_500_000_000


def test_buyer_without_shortfall_or_load_bids_the_grid_purchase_price():
    assert buyer_first_offer(1200, 1000, NIGHT) == NIGHT.grid_purchase
    assert buyer_first_offer(0, 0, NIGHT) == NIGHT.grid_purchase


def test_buyer_mu_is_a_ppm_weight():
    assert buyer_first_offer(0, 1000, NIGHT, mu=1_000_000) == NIGHT.grid_sale
    assert buyer_first_offer(0, 1000, NIGHT, mu=0) == NIGHT.grid_purchase


def test_seller_discount_scales_with_its_surplus_and_cost():
    # (1000 − 400)/1000 = 0.6; |0.38 − max(0.24, 0.30)| = 0.08; 0.38 − 0.048 = 0.332
    assert seller_first_offer(1000, 400, NIGHT, cost=300 * T) == 332 * T
    # cost below λ_0: the spread is λ_grid − λ_0
    assert seller_first_offer(1000, 0, NIGHT, cost=100 * T) == NIGHT.grid_purchase


def test_seller_without_surplus_or_generation_asks_the_grid_sale_price():
    assert seller_first_offer(400, 1000, NIGHT, cost=0) == NIGHT.grid_sale
    assert seller_first_offer(0, 0, NIGHT, cost=0) == NIGHT.grid_sale


def test_seller_ask_never_falls_below_one_planck():
    assert seller_first_offer(1000, 0, NIGHT, cost=2 * NIGHT.grid_sale + 5) == 1


def test_ratios_are_clamped_and_round_toward_zero():
    assert clamped_ratio(-5, 10) == 0 and clamped_ratio(15, 10) == 1_000_000
    assert clamped_ratio(1, 3) == 333_333 and clamped_ratio(1, 0) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda: buyer_first_offer(-1, 10, NIGHT),
        lambda: buyer_first_offer(0, 10, NIGHT, mu=1_000_001),
        lambda: buyer_first_offer(0, 10.0, NIGHT),
        lambda: seller_first_offer(10, 0, NIGHT, cost=-1),
    ],
)
def test_strategy_refuses_negative_or_non_integer_inputs(call):
    with pytest.raises(InvalidStrategyInput):
        call()


@given(energy, energy, st.integers(0, 10**6))
def test_buyer_first_offer_is_a_valid_order_between_grid_prices(generation, load, mu):
    price = buyer_first_offer(generation, load, NIGHT, mu)
    assert NIGHT.grid_purchase <= price <= NIGHT.grid_sale
    validate_order_fields(Order(Side.BUY, 1, price, buyer_reserve(NIGHT), 1, "a", "demand"))


@given(energy, energy, st.integers(0, 10**15))
def test_seller_first_offer_is_a_valid_order(generation, load, cost):
    price = seller_first_offer(generation, load, NIGHT, cost)
    assert 1 <= price <= NIGHT.grid_sale
    validate_order_fields(
        Order(Side.SELL, 1, price, seller_reserve(NIGHT, cost, price), 1, "a", "dg")
    )
