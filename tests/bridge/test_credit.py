"""market.md, "Credit": the daily update in integer ppm, and the exclusion threshold."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge.credit import (
    CreditState,
    Delivery,
    apply_daily_credit,
    contract_coefficient,
    day_coefficient,
    is_excluded,
    next_credit,
    validate_credit,
)
from bridge.errors import CreditBelowThreshold, InvalidCredit

PPM = 10**6
ppm = st.integers(0, PPM)


def test_deviation_of_exactly_two_percent_scores_one():
    assert contract_coefficient(Delivery(contracted=100, actual=102)) == PPM
    assert contract_coefficient(Delivery(contracted=100, actual=98)) == PPM


def test_deviation_just_over_two_percent_scores_one_minus_delta():
    assert contract_coefficient(Delivery(contracted=1000, actual=1021)) == 979_000


def test_coefficient_rounds_toward_zero():
    assert contract_coefficient(Delivery(contracted=3, actual=4)) == 666_666  # 2/3


def test_deviation_of_a_hundred_percent_or_more_scores_zero():
    assert contract_coefficient(Delivery(contracted=100, actual=0)) == 0
    assert contract_coefficient(Delivery(contracted=100, actual=250)) == 0


def test_contract_with_zero_contracted_energy_is_refused():
    with pytest.raises(InvalidCredit):
        contract_coefficient(Delivery(contracted=0, actual=5))


def test_day_coefficient_is_the_quantity_weighted_mean():
    day = [Delivery(100, 100), Delivery(300, 150)]  # a = 1 and a = 0.5
    assert day_coefficient(day) == (100 * PPM + 300 * 500_000) // 400  # 625,000


def test_a_day_without_contracts_leaves_the_state_unchanged():
    state = CreditState(credit=640_000, coefficient=730_000)
    assert day_coefficient([]) is None
    assert apply_daily_credit(state, []) == state


def test_worse_day_lowers_credit_by_delta_squared_times_credit():
    assert next_credit(500_000, PPM, 500_000) == 500_000 - 125_000


def test_better_day_raises_credit_by_delta_squared_times_headroom():
    assert next_credit(500_000, 500_000, PPM) == 500_000 + 125_000


def test_unchanged_coefficient_leaves_credit_unchanged():
    assert next_credit(432_100, 900_000, 900_000) == 432_100


def test_credit_step_rounds_toward_zero_in_both_directions():
    assert next_credit(3, PPM, PPM - 1) == 3  # the decrease 3e-12 ppm rounds to nothing
    assert next_credit(999_999, PPM - 1, PPM) == 999_999  # so does the increase


def test_genesis_assumes_a_perfect_record():
    state = CreditState(credit=800_000)
    assert apply_daily_credit(state, [Delivery(100, 100)]) == CreditState(800_000, PPM)
    worse = apply_daily_credit(state, [Delivery(100, 50)])  # a = 0.5
    assert worse == CreditState(800_000 - 200_000, 500_000)


def test_two_days_chain_through_the_stored_coefficient():
    day1 = apply_daily_credit(CreditState(800_000), [Delivery(100, 50)])
    day2 = apply_daily_credit(day1, [Delivery(100, 100)])
    assert day2 == CreditState(600_000 + 250_000 * 400_000 // PPM, PPM)


@given(ppm, ppm, ppm)
def test_credit_stays_in_range_and_within_one_ppm_of_the_exact_formula(credit, previous, current):
    got = next_credit(credit, previous, current)
    assert 0 <= got <= PPM
    r, d = Fraction(credit, PPM), Fraction(current - previous, PPM)
    exact = r + d * d * (1 - r) if current >= previous else r - d * d * r
    assert abs(Fraction(got, PPM) - exact) < Fraction(1, PPM)
    assert (got >= credit) if current >= previous else (got <= credit)


@given(
    st.lists(st.tuples(st.integers(1, 10**6), st.integers(0, 3 * 10**6)), min_size=1, max_size=20)
)
def test_day_coefficient_lies_between_the_worst_and_best_contract(contracts):
    deliveries = [Delivery(c, a) for c, a in contracts]
    coefficients = [contract_coefficient(d) for d in deliveries]
    assert min(coefficients) <= day_coefficient(deliveries) <= max(coefficients)


@pytest.mark.parametrize(
    ("credit", "previous", "current"), [(-1, 0, 0), (0, PPM + 1, 0), (0, 0, 0.5)]
)
def test_credit_update_refuses_values_outside_ppm(credit, previous, current):
    with pytest.raises(InvalidCredit):
        next_credit(credit, previous, current)


def test_exclusion_threshold_excludes_below_and_admits_at_or_above():
    assert is_excluded(299_999) and not is_excluded(300_000)
    validate_credit(300_000)
    with pytest.raises(CreditBelowThreshold):
        validate_credit(299_999)
    assert not is_excluded(100_000, threshold=100_000)
