"""market.md, "Orders": rejected with a clear typed error and no state change."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.auction import Auction, run_auction
from bridge.errors import (
    AmountOutOfRange,
    CreditBelowThreshold,
    InsufficientEscrow,
    InvalidCredit,
    InvalidTariff,
    InvalidTieLine,
    OrderRejected,
    PeriodClosed,
    PeriodNotOpen,
    ReserveOnWrongSide,
    UnknownOwner,
    ZeroPrice,
    ZeroQuantity,
)
from bridge.orders import MAX_ENERGY, MAX_PRICE, Side, escrow_required, validate_escrow
from bridge.tariff import Tariff
from tests.bridge.books import OWNERS, PERIOD, TARIFF, books, buy, orders, sell

CREDITS = {"b": 800_000, "s": 800_000, "low": 299_999, "edge": 300_000}


def auction(**kw):
    return Auction(PERIOD, TARIFF, CREDITS, **kw)


@pytest.mark.parametrize(
    ("order", "error"),
    [
        (buy(0, 50), ZeroQuantity),
        (sell(0, 50), ZeroQuantity),
        (buy(5, 0, reserve=10), ZeroPrice),
        (sell(5, 10, reserve=0), ZeroPrice),
        (buy(5, 60, reserve=59), ReserveOnWrongSide),
        (sell(5, 60, reserve=61), ReserveOnWrongSide),
        (buy(-5, 60), AmountOutOfRange),
        (buy(5, -60), AmountOutOfRange),
        (buy(MAX_ENERGY + 1, 60), AmountOutOfRange),
        (sell(5, MAX_PRICE + 1, reserve=1), AmountOutOfRange),
        (dataclasses.replace(buy(5, 60), quantity=5.0), AmountOutOfRange),
        (dataclasses.replace(buy(5, 60), price=True), AmountOutOfRange),
        (dataclasses.replace(buy(5, 60), period=PERIOD - 1), PeriodClosed),
        (dataclasses.replace(buy(5, 60), period=PERIOD + 1), PeriodNotOpen),
        (buy(5, 60, owner="nobody"), UnknownOwner),
        (buy(5, 60, owner="low"), CreditBelowThreshold),
        (sell(5, 60, owner="low"), CreditBelowThreshold),
    ],
)
def test_rejected_order_raises_its_typed_error_and_changes_nothing(order, error):
    a = auction()
    a.place(sell(5, 70, owner="s"))
    with pytest.raises(error):
        a.place(order)
    # nothing changed: the next order gets arrival index 1 and meets the same book
    made = a.place(buy(5, 70, owner="b"))
    assert [(t.buy, t.sell, t.quantity) for t in made] == [(1, 0, 5)]
    assert issubclass(error, OrderRejected)


def test_credit_exactly_at_the_threshold_may_place_orders():
    assert auction().place(buy(5, 60, owner="edge")) == ()


def test_exclusion_threshold_is_configurable():
    assert auction(exclusion_threshold=200_000).place(buy(5, 60, owner="low")) == ()
    with pytest.raises(CreditBelowThreshold):
        auction(exclusion_threshold=800_001).place(buy(5, 60, owner="b"))


def test_orders_are_rejected_once_the_window_has_closed():
    a = auction()
    a.close()
    with pytest.raises(PeriodClosed):
        a.place(buy(5, 60))
    with pytest.raises(PeriodClosed):
        a.close()


def test_credit_outside_ppm_range_is_rejected():
    with pytest.raises(InvalidCredit):
        Auction(PERIOD, TARIFF, {"b": 1_000_001}).place(buy(5, 60))


def test_run_auction_names_the_rejected_order():
    with pytest.raises(ReserveOnWrongSide, match="^order 1: "):
        run_auction(
            [buy(5, 60), buy(5, 60, reserve=50)], period=PERIOD, tariff=TARIFF, credits=CREDITS
        )


@pytest.mark.parametrize(
    "tariff",
    [Tariff(0, 0), Tariff(100, 0), Tariff(50, 60), Tariff(100, -1), Tariff(100.0, 50)],  # type: ignore[arg-type]
)
def test_auction_refuses_an_unusable_tariff(tariff):
    with pytest.raises(InvalidTariff):
        Auction(PERIOD, tariff, CREDITS)


@pytest.mark.parametrize(
    "lines",
    [
        {("dg", "demand"): -1},
        {("dg", "demand"): 1.5},
        {("dg", "dg"): 5},
        {"dg": 5},
        {("dg", "demand", "x"): 1},
    ],
)
def test_auction_refuses_a_malformed_tie_line(lines):
    with pytest.raises(InvalidTieLine):
        Auction(PERIOD, TARIFF, CREDITS, tie_lines=lines)


def test_buy_escrows_quantity_times_reserve_and_sell_escrows_its_energy():
    assert (
        escrow_required(buy(250, 40, reserve=333)) == 250 * 333 // 100
    )  # 2.5 kWh at 333 planck/kWh
    assert escrow_required(sell(250, 40, reserve=30)) == 250


def test_order_without_enough_escrow_is_rejected():
    validate_escrow(buy(100, 40, reserve=50), 50)
    with pytest.raises(InsufficientEscrow):
        validate_escrow(buy(100, 40, reserve=50), 49)
    with pytest.raises(InsufficientEscrow):
        validate_escrow(sell(100, 40), 99)


def _broken(order, how):
    if how == "zero quantity":
        return dataclasses.replace(order, quantity=0)
    if how == "zero price":
        return dataclasses.replace(order, price=0)
    if how == "reserve on the wrong side":
        off = order.price + 1 if order.side is Side.SELL else order.price - 1
        return dataclasses.replace(order, reserve=off)
    if how == "closed period":
        return dataclasses.replace(order, period=order.period - 1)
    if how == "excluded owner":
        return dataclasses.replace(order, owner="excluded")
    return dataclasses.replace(order, owner="stranger")


@settings(max_examples=200, deadline=None)
@given(
    books,
    st.lists(
        st.tuples(
            st.integers(0, 40),
            orders(),
            st.sampled_from(
                [
                    "zero quantity",
                    "zero price",
                    "reserve on the wrong side",
                    "closed period",
                    "excluded owner",
                    "unknown owner",
                ]
            ),
        ),
        max_size=8,
    ),
)
def test_rejected_orders_leave_no_trace_in_the_outcome(valid, bad):
    creds = {o: 500_000 for o in OWNERS} | {"excluded": 100_000}
    mixed = list(valid)
    for at, order, how in bad:
        mixed.insert(min(at, len(mixed)), _broken(order, how))
    a = Auction(PERIOD, TARIFF, creds)
    for order in mixed:
        try:
            a.place(order)
        except OrderRejected:
            pass
    assert a.close() == run_auction(valid, period=PERIOD, tariff=TARIFF, credits=creds)
