"""The settlement-facing interface of Orders (settle_leg, refund, release_obligations) and the
accounting it must keep: escrow exact, free + reserved conserved, issuance changed only by fees
and by value that leaves the chain."""

import pytest

from node.runtime.errors import ModuleError
from parachains.roles import ResourceKind
from tests.parachains.certs import NOW_MS
from tests.parachains.harness import HOUR, ParaHarness

NEXT = NOW_MS // HOUR + 1
TOKEN = 10**12


@pytest.fixture
def h():
    h = ParaHarness("storage")
    h.register("Bob", ResourceKind.BATTERY, capacity=10_000, state_of_charge=4_000)
    h.register("Charlie", ResourceKind.BATTERY, capacity=10_000, state_of_charge=4_000)
    return h


def place(h, who, side, quantity, price, reserve, period=NEXT):
    outcome, _ = h.submit(who, "Orders", "place_order", side=side, quantity_10wh=quantity, price=price, reserve=reserve, period=period)
    assert outcome.success, outcome.error
    return h.orders.NextOrderId.get(h.overlay()) - 1


def holdings(h, who):
    a = h.account(who)
    return a.free, a.reserved


def test_buy_leg_pays_the_seller_and_releases_the_rest_of_that_quantity(h):
    charlie = h.public("Charlie")
    buy = place(h, "Bob", "Buy", 300, 4 * TOKEN, 5 * TOKEN)
    sell = place(h, "Charlie", "Sell", 200, 3 * TOKEN, 2 * TOKEN)
    issuance = h.total_issuance()
    (bob_free, bob_reserved), (charlie_free, _) = holdings(h, h.bob), holdings(h, charlie)
    price = 3_500_000_000_000
    value = h.in_block(lambda ctx: h.orders.settle_leg(ctx, buy, 200, price, charlie))
    assert value == 200 * price // 100
    h.in_block(lambda ctx: h.orders.settle_leg(ctx, sell, 200, price))
    escrow_left = 100 * 5 * TOKEN // 100
    assert holdings(h, h.bob) == (bob_free + bob_reserved - escrow_left - value, escrow_left)
    assert holdings(h, charlie)[0] == charlie_free + value
    assert h.total_issuance() == issuance
    buy_record, sell_record = h.orders.order(h.overlay(), buy), h.orders.order(h.overlay(), sell)
    assert (buy_record["remaining"], buy_record["escrow"], buy_record["status"]) == (100, escrow_left, "Open")
    assert (sell_record["remaining"], sell_record["status"]) == (0, "Filled")
    assert h.orders.Obligations.get(h.overlay(), h.bob, NEXT) == {"sold": 0, "bought": 200}
    assert h.orders.Obligations.get(h.overlay(), charlie, NEXT) == {"sold": 200, "bought": 0}
    # Obligations still count against the battery's limits until delivery is recorded.
    assert h.orders.Committed.get(h.overlay(), charlie) == {"sold": 200, "bought": 0}


def test_buy_leg_without_a_payee_takes_the_value_out_of_this_chain(h):
    buy = place(h, "Bob", "Buy", 100, TOKEN, 2 * TOKEN)
    issuance = h.total_issuance()
    value = h.in_block(lambda ctx: h.orders.settle_leg(ctx, buy, 100, TOKEN))
    assert h.total_issuance() == issuance - value  # the counterparty's chain mints it
    assert holdings(h, h.bob)[1] == 0
    assert h.orders.order(h.overlay(), buy)["status"] == "Filled"


def test_escrow_stays_exact_through_rounding_fills(h):
    buy = place(h, "Bob", "Buy", 7, 33, 33)  # escrow 7·33 // 100 = 2
    for _ in range(7):
        h.in_block(lambda ctx: h.orders.settle_leg(ctx, buy, 1, 33))
        record = h.orders.order(h.overlay(), buy)
        assert record["escrow"] == record["remaining"] * 33 // 100 == holdings(h, h.bob)[1]
    assert h.orders.order(h.overlay(), buy)["status"] == "Filled"


def test_leg_rejected_if_its_quantity_exceeds_the_remainder_or_is_zero(h):
    buy = place(h, "Bob", "Buy", 10, 10, 10)
    before = dict(h.state)
    for quantity in (0, 11):
        with pytest.raises(ModuleError, match="BadLegQuantity"):
            h.in_block(lambda ctx: h.orders.settle_leg(ctx, buy, quantity, 10))
    assert h.state == before


def test_leg_rejected_if_its_price_is_beyond_the_reserve(h):
    buy = place(h, "Bob", "Buy", 10, 10, 12)
    sell = place(h, "Charlie", "Sell", 10, 10, 8)
    for order_id, price in ((buy, 13), (sell, 7), (buy, 0)):
        with pytest.raises(ModuleError, match="PriceBeyondReserve"):
            h.in_block(lambda ctx: h.orders.settle_leg(ctx, order_id, 1, price))


def test_leg_rejected_for_unknown_or_closed_orders(h):
    with pytest.raises(ModuleError, match="UnknownOrder"):
        h.in_block(lambda ctx: h.orders.settle_leg(ctx, 99, 1, 1))
    buy = place(h, "Bob", "Buy", 1, 10, 10)
    h.submit("Bob", "Orders", "cancel_order", order_id=buy)
    with pytest.raises(ModuleError, match="OrderNotOpen"):
        h.in_block(lambda ctx: h.orders.settle_leg(ctx, buy, 1, 10))


def test_sell_leg_moves_no_funds(h):
    sell = place(h, "Charlie", "Sell", 10, 10, 8)
    with pytest.raises(ValueError):
        h.in_block(lambda ctx: h.orders.settle_leg(ctx, sell, 1, 10, h.bob))


def test_refund_releases_what_an_open_order_still_holds(h):
    buy = place(h, "Bob", "Buy", 300, TOKEN, 2 * TOKEN)
    sell = place(h, "Bob", "Sell", 500, TOKEN, TOKEN)
    h.in_block(lambda ctx: h.orders.settle_leg(ctx, buy, 100, TOKEN))
    free, reserved = holdings(h, h.bob)
    assert h.in_block(lambda ctx: h.orders.refund(ctx, buy)) == (200 * 2 * TOKEN // 100, 200)
    assert h.in_block(lambda ctx: h.orders.refund(ctx, sell)) == (0, 500)
    assert holdings(h, h.bob) == (free + reserved, 0)
    assert h.orders.Committed.get(h.overlay(), h.bob) == {"sold": 0, "bought": 100}  # the settled obligation
    assert [h.orders.order(h.overlay(), i)["status"] for i in (buy, sell)] == ["Refunded", "Refunded"]
    with pytest.raises(ModuleError, match="OrderNotOpen"):
        h.in_block(lambda ctx: h.orders.refund(ctx, buy))


def test_released_obligations_free_the_allowance(h):
    charlie = h.public("Charlie")
    sell = place(h, "Charlie", "Sell", 4_000, 10, 10)  # the whole state of charge
    h.in_block(lambda ctx: h.orders.settle_leg(ctx, sell, 4_000, 10))
    outcome, _ = h.submit("Charlie", "Orders", "place_order", side="Sell", quantity_10wh=1, price=10, reserve=10, period=NEXT + 1)
    assert outcome.error.error == "InsufficientAllowance"
    released = h.in_block(lambda ctx: h.orders.release_obligations(ctx, charlie, NEXT))
    assert released == {"sold": 4_000, "bought": 0}
    assert h.orders.Committed.get(h.overlay(), charlie) == {"sold": 0, "bought": 0}
    assert not h.orders.Committed.contains(h.overlay(), charlie)  # no zero entries left behind
    h.in_block(lambda ctx: h.registry.set_state_of_charge(ctx, charlie, 0))  # the delivery drained it
    outcome, _ = h.submit("Charlie", "Orders", "place_order", side="Buy", quantity_10wh=10_000, price=10, reserve=10, period=NEXT + 1)
    assert outcome.success


def test_set_credit_refuses_values_outside_ppm(h):
    with pytest.raises(ModuleError, match="InvalidCredit"):
        h.in_block(lambda ctx: h.orders.set_credit(ctx, h.bob, 1_000_001))


def test_free_plus_reserved_is_conserved_and_issuance_moves_only_by_fees(h):
    """Through real extrinsics: place, cancel, and local settlement between two aggregators."""
    accounts = [h.bob, h.public("Charlie")]
    total = lambda: sum(sum(holdings(h, a)) for a in accounts)  # noqa: E731
    start_total, start_issuance, fees = total(), h.total_issuance(), 0
    steps = [
        ("Bob", "place_order", dict(side="Buy", quantity_10wh=500, price=2 * TOKEN, reserve=3 * TOKEN, period=NEXT)),
        ("Charlie", "place_order", dict(side="Sell", quantity_10wh=400, price=TOKEN, reserve=TOKEN, period=NEXT)),
        ("Bob", "place_order", dict(side="Buy", quantity_10wh=70, price=1, reserve=999, period=NEXT + 2)),
        ("Bob", "cancel_order", dict(order_id=2)),
    ]
    for who, name, args in steps:
        outcome, _ = h.submit(who, "Orders", name, **args)
        assert outcome.success
        fees += outcome.fee
        assert total() == start_total - fees
    h.in_block(lambda ctx: h.orders.settle_leg(ctx, 0, 400, 15 * TOKEN // 10, accounts[1]))
    h.in_block(lambda ctx: h.orders.settle_leg(ctx, 1, 400, 15 * TOKEN // 10))
    h.in_block(lambda ctx: h.orders.refund(ctx, 0))
    assert total() == start_total - fees
    assert h.total_issuance() == start_issuance - fees
    assert [holdings(h, a)[1] for a in accounts] == [0, 0]
