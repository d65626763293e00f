"""`parawatt bench market`: orders per second through the whole on-chain market path, with real
processes — a relay of 4 validators and the demand, DG and storage parachains of 2 collators
each (like `configs/local.toml`), launched fresh with ``K`` generated aggregators per chain
(buyers on demand, sellers on DG, batteries on storage, both sides) and time compression
(`[settings] market_period_blocks`).

``N`` `Orders.place_order` extrinsics are signed up front (not timed), spread round-robin over
the chains, their aggregators and one or a few periods whose gates leave time to submit them,
with prices drawn so that most orders trade with each other (offers between the grid's prices,
λ_0 < λ < λ_grid). They go in JSON-RPC batches to each chain's first collator. Each order is
then followed, by polling the chains' RPC, through the steps

    submitted   the collator accepted it
    included    a block of its chain holds it (`Orders.OrderPlaced`)
    booked      the relay took the order into its period's book (`Market.OrderReceived`)
    committed   the relay ran the period's auction at its gate (`Market.PeriodCommitted`)
    settled     every leg of every trade of the order was applied on its chain, as the relay
                records it (`Market.TradeSettled` for each of them; `market_trades` says which)

and the report gives, per step, orders/s (orders that reached it over the time from the first
submission to the last of them), p50/p95 latency from submission in seconds and in relay
blocks, the relay blocks involved, the trades made, and this machine's sr25519 verification rate
measured in the same run, with orders/s as a fraction of it.

The auction's own cost at the gate is measured after the run: the relay block that committed a
period is re-executed from a relay validator's database (`Chain.state_trie` of its parent, as an
import does from a non-best parent) — once cold, once with the trie nodes cached; the warm figure
is the closer to what the validators paid (they read the best state from the flat table). The
heaviest booking block and the heaviest settlement block are replayed the same way.
``--profile`` prints where the commit block's time goes (cProfile).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from node.primitives.hashing import blake2_256
from node.testnet.control import Network, TestnetError

G = 10**9  # planck per kWh: prices below are in thousandths of a token per kWh
LAMBDA_GRID, LAMBDA_0 = 200 * G, 50 * G  # the relay's default flat tariff (the spec names no TOU)
SUBMIT_BATCH = 500
POLL_S = 0.05  # the chains are other processes: we follow them by polling their RPC
STEPS = ("submitted", "included", "booked", "committed", "settled")
CHAINS = ("demand", "dg", "storage")
MAX_ORDERS = 200_000
MAX_AGGREGATORS = 64
BLOCK_TIME_MS = 1000


# -- the testnet ---------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Aggregator:
    name: str
    chain: str
    sides: tuple[str, ...]  # what it places: ("Buy",), ("Sell",) or both (a battery)

    @property
    def uri(self) -> str:
        return f"//{self.name}"


def aggregators(per_chain: int) -> list[Aggregator]:
    out = []
    for i in range(1, per_chain + 1):
        out += [Aggregator(f"BenchLoad{i}", "demand", ("Buy",)), Aggregator(f"BenchPv{i}", "dg", ("Sell",)),
                Aggregator(f"BenchBattery{i}", "storage", ("Buy", "Sell"))]
    return out


def market_spec(per_chain: int, period_blocks: int) -> str:
    """The testnet: `configs/local.toml`'s topology, the default flat tariff, and the bench's
    aggregators (generous capacities: the benchmark measures the path, not the allowances)."""
    text = f'[relaychain]\nvalidators = 4\nconsensus = "aura"\nblock_time_ms = {BLOCK_TIME_MS}\n'
    for i, name in enumerate(CHAINS):
        text += (f'[[parachains]]\nid = {2000 + i}\nname = "{name}"\nruntime = "{name}"\ncollators = 2\n'
                 f'consensus = "aura"\nblock_time_ms = {BLOCK_TIME_MS}\n')
    text += f"[settings]\nready_timeout_s = 90\nmarket_period_minutes = 60\nmarket_period_blocks = {period_blocks}\n"
    text += "[market]\ngate_offset_blocks = 1\n"
    for agg in aggregators(per_chain):
        text += f'[[aggregators]]\nname = "{agg.name}"\nchain = "{agg.chain}"\n'
        if agg.chain == "demand":
            text += 'kind = "load"\n'
        elif agg.chain == "dg":
            text += 'kind = "pv"\ncapacity_kw = 10000000\n'
        else:
            text += 'kind = "battery"\ncapacity_kwh = 100000000\nstate_of_charge_kwh = 50000000\n'
    return text


# -- the orders ----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlannedOrder:
    index: int
    agg: Aggregator
    side: str
    quantity: int  # 10 Wh units
    price: int
    reserve: int
    period: int


def plan_orders(count: int, aggs: list[Aggregator], periods: list[int], seed: int = 6) -> list[PlannedOrder]:
    """Round-robin over chains, then over each chain's aggregators; the periods take
    consecutive shares (submitted in that order, so each period's gate waits only for its own).
    Offers sit between the grid's prices and overlap, so most volume trades peer to peer; the
    reserves leave room for round 2."""
    rng = random.Random(seed)
    by_chain = {c: [a for a in aggs if a.chain == c] for c in CHAINS}
    turns = {c: 0 for c in CHAINS}
    out = []
    for i in range(count):
        chain = CHAINS[i % len(CHAINS)]
        n = turns[chain]
        turns[chain] += 1
        agg = by_chain[chain][n % len(by_chain[chain])]
        side = agg.sides[(n // len(by_chain[chain])) % len(agg.sides)]
        quantity = rng.randint(100, 2000)  # 1 to 20 kWh
        if side == "Buy":
            price = rng.randint(80, 170) * G
            reserve = min(LAMBDA_GRID, price + rng.randint(0, 30) * G)
        else:
            price = rng.randint(60, 150) * G
            reserve = max(LAMBDA_0, price - rng.randint(0, 30) * G)
        out.append(PlannedOrder(i, agg, side, quantity, price, reserve, periods[i * len(periods) // count]))
    return out


def sign_orders(orders: list[PlannedOrder], chains: dict) -> dict[str, list[tuple[bytes, str]]]:
    """Per chain, (signer, extrinsic hex) in submission order, each signer's nonces in order."""
    from node.primitives.era import IMMORTAL
    from node.primitives.extrinsic import sign_extrinsic
    from node.primitives.keys import Keypair

    keys: dict[str, Keypair] = {}
    nonces: dict[str, int] = {}
    info = {}
    for name in CHAINS:
        c = chains[name]
        version = c.call("state_getRuntimeVersion")
        info[name] = (bytes.fromhex(c.call("chain_getBlockHash", [0])[2:]), version["specVersion"], version["transactionVersion"])
    out: dict[str, list] = {name: [] for name in CHAINS}
    for o in orders:
        chain = chains[o.agg.chain]
        if o.agg.name not in keys:
            keys[o.agg.name] = Keypair.from_uri(o.agg.uri)
            nonces[o.agg.name] = chain.call("system_accountNextIndex", ["0x" + keys[o.agg.name].public_key.hex()])
        call = chain.runtime.call_type.encode({"Orders": {"place_order": {
            "side": o.side, "quantity_10wh": o.quantity, "price": o.price, "reserve": o.reserve, "period": o.period}}})
        genesis, spec_version, tx_version = info[o.agg.chain]
        xt = sign_extrinsic(keys[o.agg.name], call, nonces[o.agg.name], IMMORTAL, 0, spec_version, tx_version, genesis)
        nonces[o.agg.name] += 1
        out[o.agg.chain].append((keys[o.agg.name].public_key, "0x" + xt.hex()))
    return out


# -- following the orders ------------------------------------------------------------------------
class CanonicalFollower:
    """New best blocks of one chain, in order, as soon as they appear — and, once finalized,
    any block that replaced one we read at the same height (a short fork under load: without
    this, an order booked in the block that won would never be seen booked)."""

    def __init__(self, chain):
        self.chain = chain
        self.next = int(chain.call("chain_getHeader")["number"], 16) + 1
        self.checked = self.next - 1  # heights up to here are final as read
        self.read: dict[int, str] = {}

    def new_blocks(self) -> list[tuple[int, str]]:
        out = []
        finalized = int(self.chain.call("chain_getHeader", [self.chain.call("chain_getFinalizedHead")])["number"], 16)
        for number in range(self.checked + 1, min(finalized, self.next - 1) + 1):
            block_hash = self.chain.call("chain_getBlockHash", [number])
            if self.read.pop(number, block_hash) != block_hash:
                out.append((number, block_hash))
            self.checked = number
        best = int(self.chain.call("chain_getHeader")["number"], 16)
        while self.next <= best:
            block_hash = self.chain.call("chain_getBlockHash", [self.next])
            if block_hash is None:
                break
            out.append((self.next, block_hash))
            self.read[self.next] = block_hash
            self.next += 1
        return out


@dataclass
class Tracked:
    order: PlannedOrder
    submitted_at: float = 0.0
    relay_submitted: int = 0
    id: tuple[int, int] | None = None  # (para id, order id)
    times: dict[str, float] = field(default_factory=dict)  # step -> seconds from submission
    relay: dict[str, int] = field(default_factory=dict)  # step -> relay block number
    outcome: str = "in flight"  # settled, failed (refused on its chain), rejected (by the relay), refunded


@dataclass
class Follow:
    """Everything seen on the chains, in the order it was seen."""

    tracked: list[Tracked]
    by_id: dict = field(default_factory=dict)
    by_hash: dict = field(default_factory=dict)  # extrinsic hash -> its order
    period_commit: dict = field(default_factory=dict)  # period -> (time, relay number, block hash)
    trade_orders: dict = field(default_factory=dict)  # trade id -> [(para id, order id)]
    trades_of: dict = field(default_factory=dict)  # (para id, order id) -> open trade ids
    settled_trades: dict = field(default_factory=dict)  # trade id -> (time, relay number)
    rounds: dict = field(default_factory=dict)  # round -> trades
    early: dict = field(default_factory=dict)  # (para id, order id) -> (time, relay number) booked before we saw it included
    mapped: set = field(default_factory=set)
    relay_seen: dict = field(default_factory=dict)  # relay number -> when we saw it  # committed periods whose trades are mapped to orders
    booked_per_block: dict = field(default_factory=dict)  # relay number -> (orders booked, hash)
    settled_per_block: dict = field(default_factory=dict)  # relay number -> (legs applied, hash)


def follow(chains: dict, fl: Follow, followers: dict, *, wait_s: float, progress) -> None:
    """``followers`` (`CanonicalFollower` per chain) were made before the first submission."""
    relay = chains["relay"]
    deadline = time.monotonic() + wait_s
    last_note = 0.0
    while any(t.outcome == "in flight" for t in fl.tracked) and time.monotonic() < deadline:
        for name, follower in followers.items():
            for number, block_hash in follower.new_blocks():
                now = time.monotonic()
                relay_number = followers["relay"].next - 1  # the relay's best as we last read it
                events = chains[name].events(block_hash)
                if name == "relay":
                    _relay_events(fl, events, number, block_hash, now)
                else:
                    _para_events(fl, chains[name], events, block_hash, now, relay_number)
        for period in fl.period_commit:
            if period not in fl.mapped:
                _map_trades(fl, relay, period)
        _settle_orders(fl)
        if time.monotonic() - last_note > 5:
            last_note = time.monotonic()
            counts = {s: sum(1 for t in fl.tracked if s in t.times) for s in STEPS}
            progress("  " + ", ".join(f"{s} {n}" for s, n in counts.items()))
        time.sleep(POLL_S)


def _para_events(fl: Follow, chain, events, block_hash: str, now: float, relay_number: int) -> None:
    """Orders placed (or refused) in a para block, matched by extrinsic hash — so reading the
    block that replaced a forked-away one maps each order to its final id."""
    ours = [(pallet, event, f, index) for pallet, event, f, index in events
            if (pallet, event) in (("System", "ExtrinsicFailed"), ("Orders", "OrderPlaced"))]
    if not ours:
        return
    hashes = [blake2_256(bytes.fromhex(xt[2:])) for xt in chain.call("chain_getBlock", [block_hash])["block"]["extrinsics"]]
    for pallet, event, f, index in ours:
        t = fl.by_hash.get(hashes[index])
        if t is None:
            continue
        if event == "ExtrinsicFailed":
            t.outcome = "failed"
            continue
        if t.id is not None and fl.by_id.get(t.id) is t:
            del fl.by_id[t.id]
        t.id = (chain.chain_id, f["order_id"])
        fl.by_id[t.id] = t
        early = fl.early.pop(t.id, None)  # its booking was read first (both blocks came in one poll)
        _step(t, "included", *(early or (now, relay_number)))
        if early:
            _step(t, "booked", *early)


def _relay_events(fl: Follow, events, number: int, block_hash: str, now: float) -> None:
    booked = settled = 0
    for pallet, event, f, _ in events:
        if pallet != "Market":
            continue
        if event == "OrderReceived":
            t = fl.by_id.get((f["chain"], f["order_id"]))
            if t is not None:
                _step(t, "booked", now, number)
            else:
                fl.early[(f["chain"], f["order_id"])] = (now, number)
            booked += 1
        elif event == "OrderRejected":
            t = fl.by_id.get((f["chain"], f["order_id"]))
            if t is not None:
                t.outcome = "rejected"
        elif event == "PeriodCommitted":
            fl.period_commit[f["period"]] = (now, number, block_hash)
            for t in fl.tracked:
                if t.order.period == f["period"] and "booked" in t.times:
                    _step(t, "committed", now, number)
        elif event == "PeriodRefunded":
            for t in fl.tracked:
                if t.order.period == f["period"]:
                    t.outcome = "refunded"
        elif event == "TradeSettled":
            fl.settled_trades[f["trade_id"]] = (now, number)
        elif event == "LegApplied":
            settled += 1
    if booked:
        fl.booked_per_block[number] = (booked, block_hash)
    if settled:
        fl.settled_per_block[number] = (settled, block_hash)
    fl.relay_seen[number] = now


def _map_trades(fl: Follow, relay, period: int) -> None:
    """Which orders each trade of ``period`` involves (the relay's finalized record)."""
    reply = relay.call("market_trades", [period])
    if reply["status"] != "Committed":
        return  # the commit block is not finalized yet
    fl.mapped.add(period)
    for t in reply["trades"]:
        fl.rounds[t["round"]] = fl.rounds.get(t["round"], 0) + 1
        sides = {int(c): leg["side"] for c, leg in t["legs"].items()}
        orders = []
        for chain, side in sides.items():
            if side in ("buy", "both") and t["buyOrder"] is not None:
                orders.append((chain, t["buyOrder"]))
            if side in ("sell", "both") and t["sellOrder"] is not None:
                orders.append((chain, t["sellOrder"]))
        fl.trade_orders[t["tradeId"]] = orders
        for order in orders:
            fl.trades_of.setdefault(order, set()).add(t["tradeId"])


def _settle_orders(fl: Follow) -> None:
    for t in fl.tracked:
        if t.outcome != "in flight" or "committed" not in t.times or t.id not in fl.trades_of:
            continue
        trades = fl.trades_of[t.id]
        if all(i in fl.settled_trades for i in trades):
            at, number = max(fl.settled_trades[i] for i in trades)
            _step(t, "settled", at, number)
            t.outcome = "settled"


def _step(t: Tracked, name: str, now: float, relay_number: int) -> None:
    if name not in t.times:
        t.times[name] = now - t.submitted_at
        t.relay[name] = relay_number


# -- the report ----------------------------------------------------------------------------------
def _percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def step_report(tracked: list[Tracked]) -> dict:
    start = min(t.submitted_at for t in tracked)
    out = {}
    for name in STEPS:
        reached = [t for t in tracked if name in t.times]
        if not reached:
            out[name] = {"orders": 0, "perS": None, "p50S": None, "p95S": None, "relayBlocksP50": None, "relayBlocksP95": None,
                         "relayBlocks": None}
            continue
        span = max(t.submitted_at + t.times[name] for t in reached) - start
        lat = [t.times[name] for t in reached]
        blocks = [t.relay[name] - t.relay_submitted for t in reached]
        numbers = [t.relay[name] for t in reached]
        out[name] = {"orders": len(reached), "perS": round(len(reached) / span, 1) if span > 0 else None,
                     "p50S": _percentile(lat, 50), "p95S": _percentile(lat, 95),
                     "relayBlocksP50": _percentile(blocks, 50), "relayBlocksP95": _percentile(blocks, 95),
                     "relayBlocks": [min(numbers), max(numbers)]}
    return out


def format_report(r: dict) -> list[str]:
    lines = [f"{r['orders']} orders from {r['aggregatorsPerChain']} aggregator(s) per chain into period(s) "
             f"{', '.join(map(str, r['periods']))} (a period is {r['periodBlocks']} relay blocks of {BLOCK_TIME_MS / 1000:g} s); "
             f"outcomes: {', '.join(f'{k} {v}' for k, v in r['outcomes'].items())}",
             f"{'step':<10} {'orders':>7} {'orders/s':>9} {'p50 s':>7} {'p95 s':>7} {'p50 rb':>7} {'p95 rb':>7}  relay blocks"]
    for name, s in r["steps"].items():
        def num(v, fmt):
            return "—" if v is None else format(v, fmt)
        blocks = "—" if s["relayBlocks"] is None else f"#{s['relayBlocks'][0]}–#{s['relayBlocks'][1]}"
        lines.append(f"{name:<10} {s['orders']:>7} {num(s['perS'], '9.1f'):>9} {num(s['p50S'], '7.2f'):>7} {num(s['p95S'], '7.2f'):>7} "
                     f"{num(s['relayBlocksP50'], '7.0f'):>7} {num(s['relayBlocksP95'], '7.0f'):>7}  {blocks}")
    lines.append("orders booked per relay block: " + ", ".join(f"#{n} {c}" for n, c in r["bookedPerRelayBlock"].items()))
    lines.append("legs applied per relay block:  " + ", ".join(f"#{n} {c}" for n, c in r["legsAppliedPerRelayBlock"].items()))
    lines.append(f"relay blocks came every {r['relayBlockS']} s on average (slot {BLOCK_TIME_MS / 1000:g} s)")
    lines.append(f"trades: {r['trades']} ({', '.join(f'round {k}: {v}' for k, v in sorted(r['tradesByRound'].items()))}; round 0 is the grid)")
    settled = r["steps"]["settled"]["perS"]
    lines.append(f"sr25519 verifications/s {r['verifyRate']:,.0f}  → settled orders/s as a fraction: "
                 f"{(settled or 0) / r['verifyRate']:.4f}; submitted: {(r['steps']['submitted']['perS'] or 0) / r['verifyRate']:.4f}")
    for label, block in r["replays"].items():
        if block is None:
            continue
        lines.append(f"{label:<18} relay #{block['number']}: re-executed in {block['coldMs']:.0f} ms cold, {block['warmMs']:.0f} ms warm "
                     f"({block['count']} {block['what']}; {block['writes']} storage writes)")
    return lines


# -- replaying a relay block ---------------------------------------------------------------------
def replay_blocks(base_path: str, chain_spec: str, blocks: dict[str, tuple[str, int, str] | None], *, profile: bool) -> dict:
    """Re-execute relay blocks from a stopped validator's database: ms cold and warm."""
    import cProfile
    import pstats

    from node.chain_spec import load_chain_spec
    from node.runtime.block_execution import execute_block
    from node.runtime.overlay import StateOverlay
    from node.service.chain import Chain
    from node.service.network_setup import runtime_for
    from node.storage.db import ChainDB

    spec = load_chain_spec(chain_spec)
    db = ChainDB(Path(base_path) / "db")
    try:
        chain = Chain(db, runtime_for(spec.runtime, spec.consensus.block_time_ms), {})
        out = {}
        for label, entry in blocks.items():
            if entry is None:
                out[label] = None
                continue
            block_hash, count, what = entry
            block = chain.block(bytes.fromhex(block_hash[2:]))
            parent = chain.header(block.header.parent_hash)
            runs = []
            for attempt in range(2):
                profiler = cProfile.Profile() if profile and attempt == 1 and label == "auction" else None
                began = time.perf_counter()
                if profiler:
                    profiler.enable()
                overlay = StateOverlay(chain.state_trie(parent.state_root).get)
                execute_block(chain.executive, overlay, block)
                root = chain.state_trie(parent.state_root).apply_changes(overlay.changes).root
                if profiler:
                    profiler.disable()
                runs.append((time.perf_counter() - began) * 1000)
                if root != block.header.state_root:
                    raise TestnetError(f"replaying relay #{block.header.number} gave another state root")
                if profiler:
                    print(f"where relay #{block.header.number} (the auction) spends its time:")
                    pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
            out[label] = {"number": block.header.number, "hash": block_hash, "count": count, "what": what,
                          "coldMs": round(runs[0], 1), "warmMs": round(runs[1], 1), "writes": len(overlay.changes)}
        return out
    finally:
        db.close()


# -- the command ---------------------------------------------------------------------------------
def choose_periods(chains: dict, count: int, period_blocks: int, periods: int) -> list[int]:
    """The first ``periods`` consecutive periods whose gates leave time to submit and include
    the first period's orders (about 200 orders per relay block of submission and inclusion on a
    busy 2-core box, plus blocks to reach the relay); the later periods follow a period apart."""
    from node.testnet.market_case import choose_period

    relay = chains["relay"]
    schedule = relay.call("market_schedule")
    para = chains["demand"]
    config = para.read(para.runtime.pallet("Periods").Schedule) or {"compression": 1, "gate_closure_ms": 0}
    now = max(c.read(c.runtime.pallet("Timestamp").Now) for name, c in chains.items() if name != "relay")
    margin = 8 + count // periods // 200
    first = choose_period(schedule, schedule_tariff(schedule), relay_block=schedule["finalized"],
                          para_market_ms=now * config["compression"], gate_closure_ms=config["gate_closure_ms"],
                          margin_blocks=margin)
    return list(range(first, first + periods))


def schedule_tariff(schedule: dict):
    from bridge.tariff import Tariff

    (start, end, sale, purchase), = schedule["tariff"]  # the bench's spec names no TOU: one flat slot
    return Tariff(int(sale), int(purchase))


def run(args, progress=print) -> dict:
    from node.bench_chain import sr25519_verifications_per_second
    from node.testnet.launcher import launch, prepare
    from node.testnet.spec import parse_spec
    from node.testnet.transfers import _submit_batch, open_chains

    verify_rate = sr25519_verifications_per_second()
    progress(f"sr25519 verifications/s: {verify_rate:,.0f}")
    run_dir = Path(tempfile.mkdtemp(prefix="parawatt-bench-market-"))
    network: Network = prepare(run_dir, parse_spec(market_spec(args.aggregators, args.period_blocks)))
    relay_node = network.chain_nodes("relay")[0]
    relay_spec = network.chains["relay"]["chain_spec"]
    try:
        ready = launch(network, progress=lambda line: None)
        progress(f"testnet up in {ready:.1f} s ({run_dir})")
        chains = open_chains(network)
        periods = choose_periods(chains, args.orders, args.period_blocks, args.periods)
        aggs = aggregators(args.aggregators)
        planned = plan_orders(args.orders, aggs, periods)
        began = time.monotonic()
        signed = sign_orders(planned, chains)
        progress(f"signed {args.orders} orders in {time.monotonic() - began:.1f} s; periods {periods} "
                 f"(gates at relay blocks {[_gate(chains['relay'], p) for p in periods]})")
        by_chain: dict[str, list[Tracked]] = {name: [] for name in CHAINS}
        tracked = []
        for o in planned:
            t = Tracked(o)
            tracked.append(t)
            by_chain[o.agg.chain].append(t)
        fl = Follow(tracked)
        for name in CHAINS:
            for (_, xt), t in zip(signed[name], by_chain[name]):
                fl.by_hash[blake2_256(bytes.fromhex(xt[2:]))] = t
        relay = chains["relay"]
        # followed from before the first submission; the relay first, so a block's relay number is never older than it
        followers = {name: CanonicalFollower(chains[name]) for name in ("relay", *CHAINS)}
        # submit: the chains in turn, one batch each, so every chain fills its pool at once
        cursor = {name: 0 for name in CHAINS}
        while any(cursor[n] < len(signed[n]) for n in CHAINS):
            for name in CHAINS:
                lo = cursor[name]
                if lo >= len(signed[name]):
                    continue
                batch = signed[name][lo:lo + SUBMIT_BATCH]
                relay_best = int(relay.call("chain_getHeader")["number"], 16)
                _submit_batch(chains[name], [xt for _, xt in batch])
                now = time.monotonic()
                for t in by_chain[name][lo:lo + SUBMIT_BATCH]:
                    t.submitted_at, t.relay_submitted = now, relay_best
                    t.times["submitted"], t.relay["submitted"] = 0.0, relay_best
                cursor[name] += len(batch)
        progress(f"submitted {args.orders} orders in {time.monotonic() - min(t.submitted_at for t in tracked):.2f} s; following …")
        follow(chains, fl, followers, wait_s=args.wait, progress=progress)
    finally:
        network.stop()
    auction = max(fl.period_commit.values(), key=lambda v: v[1], default=None)
    booking = max(fl.booked_per_block.values(), default=None)
    settling = max(fl.settled_per_block.values(), default=None)
    trades = sum(fl.rounds.values())
    blocks = {"auction": None if auction is None else (auction[2], trades, "trades"),
              "heaviest booking": None if booking is None else (booking[1], booking[0], "orders booked"),
              "heaviest settling": None if settling is None else (settling[1], settling[0], "legs applied")}
    replays = replay_blocks(relay_node.base_path, relay_spec, blocks, profile=args.profile)
    outcomes = {}
    for t in tracked:
        outcomes[t.outcome] = outcomes.get(t.outcome, 0) + 1
    return {"orders": args.orders, "aggregatorsPerChain": args.aggregators, "periodBlocks": args.period_blocks,
            "periods": periods, "outcomes": outcomes, "steps": step_report(tracked), "trades": trades,
            "tradesByRound": dict(fl.rounds),
            "commitBlocks": {p: v[1] for p, v in fl.period_commit.items()}, "verifyRate": round(verify_rate),
            "bookedPerRelayBlock": {n: c for n, (c, _) in sorted(fl.booked_per_block.items())},
            "legsAppliedPerRelayBlock": {n: c for n, (c, _) in sorted(fl.settled_per_block.items())},
            "relayBlockS": _block_time(fl.relay_seen),
            "replays": replays, "runDir": str(run_dir)}


def _block_time(seen: dict[int, float]) -> float | None:
    """Mean seconds per relay block while we followed it (1 s when the relay keeps up)."""
    if len(seen) < 2:
        return None
    return round((seen[max(seen)] - seen[min(seen)]) / (max(seen) - min(seen)), 2)


def _gate(relay, period: int) -> int:
    from node.testnet.market_case import gate_block

    return gate_block(relay.call("market_schedule"), period)


def main(args) -> int:
    quiet = args.json
    report = run(args, progress=(lambda line: None) if quiet else (lambda line: print(line, flush=True)))
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "market.json").write_text(json.dumps(report, indent=2))
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        for line in format_report(report):
            print(line)
        if args.out is not None:
            print(f"report in {args.out}/market.json")
    return 0 if report["outcomes"].get("settled", 0) == args.orders else 1


def _bounded_int(low: int, high: int, what: str):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number of {what}, not {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low} and {high} {what}, not {value}")
        return value
    return parse


def _period_blocks(text: str) -> int:
    value = _bounded_int(2, 3600, "relay blocks")(text)
    if 3_600_000 % (value * BLOCK_TIME_MS):
        raise argparse.ArgumentTypeError(f"must divide an hour of {BLOCK_TIME_MS} ms relay blocks (3600 = 2⁴·3²·5²), not {value}")
    return value


def register(kinds) -> None:
    bench = kinds.add_parser("market", help="orders per second through the on-chain market: submitted → included → booked → committed → settled")
    bench.add_argument("--orders", type=_bounded_int(1, MAX_ORDERS, "orders"), default=3000, help="signed orders (default 3000)")
    bench.add_argument("--aggregators", type=_bounded_int(1, MAX_AGGREGATORS, "aggregators"), default=4,
                       help="aggregators per parachain (default 4)")
    bench.add_argument("--period-blocks", type=_period_blocks, default=10,
                       help="relay blocks per hour-long trading period: time compression (default 10; the gate then "
                            "comes at most 10 blocks after the orders could all be booked)")
    bench.add_argument("--periods", type=_bounded_int(1, 24, "periods"), default=1, help="spread the orders over this many periods (default 1)")
    bench.add_argument("--wait", type=float, default=300, help="give up following after this many seconds (default 300)")
    bench.add_argument("--out", type=Path, help="write market.json here")
    bench.add_argument("--json", action="store_true", help="print the report as JSON")
    bench.add_argument("--profile", action="store_true", help="print where the auction block's re-execution spends its time")
    bench.set_defaults(func=main)
