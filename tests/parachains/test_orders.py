"""Orders: who may place what, escrow on placement, refunds on cancel, and every rejection of
market.md's list — each leaving the market state as it was."""

import pytest

from bridge.orders import DEFAULT_EXCLUSION_THRESHOLD
from parachains.periods import PeriodConfig
from parachains.roles import ResourceKind
from tests.parachains.certs import NOW_MS
from tests.parachains.harness import ENDOWMENT, HOUR, ParaHarness, module_error

NEXT = NOW_MS // HOUR + 1  # the next period; its window is open for the first 50 minutes
KWH = 100  # 10 Wh units per kWh
TOKEN = 10**12


def place(h, who, side, quantity, price, reserve, period=NEXT):
    return h.submit(who, "Orders", "place_order", side=side, quantity_10wh=quantity, price=price, reserve=reserve, period=period)


def assert_rejected(h, error, who, *args, **kw):
    before_state = h.market_state()
    account = h.public(who)
    before = h.account(account)
    outcome, events = place(h, who, *args, **kw) if args else h.submit(who, "Orders", "cancel_order", **kw)
    assert module_error(outcome) == ("Orders", error)
    assert h.market_state() == before_state
    after = h.account(account)
    assert (after.free, after.reserved) == (before.free - outcome.fee, before.reserved)
    assert not any(p == "Orders" for p, _, _ in events)


@pytest.fixture
def demand():
    h = ParaHarness("demand")
    h.register("Bob", ResourceKind.LOAD)
    return h


@pytest.fixture
def dg():
    h = ParaHarness("dg")
    h.register("Bob", ResourceKind.PV, capacity=100_000)  # 100 kW: 100 kWh = 10_000 units per hour
    return h


@pytest.fixture
def storage():
    h = ParaHarness("storage")
    h.register("Bob", ResourceKind.BATTERY, capacity=10_000, state_of_charge=4_000)
    return h


# -- accepted orders and their escrow ------------------------------------------------------------


def test_buy_order_escrows_quantity_times_reserve(demand):
    free = demand.free(demand.bob)
    outcome, events = place(demand, "Bob", "Buy", 250, 3 * TOKEN, 5 * TOKEN)
    assert outcome.success
    escrow = 250 * 5 * TOKEN // KWH
    account = demand.account(demand.bob)
    assert account.reserved == escrow and account.free == free - escrow - outcome.fee
    assert ("Orders", "OrderPlaced", {"order_id": 0, "owner": demand.bob, "side": "Buy", "quantity": 250, "price": 3 * TOKEN,
                                      "reserve": 5 * TOKEN, "period": NEXT}) in events
    assert ("Balances", "Reserved", {"who": demand.bob, "amount": escrow}) in events
    record = demand.orders.order(demand.overlay(), 0)
    assert (record["status"], record["remaining"], record["escrow"]) == ("Open", 250, escrow)
    assert demand.orders.Escrowed.get(demand.overlay(), demand.bob) == escrow


def test_escrow_rounds_toward_zero_like_the_auction_engine(demand):
    from bridge.orders import Order, Side, escrow_required

    place(demand, "Bob", "Buy", 3, 33, 33)
    expected = escrow_required(Order(Side.BUY, 3, 33, 33, NEXT, demand.bob, 2000))
    assert demand.account(demand.bob).reserved == expected == 3 * 33 // 100


def test_order_ids_are_sequential(demand):
    demand.register("Charlie", ResourceKind.EV)
    for who in ("Bob", "Charlie", "Bob"):
        assert place(demand, who, "Buy", 1, 10, 10)[0].success
    owners = [demand.orders.order(demand.overlay(), i)["owner"] for i in range(3)]
    assert owners == [demand.bob, demand.public("Charlie"), demand.bob]
    assert demand.orders.NextOrderId.get(demand.overlay()) == 3


def test_sell_order_locks_energy_allowance_not_funds(dg):
    outcome, _ = place(dg, "Bob", "Sell", 6_000, 2 * TOKEN, TOKEN)
    assert outcome.success
    assert dg.account(dg.bob).reserved == 0
    assert dg.orders.Committed.get(dg.overlay(), dg.bob) == {"sold": 6_000, "bought": 0}
    assert dg.orders.PeriodCommitted.get(dg.overlay(), dg.bob, NEXT) == {"sold": 6_000, "bought": 0}


def test_generator_sells_up_to_its_capacity_in_each_period(dg):
    assert place(dg, "Bob", "Sell", 6_000, 2, 1)[0].success
    assert place(dg, "Bob", "Sell", 4_000, 2, 1)[0].success  # exactly 100 kW for an hour
    assert_rejected(dg, "InsufficientAllowance", "Bob", "Sell", 1, 2, 1)
    assert place(dg, "Bob", "Sell", 10_000, 2, 1, period=NEXT + 1)[0].success  # another period


def test_generator_capacity_scales_with_a_15_minute_period():
    h = ParaHarness("dg", periods=PeriodConfig(length_ms=900_000, gate_closure_ms=60_000))
    h.register("Bob", ResourceKind.WIND, capacity=100_000)
    period = NOW_MS // 900_000 + 1
    assert_rejected(h, "InsufficientAllowance", "Bob", "Sell", 2_501, 2, 1, period=period)
    assert place(h, "Bob", "Sell", 2_500, 2, 1, period=period)[0].success


def test_battery_sells_within_its_state_of_charge_over_all_periods(storage):
    assert place(storage, "Bob", "Sell", 3_000, 2, 1)[0].success
    assert_rejected(storage, "InsufficientAllowance", "Bob", "Sell", 1_001, 2, 1, period=NEXT + 1)
    assert place(storage, "Bob", "Sell", 1_000, 2, 1, period=NEXT + 1)[0].success


def test_battery_buys_within_its_free_capacity_and_escrows_funds(storage):
    assert_rejected(storage, "InsufficientAllowance", "Bob", "Buy", 6_001, 2, 3)
    outcome, _ = place(storage, "Bob", "Buy", 6_000, 2 * TOKEN, 3 * TOKEN)
    assert outcome.success
    assert storage.account(storage.bob).reserved == 6_000 * 3 * TOKEN // KWH
    assert storage.orders.Committed.get(storage.overlay(), storage.bob) == {"sold": 0, "bought": 6_000}


# -- cancel --------------------------------------------------------------------------------------


def test_cancel_refunds_the_whole_escrow(demand):
    place(demand, "Bob", "Buy", 250, 3 * TOKEN, 5 * TOKEN)
    free_before = demand.free(demand.bob)
    outcome, events = demand.submit("Bob", "Orders", "cancel_order", order_id=0)
    assert outcome.success
    escrow = 250 * 5 * TOKEN // KWH
    assert ("Orders", "OrderCancelled", {"order_id": 0, "owner": demand.bob, "funds": escrow, "energy": 250}) in events
    assert demand.account(demand.bob).reserved == 0
    assert demand.free(demand.bob) == free_before + escrow - outcome.fee
    assert demand.orders.order(demand.overlay(), 0)["status"] == "Cancelled"
    assert demand.orders.Escrowed.get(demand.overlay(), demand.bob) == 0
    assert not demand.orders.PeriodCommitted.contains(demand.overlay(), demand.bob, NEXT)


def test_cancel_frees_the_allowance(dg):
    place(dg, "Bob", "Sell", 10_000, 2, 1)
    assert dg.submit("Bob", "Orders", "cancel_order", order_id=0)[0].success
    assert place(dg, "Bob", "Sell", 10_000, 2, 1)[0].success


def test_cancel_rejected_for_an_unknown_order(demand):
    assert_rejected(demand, "UnknownOrder", "Bob", order_id=7)


def test_cancel_rejected_for_someone_elses_order(demand):
    place(demand, "Bob", "Buy", 1, 10, 10)
    assert_rejected(demand, "NotOrderOwner", "Charlie", order_id=0)


def test_cancel_rejected_for_an_order_no_longer_open(demand):
    place(demand, "Bob", "Buy", 1, 10, 10)
    demand.submit("Bob", "Orders", "cancel_order", order_id=0)
    assert_rejected(demand, "OrderNotOpen", "Bob", order_id=0)


def test_cancel_rejected_once_the_window_has_closed(demand):
    place(demand, "Bob", "Buy", 1, 10, 10)
    demand.block_at(NEXT * HOUR - 600_000)  # gate closure: 10 minutes before the period
    assert_rejected(demand, "PeriodClosed", "Bob", order_id=0)


def test_revoked_aggregator_may_still_cancel(demand):
    place(demand, "Bob", "Buy", 1, 10, 10)
    demand.submit("Ferdie", "Registry", "revoke", who=demand.bob)
    assert demand.submit("Bob", "Orders", "cancel_order", order_id=0)[0].success


# -- rejections on placement (market.md: "Rejected with a clear error and no state change") -------


def test_order_rejected_if_the_quantity_is_zero(demand):
    assert_rejected(demand, "ZeroQuantity", "Bob", "Buy", 0, 10, 10)


@pytest.mark.parametrize("price,reserve", [(0, 10), (10, 0), (0, 0)])
def test_order_rejected_if_a_price_is_zero(storage, price, reserve):
    assert_rejected(storage, "ZeroPrice", "Bob", "Sell", 1, price, reserve)


def test_buy_rejected_if_its_reserve_is_below_its_offer(demand):
    assert_rejected(demand, "ReserveOnWrongSide", "Bob", "Buy", 1, 10, 9)


def test_sell_rejected_if_its_reserve_is_above_its_offer(dg):
    assert_rejected(dg, "ReserveOnWrongSide", "Bob", "Sell", 1, 10, 11)


def test_order_rejected_if_an_amount_exceeds_its_width(demand):
    assert_rejected(demand, "AmountOutOfRange", "Bob", "Buy", 2**64, 10, 10)  # compact carries more than u64
    assert_rejected(demand, "AmountOutOfRange", "Bob", "Buy", 1, 10, 2**128)


def test_order_rejected_if_the_period_window_is_closed(demand):
    assert_rejected(demand, "PeriodClosed", "Bob", "Buy", 1, 10, 10, period=NEXT - 1)  # running now
    assert_rejected(demand, "PeriodClosed", "Bob", "Buy", 1, 10, 10, period=NEXT - 5)  # past
    demand.at(NEXT * HOUR - 600_001)
    assert place(demand, "Bob", "Buy", 1, 10, 10)[0].success  # the last ms of the window
    assert_rejected(demand, "PeriodClosed", "Bob", "Buy", 1, 10, 10)  # the next block, 1 s later


def test_order_rejected_if_the_period_is_beyond_the_horizon(demand):
    assert place(demand, "Bob", "Buy", 1, 10, 10, period=NEXT - 1 + 168)[0].success
    assert_rejected(demand, "PeriodTooFarAhead", "Bob", "Buy", 1, 10, 10, period=NEXT + 168)


def test_buy_rejected_if_funds_are_insufficient(demand):
    # Locking must leave the existential deposit free: this asks for all but a planck of it.
    free = demand.free(demand.bob)
    quantity = 100
    reserve = (free - 10**9) * KWH // quantity  # escrow = free - 10^9; the fee takes some of the rest
    assert_rejected(demand, "InsufficientFunds", "Bob", "Buy", quantity, 1, reserve)


def test_order_rejected_if_credit_is_below_the_exclusion_threshold(demand):
    demand.in_block(lambda ctx: demand.orders.set_credit(ctx, demand.bob, DEFAULT_EXCLUSION_THRESHOLD - 1))
    assert_rejected(demand, "CreditBelowThreshold", "Bob", "Buy", 1, 10, 10)
    demand.in_block(lambda ctx: demand.orders.set_credit(ctx, demand.bob, DEFAULT_EXCLUSION_THRESHOLD))
    assert place(demand, "Bob", "Buy", 1, 10, 10)[0].success  # at the threshold it may trade


def test_genesis_credit_applies():
    bob = ParaHarness("demand").bob
    h = ParaHarness("demand", genesis={"Orders": {"credits": [(bob, 0)]}})
    h.register("Bob", ResourceKind.LOAD)
    assert_rejected(h, "CreditBelowThreshold", "Bob", "Buy", 1, 10, 10)


def test_order_rejected_if_the_owner_is_not_registered(demand):
    assert_rejected(demand, "NotRegistered", "Charlie", "Buy", 1, 10, 10)


def test_order_rejected_if_the_owner_is_revoked(demand):
    demand.submit("Ferdie", "Registry", "revoke", who=demand.bob)
    assert_rejected(demand, "Revoked", "Bob", "Buy", 1, 10, 10)


def test_order_rejected_if_the_owners_certificate_has_expired():
    from datetime import timedelta

    from tests.parachains.certs import NOW

    h = ParaHarness("demand")
    pem = h.ca.aggregator(h.bob, ResourceKind.EV, not_after=NOW + timedelta(minutes=5))
    assert h.submit("Bob", "Registry", "register_aggregator", certificate=pem)[0].success
    h.block_at(NOW_MS + 600_000)
    assert_rejected(h, "CertificateExpired", "Bob", "Buy", 1, 10, 10)


def test_demand_aggregators_only_buy(demand):
    assert_rejected(demand, "SideNotAllowed", "Bob", "Sell", 1, 10, 10)


def test_generators_only_sell(dg):
    assert_rejected(dg, "SideNotAllowed", "Bob", "Buy", 1, 10, 10)


def test_unknown_side_does_not_decode(demand):
    from node.primitives.scale import DecodeError

    call = bytearray(demand.call("Orders", "place_order", side="Buy", quantity_10wh=1, price=1, reserve=1, period=NEXT))
    call[2] = 2  # neither Buy (0) nor Sell (1)
    with pytest.raises(DecodeError):
        demand.runtime.decode_call(bytes(call))
