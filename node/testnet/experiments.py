"""`parawatt experiment transfers` and `parawatt experiment chaos`, against a running testnet.

transfers — N cross-chain transfers spread over every ordered pair of chains (or the pairs
given), the pairs running side by side, each from its own dev account; the latency distribution
per pair and overall, as a table and (with `--out`) JSON and CSV.

chaos — for M minutes, random faults (kill, restart, pause, resume; never more than one relay
validator and one collator per parachain down at a time, so the network can always recover)
while batches of transfers keep flowing between random pairs. Then every node is brought back
and the invariants are checked, each reported as held or not:

- every transfer ended exactly once: no relay record left in flight or refunding;
- supply conserved: every parachain's reserve on the relay equals its issuance plus fees
  burned, on one consistent cut (`parawatt supply`);
- no conflicting finalized blocks, and all nodes of a chain agree: at the lowest finalized
  height of a chain every node has the same block.

When the testnet has the case study's aggregators (the default spec), the market runs too: the
case study's periods, one after the other, through the on-chain market (`market_case`), and two
more invariants are checked:

- every trade all-or-none: every trade the relay committed has every leg applied on every chain;
- every case whose orders were all booked traded exactly what the offline auction trades.
A case cut short by a fault (an order that could not be placed) counts as interrupted; its
orders still trade or are refunded like any other.
"""

from __future__ import annotations

import csv
import json
import random
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from substrateinterface.exceptions import SubstrateRequestException
from websocket import WebSocketException

from node.testnet.control import Network, TestnetError
from node.testnet.transfers import open_chains, rpc, send_transfers, supply_report

AMOUNT = 10**12
SIGNERS = ("//Alice", "//Bob", "//Charlie", "//Dave", "//Eve", "//Ferdie")
FAULTS = ("kill", "pause")
SETTLE_TIMEOUT_S = 180
# What a fault does to a client mid-request: our RPC helpers raise TestnetError, substrate-interface's
# websocket the connection errors (OSError) or websocket's own, and its RPC layer a request error.
CLIENT_FAILURES = (TestnetError, OSError, WebSocketException, SubstrateRequestException)


def _pairs(chains: list[str], wanted: list[str] | None) -> list[tuple[str, str]]:
    if not wanted:
        return [(a, b) for a in chains for b in chains if a != b]
    pairs = []
    for text in wanted:
        source, _, dest = text.partition("->")
        source, dest = source.strip(), dest.strip()
        if source not in chains or dest not in chains or source == dest:
            raise TestnetError(f"--pair {text!r}: expected SOURCE->DEST between two of {', '.join(chains)}")
        pairs.append((source, dest))
    return pairs


def _signer_for(pairs: list[tuple[str, str]], index: int) -> str:
    """Pairs from one source chain send from different accounts, so their nonces never clash."""
    source = pairs[index][0]
    return SIGNERS[sum(1 for s, _ in pairs[:index] if s == source) % len(SIGNERS)]


def run_transfers(network: Network, *, count: int, pairs: list[str] | None = None, wait_s: float = 180) -> dict:
    chains = list(network.chains)
    chosen = _pairs(chains, pairs)
    per_pair = max(1, count // len(chosen))

    def one(i: int) -> dict:
        source, dest = chosen[i]
        return send_transfers(network, source=source, dest=dest, amount=AMOUNT, signers=[_signer_for(chosen, i)],
                              to_account=None, count=per_pair, timeout_blocks=200, wait_s=wait_s)

    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        reports = list(pool.map(one, range(len(chosen))))
    latencies = [r["latencyS"] for r in reports if r["latencyS"]["p50"] is not None]
    return {
        "count": sum(r["count"] for r in reports),
        "delivered": sum(r["delivered"] for r in reports),
        "refunded": sum(r["refunded"] for r in reports),
        "inFlight": sum(r["inFlight"] for r in reports),
        "medianOfP50S": statistics.median(l["p50"] for l in latencies) if latencies else None,
        "worstP95S": max((l["p95"] for l in latencies), default=None),
        "pairs": [{k: r[k] for k in ("from", "to", "count", "delivered", "refunded", "inFlight", "latencyS",
                                     "fromBlockRelayBlocks", "throughputPerS")} for r in reports],
    }


def _num(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def format_transfers(report: dict) -> list[str]:
    lines = [f"{'pair':<20} {'sent':>5} {'arrived':>8} {'p50 s':>7} {'p95 s':>7} {'p95 relay blocks':>17}"]
    for p in report["pairs"]:
        lat, blocks = p["latencyS"], p["fromBlockRelayBlocks"]
        lines.append(f"{p['from'] + ' -> ' + p['to']:<20} {p['count']:>5} {p['delivered']:>8} {_num(lat['p50']):>7} "
                     f"{_num(lat['p95']):>7} {_num(blocks['p95'], 0):>17}")
    lines.append(f"{report['delivered']}/{report['count']} arrived, {report['refunded']} refunded, {report['inFlight']} in flight")
    return lines


def write_transfers(report: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "transfers.json").write_text(json.dumps(report, indent=2))
    with open(out / "transfers.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["from", "to", "count", "delivered", "refunded", "p50_s", "p95_s", "p95_relay_blocks"])
        for p in report["pairs"]:
            writer.writerow([p["from"], p["to"], p["count"], p["delivered"], p["refunded"], p["latencyS"]["p50"],
                             p["latencyS"]["p95"], p["fromBlockRelayBlocks"]["p95"]])


# -- chaos ---------------------------------------------------------------------------------------
class Chaos:
    """Random faults within bounds the network can always recover from."""

    def __init__(self, network: Network, rng: random.Random, say):
        self.network, self.rng, self.say = network, rng, say
        self.faulted: dict[str, str] = {}  # node -> "kill" | "pause"

    def _allowed(self, node: str) -> bool:
        chain = self.network.node(node).chain
        return not any(self.network.node(n).chain == chain for n in self.faulted)

    def step(self) -> None:
        if self.faulted and self.rng.random() < 0.5:
            node, fault = self.rng.choice(sorted(self.faulted.items()))
            self._heal(node, fault)
            return
        candidates = [n.name for n in self.network.nodes if n.name not in self.faulted and self._allowed(n.name)]
        if candidates:
            node, fault = self.rng.choice(candidates), self.rng.choice(FAULTS)
            getattr(self.network, fault)(node)
            self.faulted[node] = fault
            self.say(f"{fault} {node}")

    def _heal(self, node: str, fault: str) -> None:
        (self.network.restart if fault == "kill" else self.network.resume)(node)
        del self.faulted[node]
        self.say(f"{'restart' if fault == 'kill' else 'resume'} {node}")

    def heal_all(self) -> None:
        for node, fault in sorted(self.faulted.items()):
            self._heal(node, fault)


def _transfer_load(network: Network, stop: threading.Event, rng: random.Random, totals: dict) -> None:
    chains = list(network.chains)
    while not stop.is_set():
        source, dest = rng.sample(chains, 2)
        try:
            report = send_transfers(network, source=source, dest=dest, amount=AMOUNT, signers=["//Ferdie"], to_account=None,
                                    count=rng.randint(1, 20), timeout_blocks=rng.choice((5, 50, 200)), wait_s=20)
        except CLIENT_FAILURES:  # a source node down mid-batch: what was submitted is still checked at the end
            totals["batchErrors"] += 1
            continue
        for key in ("count", "delivered", "refunded"):
            totals[key] += report[key]


def _market_load(network: Network, stop: threading.Event, totals: dict) -> None:
    from bridge.auction import run_auction
    from node.testnet.market_case import CASE_STUDY, run_case

    cases = sorted(CASE_STUDY.glob("period-*.json"))
    while not stop.is_set():
        path = cases[totals["cases"] % len(cases)]
        totals["cases"] += 1
        try:
            run = run_case(network, path, timeout_s=240)
        except CLIENT_FAILURES:  # a node it talked to went down: its orders trade or are refunded on their own
            totals["interrupted"] += 1
            continue
        c = run.case
        offline = run_auction(c.orders, period=c.period, tariff=c.tariff, credits=c.credits, tie_lines=c.tie_lines,
                              exclusion_threshold=c.exclusion_threshold)
        same = (run.result.trades, run.result.grid) == (offline.trades, offline.grid)
        totals["identical" if same else "different"] += 1


def _market_settled(network: Network) -> dict | None:
    from node.testnet.market_case import market_summary

    settle_by = time.monotonic() + SETTLE_TIMEOUT_S
    summary = market_summary(network)
    while summary is not None and summary["trades"] != summary["settled"] and time.monotonic() < settle_by:
        time.sleep(2)  # legs apply as chains catch up; the relay announces nothing
        summary = market_summary(network)
    return summary


def _finality_agrees(network: Network) -> dict[str, bool]:
    agree = {}
    for chain in network.chains:
        urls = [n.rpc_url for n in network.chain_nodes(chain)]
        numbers = []
        for url in urls:
            head = rpc(url, "chain_getFinalizedHead")
            numbers.append(int(rpc(url, "chain_getHeader", [head])["number"], 16))
        lowest = min(numbers)
        agree[chain] = len({rpc(url, "chain_getBlockHash", [lowest]) for url in urls}) == 1
    return agree


def _open_transfers(network: Network) -> dict:
    relay = open_chains(network)["relay"]
    return relay.call("xtransfers_counts")


def run_chaos(network: Network, *, minutes: float, seed: int, say=print) -> dict:
    rng = random.Random(seed)
    chaos = Chaos(network, rng, say)
    totals = {"count": 0, "delivered": 0, "refunded": 0, "batchErrors": 0}
    stop = threading.Event()
    load = threading.Thread(target=_transfer_load, args=(network, stop, random.Random(seed + 1), totals), daemon=True)
    load.start()
    market = {"cases": 0, "identical": 0, "different": 0, "interrupted": 0}
    trading = (network.run_dir / "market.json").exists()
    if trading:
        market_thread = threading.Thread(target=_market_load, args=(network, stop, market), daemon=True)
        market_thread.start()
    deadline = time.monotonic() + minutes * 60
    try:
        while time.monotonic() < deadline:
            chaos.step()
            time.sleep(rng.uniform(3, 10))  # the chaos itself: a fault every few seconds, at random
    finally:
        stop.set()
        chaos.heal_all()
    load.join(timeout=60)
    if trading:
        market_thread.join(timeout=SETTLE_TIMEOUT_S)  # a case in progress finishes: its gate is minutes away at most
    say("every node back; waiting for transfers in flight to end …")
    settle_by = time.monotonic() + SETTLE_TIMEOUT_S
    counts = _open_transfers(network)
    while counts["InFlight"] + counts["Refunding"] and time.monotonic() < settle_by:
        time.sleep(2)  # the relay announces nothing: poll its record counts until they settle
        counts = _open_transfers(network)
    supply = supply_report(network)
    agree = _finality_agrees(network)
    invariants = {
        "every transfer ended once (delivered or refunded)": counts["InFlight"] + counts["Refunding"] + counts["Stuck"] == 0,
        "supply conserved (every parachain backed)": supply["ok"],
        "no conflicting finalized blocks; all nodes of a chain agree": all(agree.values()),
    }
    if trading:
        summary = _market_settled(network)
        market["trades"] = None if summary is None else summary["trades"]
        invariants["every trade all-or-none (every leg of every committed trade applied)"] = (
            summary is not None and summary["trades"] == summary["settled"])
        invariants["every fully booked case traded as the offline auction"] = market["different"] == 0
    return {"transfers": totals, "market": market if trading else None, "relayRecords": counts, "agree": agree,
            "invariants": invariants, "held": all(invariants.values())}


__all__ = ["run_transfers", "format_transfers", "write_transfers", "run_chaos"]
