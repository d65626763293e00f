"""Credit on chain (market.md "Credit"): trades become contracts on the relay, a meter reading on
the aggregator's chain reports the period's delivery up, the relay's update every
`credit_update_periods` periods applies `bridge.credit`, and the new credit comes back down so
both the chain (at placement) and the relay (at arrival) exclude an aggregator below the
threshold until it is back at or above it.
"""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bridge.credit import CreditState, Delivery, apply_daily_credit
from bridge.messages import MalformedMarketMessage, MarketMessage, decode_market_message, encode_market_message
from bridge.orders import DEFAULT_EXCLUSION_THRESHOLD, PPM
from node.primitives.hashing import blake2_256
from node.primitives.keys import dev_keypair
from node.runtime.errors import ModuleError
from node.runtime.pallet import ROOT, Origin
from parachains.meters import sign_reading
from relay.credit_book import DeliveryRefused, InvalidCreditConfig
from relay.router import RELAY_CHAIN
from tests.relay.harness import RelayHarness
from tests.xchain.test_market import (FIRST_BLOCK, G, GATE, PERIOD, PERIOD_BLOCKS, MarketPara, MarketRelay, market_state,
                                      place_book, send_up)
from tests.xchain.world import DEMAND, DG

HOUR = 3_600_000
EVERY = 2  # credit_update_periods in these tests
ANCHOR_BLOCK = FIRST_BLOCK - PERIOD_BLOCKS  # period 0 starts here


def start(period: int) -> int:
    return ANCHOR_BLOCK + period * PERIOD_BLOCKS


UPDATE = start(EVERY)  # the first update after the book's period (period 2 starts at block 30)


def meter(para_id: int, name: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(blake2_256(f"meter/{para_id}/{name}".encode()))


class MeteredPara(MarketPara):
    """A `MarketPara` whose Alice and Bob each have one meter of the chain's flow."""

    def __init__(self, para_id: int):
        self.meters = {name: meter(para_id, name) for name in ("Alice", "Bob")}
        flow = "import" if para_id == DEMAND else "export"
        alice, bob = (_account(n) for n in ("Alice", "Bob"))
        super().__init__(para_id, devices=[{"key": _device(self.meters[n]), "aggregator": who, "flow": flow}
                                           for n, who in (("Alice", alice), ("Bob", bob))])

    def read(self, name: str, period: int, energy: int):
        """A block in which ``name``'s meter reading of ``period`` (just ended) is submitted."""
        key, timestamp = self.meters[name], self.runtime.pallet("Timestamp")
        signature = sign_reading(key, self.para_id, period, energy)
        call = {"Meters": {"submit_reading": {"device": _device(key), "period": period, "energy_10wh": energy,
                                              "signature": signature}}}

        def run(ctx):
            timestamp.Now.set(ctx.state, max(timestamp.now(ctx.state), (period + 1) * HOUR))
            return self.runtime.dispatch(ctx, Origin.signed(self.alice.public_key), call)
        return self.apply(run)

    def credit(self, who) -> int:
        return self.orders.credit(self.overlay(), who.public_key)


def _account(name: str) -> bytes:
    return dev_keypair(name).public_key


def _device(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def deliver(relay: MarketRelay, para: MarketPara, number: int):
    """As `test_market.deliver`, and the para learns how many of its messages the relay has
    processed, so its channel up (capacity 4) drains."""
    snapshot = relay.finalize(number)
    waiting = relay.router.Heads.get(relay.overlay(), RELAY_CHAIN, para.para_id)["count"] - para.watermark(RELAY_CHAIN)
    applied = para.import_relay(snapshot, deliver=[(RELAY_CHAIN, waiting)] if waiting else [], acknowledge=[RELAY_CHAIN])
    relay.include_at(number + 1, para.para_id, para.commitments(applied))
    return applied


@pytest.fixture
def world():
    return MarketRelay(credit_update_periods=EVERY), MeteredPara(DEMAND), MeteredPara(DG)


def committed_book(world):
    """The market test's book, committed at the gate with every leg applied on both chains;
    the contracts per (chain, name) as (sold, bought)."""
    relay, demand, dg = world
    place_book(demand, dg, relay)
    relay.gate(GATE)
    deliver(relay, dg, GATE + 1)
    deliver(relay, demand, GATE + 3)
    deliver(relay, dg, GATE + 5)
    contracts = {}
    for t in relay.trades():
        for who, chain, side in ((t["seller"], t["seller_chain"], 0), (t["buyer"], t["buyer_chain"], 1)):
            if chain != RELAY_CHAIN:
                entry = contracts.setdefault((chain, who), [0, 0])
                entry[side] += t["quantity"]
    return {key: tuple(v) for key, v in contracts.items()}


def report(relay, para, applied, number: int):
    return send_up(relay, para, applied, number)


def credit_update(relay, number: int = UPDATE):
    return relay.gate(number)


def root(relay, call: dict, number: int):
    return relay.apply(lambda ctx: relay.runtime.dispatch(ctx, ROOT, call), number)


# -- the whole loop ------------------------------------------------------------------------------

def test_a_failed_delivery_excludes_the_aggregator_on_its_chain_and_on_the_relay_until_it_is_readmitted(world):
    relay, demand, dg = world
    contracts = committed_book(world)
    alice, bob = demand.alice.public_key, dg.bob.public_key
    assert relay.market.Contracts.get(relay.overlay(), DG, bob, PERIOD) == contracts[(DG, bob)]
    assert dg.orders.Obligations.get(dg.overlay(), bob, PERIOD)["sold"] == contracts[(DG, bob)][0]
    # the meters: Alice delivers what she sold on DG and took what she bought on demand; Bob feeds in nothing
    readings = [(dg, "Alice", contracts[(DG, alice)][0]), (dg, "Bob", 0), (demand, "Alice", contracts[(DEMAND, alice)][1])]
    for number, (para, name, energy) in enumerate(readings, start=start(PERIOD + 1) - 4):
        applied = para.read(name, PERIOD, energy)
        (reported,) = applied.named("DeliveryReported")
        assert para.orders.Obligations.get(para.overlay(), reported["owner"], PERIOD) == {"sold": 0, "bought": 0}
        included = report(relay, para, applied, number)
        assert included.named("DeliveryReceived") and not included.named("MessageFailed")
    assert relay.market.Contracts.get(relay.overlay(), DG, bob, PERIOD) is None
    updated = {e["who"]: e for e in credit_update(relay).named("CreditUpdated")}
    assert updated[bob]["credit"] == 0 and updated[bob]["coefficient"] == 0  # δ = 100%: a = 0, R = 1 − 1·1
    assert updated[alice]["credit"] == PPM and updated[alice]["contracts"] == 2
    # the credit goes down to Bob's home chain, and DG refuses his next order at placement
    deliver(relay, dg, UPDATE + 1)
    assert dg.credit(dg.bob) == 0 and dg.credit(dg.alice) == PPM
    with pytest.raises(ModuleError) as refused:
        dg.place(dg.bob, "Sell", 100, 80 * G, 60 * G, period=4)
    assert refused.value.error == "CreditBelowThreshold"
    # on demand the relay had not heard of Bob: his order is refused on arrival, and his credit follows it down
    included = send_up(relay, demand, demand.place(demand.bob, "Buy", 100, 100 * G, 150 * G, period=4), UPDATE + 3)
    assert included.named("OrderRejected") and not included.named("OrderReceived")
    deliver(relay, demand, UPDATE + 4)
    assert demand.credit(demand.bob) == 0 and demand.order(1)["status"] == "Refunded"
    # the operator readmits Bob at the threshold: both chains learn it, and both sides take his orders again
    root(relay, {"Market": {"set_credit": {"who": bob, "credit": DEFAULT_EXCLUSION_THRESHOLD}}}, UPDATE + 6)
    relay.gate(UPDATE + 6)
    deliver(relay, dg, UPDATE + 7)
    deliver(relay, demand, UPDATE + 9)
    assert dg.credit(dg.bob) == demand.credit(demand.bob) == DEFAULT_EXCLUSION_THRESHOLD
    included = send_up(relay, dg, dg.place(dg.bob, "Sell", 100, 80 * G, 60 * G, period=5), UPDATE + 11)
    assert included.named("OrderReceived")


def test_the_update_waits_for_its_period_and_runs_once(world):
    relay, demand, dg = world
    contracts = committed_book(world)
    bob = dg.bob.public_key
    report(relay, dg, dg.read("Bob", PERIOD, contracts[(DG, bob)][0] // 2), start(PERIOD + 1) - 2)
    assert not credit_update(relay, UPDATE - 1).named("CreditUpdated")
    assert [e["who"] for e in credit_update(relay, UPDATE).named("CreditUpdated")] == [bob]
    assert not credit_update(relay, UPDATE + 1).named("CreditUpdated")
    (applied,) = credit_update(relay, start(2 * EVERY)).named("CreditUpdateApplied")
    assert applied == {"period": 2 * EVERY, "aggregators": 0}


def test_a_second_reading_of_the_same_period_reports_nothing(world):
    relay, demand, dg = world
    contracts = committed_book(world)
    bob = dg.bob.public_key
    dg.read("Bob", PERIOD, 10)
    second = meter(DG, "Bob-2")
    dg.meters["Bob-2"] = second
    dg.apply(lambda ctx: dg.runtime.pallet("Registry").Devices.set(
        ctx.state, _device(second), {"aggregator": bob, "flow": "Export", "serial": b"", "valid_until": 2**64 - 1, "revoked": False}))
    later = dg.read("Bob-2", PERIOD, 5)
    assert later.named("ReadingAccepted") and not later.named("DeliveryReported")
    assert dg.runtime.pallet("Meters").delivered(dg.overlay(), bob, PERIOD)["exported"] == 15
    assert contracts[(DG, bob)][0] > 15


def test_a_reading_is_refused_whole_while_the_channel_up_is_full(world):
    relay, demand, dg = world
    committed_book(world)
    for _ in range(4):
        dg.place(dg.alice, "Sell", 10, 80 * G, 60 * G, period=4)
    meters, bob = dg.runtime.pallet("Meters"), dg.bob.public_key
    obligations = dg.orders.Obligations.get(dg.overlay(), bob, PERIOD)
    with pytest.raises(ModuleError) as refused:
        dg.read("Bob", PERIOD, 10)
    assert refused.value.error == "ChannelFull"
    assert meters.reading(dg.overlay(), _device(dg.meters["Bob"]), PERIOD) is None
    assert dg.orders.Obligations.get(dg.overlay(), bob, PERIOD) == obligations


def test_a_reading_without_settled_obligations_reports_nothing(world):
    _, demand, _ = world
    applied = demand.read("Bob", PERIOD, 700)
    assert applied.named("ReadingAccepted") and not applied.named("DeliveryReported")


# -- rule by rule, against bridge.credit --------------------------------------------------------

WHO = _account("Charlie")  # a DG aggregator with contracts put straight into the relay's book


def scored_day(relay, deliveries, number: int):
    """Contracts and their delivery reports for ``deliveries`` [(contracted, actual)], one period
    each, as if DG had sold them; their update applied at the next boundary."""
    for i, (contracted, actual) in enumerate(deliveries):
        period = 100 + number * 10 + i
        relay.apply(lambda ctx, p=period, c=contracted: relay.market.Contracts.set(ctx.state, DG, WHO, p, (c, 0)), number)
        body = encode_market_message("Delivery", owner=WHO, period=period, sold=contracted, bought=0, exported=actual, imported=0)
        applied = relay.apply(lambda ctx, b=body: relay.router.handlers.dispatch(ctx, DG, 0, b), number)
        assert applied.named("DeliveryReceived"), applied.events
    return relay.market


def run_update(relay, number: int) -> list[dict]:
    relay.apply(lambda ctx: relay.market.NextCreditUpdate.set(ctx.state, 0), number)
    return relay.gate(number).named("CreditUpdated")


@pytest.mark.parametrize("credit, coefficient, deliveries", [
    pytest.param(PPM, PPM, [(1000, 1020)], id="within_2_percent_is_perfect"),
    pytest.param(PPM, PPM, [(1000, 979)], id="beyond_2_percent_lowers_credit"),
    pytest.param(PPM, PPM, [(1000, 1500)], id="over_delivery_counts_like_under_delivery"),
    pytest.param(PPM, PPM, [(1000, 0)], id="nothing_delivered_drops_to_zero"),
    pytest.param(PPM, PPM, [(1000, 3000)], id="deviation_beyond_100_percent_is_zero"),
    pytest.param(500_000, 400_000, [(1000, 1000)], id="a_better_day_raises_credit_toward_one"),
    pytest.param(600_000, 700_000, [(1000, 700), (3000, 3000), (1, 0)], id="day_coefficient_is_quantity_weighted"),
    pytest.param(123_457, 333_333, [(7, 3)], id="rounding_matches_the_reference"),
])
def test_credit_update_applies_bridge_credit_to_the_days_deliveries(credit, coefficient, deliveries):
    relay = MarketRelay(credit_update_periods=EVERY, credits=[(WHO, credit)], coefficients=[(WHO, coefficient)])
    scored_day(relay, deliveries, 11)
    (event,) = run_update(relay, 12)
    expected = apply_daily_credit(CreditState(credit, coefficient), [Delivery(c, a) for c, a in deliveries])
    assert (event["credit"], event["coefficient"], event["previous"]) == (expected.credit, expected.coefficient, credit)
    state = relay.overlay()
    assert relay.market.credit(state, WHO) == expected.credit
    assert relay.market.credit_book.coefficient(state, WHO) == expected.coefficient


def test_the_next_day_starts_from_the_stored_coefficient():
    relay = MarketRelay(credit_update_periods=EVERY)
    days = [[(1000, 500)], [(1000, 500)], [], [(1000, 1000)]]
    expected = CreditState(PPM)
    for day, deliveries in enumerate(days):
        scored_day(relay, deliveries, 11 + 2 * day)
        events = run_update(relay, 12 + 2 * day)
        expected = apply_daily_credit(expected, [Delivery(c, a) for c, a in deliveries])
        assert len(events) == (1 if deliveries else 0)  # a day without deliveries changes nothing
        assert relay.market.credit(relay.overlay(), WHO) == expected.credit
        assert relay.market.credit_book.coefficient(relay.overlay(), WHO) == expected.coefficient
    assert expected.credit not in (0, PPM)


def test_falling_below_and_returning_above_the_threshold_is_an_event():
    relay = MarketRelay(credit_update_periods=EVERY, credits=[(WHO, DEFAULT_EXCLUSION_THRESHOLD)], coefficients=[(WHO, 500_000)])
    scored_day(relay, [(1000, 400)], 11)
    relay.apply(lambda ctx: relay.market.NextCreditUpdate.set(ctx.state, 0), 12)
    assert relay.gate(12).named("ExclusionChanged") == [{"who": WHO, "excluded": True}]
    assert relay.market.credit(relay.overlay(), WHO) < DEFAULT_EXCLUSION_THRESHOLD
    scored_day(relay, [(1000, 1000)], 14)
    relay.apply(lambda ctx: relay.market.NextCreditUpdate.set(ctx.state, 0), 15)
    assert relay.gate(15).named("ExclusionChanged") == [{"who": WHO, "excluded": False}]
    assert relay.market.credit(relay.overlay(), WHO) >= DEFAULT_EXCLUSION_THRESHOLD


# -- refusals ------------------------------------------------------------------------------------

def _delivery(**overrides) -> bytes:
    fields = {"owner": WHO, "period": 7, "sold": 500, "bought": 0, "exported": 490, "imported": 0, **overrides}
    return encode_market_message("Delivery", **fields)


@pytest.fixture
def booked():
    """A relay with one contract: Charlie sold 500 on DG in period 7."""
    relay = MarketRelay(credit_update_periods=EVERY)
    relay.apply(lambda ctx: relay.market.Contracts.set(ctx.state, DG, WHO, 7, (500, 0)), 3)
    return relay


def refused_whole(relay, source: int, message: bytes):
    before = market_state(relay)
    applied = relay.apply(lambda ctx: relay.router.handlers.dispatch(ctx, source, 0, message), 4)
    (failed,) = applied.named("MessageFailed")
    assert market_state(relay) == before and not applied.named("DeliveryReceived")
    return failed["error"].decode()


@pytest.mark.parametrize("message, reason", [
    pytest.param(_delivery(period=8), "no committed contract", id="unknown_period"),
    pytest.param(_delivery(owner=bytes(32)), "no committed contract", id="unknown_aggregator"),
    pytest.param(_delivery(sold=499), "committed trades give sold 500", id="contract_shrunk"),
    pytest.param(_delivery(sold=500, bought=1), "committed trades give sold 500, bought 0", id="contract_grown"),
])
def test_delivery_refused_if_it_names_no_contract_the_relay_committed(booked, message, reason):
    assert reason in refused_whole(booked, DG, message)


def test_delivery_refused_if_another_chain_reports_the_contract(booked):
    assert "no committed contract" in refused_whole(booked, DEMAND, _delivery())


def test_delivery_refused_if_it_is_replayed(booked):
    applied = booked.apply(lambda ctx: booked.router.handlers.dispatch(ctx, DG, 0, _delivery()), 4)
    assert applied.named("DeliveryReceived")
    assert booked.market.DayDeliveries.get(booked.overlay(), WHO) == [(500, 490)]
    assert "already delivered" in refused_whole(booked, DG, _delivery())
    assert booked.market.DayDeliveries.get(booked.overlay(), WHO) == [(500, 490)]


def _raw(kind: str, **fields) -> bytes:
    return MarketMessage.encode({kind: fields})  # bypasses encode_market_message's checks


HOSTILE = [
    pytest.param(_delivery()[1:] + b"\x00", id="trailing_byte"),
    pytest.param(_delivery()[1:-1], id="truncated"),
    pytest.param(_raw("Delivery", owner=WHO, period=7, sold=0, bought=0, exported=5, imported=0), id="no_contract_side"),
    pytest.param(b"\x03" + bytes(31), id="short_owner"),
    pytest.param(b"\x05" + _delivery()[2:], id="unknown_kind"),
]


@pytest.mark.parametrize("body", HOSTILE)
def test_malformed_delivery_is_refused_with_a_typed_error_and_no_state_change(booked, body):
    with pytest.raises(MalformedMarketMessage):
        decode_market_message(body)
    with pytest.raises(MalformedMarketMessage):
        booked.apply(lambda ctx: booked.market._on_upward(ctx, DG, 0, body), 4)
    refused_whole(booked, DG, bytes((2,)) + body)


def test_unknown_delivery_is_a_typed_refusal(booked):
    with pytest.raises(DeliveryRefused):
        booked.apply(lambda ctx: booked.market._on_upward(ctx, DG, 0, _delivery(period=9)[1:]), 4)


def test_the_relay_takes_no_credit_message_from_a_chain(booked):
    assert "does not take Credit" in refused_whole(booked, DG, encode_market_message("Credit", who=WHO, credit=0))


def _para_refuses(para, source: int, body: bytes) -> str:
    orders = para.orders.Credit.prefix[:16]  # everything Orders keeps
    before = {k: v for k, v in para.state.items() if k.startswith(orders)}
    applied = para.apply(lambda ctx: para.messaging.handlers.dispatch(ctx, source, 0, body))
    (failed,) = applied.named("MessageFailed")
    assert {k: v for k, v in para.state.items() if k.startswith(orders)} == before
    assert not applied.named("CreditReceived") and not applied.named("CreditSet")
    return failed["error"].decode()


@pytest.mark.parametrize("source, body, reason", [
    pytest.param(RELAY_CHAIN, bytes((2,)) + _raw("Credit", who=WHO, credit=PPM + 1), "ppm", id="credit_beyond_ppm"),
    pytest.param(RELAY_CHAIN, encode_market_message("Credit", who=WHO, credit=5)[:-1], "malformed", id="truncated"),
    pytest.param(DEMAND, encode_market_message("Credit", who=WHO, credit=0), "come from the relay", id="from_a_parachain"),
    pytest.param(RELAY_CHAIN, _delivery(), "does not take Delivery", id="delivery_sent_down"),
])
def test_a_parachain_refuses_hostile_credit_messages_whole(source, body, reason):
    para = MeteredPara(DG)
    assert reason in _para_refuses(para, source, body)


# -- genesis -------------------------------------------------------------------------------------

@pytest.mark.parametrize("section, problem", [
    ({"credit_update_periods": 0}, "credit_update_periods must be an integer"),
    ({"credit_update_periods": 2**32}, "credit_update_periods must be an integer"),
    ({"credit_update_periods": "24"}, "credit_update_periods must be an integer"),
    ({"period_ms": 7 * 60_000}, "does not divide a day"),
    ({"coefficients": [(WHO, PPM + 1)]}, "genesis coefficient"),
    ({"coefficients": [(b"short", 5)]}, "genesis coefficient"),
])
def test_bad_credit_genesis_is_refused_with_a_typed_error(section, problem):
    with pytest.raises(InvalidCreditConfig, match=problem):
        RelayHarness(genesis={"Market": section})


def test_the_update_defaults_to_a_day_of_periods():
    for period_ms, periods in ((HOUR, 24), (15 * 60_000, 96)):
        relay = RelayHarness(genesis={"Market": {"period_ms": period_ms}})
        assert relay.runtime.pallet("Market").CreditConfig.get(relay.overlay()) == {"update_periods": periods}
    relay = RelayHarness(genesis={"Market": {"period_ms": 7 * 60_000, "credit_update_periods": 3}})
    assert relay.runtime.pallet("Market").CreditConfig.get(relay.overlay()) == {"update_periods": 3}
