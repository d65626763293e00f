"""`parawatt testnet check FILE`: scenario files of assertions and fault steps, one per line.

    relay: finalized height is at least 10 within 30 seconds
    demand: anchored height is at least 5 within 30 seconds
    dg: finalized height grows by 5 within 20 seconds     # relative to when the step starts
    kill demand-collator-1
    sleep 2
    restart demand-collator-1
    pause NODE / resume NODE
    partition validator-0,validator-1 validator-2,validator-3   # cut both ways (`up --hosts` networks)
    heal                                                        # remove every cut, delay and loss
    transfer demand -> dg 20 completes within 60 seconds  # every one credited and finalized in time
    supply is backed                                      # `parawatt supply` finds every para backed
    validator-0: metric parawatt_xcm_messages_sent is at least 1 within 30 seconds
    market case configs/case-study/period-02.json is placed   # its orders booked on the relay
    market case configs/case-study/period-02.json is committed within 120 seconds   # the auction ran
    market case configs/case-study/period-02.json settles within 120 seconds
                    # committed, every leg applied on every chain, trades equal to the offline auction's
    market trades are all settled within 60 seconds     # every trade ever committed: all legs applied

A case file is found from the current directory, or else from the scenario file's.

Blank lines and `#` comments are skipped. `parse_scenario` is pure and names the line of any
malformed step; `check_against` names the line of an unknown chain or node; `run` executes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from node.testnet.control import POLL_S, Network, TestnetError
from node.testnet.netfaults import NetFaults, parse_group

HEIGHT = re.compile(r"^(?P<chain>[a-z][a-z0-9_]*):\s*(?P<status>best|finalized|anchored) height (?P<form>is at least|grows by) "
                    r"(?P<n>\d+) within (?P<s>\d+(?:\.\d+)?) seconds?$")
FAULT = re.compile(r"^(?P<action>kill|restart|pause|resume) (?P<node>\S+)$")
SLEEP = re.compile(r"^sleep (?P<s>\d+(?:\.\d+)?)$")
TRANSFER = re.compile(r"^transfer (?P<source>[a-z][a-z0-9_]*) -> (?P<dest>[a-z][a-z0-9_]*) (?P<n>\d+) "
                      r"completes within (?P<s>\d+(?:\.\d+)?) seconds?$")
SUPPLY = re.compile(r"^supply is backed$")
METRIC = re.compile(r"^(?P<node>[a-z][a-z0-9_-]*): metric (?P<metric>[a-zA-Z_:][a-zA-Z0-9_:]*) is at least "
                    r"(?P<value>\d+(?:\.\d+)?) within (?P<s>\d+(?:\.\d+)?) seconds?$")
PARTITION = re.compile(r"^partition (?P<a>\S+) (?P<b>\S+)$")
HEAL = re.compile(r"^heal$")
MARKET_PLACED = re.compile(r"^market case (?P<file>\S+) is placed$")
MARKET_SETTLES = re.compile(r"^market case (?P<file>\S+) (?P<until>settles|is committed) within (?P<s>\d+(?:\.\d+)?) seconds?$")
MARKET_ALL = re.compile(r"^market trades are all settled within (?P<s>\d+(?:\.\d+)?) seconds?$")
FORMS = ("CHAIN: finalized|anchored|best height is at least|grows by N within S seconds", "kill|restart|pause|resume NODE", "sleep S",
         "partition A[,B…] C[,D…]", "heal",
         "transfer CHAIN -> CHAIN N completes within S seconds", "supply is backed",
         "NODE: metric NAME is at least V within S seconds", "market case FILE is placed",
         "market case FILE is committed|settles within S seconds", "market trades are all settled within S seconds")
TRANSFER_AMOUNT = 10**12
TRANSFER_SIGNER = "//Ferdie"  # funded on every chain, and left alone by the other tools


class ScenarioError(ValueError):
    def __init__(self, line_no: int, problem: str):
        super().__init__(f"line {line_no}: {problem}")
        self.line_no, self.problem = line_no, problem


@dataclass(frozen=True, slots=True)
class HeightAtLeast:
    line_no: int
    text: str
    chain: str
    status: str  # best, finalized or anchored
    height: int
    within_s: float
    relative: bool = False  # "grows by N": N more than when the step starts


@dataclass(frozen=True, slots=True)
class Fault:
    line_no: int
    text: str
    action: str  # kill, restart, pause, resume
    node: str


@dataclass(frozen=True, slots=True)
class Sleep:
    line_no: int
    text: str
    seconds: float


@dataclass(frozen=True, slots=True)
class TransferArrives:
    line_no: int
    text: str
    count: int
    source: str
    dest: str
    within_s: float


@dataclass(frozen=True, slots=True)
class MetricAtLeast:
    line_no: int
    text: str
    node: str
    metric: str
    value: float
    within_s: float


@dataclass(frozen=True, slots=True)
class SupplyBacked:
    line_no: int
    text: str


@dataclass(frozen=True, slots=True)
class Partition:
    line_no: int
    text: str
    side_a: tuple[str, ...]
    side_b: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Heal:
    line_no: int
    text: str


@dataclass(frozen=True, slots=True)
class MarketCase:
    line_no: int
    text: str
    path: str  # the case file, as written
    until: str  # "placed" (its orders booked), "committed" (the auction ran) or "settles" (every leg applied)
    within_s: float | None  # None for "placed": placing takes as long as it takes


@dataclass(frozen=True, slots=True)
class MarketSettled:
    line_no: int
    text: str
    within_s: float


Step = HeightAtLeast | Fault | Sleep | TransferArrives | SupplyBacked | MetricAtLeast | Partition | Heal | MarketCase | MarketSettled
NET_STEPS = (Partition, Heal)


def parse_scenario(text: str) -> list[Step]:
    steps: list[Step] = []
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = " ".join(raw.split("#", 1)[0].split())  # comments off, whitespace normalised
        if not line:
            continue
        if m := HEIGHT.match(line):
            if float(m["s"]) <= 0:
                raise ScenarioError(line_no, f"the time limit must be positive: {raw.strip()!r}")
            steps.append(HeightAtLeast(line_no, line, m["chain"], m["status"], int(m["n"]), float(m["s"]), m["form"] == "grows by"))
        elif m := FAULT.match(line):
            steps.append(Fault(line_no, line, m["action"], m["node"]))
        elif m := SLEEP.match(line):
            steps.append(Sleep(line_no, line, float(m["s"])))
        elif m := TRANSFER.match(line):
            if int(m["n"]) <= 0 or float(m["s"]) <= 0 or m["source"] == m["dest"]:
                raise ScenarioError(line_no, f"a transfer step needs a positive count and time, between two chains: {raw.strip()!r}")
            steps.append(TransferArrives(line_no, line, int(m["n"]), m["source"], m["dest"], float(m["s"])))
        elif SUPPLY.match(line):
            steps.append(SupplyBacked(line_no, line))
        elif m := METRIC.match(line):
            if float(m["s"]) <= 0:
                raise ScenarioError(line_no, f"the time limit must be positive: {raw.strip()!r}")
            steps.append(MetricAtLeast(line_no, line, m["node"], m["metric"], float(m["value"]), float(m["s"])))
        elif m := PARTITION.match(line):
            try:
                side_a, side_b = parse_group(m["a"]), parse_group(m["b"])
            except TestnetError as e:
                raise ScenarioError(line_no, f"{e}: {raw.strip()!r}") from None
            if set(side_a) & set(side_b):
                raise ScenarioError(line_no, f"a node cannot be on both sides of a partition: {raw.strip()!r}")
            steps.append(Partition(line_no, line, side_a, side_b))
        elif HEAL.match(line):
            steps.append(Heal(line_no, line))
        elif m := MARKET_PLACED.match(line):
            steps.append(MarketCase(line_no, line, m["file"], "placed", None))
        elif m := MARKET_SETTLES.match(line) or MARKET_ALL.match(line):
            if float(m["s"]) <= 0:
                raise ScenarioError(line_no, f"the time limit must be positive: {raw.strip()!r}")
            if "file" in m.groupdict():
                steps.append(MarketCase(line_no, line, m["file"], m["until"].removeprefix("is "), float(m["s"])))
            else:
                steps.append(MarketSettled(line_no, line, float(m["s"])))
        else:
            raise ScenarioError(line_no, f"not a step: {raw.strip()!r} (expected one of: {'; '.join(FORMS)})")
    return steps


def check_against(steps: list[Step], network: Network, base: Path | None = None) -> None:
    """Every chain and node a step names exists, only parachains are asked for anchoring, and
    every case file can be found (from the current directory or ``base``)."""
    names = {n.name for n in network.nodes}
    for step in steps:
        if isinstance(step, MarketCase) and case_path(step.path, base) is None:
            raise ScenarioError(step.line_no, f"no case file {step.path!r}")
        if isinstance(step, HeightAtLeast):
            if step.chain not in network.chains:
                raise ScenarioError(step.line_no, f"unknown chain {step.chain!r} (chains: {', '.join(network.chains)})")
            if step.status == "anchored" and network.chains[step.chain]["kind"] == "relay":
                raise ScenarioError(step.line_no, f"{step.chain} is the relay; only parachains are anchored")
        elif isinstance(step, TransferArrives):
            for chain in (step.source, step.dest):
                if chain not in network.chains:
                    raise ScenarioError(step.line_no, f"unknown chain {chain!r} (chains: {', '.join(network.chains)})")
        elif isinstance(step, (Fault, MetricAtLeast)) and step.node not in names:
            raise ScenarioError(step.line_no, f"unknown node {step.node!r} (nodes: {', '.join(sorted(names))})")
        elif isinstance(step, NET_STEPS):
            if network.hosts is None:
                raise ScenarioError(step.line_no, f"{step.text!r} needs a --hosts network (`parawatt testnet up --hosts`, as root)")
            for node in (step.side_a + step.side_b if isinstance(step, Partition) else ()):
                if node not in names:
                    raise ScenarioError(step.line_no, f"unknown node {node!r} (nodes: {', '.join(sorted(names))})")


def _poll_until(read, enough, within_s: float, show, silent: str) -> tuple[bool, str]:
    """Read a value from the nodes' RPC or metrics until it is ``enough`` or time is up. The
    nodes are other processes that announce nothing, so polling is the only way to see them."""
    deadline = time.monotonic() + within_s
    while True:
        seen = read()
        if seen is not None and enough(seen):
            return True, show(seen)
        if time.monotonic() > deadline:
            return False, silent if seen is None else f"reached only {show(seen)}"
        time.sleep(POLL_S * 2)


def _wait_height(network: Network, step: HeightAtLeast) -> tuple[bool, str]:
    target = step.height
    if step.relative:
        start = network.chain_height(step.chain, step.status)
        if start is None:
            return False, "no node answered"
        target += start
    return _poll_until(lambda: network.chain_height(step.chain, step.status), lambda seen: seen >= target,
                       step.within_s, lambda seen: f"#{seen}", "no node answered")


def _wait_metric(network: Network, step: MetricAtLeast) -> tuple[bool, str]:
    return _poll_until(lambda: network.metric(step.node, step.metric), lambda seen: seen >= step.value,
                       step.within_s, lambda seen: f"{seen:g}", "not exported or no answer")


def _transfer(network: Network, step: TransferArrives) -> tuple[bool, str]:
    from node.testnet.transfers import send_transfers

    report = send_transfers(network, source=step.source, dest=step.dest, amount=TRANSFER_AMOUNT, signers=[TRANSFER_SIGNER],
                            to_account=None, count=step.count, timeout_blocks=200, wait_s=step.within_s)
    p95 = report["latencyS"]["p95"]
    detail = f"{report['delivered']}/{step.count} credited" + (f", p95 {p95:.1f} s" if p95 is not None else "")
    return report["delivered"] == step.count, detail


def _supply(network: Network) -> tuple[bool, str]:
    from node.testnet.transfers import supply_report

    report = supply_report(network)
    short = [name for name, p in report["parachains"].items() if not p["backed"]]
    return report["ok"], "every parachain backed" if report["ok"] else f"not backed: {', '.join(short)}"


def case_path(written: str, base: Path | None) -> Path | None:
    for candidate in (Path(written), (base or Path.cwd()) / written):
        if candidate.is_file():
            return candidate
    return None


class _Market:
    """The market steps' state: cases placed by earlier lines, waiting to be collected."""

    def __init__(self, network: Network, base: Path | None):
        self.network, self.base = network, base
        self.placed: dict[str, object] = {}

    def case(self, step: MarketCase) -> tuple[bool, str]:
        from node.testnet.market_case import collect_case, decode_case_file, load_aggregators, place_case
        from node.testnet.transfers import open_chains

        chains = open_chains(self.network)
        aggregators = load_aggregators(self.network.run_dir)
        deadline = time.monotonic() + (step.within_s or CASE_PLACE_S)
        placed = self.placed.get(step.path)
        if placed is None:
            placed = place_case(chains, aggregators, decode_case_file(case_path(step.path, self.base)), say=lambda line: None,
                                deadline=deadline)
            self.placed[step.path] = placed
        if step.until == "placed":
            return True, f"{len(placed.case.orders)} orders booked for period {placed.period} (gate #{placed.gate})"
        if step.until == "committed":
            return _poll_until(lambda: chains["relay"].call("market_trades", [placed.period]), lambda r: r["status"] != "Open",
                               step.within_s, lambda r: f"period {placed.period} {r['status']} with {len(r['trades'])} trades",
                               "the relay did not answer")
        del self.placed[step.path]
        run = collect_case(chains["relay"], placed, {a["account"]: n for n, a in aggregators.items()}, deadline=deadline)
        same = run.result.trades == _offline(run.case).trades and run.result.grid == _offline(run.case).grid
        detail = f"{len(run.settlements)} trades, every leg applied, {'equal to' if same else 'DIFFERENT FROM'} the offline auction's"
        return same, detail

    def all_settled(self, step: MarketSettled) -> tuple[bool, str]:
        from node.testnet.market_case import market_summary

        return _poll_until(lambda: market_summary(self.network), lambda s: s["trades"] == s["settled"], step.within_s,
                           lambda s: f"{s['settled']}/{s['trades']} trades settled", "the relay did not answer")


CASE_PLACE_S = 180  # placing a case's orders waits for each to reach the relay's book


def _offline(case):
    from bridge.auction import run_auction

    return run_auction(case.orders, period=case.period, tariff=case.tariff, credits=case.credits, tie_lines=case.tie_lines,
                       exclusion_threshold=case.exclusion_threshold)


def run(steps: list[Step], network: Network, out: Callable[[str], None] = print, base: Path | None = None) -> bool:
    """Run every step in order, printing ✓/✗ with timings; stops at the first failure."""
    market = _Market(network, base)
    for step in steps:
        began = time.monotonic()
        ok, detail = True, ""
        try:
            if isinstance(step, HeightAtLeast):
                ok, detail = _wait_height(network, step)
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
            elif isinstance(step, TransferArrives):
                ok, detail = _transfer(network, step)
            elif isinstance(step, SupplyBacked):
                ok, detail = _supply(network)
            elif isinstance(step, MetricAtLeast):
                ok, detail = _wait_metric(network, step)
            elif isinstance(step, Partition):
                NetFaults(network).partition(step.side_a, step.side_b)
            elif isinstance(step, Heal):
                NetFaults(network).heal()
            elif isinstance(step, MarketCase):
                ok, detail = market.case(step)
            elif isinstance(step, MarketSettled):
                ok, detail = market.all_settled(step)
            else:
                getattr(network, step.action)(step.node)
        except TestnetError as e:
            ok, detail = False, str(e)
        took = time.monotonic() - began
        note = f" — {detail}" if detail else ""
        out(f"{'✓' if ok else '✗'} {step.text}  ({took:.1f} s){note}")
        if not ok:
            return False
    return True
