"""The bridge on the relay (`relay.market`) with real parachain runtimes at both ends.

Orders placed on demand and DG go up as anchored messages; the relay's auction at the gate gives
the offline engine's trades; every leg comes back down, is applied on its chain, and is recorded
as applied when the chain's watermark passes it; the supply invariant holds at every step; a
period not committed by its deadline refunds every escrow; malformed or hostile market messages
are refused whole.
"""

from __future__ import annotations

import pytest

from bridge.auction import run_auction
from bridge.messages import MalformedMarketMessage, encode_market_message
from bridge.orders import Order, Side
from bridge.tariff import Tariff
from node.pallets.messaging import chain_heads
from node.runtime.errors import DispatchError
from node.runtime.pallet import ROOT, Origin
from relay.market import APPLIED, COMMITTED, GRID_ACCOUNT, MARKET_ACCOUNT, PENDING, REFUNDED, ROUND_GRID, SENT
from relay.primitives import CandidateCommitments, OutboundBatch
from relay.router import RELAY_CHAIN
from relay.xtransfers import sovereign_account
from tests.relay.harness import ENDOWMENT, RelayHarness
from tests.xchain.world import CHANNELS, DEMAND, DG, ISSUANCE, Para, Relay, para_genesis, rejects
from node.primitives.keys import dev_keypair
from node.rpc.errors import RpcError
from node.service.market_rpc import MarketRpc

PERIOD, FIRST_BLOCK, PERIOD_BLOCKS, GATE_OFFSET, DEADLINE = 1, 20, 10, 2, 3
GATE = FIRST_BLOCK - GATE_OFFSET  # period 1 starts at relay block 20
G = 10**9  # prices in planck per kWh
TARIFF = Tariff(200 * G, 50 * G)


class MarketRelay(Relay):
    """`world.Relay` with a Market genesis on a short schedule."""

    def __init__(self, balances: tuple = (), **market):
        """``balances``: more genesis accounts; ``market``: more Market genesis keys (or replacements)."""
        keys = (dev_keypair("Alice"), dev_keypair("Bob"))
        RelayHarness.__init__(self, genesis={
            "Router": {"channels": CHANNELS},
            "Balances": {"balances": [(k.public_key, ENDOWMENT) for k in keys]
                         + [(sovereign_account(p), ISSUANCE) for p in (DEMAND, DG)] + list(balances)},
            "Market": {"period_blocks": PERIOD_BLOCKS, "gate_offset_blocks": GATE_OFFSET, "deadline_blocks": DEADLINE,
                       "first_period": 0, "first_block": FIRST_BLOCK - PERIOD_BLOCKS,
                       "tariff": [(0, 0, TARIFF.grid_sale, TARIFF.grid_purchase)], **market},
        })
        self.router = self.runtime.pallet("Router")
        self.xtransfers = self.runtime.pallet("XTransfers")
        self.balances = self.runtime.pallet("Balances")
        self.market = self.runtime.pallet("Market")
        self.block()

    def include_at(self, number: int, para_id: int, commitments: CandidateCommitments):
        def run(ctx):
            routed = self.router.include(ctx.state, para_id, commitments)
            self.router.dispatch(ctx, routed, commitments)
        return self.apply(run, number)

    def gate(self, number: int):
        return self.apply(self.market.on_finalize, number)

    def trades(self, period: int = PERIOD) -> list[dict]:
        return [t for _, t in self.market.period_trades(self.overlay(), period)]


class MarketPara(Para):
    """A `world.Para` whose Alice and Bob are registered aggregators of the chain's kind;
    ``devices``: Registry genesis entries for their meters."""

    def __init__(self, para_id: int, devices=()):
        super().__init__(para_id)
        kind = "load" if para_id == DEMAND else "pv"
        genesis = para_genesis()
        genesis["Registry"] = {"aggregators": [{"account": k.public_key, "kind": kind, "capacity": 10**9}
                                               for k in (self.alice, self.bob)], "devices": list(devices)}
        self.state = self.runtime.build_genesis(genesis)
        self.orders = self.runtime.pallet("Orders")

    def place(self, who, side: str, quantity: int, price: int, reserve: int, period: int = PERIOD):
        return self.apply(self.signed(who, "Orders", "place_order", side=side, quantity_10wh=quantity, price=price,
                                      reserve=reserve, period=period))

    def order(self, order_id: int) -> dict:
        return self.orders.order(self.overlay(), order_id)

    def reserved(self, who) -> int:
        return self.balances.reserved_balance(self.overlay(), who.public_key)

    def issuance(self) -> int:
        return self.balances.TotalIssuance.get(self.overlay())


@pytest.fixture
def world():
    return MarketRelay(), MarketPara(DEMAND), MarketPara(DG)


def send_up(relay: MarketRelay, para: MarketPara, applied, number: int = 2):
    return relay.include_at(number, para.para_id, para.commitments(applied))


def deliver(relay: MarketRelay, para: MarketPara, number: int):
    """Para imports relay block ``number`` with every relay message waiting for it, and its
    candidate is included in relay block ``number`` + 1."""
    snapshot = relay.finalize(number)
    waiting = relay.router.Heads.get(relay.overlay(), RELAY_CHAIN, para.para_id)["count"] - para.watermark(RELAY_CHAIN)
    applied = para.import_relay(snapshot, deliver=[(RELAY_CHAIN, waiting)] if waiting else [])
    relay.include_at(number + 1, para.para_id, para.commitments(applied))
    return applied


def assert_supply(relay: MarketRelay, *paras: MarketPara) -> None:
    for para in paras:
        assert relay.free(sovereign_account(para.para_id)) == para.issuance()


def place_book(demand: MarketPara, dg: MarketPara, relay: MarketRelay):
    """Alice buys 10 kWh on demand; Alice and Bob sell on DG (the second only at its reserve)."""
    send_up(relay, demand, demand.place(demand.alice, "Buy", 1000, 100 * G, 150 * G))
    send_up(relay, dg, dg.place(dg.alice, "Sell", 600, 80 * G, 60 * G))
    send_up(relay, dg, dg.place(dg.bob, "Sell", 500, 300 * G, 40 * G))
    return [Order(Side.BUY, 1000, 100 * G, 150 * G, PERIOD, demand.alice.public_key, DEMAND),
            Order(Side.SELL, 600, 80 * G, 60 * G, PERIOD, dg.alice.public_key, DG),
            Order(Side.SELL, 500, 300 * G, 40 * G, PERIOD, dg.bob.public_key, DG)]


def test_a_periods_book_gives_the_offline_engines_trades(world):
    relay, demand, dg = world
    orders = place_book(demand, dg, relay)
    assert relay.market.period(relay.overlay(), PERIOD)["orders"] == 3
    relay.gate(GATE)
    expected = run_auction(orders, period=PERIOD, tariff=TARIFF, credits={o.owner: 10**6 for o in orders})
    trades = relay.trades()
    peer = [(t["round"], t["buyer"], t["seller"], t["quantity"], t["price"]) for t in trades if t["round"] != ROUND_GRID]
    assert peer == [(t.round, t.buyer, t.seller, t.quantity, t.price) for t in expected.trades]
    grid = [(t["seller"], t["quantity"], t["price"]) for t in trades if t["round"] == ROUND_GRID]
    assert grid == [(g.owner, g.quantity, g.price) for g in expected.grid]  # the auction's price, clamped or not
    assert relay.market.period(relay.overlay(), PERIOD)["status"] == COMMITTED


def test_every_leg_is_applied_on_both_chains_and_supply_is_kept(world):
    relay, demand, dg = world
    place_book(demand, dg, relay)
    alice_demand = demand.free(demand.alice) + demand.reserved(demand.alice)  # before the escrow
    alice_dg, bob_dg = dg.free(dg.alice), dg.free(dg.bob)
    grid_before = relay.free(GRID_ACCOUNT)
    relay.gate(GATE)
    assert_supply(relay, demand, dg)
    deliver(relay, dg, GATE + 1)  # the grid purchase: minted to Bob
    deliver(relay, demand, GATE + 3)  # both buy legs burn on demand; the sell legs follow to DG
    assert_supply(relay, demand, dg)
    deliver(relay, dg, GATE + 5)
    assert_supply(relay, demand, dg)
    trades = relay.trades()
    assert [(t["buyer_status"], t["seller_status"]) for t in trades] == [(APPLIED, APPLIED)] * 3
    r1, r2, grid = trades
    assert demand.free(demand.alice) == alice_demand - r1["value"] - r2["value"]
    assert demand.reserved(demand.alice) == 0 and demand.order(0)["status"] == "Filled"
    assert dg.free(dg.alice) == alice_dg + r1["value"]
    assert dg.free(dg.bob) == bob_dg + r2["value"] + grid["value"]
    assert relay.free(GRID_ACCOUNT) == grid_before - grid["value"]
    assert relay.free(MARKET_ACCOUNT) == relay.balances.existential_deposit


def test_a_period_not_committed_by_its_deadline_refunds_every_escrow(world):
    relay, demand, dg = world
    place_book(demand, dg, relay)
    assert demand.reserved(demand.alice) > 0
    relay.apply(lambda ctx: relay.runtime.dispatch(ctx, ROOT, {"Market": {"set_paused": {"paused": True}}}), 3)
    relay.gate(GATE)
    assert relay.market.period(relay.overlay(), PERIOD)["status"] != REFUNDED and relay.trades() == []
    relay.gate(GATE + DEADLINE)
    assert relay.market.period(relay.overlay(), PERIOD)["status"] == REFUNDED
    deliver(relay, demand, GATE + DEADLINE + 1)
    deliver(relay, dg, GATE + DEADLINE + 3)
    assert demand.reserved(demand.alice) == 0
    assert [demand.order(0)["status"], dg.order(0)["status"], dg.order(1)["status"]] == ["Refunded"] * 3
    assert relay.trades() == []
    assert_supply(relay, demand, dg)


def test_an_order_anchored_after_the_gate_is_refunded(world):
    relay, demand, _ = world
    applied = demand.place(demand.alice, "Buy", 1000, 100 * G, 150 * G)
    included = send_up(relay, demand, applied, number=GATE + 1)
    assert included.named("OrderRejected")
    assert relay.market.period(relay.overlay(), PERIOD) is None
    deliver(relay, demand, GATE + 2)
    assert demand.order(0)["status"] == "Refunded" and demand.reserved(demand.alice) == 0


def test_a_linked_chains_order_cannot_be_cancelled_locally(world):
    _, demand, _ = world
    demand.place(demand.alice, "Buy", 1000, 100 * G, 150 * G)
    with pytest.raises(Exception) as raised:
        demand.apply(demand.signed(demand.alice, "Orders", "cancel_order", order_id=0))
    assert raised.value.error == "InBridgeAuction"


def market_state(relay: MarketRelay) -> dict:
    prefix = relay.market.Config.prefix[:16]
    return {k: v for k, v in relay.state.items() if k.startswith(prefix)}


@pytest.mark.parametrize("body", [b"", b"\xff", b"\x00\x01", encode_market_message("Refund", order_id=0)[1:],
                                  encode_market_message("Order", order_id=0, owner=bytes(32), side="Buy", quantity=1,
                                                        price=1, reserve=1, period=1)[1:] + b"\x00"])
def test_malformed_market_message_is_refused_with_a_typed_error_and_no_state_change(world, body):
    relay, _, _ = world
    with pytest.raises(MalformedMarketMessage):
        relay.apply(lambda ctx: relay.market._on_upward(ctx, DEMAND, 0, body))
    before = market_state(relay)
    applied = relay.apply(lambda ctx: relay.router.handlers.dispatch(ctx, DEMAND, 0, bytes((2,)) + body))
    assert applied.named("MessageFailed") and market_state(relay) == before


def test_an_order_id_used_twice_is_refused_whole(world):
    relay, demand, _ = world
    send_up(relay, demand, demand.place(demand.alice, "Buy", 1000, 100 * G, 150 * G))
    before = market_state(relay)
    again = encode_market_message("Order", order_id=0, owner=demand.bob.public_key, side="Buy", quantity=5,
                                  price=G, reserve=G, period=PERIOD)
    applied = relay.apply(lambda ctx: relay.router.handlers.dispatch(ctx, DEMAND, 1, again))
    assert applied.named("MessageFailed") and market_state(relay) == before


class _Chain:
    def __init__(self, relay):
        self.relay = relay
        self.finalized = type("Head", (), {"hash": b"best", "number": relay.number})()

    def state_at(self, _hash):
        return self.relay.state


def test_settlements_are_queryable_with_leg_status_per_chain(world):
    relay, demand, dg = world
    place_book(demand, dg, relay)
    relay.gate(GATE)
    deliver(relay, demand, GATE + 1)
    node = type("Node", (), {"config": type("Config", (), {"runtime": relay.runtime})(), "chain": _Chain(relay)})()
    rpc = MarketRpc(node)
    first = rpc.settlement(0)
    assert first["legs"] == {str(DEMAND): {"side": "buy", "status": "Applied"}, str(DG): {"side": "sell", "status": "Sent"}}
    period = rpc.trades(PERIOD)
    assert period["status"] == "Committed" and [t["tradeId"] for t in period["trades"]] == [0, 1, 2]
    assert period["trades"][2]["legs"] == {"0": {"side": "buy", "status": "Applied"}, str(DG): {"side": "sell", "status": "Sent"}}
    with pytest.raises(RpcError):
        rpc.settlement(99)
    assert first["xi"] == 500_000  # equal credits
    assert rpc.summary() == {"trades": 3, "settled": 0, "legs": {"Pending": 0, "Sent": 3, "Applied": 3}}
    schedule = rpc.schedule()
    assert schedule["anchor"] == {"period": 0, "block": FIRST_BLOCK - PERIOD_BLOCKS}
    assert (schedule["periodBlocks"], schedule["gateOffsetBlocks"], schedule["deadlineBlocks"]) == (PERIOD_BLOCKS, GATE_OFFSET, DEADLINE)
    assert schedule["tariff"] == [[0, 0, str(TARIFF.grid_sale), str(TARIFF.grid_purchase)]]


def test_without_a_genesis_anchor_the_first_block_anchors_periods_to_the_compressed_clock():
    relay = RelayHarness(genesis={"Market": {"period_blocks": 3, "gate_offset_blocks": 1, "compression": 1200}})
    relay.block()  # block 1 at t = 1,001,000 ms: market time 1,201,200,000 ms, period 333 + 2,400,000 ms
    market, state = relay.runtime.pallet("Market"), relay.overlay()
    # the next market hour starts 1,200,000 market ms later: 1 s of clock, one relay block
    assert market.Anchor.get(state) == (334, 2)


@pytest.mark.parametrize("section, problem", [
    ({"compression": 0}, "compression is at least 1"),
    ({"period_ms": 90_000}, "whole minutes"),
    ({"period_blocks": 2, "gate_offset_blocks": 2}, "longer than its gate offset"),
])
def test_bad_market_genesis_is_refused_with_the_problem(section, problem):
    with pytest.raises(ValueError, match=problem):
        RelayHarness(genesis={"Market": section})


def test_the_operator_sets_a_credit_that_the_next_auction_uses(world):
    relay, demand, dg = world
    who = dg.alice.public_key
    relay.apply(lambda ctx: relay.runtime.dispatch(ctx, ROOT, {"Market": {"set_credit": {"who": who, "credit": 657_000}}}), 3)
    assert relay.market.credit(relay.overlay(), who) == 657_000


@pytest.mark.parametrize("origin, credit, error", [("signed", 500_000, "BadOrigin"), ("root", 1_000_001, "InvalidCredit")])
def test_set_credit_is_refused_without_root_or_outside_ppm_and_changes_nothing(world, origin, credit, error):
    relay, demand, dg = world
    who = dg.alice.public_key
    call = {"Market": {"set_credit": {"who": who, "credit": credit}}}
    by = Origin.signed(who) if origin == "signed" else ROOT
    dispatch = lambda ctx: relay.runtime.dispatch(ctx, by, call)  # noqa: E731
    before = relay.market.Credit.get(relay.overlay(), who)
    with pytest.raises(DispatchError, match=error):
        relay.apply(dispatch, 3)
    assert relay.market.Credit.get(relay.overlay(), who) == before is None


def test_grid_supply_above_the_buyers_reserve_keeps_the_auction_price_and_charges_the_reserve(world):
    relay, demand, dg = world
    send_up(relay, demand, demand.place(demand.alice, "Buy", 1000, 100 * G, 150 * G))  # λ_grid is 200 G
    before = demand.free(demand.alice) + demand.reserved(demand.alice)
    grid_before = relay.free(GRID_ACCOUNT)
    relay.gate(GATE)
    deliver(relay, demand, GATE + 1)
    [trade] = relay.trades()
    assert (trade["round"], trade["price"], trade["value"]) == (ROUND_GRID, TARIFF.grid_sale, 1000 * 150 * G // 100)
    assert demand.free(demand.alice) == before - trade["value"] and demand.reserved(demand.alice) == 0
    assert relay.free(GRID_ACCOUNT) == grid_before + trade["value"]
    assert_supply(relay, demand)


def test_a_credit_set_after_an_owners_first_order_arrived_does_not_change_that_periods_auction(world):
    relay, demand, dg = world
    orders = place_book(demand, dg, relay)
    who = dg.alice.public_key
    relay.apply(lambda ctx: relay.runtime.dispatch(ctx, ROOT, {"Market": {"set_credit": {"who": who, "credit": 400_000}}}), 3)
    relay.gate(GATE)
    expected = run_auction(orders, period=PERIOD, tariff=TARIFF, credits={o.owner: 10**6 for o in orders})
    assert [(t["price"], t["xi"]) for t in relay.trades()[:len(expected.trades)]] == [(t.price, t.xi) for t in expected.trades]
    assert relay.market.PeriodCredits.get(relay.overlay(), PERIOD, who) is None  # dropped with the book


def test_a_seller_with_an_open_order_cannot_empty_its_account_so_its_payment_always_lands(world):
    """Were Bob's account reaped, his payment (below the existential deposit) could not be
    minted to it: the leg would fail on DG after the buyer's chain burned, and the relay would
    still move the value to DG's sovereign account — one leg without the other."""
    relay, demand, dg = world
    send_up(relay, demand, demand.place(demand.alice, "Buy", 1, 100 * G, 150 * G))
    send_up(relay, dg, dg.place(dg.bob, "Sell", 1, 60 * G, 40 * G))
    rejects(dg, "Balances", "Expendability",
            dg.signed(dg.bob, "Balances", "transfer_all", dest={"Id": dg.alice.public_key}, keep_alive=False))
    bob = dg.free(dg.bob)
    relay.gate(GATE)
    (trade,) = relay.trades()
    assert trade["value"] < dg.balances.existential_deposit
    deliver(relay, demand, GATE + 1)
    applied = deliver(relay, dg, GATE + 3)
    assert not applied.named("MessageFailed")
    assert dg.order(0)["status"] == "Filled" and dg.free(dg.bob) == bob + trade["value"]
    assert (relay.trades()[0]["buyer_status"], relay.trades()[0]["seller_status"]) == (APPLIED, APPLIED)
    assert_supply(relay, demand, dg)


def test_a_buyer_with_escrow_cannot_be_reaped_so_its_burn_always_applies(world):
    """An escrow below the existential deposit would go with a reaped account (dust), and the
    buy leg would fail while the relay moved its value on to the seller's chain."""
    relay, demand, dg = world
    send_up(relay, demand, demand.place(demand.alice, "Buy", 1, 90 * G, 99 * G))
    assert 0 < demand.reserved(demand.alice) < demand.balances.existential_deposit
    rejects(demand, "Balances", "Expendability",
            demand.signed(demand.alice, "Balances", "transfer_all", dest={"Id": demand.bob.public_key}, keep_alive=False))
    send_up(relay, dg, dg.place(dg.bob, "Sell", 1, 60 * G, 40 * G))
    relay.gate(GATE)
    deliver(relay, demand, GATE + 1)
    deliver(relay, dg, GATE + 3)
    assert demand.order(0)["status"] == "Filled" and demand.reserved(demand.alice) == 0
    assert [(t["buyer_status"], t["seller_status"]) for t in relay.trades()] == [(APPLIED, APPLIED)]
    assert_supply(relay, demand, dg)


def test_a_grid_operator_without_an_account_is_refused_at_genesis():
    """It would be paid for grid supply out of the buyer chain's sovereign account; a payment
    below the existential deposit to a missing account fails after the buyer's chain burned."""
    with pytest.raises(ValueError, match="grid operator"):
        MarketRelay(grid_operator=b"nobody".ljust(32, b"\0"))


def test_the_grid_operator_cannot_be_reaped_so_grid_supply_payments_always_land():
    operator = dev_keypair("Charlie")
    relay = MarketRelay(balances=[(operator.public_key, ENDOWMENT)], grid_operator=operator.public_key)
    demand, dg = MarketPara(DEMAND), MarketPara(DG)
    rejects(relay, "Balances", "Expendability",
            relay.signed(operator, "Balances", "transfer_all", dest={"Id": dev_keypair("Alice").public_key},
                         keep_alive=False))
    send_up(relay, demand, demand.place(demand.alice, "Buy", 1, 90 * G, 99 * G))  # the grid supplies it below the ED
    relay.gate(GATE)
    deliver(relay, demand, GATE + 1)
    (trade,) = relay.trades()
    assert trade["value"] < relay.balances.existential_deposit and trade["seller"] == operator.public_key
    assert relay.free(operator.public_key) == ENDOWMENT + trade["value"]
    assert_supply(relay, demand, dg)


def test_committed_legs_go_straight_down_when_their_channel_has_room(world):
    relay, demand, dg = world
    place_book(demand, dg, relay)
    relay.gate(GATE)
    r1, r2, grid = relay.trades()
    # the buy legs and the grid purchase's mint are in their channels, not in the outbox; the
    # cross-chain sell legs wait for the buyer's chain to burn
    assert [(t["buyer_status"], t["seller_status"]) for t in (r1, r2, grid)] == [(SENT, PENDING), (SENT, PENDING), (APPLIED, SENT)]
    state = relay.overlay()
    assert all(relay.market.OutboxRange.get(state, dest) == (0, 0) for dest in (DEMAND, DG))
    assert relay.router.Heads.get(state, RELAY_CHAIN, DEMAND)["count"] == 2
    assert relay.router.Heads.get(state, RELAY_CHAIN, DG)["count"] == 1


def test_legs_wait_in_the_outbox_in_order_while_a_channel_is_full_and_all_settle(world):
    relay, demand, dg = world
    place_book(demand, dg, relay)
    relay.apply(lambda ctx: [relay.router.send(ctx, DEMAND, b"\xfe") for _ in range(3)], GATE - 1)  # room for one more
    relay.gate(GATE)
    r1, r2, _ = relay.trades()
    assert (r1["buyer_status"], r2["buyer_status"]) == (SENT, PENDING)  # the second waits behind the first
    assert relay.market.OutboxRange.get(relay.overlay(), DEMAND) == (0, 1)
    deliver(relay, dg, GATE + 1)
    deliver(relay, demand, GATE + 3)  # the filler and r1's leg are processed: r2's leg goes down
    assert relay.trades()[1]["buyer_status"] == SENT
    assert relay.market.OutboxRange.get(relay.overlay(), DEMAND) == (1, 1)
    deliver(relay, demand, GATE + 5)
    deliver(relay, dg, GATE + 7)
    assert [(t["buyer_status"], t["seller_status"]) for t in relay.trades()] == [(APPLIED, APPLIED)] * 3
    assert_supply(relay, demand, dg)
