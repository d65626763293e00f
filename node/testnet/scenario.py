"""`parawatt testnet check FILE`: scenario files of assertions and fault steps, one per line.

    relay: finalized height is at least 10 within 30 seconds
    demand: anchored height is at least 5 within 30 seconds
    kill demand-collator-1
    sleep 2
    restart demand-collator-1
    pause NODE / resume NODE

Blank lines and `#` comments are skipped. `parse_scenario` is pure and names the line of any
malformed step; `check_against` names the line of an unknown chain or node; `run` executes.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable

from node.testnet.control import POLL_S, Network, TestnetError

HEIGHT = re.compile(r"^(?P<chain>[a-z][a-z0-9_]*):\s*(?P<status>best|finalized|anchored) height is at least (?P<n>\d+) "
                    r"within (?P<s>\d+(?:\.\d+)?) seconds?$")
FAULT = re.compile(r"^(?P<action>kill|restart|pause|resume) (?P<node>\S+)$")
SLEEP = re.compile(r"^sleep (?P<s>\d+(?:\.\d+)?)$")
FORMS = ("CHAIN: finalized|anchored|best height is at least N within S seconds", "kill|restart|pause|resume NODE", "sleep S")


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


Step = HeightAtLeast | Fault | Sleep


def parse_scenario(text: str) -> list[Step]:
    steps: list[Step] = []
    for line_no, raw in enumerate(text.splitlines(), 1):
        line = " ".join(raw.split("#", 1)[0].split())  # comments off, whitespace normalised
        if not line:
            continue
        if m := HEIGHT.match(line):
            if float(m["s"]) <= 0:
                raise ScenarioError(line_no, f"the time limit must be positive: {raw.strip()!r}")
            steps.append(HeightAtLeast(line_no, line, m["chain"], m["status"], int(m["n"]), float(m["s"])))
        elif m := FAULT.match(line):
            steps.append(Fault(line_no, line, m["action"], m["node"]))
        elif m := SLEEP.match(line):
            steps.append(Sleep(line_no, line, float(m["s"])))
        else:
            raise ScenarioError(line_no, f"not a step: {raw.strip()!r} (expected one of: {'; '.join(FORMS)})")
    return steps


def check_against(steps: list[Step], network: Network) -> None:
    """Every chain and node a step names exists, and only parachains are asked for anchoring."""
    names = {n.name for n in network.nodes}
    for step in steps:
        if isinstance(step, HeightAtLeast):
            if step.chain not in network.chains:
                raise ScenarioError(step.line_no, f"unknown chain {step.chain!r} (chains: {', '.join(network.chains)})")
            if step.status == "anchored" and network.chains[step.chain]["kind"] == "relay":
                raise ScenarioError(step.line_no, f"{step.chain} is the relay; only parachains are anchored")
        elif isinstance(step, Fault) and step.node not in names:
            raise ScenarioError(step.line_no, f"unknown node {step.node!r} (nodes: {', '.join(sorted(names))})")


def _wait_height(network: Network, step: HeightAtLeast) -> tuple[bool, str]:
    deadline = time.monotonic() + step.within_s
    seen = None
    while True:
        seen = network.chain_height(step.chain, step.status)
        if seen is not None and seen >= step.height:
            return True, f"#{seen}"
        if time.monotonic() > deadline:
            return False, "no node answered" if seen is None else f"reached only #{seen}"
        time.sleep(POLL_S * 2)


def run(steps: list[Step], network: Network, out: Callable[[str], None] = print) -> bool:
    """Run every step in order, printing ✓/✗ with timings; stops at the first failure."""
    for step in steps:
        began = time.monotonic()
        ok, detail = True, ""
        try:
            if isinstance(step, HeightAtLeast):
                ok, detail = _wait_height(network, step)
            elif isinstance(step, Sleep):
                time.sleep(step.seconds)
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
