"""Property: any sequence of place, cancel, settle and refund keeps each aggregator's escrow
exactly what its open orders require — reserved funds = Σ remaining · reserve // 100 over open
buys, energy committed = Σ remaining over open orders + settled obligations — and keeps every
energy commitment within the battery's limits."""

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from parachains.roles import ResourceKind
from tests.parachains.certs import NOW_MS
from tests.parachains.harness import HOUR, ParaHarness

NEXT = NOW_MS // HOUR + 1
TRADERS = ("Bob", "Charlie")
CAPACITY, SOC = 2_000, 800

_BASE = None


def fresh() -> ParaHarness:
    """A storage chain with two registered batteries; built once, copied per example."""
    global _BASE
    if _BASE is None:
        _BASE = ParaHarness("storage")
        for who in TRADERS:
            _BASE.register(who, ResourceKind.BATTERY, capacity=CAPACITY, state_of_charge=SOC)
    h = ParaHarness.__new__(ParaHarness)
    h.__dict__.update(_BASE.__dict__)
    h.state, h.hashes = dict(_BASE.state), dict(_BASE.hashes)
    return h


@st.composite
def place(draw):
    side = draw(st.sampled_from(["Buy", "Sell"]))
    price = draw(st.integers(1, 5 * 10**12))
    delta = draw(st.integers(0, 10**12))
    reserve = price + delta if side == "Buy" else max(1, price - delta)
    if draw(st.integers(0, 9)) == 0:  # now and then an order the chain must refuse
        wrong_side = price - 1 if side == "Buy" else price + 1
        price, reserve = draw(st.sampled_from([(0, reserve), (price, 0), (price, wrong_side)]))
    quantity = draw(st.integers(0, 500) if draw(st.booleans()) else st.integers(1, 60))
    period = draw(st.sampled_from([NEXT, NEXT, NEXT + 1, NEXT + 2, NEXT - 1]))
    return ("place", draw(st.sampled_from(TRADERS)), side, quantity, price, reserve, period)


order_id = st.integers(0, 10)
cancel = st.tuples(st.just("cancel"), st.sampled_from(TRADERS), order_id)
settle_price = st.one_of(st.integers(1, 10**12), st.integers(6 * 10**12, 7 * 10**12))  # under any buy reserve, over any sell reserve
settle = st.tuples(st.just("settle"), order_id, st.integers(1, 80), settle_price, st.booleans())
refund = st.tuples(st.just("refund"), order_id)
ops = st.lists(st.one_of(place(), place(), place(), cancel, settle, settle, refund), min_size=3, max_size=30)


def run(h, op) -> tuple[int, int, bool]:
    """Apply ``op``; returns (fees paid, value taken out of the chain, whether it succeeded)."""
    kind = op[0]
    if kind == "place":
        _, who, side, q, price, reserve, period = op
        outcome, _ = h.submit(who, "Orders", "place_order", side=side, quantity_10wh=q, price=price, reserve=reserve, period=period)
        return outcome.fee, 0, outcome.success
    if kind == "cancel":
        _, who, order_id = op
        outcome, _ = h.submit(who, "Orders", "cancel_order", order_id=order_id)
        return outcome.fee, 0, outcome.success
    if True:
        burned = []

        # The internal interface runs in a storage transaction, as a dispatch would: a refused
        # leg must leave nothing behind.
        def apply(ctx):
            try:
                with ctx.state.transaction():
                    if kind == "settle":
                        _, order_id, q, price, local = op
                        value = h.orders.settle_leg(ctx, order_id, q, price, h.public("Ferdie") if local else None)
                        sell = h.orders.order(ctx.state, order_id)["side"] == "Sell"
                        burned.append(0 if local or sell else value)
                    else:
                        h.orders.refund(ctx, op[1])
                        burned.append(0)
            except Exception as e:  # a typed refusal (or a sell leg with a payee)
                assert type(e).__name__ in ("ModuleError", "ValueError"), e

        if kind == "settle" and h.orders.order(h.overlay(), op[1]) and h.orders.order(h.overlay(), op[1])["side"] == "Sell":
            op = op[:4] + (False,)
        h.in_block(apply)
        return 0, sum(burned), bool(burned)


def check(h) -> None:
    state = h.overlay()
    orders = [h.orders.order(state, i) for i in range(h.orders.NextOrderId.get(state))]
    for who in TRADERS:
        owner = h.public(who)
        mine = [o for o in orders if o["owner"] == owner]
        open_ = [o for o in mine if o["status"] == "Open"]
        funds = sum(o["remaining"] * o["reserve"] // 100 for o in open_ if o["side"] == "Buy")
        assert all(o["escrow"] == o["remaining"] * o["reserve"] // 100 for o in open_ if o["side"] == "Buy")
        assert all(o["escrow"] == 0 for o in mine if o["status"] != "Open" or o["side"] == "Sell")
        assert h.account(owner).reserved == funds == h.orders.Escrowed.get(state, owner)
        settled = {"Buy": 0, "Sell": 0}
        for o in mine:
            settled[o["side"]] += o["quantity"] - o["remaining"] if o["status"] in ("Open", "Filled", "Cancelled", "Refunded") else 0
        committed = h.orders.Committed.get(state, owner)
        assert committed["bought"] == sum(o["remaining"] for o in open_ if o["side"] == "Buy") + settled["Buy"]
        assert committed["sold"] == sum(o["remaining"] for o in open_ if o["side"] == "Sell") + settled["Sell"]
        assert committed["sold"] <= SOC and committed["bought"] <= CAPACITY - SOC
        for period in range(NEXT - 1, NEXT + 3):
            per = h.orders.PeriodCommitted.get(state, owner, period)
            in_period = [o for o in mine if o["period"] == period]
            assert per["sold"] == sum((o["remaining"] if o["status"] == "Open" else 0) + o["quantity"] - o["remaining"]
                                      for o in in_period if o["side"] == "Sell")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_escrow_equals_the_open_orders_requirement(sequence):
    h = fresh()
    issuance, out = h.total_issuance(), 0
    for op in sequence:
        fee, burned, ok = run(h, op)
        out += fee + burned
        check(h)
        event(f"{op[0]} {'ok' if ok else 'refused'}")
    assert h.total_issuance() == issuance - out  # only fees and value leaving the chain
