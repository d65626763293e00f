"""`parawatt testnet net latency|loss|partition|heal`: shape or cut the links between nodes of a
`--hosts` network (netns.py).

The faults in force are one `FaultState` (kept in the run folder as `net-faults.json`); every
change rebuilds each node's rules from it, inside the node's namespace and on its side only
(egress), so each direction of a pair is handled by the node that sends:

- a cut (partition) is a blackhole route to the peer's address — plain iproute2, works on any
  kernel; traffic is dropped silently, as on a real partition;
- loss is an iptables `statistic` DROP rule for the peer's address;
- latency is tc: an htb root whose default class is unshaped, one class per delayed peer with a
  netem leaf, and a u32 filter steering the peer's address into it (needs the kernel's netem).

`latency A B MS` and `loss A B PCT` act on both directions (a round trip grows by 2·MS); 0 removes
them. `heal` removes every fault. Validation and command building are pure; `NetFaults` runs them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field, replace
from pathlib import Path

from node.testnet.control import Network, TestnetError
from node.testnet.netns import HostNet

MAX_LATENCY_MS = 60_000
FILE = "net-faults.json"
NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def _pair(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a <= b else (b, a)


@dataclass(frozen=True, slots=True)
class FaultState:
    latency_ms: dict[tuple[str, str], int] = field(default_factory=dict)
    loss_pct: dict[tuple[str, str], float] = field(default_factory=dict)
    cuts: frozenset[tuple[str, str]] = frozenset()

    def is_clear(self) -> bool:
        return not (self.latency_ms or self.loss_pct or self.cuts)

    def to_json(self) -> dict:
        return {"latency_ms": [[a, b, v] for (a, b), v in sorted(self.latency_ms.items())],
                "loss_pct": [[a, b, v] for (a, b), v in sorted(self.loss_pct.items())],
                "cuts": sorted(list(p) for p in self.cuts)}

    @classmethod
    def from_json(cls, obj: dict) -> FaultState:
        return cls({_pair(a, b): int(v) for a, b, v in obj.get("latency_ms", [])},
                   {_pair(a, b): float(v) for a, b, v in obj.get("loss_pct", [])},
                   frozenset(_pair(a, b) for a, b in obj.get("cuts", [])))

    def describe(self) -> list[str]:
        lines = [f"{a} <-> {b}: cut" for a, b in sorted(self.cuts)]
        lines += [f"{a} <-> {b}: +{ms} ms each way" for (a, b), ms in sorted(self.latency_ms.items())]
        lines += [f"{a} <-> {b}: {pct:g}% loss each way" for (a, b), pct in sorted(self.loss_pct.items())]
        return lines


# -- validated changes (pure) --------------------------------------------------------------------
def _known(hostnet: HostNet, *names: str) -> None:
    for name in names:
        hostnet.node(name)


def _two(hostnet: HostNet, a: str, b: str) -> tuple[str, str]:
    _known(hostnet, a, b)
    if a == b:
        raise TestnetError(f"a link joins two different nodes, not {a} and itself")
    return _pair(a, b)


def parse_group(text: str) -> tuple[str, ...]:
    """`A,B,C` → the node names; empty members and bad characters are errors."""
    names = tuple(text.split(","))
    if not text or any(not NAME.match(n) for n in names):
        raise TestnetError(f"a group is node names joined by commas (A,B,C), not {text!r}")
    return names


def with_latency(state: FaultState, hostnet: HostNet, a: str, b: str, ms: int) -> FaultState:
    pair = _two(hostnet, a, b)
    if not isinstance(ms, int) or not 0 <= ms <= MAX_LATENCY_MS:
        raise TestnetError(f"latency is whole milliseconds from 0 (none) to {MAX_LATENCY_MS}, not {ms!r}")
    latency = {k: v for k, v in state.latency_ms.items() if k != pair}
    if ms:
        latency[pair] = ms
    return replace(state, latency_ms=latency)


def with_loss(state: FaultState, hostnet: HostNet, a: str, b: str, pct: float) -> FaultState:
    pair = _two(hostnet, a, b)
    if not 0 <= pct <= 100:
        raise TestnetError(f"loss is a percentage from 0 (none) to 100, not {pct!r}")
    loss = {k: v for k, v in state.loss_pct.items() if k != pair}
    if pct:
        loss[pair] = pct
    return replace(state, loss_pct=loss)


def with_partition(state: FaultState, hostnet: HostNet, side_a: tuple[str, ...], side_b: tuple[str, ...]) -> FaultState:
    """Cut every link between a node of ``side_a`` and one of ``side_b`` (both directions)."""
    _known(hostnet, *side_a, *side_b)
    if not side_a or not side_b:
        raise TestnetError("a partition needs a node on each side")
    both = set(side_a) & set(side_b)
    if both:
        raise TestnetError(f"{', '.join(sorted(both))} cannot be on both sides of a partition")
    return replace(state, cuts=state.cuts | {_pair(a, b) for a in side_a for b in side_b})


# -- the rules of one node (pure) ------------------------------------------------------------------
def _peers(pairs, node: str) -> list[str]:
    return sorted(b if a == node else a for a, b in pairs if node in (a, b))


def reset_commands(hostnet: HostNet, node: str, *, iptables: bool) -> list[list[str]]:
    """Clear the node's rules; each may find nothing to clear (tc then fails: ignore it)."""
    inside = ["ip", "netns", "exec", hostnet.node(node).netns]
    cmds = [[*inside, "tc", "qdisc", "del", "dev", "eth0", "root"], [*inside, "ip", "-4", "route", "flush", "type", "blackhole"]]
    if iptables:
        cmds.append([*inside, "iptables", "-F", "OUTPUT"])
    return cmds


def node_commands(state: FaultState, hostnet: HostNet, node: str) -> list[list[str]]:
    """The commands that put ``state``'s faults on ``node``'s outgoing traffic (after a reset)."""
    inside = ["ip", "netns", "exec", hostnet.node(node).netns]
    addr = lambda peer: hostnet.node(peer).address + "/32"
    cmds = [[*inside, "ip", "route", "replace", "blackhole", addr(peer)] for peer in _peers(state.cuts, node)]
    for peer in _peers(state.loss_pct, node):
        pct = state.loss_pct[_pair(node, peer)]
        cmds.append([*inside, "iptables", "-A", "OUTPUT", "-d", addr(peer), "-m", "statistic", "--mode", "random",
                     "--probability", f"{pct / 100:.6f}", "-j", "DROP"])
    delayed = _peers(state.latency_ms, node)
    if delayed:
        tc = [*inside, "tc"]
        cmds += [[*tc, "qdisc", "add", "dev", "eth0", "root", "handle", "1:", "htb", "default", "1"],
                 [*tc, "class", "add", "dev", "eth0", "parent", "1:", "classid", "1:1", "htb", "rate", "10gbit"]]
        for i, peer in enumerate(delayed):
            minor = f"{i + 16:x}"
            cmds += [[*tc, "class", "add", "dev", "eth0", "parent", "1:", "classid", f"1:{minor}", "htb", "rate", "10gbit"],
                     [*tc, "qdisc", "add", "dev", "eth0", "parent", f"1:{minor}", "handle", f"{minor}:", "netem",
                      "delay", f"{state.latency_ms[_pair(node, peer)]}ms"],
                     [*tc, "filter", "add", "dev", "eth0", "parent", "1:", "protocol", "ip", "prio", "1", "u32",
                      "match", "ip", "dst", addr(peer), "flowid", f"1:{minor}"]]
    return cmds


def explain(cmd: list[str], err: str) -> str:
    """A failed fault command, said in terms of what is missing."""
    if "netem" in cmd and "unknown" in err:
        return f"latency needs tc's netem qdisc, which this kernel does not provide (sch_netem): {err}"
    if "iptables" in cmd and "statistic" in cmd and ("No chain" in err or "Couldn't load" in err or "not found" in err):
        return f"loss needs iptables' statistic match, which this kernel does not provide: {err}"
    return f"`{' '.join(cmd)}` failed: {err}"


# -- running them ---------------------------------------------------------------------------------
class NetFaults:
    """The faults of a running `--hosts` network, read from and saved to its run folder."""

    def __init__(self, network: Network):
        if network.hosts is None:
            raise TestnetError("`net` commands need a --hosts network (each node in its own namespace); this one runs on "
                               f"loopback. Start one with `parawatt testnet up --hosts --run-dir {network.run_dir}` (as root)")
        self.network, self.hostnet = network, network.hosts
        self.path = network.run_dir / FILE

    def state(self) -> FaultState:
        try:
            return FaultState.from_json(json.loads(self.path.read_text()))
        except FileNotFoundError:
            return FaultState()
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise TestnetError(f"{self.path} is not a fault description: {e}") from None

    def latency(self, a: str, b: str, ms: int) -> FaultState:
        return self._change(with_latency(self.state(), self.hostnet, a, b, ms))

    def loss(self, a: str, b: str, pct: float) -> FaultState:
        new = with_loss(self.state(), self.hostnet, a, b, pct)
        if new.loss_pct and shutil.which("iptables") is None:
            raise TestnetError("loss needs iptables (apt-get install iptables)")
        return self._change(new)

    def partition(self, side_a: tuple[str, ...], side_b: tuple[str, ...]) -> FaultState:
        return self._change(with_partition(self.state(), self.hostnet, side_a, side_b))

    def heal(self) -> FaultState:
        return self._change(FaultState())

    def _change(self, new: FaultState) -> FaultState:
        """Apply ``new`` to every node; if that fails, put the old faults back and say why."""
        old = self.state()
        try:
            self._apply(new)
        except TestnetError:
            try:
                self._apply(old)
            except TestnetError:
                pass  # the first error is the one to report
            raise
        self.path.write_text(json.dumps(new.to_json(), indent=2))
        return new

    def _apply(self, state: FaultState) -> None:
        iptables = shutil.which("iptables") is not None
        for node in self.hostnet.nodes:
            for cmd in reset_commands(self.hostnet, node, iptables=iptables):
                subprocess.run(cmd, capture_output=True, timeout=30)
            for cmd in node_commands(state, self.hostnet, node):
                done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
                if done.returncode != 0:
                    raise TestnetError(explain(cmd, (done.stderr or done.stdout).strip()))


def clear_state(run_dir: Path) -> None:
    """Forget the faults (their rules vanish with the namespaces)."""
    (Path(run_dir) / FILE).unlink(missing_ok=True)
