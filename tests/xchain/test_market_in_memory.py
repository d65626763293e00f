"""Atomicity of the on-chain market under faults (issue 6), on the whole in-memory system.

A relay (4 validators) with a Market on a short schedule and the demand, DG and storage
parachains (2 collators each) with registered aggregators. Orders go in as signed extrinsics;
the relay's auction commits at the gate; the legs go down. While it runs, every finalized relay
block is checked (`MarketChecker`, on top of the transfers' `SupplyChecker`):

- supply: relay issuance + fees burned constant; sovereign(p) == p's issuance + fees burned as
  anchored in that block;
- the market account holds exactly the existential deposit plus the value of cross-chain legs
  in flight (the buyer's chain burned or the grid paid, the seller's chain has not minted yet);
- no sell leg of a cross-chain trade leaves the relay before the buyer's chain has burned;
- every parachain, as anchored in that block, has settled exactly the legs the relay records
  as applied on it: never one leg without the other, never a leg twice.

When everything has settled: the committed trades are `bridge.auction.run_auction` on the
orders in the order the relay received them; every order is filled (or refunded: its period was
not committed, or it arrived after the gate); every balance on every chain is exactly genesis −
fees − what it paid + what it was paid; the market account is back at its deposit; every leg
was applied once (events on the relay and on the chains).

The faults: the buyer chain's collators stopped right after the gate and restarted on their
databases; the operator pausing the market; and a property over random books with collator and
validator outages around the gate, channels of capacity 3 (legs wait in the market's outbox), a
grid operator that cannot pay (the auction deferred to the deadline), orders anchored after the
gate, and owners trying to empty their accounts while their orders are open.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import trio
import trio.testing
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from bridge.auction import run_auction
from bridge.orders import PPM, Order, Side, trade_value
from bridge.tariff import Tariff
from node.cli import DEV_ENDOWMENT
from node.dev_runtime import EXISTENTIAL_DEPOSIT
from node.pallets.transaction_payment import TransactionPayment
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import decode_extrinsic, sign_extrinsic
from node.primitives.keys import dev_keypair
from node.primitives.scale_types import Sequence_
from node.runtime.overlay import StateOverlay
from parachains.periods import PeriodConfig
from relay.market import APPLIED, COMMITTED, GRID_ACCOUNT, MARKET_ACCOUNT, OPEN, PENDING, REFUNDED, SENT
from tests.multinode.harness import virtual_clock_ms
from tests.multinode.multichain import PARA_IDS, MultiChain, submit_everywhere
from tests.xchain.test_transfer_property import POLL_S, SupplyChecker, wait_until

G = 10**9  # prices in planck per kWh
TARIFF = Tariff(200 * G, 50 * G)  # relay.market's default: λ_grid 0.20, λ_0 0.05 token/kWh
GRID_ENDOWMENT = 10**18
# the relay's schedule, in relay blocks: period P starts at FIRST_BLOCK, its gate is GATE
FIRST_BLOCK, PERIOD_BLOCKS, GATE_OFFSET, DEADLINE_BLOCKS = 20, 10, 4, 8
GATE = FIRST_BLOCK - GATE_OFFSET
DEADLINE = GATE + DEADLINE_BLOCKS
CHAINS = ("relay", "demand", "dg", "storage")
CHAIN_ID = {"relay": 0, **PARA_IDS}
CHAIN_NAME = {i: c for c, i in CHAIN_ID.items()}
AGGREGATORS = {  # who trades where, and as what: demand buys, DG sells, storage both
    "demand": {"Alice": {"kind": "load"}, "Bob": {"kind": "load"}},
    "dg": {"Charlie": {"kind": "pv", "capacity": 10**9}, "Dave": {"kind": "pv", "capacity": 10**9}},
    "storage": {"Eve": {"kind": "battery", "capacity": 10**6, "state_of_charge": 5 * 10**5},
                "Ferdie": {"kind": "battery", "capacity": 10**6, "state_of_charge": 5 * 10**5}},
}
SIDES = {"demand": ("Buy",), "dg": ("Sell",), "storage": ("Buy", "Sell")}
SUDO = "Alice"  # the relay's sudo key (dev genesis)


def account(name: str) -> bytes:
    return dev_keypair(name).public_key


def market_system(base: Path, period: int, *, capacity: int = 1024, grid_endowment: int = GRID_ENDOWMENT) -> MultiChain:
    para_genesis = {kind: {"Registry": {"aggregators": [{"account": account(name), **info} for name, info in who.items()]}}
                    for kind, who in AGGREGATORS.items()}
    market = {"period_blocks": PERIOD_BLOCKS, "gate_offset_blocks": GATE_OFFSET, "deadline_blocks": DEADLINE_BLOCKS,
              "first_period": period, "first_block": FIRST_BLOCK, "grid_endowment": grid_endowment,
              "tariff": [(0, 0, TARIFF.grid_sale, TARIFF.grid_purchase)]}
    return MultiChain(base, para_genesis=para_genesis, relay_genesis={"Market": market}, capacity=capacity)


def next_period() -> int:
    """The parachains' next trading period on the virtual clock (its window stays open for
    over half an hour of virtual time: far longer than a run)."""
    return PeriodConfig().current(virtual_clock_ms()) + 1


# -- users: sign, submit, resubmit until finalized ------------------------------------------------

@dataclass(frozen=True, slots=True)
class Placed:
    chain: str
    signer: str
    nonce: int
    data: bytes
    fee: int
    order: dict | None  # the order's fields, None for another call


class Users:
    """Extrinsics go to every running node of their chain, again every poll until a finalized
    block holds their nonce (a stopped collator loses its pool)."""

    def __init__(self, system: MultiChain):
        self.system = system
        self.chains = {c: (system.node(c).config.runtime, system.node(c).executive, system.node(c).chain.genesis_hash)
                       for c in CHAINS}
        self.next_nonce: Counter = Counter()
        self.sent: list[Placed] = []

    def send(self, chain: str, signer: str, call: dict, order: dict | None = None) -> None:
        runtime, executive, genesis_hash = self.chains[chain]
        nonce = self.next_nonce[(chain, signer)]
        self.next_nonce[(chain, signer)] += 1
        v = runtime.version
        data = sign_extrinsic(dev_keypair(signer), runtime.call_type.encode(call), nonce, IMMORTAL, 0, v.spec_version,
                              v.transaction_version, genesis_hash)
        checked = executive.check_format(decode_extrinsic(data))
        self.sent.append(Placed(chain, signer, nonce, data, TransactionPayment.compute_fee(checked.length, checked.info.weight), order))
        self.push()

    def place(self, chain: str, signer: str, side: str, quantity: int, price: int, reserve: int, period: int) -> None:
        order = {"side": side, "quantity": quantity, "price": price, "reserve": reserve, "period": period}
        self.send(chain, signer, {"Orders": {"place_order": {"side": side, "quantity_10wh": quantity, "price": price,
                                                             "reserve": reserve, "period": period}}}, order)

    def finalized_nonce(self, chain: str, signer: str) -> int:
        nodes = self.system.live_nodes(chain)
        system_pallet = self.chains[chain][0].pallet("System")
        return max((system_pallet.account(StateOverlay(n.chain.state_at(n.chain.finalized.hash).get), account(signer)).nonce
                    for n in nodes), default=0)

    def all_in(self) -> bool:
        return all(self.finalized_nonce(c, s) == n for (c, s), n in self.next_nonce.items())

    def push(self) -> None:
        for p in self.sent:
            nodes = self.system.live_nodes(p.chain)
            if not nodes or p.nonce < self.finalized_nonce(p.chain, p.signer):
                continue
            submit_everywhere(nodes, p.data)

    async def run(self) -> None:
        while True:
            await trio.sleep(POLL_S)
            self.push()


# -- the checks at every finalized relay block -------------------------------------------------

class MarketChecker(SupplyChecker):
    """`SupplyChecker` plus the market's own invariants (module doc), and a log of the relay's
    market events."""

    def __init__(self, system: MultiChain, *, deferrals_allowed: bool = False):
        super().__init__(system)
        self.deferrals_allowed = deferrals_allowed
        self.deferred: list[int] = []  # relay blocks where the auction could not run
        runtime = system.node("relay").config.runtime
        self.market = runtime.pallet("Market")
        self.events_key = runtime.pallet("System").Events.key()
        self.records = Sequence_(runtime.event_record_type)
        self.ed = self.balances.existential_deposit
        self.received: dict[int, list[tuple[int, int]]] = {}  # period -> (chain, order id) in arrival order
        self.rejected: list[tuple[int, int]] = []
        self.legs_applied: Counter = Counter()  # (trade id, chain) -> LegApplied events
        self.committed_at: dict[int, int] = {}  # period -> relay block
        self.refunded_at: dict[int, int] = {}
        self.settled_waiting: list[tuple[int, str, bytes, dict]] = []  # (relay number, para, anchored head, settled)
        self.settled_seen: dict[bytes, dict] = {}

    def check_relay_block(self, number: int, view) -> None:
        super().check_relay_block(number, view)
        state = StateOverlay(view.get)
        for record in self.records.decode_all(view.get(self.events_key) or b"\x00"):
            event = record["event"].get("Market")
            if event is None:
                continue
            ((name, f),) = event.items()
            if name == "OrderReceived":
                book = self.received.setdefault(f["period"], [])
                assert f["arrival"] == len(book), f"relay #{number}: arrival {f['arrival']} after {len(book)} orders"
                book.append((f["chain"], f["order_id"]))
            elif name == "OrderRejected":
                self.rejected.append((f["chain"], f["order_id"]))
            elif name == "LegApplied":
                self.legs_applied[(f["trade_id"], f["chain"])] += 1
            elif name == "PeriodCommitted":
                self.committed_at[f["period"]] = number
            elif name == "PeriodRefunded":
                self.refunded_at[f["period"]] = number
            elif name == "AuctionDeferred":
                assert self.deferrals_allowed, f"relay #{number}: the auction could not run: {f}"
                self.deferred.append(number)
            assert name != "SettlementStuck", f"relay #{number}: {f}"
        trades = [self.market.Trades.get(state, i) for i in range(self.market.NextTrade.get(state))]
        in_flight = 0
        settled = {kind: Counter() for kind in PARA_IDS}
        for i, t in enumerate(trades):
            cross = t["buyer_chain"] != t["seller_chain"]
            if cross and t["buyer_status"] == APPLIED and t["seller_status"] != APPLIED:
                in_flight += t["value"]
            if cross and t["buyer_chain"] and t["seller_chain"] and t["seller_status"] != PENDING:
                assert t["buyer_status"] == APPLIED, f"relay #{number}: trade {i}'s sell leg left before the buyer's chain burned: {t}"
            for side in ("buyer", "seller"):
                if t[f"{side}_chain"] and t[f"{side}_status"] == APPLIED:
                    settled[CHAIN_NAME[t[f"{side}_chain"]]][t["buy_order" if side == "buyer" else "sell_order"]] += t["quantity"]
        market_account = self.balances.free_balance(state, MARKET_ACCOUNT)
        assert market_account == self.ed + in_flight, f"relay #{number}: market account {market_account} != ED + {in_flight} in flight"
        for kind, para_id in PARA_IDS.items():
            self.settled_waiting.append((number, kind, self.paras.head_of(state, para_id).head_hash, dict(settled[kind])))

    def check_waiting(self) -> None:
        super().check_waiting()
        still = []
        for number, kind, head_hash, expected in self.settled_waiting:
            found = self.settled_seen.get(head_hash)
            if found is None:
                state = self.system.para_state(kind, head_hash)
                if state is None:
                    still.append((number, kind, head_hash, expected))
                    continue
                found = self.settled_seen[head_hash] = settled_quantities(self.system, kind, state)
            assert found == expected, f"relay #{number}: {kind} as anchored settled {found}, the relay's applied legs say {expected}"
        self.settled_waiting = still


def settled_quantities(system: MultiChain, kind: str, state) -> dict[int, int]:
    """Energy settled per order id on a para (quantity − remaining; a refund leaves it)."""
    orders = system.live_nodes(kind)[0].config.runtime.pallet("Orders")
    found = {}
    for i in range(orders.NextOrderId.get(state)):
        r = orders.order(state, i)
        if r["quantity"] != r["remaining"]:
            found[i] = r["quantity"] - r["remaining"]
    return found


# -- a run --------------------------------------------------------------------------------------

class MarketRun:
    """One system with users and the checker running; the test drives faults through it."""

    def __init__(self, system: MultiChain, period: int, *, grid_endowment: int = GRID_ENDOWMENT):
        self.system, self.period, self.grid_endowment = system, period, grid_endowment

    async def start(self, nursery) -> None:
        await self.system.start(nursery)
        relay = self.system.relay
        await relay.wait_until(lambda: min(relay.finalized().values()) >= 2, timeout_s=60)
        self.users, self.checker = Users(self.system), MarketChecker(self.system, deferrals_allowed=self.grid_endowment != GRID_ENDOWMENT)
        nursery.start_soon(self.users.run)
        nursery.start_soon(self.checker.run)

    def place(self, book) -> None:
        for chain, signer, side, quantity, price, reserve in book:
            self.users.place(chain, signer, side, quantity, price * G, reserve * G, self.period)

    def pause(self) -> None:
        self.users.send("relay", SUDO, {"Sudo": {"sudo": {"call": {"Market": {"set_paused": {"paused": True}}}}}})

    def relay_best(self) -> int:
        return max(n.chain.best.number for n in self.system.live_nodes("relay"))

    async def until_relay_best(self, number: int, timeout_s: float = 120) -> None:
        with trio.fail_after(timeout_s):
            while self.relay_best() < number:
                await trio.sleep(0.05)  # react within a fraction of a relay block

    def checked_through(self, number: int) -> bool:
        """Has the checker checked every finalized relay block up to ``number``?"""
        self.checker.step()
        return self.checker.checked >= number

    def relay_state(self) -> StateOverlay:
        """The relay's state at the last block the checker has checked."""
        self.checker.step()
        return StateOverlay(self.checker.relay_view(self.checker.checked).get)

    def trades(self, state) -> list[dict]:
        return [t for _, t in self.checker.market.period_trades(state, self.period)]

    async def settle(self, timeout_s: float = 150) -> "Outcome":
        outcome = None

        def settled() -> bool:
            nonlocal outcome
            if any(len(self.system.live_nodes(c)) != len(self.system.cluster(c).names) for c in CHAINS):
                return False
            outcome = Outcome(self)
            return (outcome.complete() and self.users.all_in() and outcome.period_status() in (COMMITTED, REFUNDED)
                    and all((t["buyer_status"], t["seller_status"]) == (APPLIED, APPLIED) for t in outcome.trades)
                    and not any(r["status"] == "Open" for r in outcome.orders.values())
                    and not self.checker.waiting and not self.checker.settled_waiting)

        try:
            await wait_until(settled, timeout_s)
        except trio.TooSlowError:
            raise AssertionError(f"not settled after {timeout_s} s: {outcome and outcome.describe()}") from None
        return outcome


class Outcome:
    """The relay at the checker's last block and every para as anchored there."""

    def __init__(self, run: MarketRun):
        self.run, self.system, self.checker = run, run.system, run.checker
        self.relay = run.relay_state()
        self.states = {"relay": self.relay}
        for kind, para_id in PARA_IDS.items():
            self.states[kind] = self.system.para_state(kind, self.checker.paras.head_of(self.relay, para_id).head_hash)
        self.trades = run.trades(self.relay)
        self.orders = {}  # (chain id, order id) -> record
        if self.complete():
            for kind in PARA_IDS:
                orders = self.runtime(kind).pallet("Orders")
                for i in range(orders.NextOrderId.get(self.states[kind])):
                    self.orders[(CHAIN_ID[kind], i)] = orders.order(self.states[kind], i)

    def complete(self) -> bool:
        return all(state is not None for state in self.states.values())

    def runtime(self, chain: str):
        return self.system.live_nodes(chain)[0].config.runtime

    def period_status(self) -> int:
        info = self.checker.market.period(self.relay, self.run.period)
        return OPEN if info is None else info["status"]

    def balance(self, chain: str, who: bytes) -> tuple[int, int]:
        balances = self.runtime(chain).pallet("Balances")
        return balances.free_balance(self.states[chain], who), balances.reserved_balance(self.states[chain], who)

    def describe(self) -> str:
        return (f"period status {self.period_status()}, trades {[(t['buyer_status'], t['seller_status']) for t in self.trades]}, "
                f"open orders {[k for k, r in self.orders.items() if r['status'] == 'Open']}, users all in {self.run.users.all_in()}, "
                f"checks waiting {len(self.checker.waiting)}/{len(self.checker.settled_waiting)}, complete {self.complete()}")


def expected_trades(outcome: Outcome) -> list[dict]:
    """`run_auction` on the period's orders in the order the relay received them, as trade
    records (a grid trade records the auction's price and settles within the order's reserve:
    relay.market's decision)."""
    book = outcome.checker.received.get(outcome.run.period, [])
    records = [outcome.orders[key] for key in book]
    orders = [Order(Side.BUY if r["side"] == "Buy" else Side.SELL, r["quantity"], r["price"], r["reserve"], outcome.run.period,
                    r["owner"], chain) for (chain, _), r in zip(book, records)]
    result = run_auction(orders, period=outcome.run.period, tariff=TARIFF, credits={o.owner: PPM for o in orders})
    out = []
    for t in result.trades:
        out.append({"round": t.round, "buyer": t.buyer, "buyer_chain": book[t.buy][0], "buy_order": book[t.buy][1],
                    "seller": t.seller, "seller_chain": book[t.sell][0], "sell_order": book[t.sell][1],
                    "quantity": t.quantity, "price": t.price, "value": trade_value(t.quantity, t.price), "xi": t.xi})
    for g in result.grid:
        chain, order_id = book[g.order]
        if g.side is Side.BUY:
            price = min(g.price, orders[g.order].reserve)
            parties = {"buyer": g.owner, "buyer_chain": chain, "buy_order": order_id,
                       "seller": GRID_ACCOUNT, "seller_chain": 0, "sell_order": None}
        else:
            price = max(g.price, orders[g.order].reserve)
            parties = {"buyer": GRID_ACCOUNT, "buyer_chain": 0, "buy_order": None,
                       "seller": g.owner, "seller_chain": chain, "sell_order": order_id}
        out.append({"round": 0, **parties, "quantity": g.quantity, "price": g.price, "value": trade_value(g.quantity, price), "xi": 0})
    return out


def leg_events(system: MultiChain, kind: str) -> tuple[Counter, Counter]:
    """(LegApplied per trade id, OrderReleased per order id) over ``kind``'s finalized chain."""
    node = system.live_nodes(kind)[0]
    records = Sequence_(node.config.runtime.event_record_type)
    key = node.config.runtime.pallet("System").Events.key()
    legs, released = Counter(), Counter()
    for n in range(1, node.chain.finalized.number + 1):
        for record in records.decode_all(node.chain.state_at(node.chain.hash_at(n)).get(key) or b"\x00"):
            event = record["event"].get("MarketLink")
            if event is None:
                continue
            ((name, f),) = event.items()
            if name == "LegApplied":
                legs[f["trade_id"]] += 1
            elif name == "OrderReleased":
                released[f["order_id"]] += 1
    return legs, released


def check_outcome(outcome: Outcome) -> dict:
    """Everything the module doc promises once settled; a tally of what happened."""
    run, checker = outcome.run, outcome.checker
    placed = Counter((CHAIN_ID[p.chain], account(p.signer), p.order["side"], p.order["quantity"], p.order["price"],
                      p.order["reserve"], p.order["period"]) for p in run.users.sent if p.order)
    found = Counter((chain, r["owner"], r["side"], r["quantity"], r["price"], r["reserve"], r["period"])
                    for (chain, _), r in outcome.orders.items())
    assert found == placed, f"the chains hold other orders than were placed: {found} != {placed}"
    book = checker.received.get(run.period, [])
    assert sorted(book + checker.rejected) == sorted(outcome.orders), "an order neither joined the book nor was refused"
    committed = outcome.period_status() == COMMITTED
    expected = expected_trades(outcome) if committed else []
    got = [{k: v for k, v in t.items() if k not in ("period", "buyer_status", "seller_status")} for t in outcome.trades]
    assert got == expected
    # every order ends: filled when its period was committed, refunded otherwise or when late
    filled = set(book) if committed else set()
    for key, r in outcome.orders.items():
        assert r["status"] == ("Filled" if key in filled else "Refunded"), (key, r)
    # balances, to the planck
    want: dict[tuple[str, bytes], int] = {}

    def add(chain: str, who: bytes, delta: int) -> None:
        base = run.grid_endowment if who == GRID_ACCOUNT else DEV_ENDOWMENT
        want[(chain, who)] = want.get((chain, who), base) + delta

    for p in run.users.sent:
        add(p.chain, account(p.signer), -p.fee)
    for t in expected:
        add(CHAIN_NAME[t["buyer_chain"]], t["buyer"], -t["value"])
        add(CHAIN_NAME[t["seller_chain"]], t["seller"], t["value"])
    for kind, who in AGGREGATORS.items():
        for name in who:
            add(kind, account(name), 0)
    add("relay", GRID_ACCOUNT, 0)
    for (chain, who), amount in want.items():
        assert outcome.balance(chain, who) == (amount, 0), f"{chain} 0x{who.hex()[:8]}: {outcome.balance(chain, who)} != ({amount}, 0)"
    assert outcome.balance("relay", MARKET_ACCOUNT) == (checker.ed, 0)
    # every leg applied exactly once, on the relay's books and on its chain; every refund once
    chains_of = [(i, c) for i, t in enumerate(outcome.trades) for c in (t["buyer_chain"], t["seller_chain"]) if c]
    first = checker.market.period(outcome.relay, run.period)["first_trade"] if committed else 0
    assert checker.legs_applied == Counter((first + i, c) for i, c in chains_of)
    for kind, para_id in PARA_IDS.items():
        legs, released = leg_events(outcome.system, kind)
        assert legs == Counter(first + i for i, c in chains_of if c == para_id), kind
        assert released == Counter(order_id for (chain, order_id), r in outcome.orders.items()
                                   if chain == para_id and r["status"] == "Refunded"), kind
    if checker.deferred:  # tried every block from the gate, refunded at the deadline
        assert not committed and checker.deferred == list(range(GATE, DEADLINE + 1)), checker.deferred  # tried at the deadline too
    return {"orders": len(outcome.orders), "late": len(checker.rejected), "trades": len(expected), "deferred": len(checker.deferred),
            "cross_chain": sum(1 for t in expected if t["buyer_chain"] and t["seller_chain"] and t["buyer_chain"] != t["seller_chain"]),
            "same_chain": sum(1 for t in expected if t["buyer_chain"] == t["seller_chain"]),
            "grid": sum(1 for t in expected if not (t["buyer_chain"] and t["seller_chain"])),
            "relay_blocks_checked": checker.checked + 1}


# -- the tests ----------------------------------------------------------------------------------

# (chain, signer, side, quantity in 10 Wh, offer, reserve in G planck/kWh); arrival order is the
# relay's anchoring order, so the test reads it back instead of assuming it
BOOK = [
    ("dg", "Charlie", "Sell", 700, 100, 70),
    ("storage", "Ferdie", "Sell", 300, 80, 40),
    ("demand", "Alice", "Buy", 1000, 120, 180),
    ("storage", "Eve", "Buy", 400, 110, 170),
    ("dg", "Dave", "Sell", 500, 160, 60),
    ("demand", "Bob", "Buy", 600, 90, 150),
]


async def test_a_committed_period_applies_every_leg_on_every_chain(tmp_path, autojump_clock):
    period = next_period()
    run = MarketRun(market_system(tmp_path, period), period)
    async with trio.open_nursery() as nursery:
        await run.start(nursery)
        run.place(BOOK)
        outcome = await run.settle()
        tally = check_outcome(outcome)
        assert tally["late"] == 0 and tally["orders"] == len(BOOK)
        assert tally["cross_chain"] and tally["grid"], tally  # the book exercises both paths
        assert run.checker.committed_at[period] == GATE
        nursery.cancel_scope.cancel()
    print(tally)


async def test_legs_wait_while_the_buyer_chain_is_down_and_apply_once_when_it_returns(tmp_path, autojump_clock):
    period = next_period()
    run = MarketRun(market_system(tmp_path, period), period)
    demand = CHAIN_ID["demand"]
    async with trio.open_nursery() as nursery:
        await run.start(nursery)
        run.place(BOOK)
        await run.until_relay_best(GATE)  # the block that commits
        for i in range(2):
            run.system.stop_collator("demand", i)
        # the relay runs on, past the period's deadline: a committed period is never refunded
        await run.system.relay.wait_until(lambda: run.checked_through(DEADLINE + 4), timeout_s=120)
        state = run.relay_state()
        trades = run.trades(state)
        assert run.checker.committed_at[period] == GATE and trades
        waiting = [t for t in trades if t["buyer_chain"] == demand]
        assert waiting, "the book gives demand's buyers trades"
        for t in waiting:
            assert t["buyer_status"] == SENT, t  # down in demand's channel, not applied
            if t["seller_chain"]:
                assert t["seller_status"] == PENDING, t  # its value has not left demand: nothing minted
        for t in trades:
            if demand not in (t["buyer_chain"], t["seller_chain"]):
                assert (t["buyer_status"], t["seller_status"]) == (APPLIED, APPLIED), t  # other chains settle
        assert run.checker.refunded_at == {}
        for i in range(2):
            await run.system.restart_collator(nursery, "demand", i)
        outcome = await run.settle()
        tally = check_outcome(outcome)
        assert tally["late"] == 0
        nursery.cancel_scope.cancel()
    print(tally)


async def test_a_paused_period_refunds_every_escrow_at_its_deadline_and_moves_nothing_else(tmp_path, autojump_clock):
    period = next_period()
    run = MarketRun(market_system(tmp_path, period), period)
    async with trio.open_nursery() as nursery:
        await run.start(nursery)
        run.pause()
        run.place(BOOK)
        await run.until_relay_best(GATE + 2)
        state = run.relay_state()
        assert run.checker.market.Paused.get(state) and run.trades(state) == []
        outcome = await run.settle()
        assert outcome.period_status() == REFUNDED and run.checker.refunded_at == {period: DEADLINE}
        tally = check_outcome(outcome)  # every order Refunded, every balance genesis − fees, no trades
        assert tally == {**tally, "orders": len(BOOK), "late": 0, "trades": 0}
        for kind in PARA_IDS:
            escrowed = outcome.runtime(kind).pallet("Orders").Escrowed
            assert all(escrowed.get(outcome.states[kind], account(name)) == 0 for name in AGGREGATORS[kind])
        nursery.cancel_scope.cancel()
    print(tally)


# -- the property: random books, random faults around the gate ----------------------------------

def order_strategy():
    def build(chain_signer, side_pick, quantity, offer, spread):
        chain, signer = chain_signer
        side = SIDES[chain][side_pick % len(SIDES[chain])]
        reserve = offer + spread if side == "Buy" else max(1, offer - spread)
        return (chain, signer, side, quantity, offer, reserve)

    who = st.sampled_from([(chain, name) for chain, names in AGGREGATORS.items() for name in names])
    return st.builds(build, who, st.integers(0, 1), st.integers(1, 1500), st.integers(20, 260), st.integers(0, 120))


# (chain, node index or None for both of a para's collators, start in relay blocks from the gate, duration)
outage = st.tuples(st.sampled_from(("demand", "dg", "storage", "relay")), st.sampled_from((None, 0, 1)),
                   st.integers(-20, 6), st.integers(2, 14))


def at_most_per_chain(book: list, n: int = 3) -> list:
    """At most ``n`` orders per chain: with a channel capacity of 3, more could fail placement
    with ChannelFull before the relay has taken the first ones."""
    seen = Counter()
    kept = []
    for order in book:
        seen[order[0]] += 1
        if seen[order[0]] <= n:
            kept.append(order)
    return kept


schedules = st.fixed_dictionaries({
    "book": st.lists(order_strategy(), min_size=2, max_size=7).map(at_most_per_chain),
    "outages": st.lists(outage, min_size=1, max_size=3),
    # the auction blocked until the deadline: the operator paused it, or the grid operator cannot pay
    # for what nobody else buys (then a period with no grid purchase still commits)
    "blocked": st.sampled_from((None,) * 6 + ("paused", "grid")),
    "capacity": st.sampled_from((3, 1024)),  # 3: legs also wait in the market's outbox for room in a channel
    "drains": st.lists(st.integers(0, 6), max_size=2, unique=True),  # orders whose owner then tries to empty its account
})
# Storage down from before its orders are anchored until after the gate (they are late: refunded),
# both dg collators down across the gate, then a relay validator, and one demand collator while
# its legs go out: sell legs waiting on their chain; two sellers try to empty their accounts.
STRESS = {
    "book": BOOK + [("dg", "Dave", "Sell", 200, 70, 50)],
    "outages": [("storage", None, -20, 24), ("dg", None, -3, 8), ("relay", 2, 1, 5), ("demand", 1, 0, 6)],
    "blocked": None,
    "capacity": 3,
    "drains": [1, 4],
}

# The grid operator holds only its existential deposit, and sellers offer more than buyers take:
# the grid purchase cannot be paid, the auction is deferred every block until the deadline, and
# every escrow comes back — while DG's collators take turns being down and a relay validator stops.
GRID_BLOCKED = {
    "book": [("dg", "Charlie", "Sell", 900, 100, 70), ("demand", "Alice", "Buy", 300, 120, 180),
             ("storage", "Ferdie", "Sell", 400, 90, 60), ("storage", "Eve", "Buy", 100, 80, 95)],
    "outages": [("dg", 0, -2, 6), ("relay", 3, 4, 6), ("dg", 1, 1, 8)],
    "blocked": "grid",
    "capacity": 1024,
    "drains": [1],
}


def fault_timeline(schedule: dict) -> list[tuple[int, str, str, int]]:
    """(relay block, "stop" | "start", chain, node) in order. A chain's outages follow each other
    (never two relay validators down at once, nothing stopped twice)."""
    events, until = [], {}
    for chain, who, start, duration in schedule["outages"]:
        begin = max(GATE + start, until.get(chain, 0) + 1, 2)  # from 2: right after the orders go in
        end = begin + duration
        until[chain] = end
        nodes = ([who % 4] if who is not None else [1]) if chain == "relay" else ([0, 1] if who is None else [who])
        for i in nodes:
            events += [(begin, "stop", chain, i), (end, "start", chain, i)]
    return sorted(events, key=lambda e: (e[0], e[1] != "start"))


async def apply_faults(run: MarketRun, nursery, timeline) -> None:
    for at, action, chain, i in timeline:
        await run.until_relay_best(at)
        if chain == "relay":
            run.system.stop_relay(i) if action == "stop" else await run.system.restart_relay(nursery, i)
        else:
            run.system.stop_collator(chain, i) if action == "stop" else await run.system.restart_collator(nursery, chain, i)


async def run_schedule(base: Path, schedule: dict) -> dict:
    period = next_period()
    grid_endowment = EXISTENTIAL_DEPOSIT if schedule["blocked"] == "grid" else GRID_ENDOWMENT
    system = market_system(base, period, capacity=schedule["capacity"], grid_endowment=grid_endowment)
    run = MarketRun(system, period, grid_endowment=grid_endowment)
    async with trio.open_nursery() as nursery:
        await run.start(nursery)
        if schedule["blocked"] == "paused":
            run.pause()
        run.place(schedule["book"])
        for i in schedule["drains"]:  # refused while the order is open (Expendability): only the fee goes
            if i < len(schedule["book"]):
                chain, signer = schedule["book"][i][:2]
                other = next(name for name in AGGREGATORS[chain] if name != signer)
                run.users.send(chain, signer, {"Balances": {"transfer_all": {"dest": {"Id": account(other)}, "keep_alive": False}}})
        await apply_faults(run, nursery, fault_timeline(schedule))
        outcome = await run.settle()
        tally = check_outcome(outcome)
        nursery.cancel_scope.cancel()
    return tally


@settings(max_examples=1, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@example(STRESS)
@example(GRID_BLOCKED)
@given(schedules)
def test_random_books_and_faults_settle_atomically_with_supply_kept(schedule):
    with tempfile.TemporaryDirectory(prefix="mprop-") as base:
        tally = trio.run(run_schedule, Path(base), schedule, clock=trio.testing.MockClock(autojump_threshold=0))
    print("market:", tally, {k: schedule[k] for k in ("blocked", "capacity", "drains")}, "faults:", fault_timeline(schedule))
