"""Trading periods under time compression, and the Periods genesis section (chain spec input)."""

from __future__ import annotations

import pytest

from parachains.periods import InvalidPeriodConfig, PeriodConfig
from parachains.roles import ResourceKind
from parachains.runtimes import build_parachain_runtime
from tests.parachains.certs import NOW_MS
from tests.parachains.harness import HOUR, ParaHarness
from tests.parachains.test_orders import assert_rejected, place

COMPRESSION = 1200  # an hour of market time in 3 s of the chain's clock


def test_compressed_clock_counts_market_periods():
    periods = PeriodConfig(compression=COMPRESSION)
    assert periods.current(3_000) == 1  # 3 s of clock = one market hour
    assert periods.has_ended(6_000, 1) and not periods.has_ended(5_999, 1)
    # the window of period 2 (starts at market 2 h) closes 10 market minutes = 0.5 s of clock before it
    assert periods.is_window_open(5_499, 2) and not periods.is_window_open(5_500, 2)


@pytest.mark.parametrize("field", ["length_ms", "compression"])
def test_period_config_refuses_zero(field):
    with pytest.raises(InvalidPeriodConfig, match=field if field == "compression" else "1 ms"):
        PeriodConfig(**{field: 0})


def test_genesis_schedule_compresses_order_windows_but_not_energy():
    h = ParaHarness("dg", genesis={"Periods": {"compression": COMPRESSION}})
    h.register("Bob", ResourceKind.WIND, capacity=100_000)  # 100 kW: 10,000 units per market hour
    now_period = NOW_MS * COMPRESSION // HOUR
    assert_rejected(h, "PeriodClosed", "Bob", "Sell", 100, 2, 1, period=now_period)
    assert_rejected(h, "PeriodTooFarAhead", "Bob", "Sell", 100, 2, 1, period=now_period + 169)
    assert_rejected(h, "InsufficientAllowance", "Bob", "Sell", 10_001, 2, 1, period=now_period + 2)
    assert place(h, "Bob", "Sell", 10_000, 2, 1, period=now_period + 2)[0].success


def test_genesis_without_a_periods_section_keeps_the_runtime_default():
    h = ParaHarness("dg")
    assert h.runtime.pallet("Periods").Schedule.get(h.overlay()) is None
    assert h.runtime.pallet("Periods").config(h.overlay()) == PeriodConfig()


@pytest.mark.parametrize("section, problem", [
    ({"compression": 0}, "compression must be at least 1"),
    ({"length_ms": 0}, "at least 1 ms"),
    ({"horizon": -1}, "non-negative integer"),
    ({"compression": "fast"}, "non-negative integer"),
    ({"compression": 2**32}, "does not fit"),
    ({"period": 60}, "unknown Periods genesis key"),
])
def test_bad_periods_genesis_is_refused_with_the_problem(section, problem):
    runtime = build_parachain_runtime("dg")
    with pytest.raises(InvalidPeriodConfig, match=problem):
        runtime.build_genesis({"Periods": section})
