"""`parawatt testnet up --hosts`: every node in its own Linux network namespace.

The plan (pure): a run gets a free *slot* k (0–255) and with it the subnet 10.213.k.0/24, a
bridge `pwbr<kk>` in the root namespace holding 10.213.k.1, and one namespace per node,
`pw-<kk>-<node>`, joined to the bridge by a veth pair (`pw<kk>-<i>` on the host, `eth0` inside)
with the node's address 10.213.k.(i+2). The host — and so the CLI — reaches every node's RPC and
metrics through the bridge; nodes listen on their own address and dial each other by it, so the
links between them can be shaped or cut inside each namespace (see netfaults.py).

What was created is recorded in `network.json` (`hosts`), so `testnet down` can remove it from
any shell, also after the nodes died. Running the `ip` commands is the only I/O here
(`run_commands`, `create`, `remove`, `pick_slot`); everything else builds argument lists.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass

from node.testnet.control import TestnetError

SUBNET_PREFIX = "10.213"
MAX_NODES = 250  # .2 … .251 of a /24; .1 is the bridge
NEEDS = "--hosts needs root and network namespaces"


@dataclass(frozen=True, slots=True)
class HostNode:
    netns: str
    veth: str  # the host side; the node side is `eth0` inside its namespace
    address: str


@dataclass(frozen=True, slots=True)
class HostNet:
    slot: int
    bridge: str
    gateway: str  # the bridge's address: the host as the nodes see it
    prefix_len: int
    nodes: dict[str, HostNode]

    @property
    def subnet(self) -> str:
        return f"{SUBNET_PREFIX}.{self.slot}.0/{self.prefix_len}"

    def node(self, name: str) -> HostNode:
        try:
            return self.nodes[name]
        except KeyError:
            raise TestnetError(f"unknown node {name!r}; this network has {', '.join(self.nodes)}") from None

    def to_json(self) -> dict:
        return {"slot": self.slot, "bridge": self.bridge, "gateway": self.gateway, "prefix_len": self.prefix_len,
                "nodes": {name: asdict(n) for name, n in self.nodes.items()}}

    @classmethod
    def from_json(cls, obj: dict) -> HostNet:
        return cls(int(obj["slot"]), obj["bridge"], obj["gateway"], int(obj["prefix_len"]),
                   {name: HostNode(**n) for name, n in obj["nodes"].items()})


def plan_hosts(slot: int, names: list[str]) -> HostNet:
    """Namespaces, veth names and addresses for ``names`` (in order) in subnet ``slot``."""
    if not 0 <= slot <= 255:
        raise TestnetError(f"subnet slot must be 0–255, not {slot}")
    if not names:
        raise TestnetError("a --hosts network needs at least one node")
    if len(names) > MAX_NODES:
        raise TestnetError(f"a --hosts network holds at most {MAX_NODES} nodes, not {len(names)}")
    if len(set(names)) != len(names):
        raise TestnetError("node names must be distinct")
    tag = f"{slot:02x}"
    nodes = {name: HostNode(f"pw-{tag}-{name}", f"pw{tag}-{i}", f"{SUBNET_PREFIX}.{slot}.{i + 2}") for i, name in enumerate(names)}
    return HostNet(slot, f"pwbr{tag}", f"{SUBNET_PREFIX}.{slot}.1", 24, nodes)


def exec_prefix(hostnet: HostNet, name: str) -> tuple[str, ...]:
    """What a node's command line starts with: run it inside its namespace."""
    return ("ip", "netns", "exec", hostnet.node(name).netns)


def setup_commands(hostnet: HostNet) -> list[list[str]]:
    cidr = f"/{hostnet.prefix_len}"
    cmds = [["ip", "link", "add", hostnet.bridge, "type", "bridge"],
            ["ip", "addr", "add", hostnet.gateway + cidr, "dev", hostnet.bridge],
            ["ip", "link", "set", hostnet.bridge, "up"]]
    for n in hostnet.nodes.values():
        inside = ["ip", "netns", "exec", n.netns]
        cmds += [["ip", "netns", "add", n.netns],
                 ["ip", "link", "add", n.veth, "type", "veth", "peer", "name", "eth0", "netns", n.netns],
                 ["ip", "link", "set", n.veth, "master", hostnet.bridge],
                 ["ip", "link", "set", n.veth, "up"],
                 [*inside, "ip", "link", "set", "lo", "up"],
                 [*inside, "ip", "addr", "add", n.address + cidr, "dev", "eth0"],
                 [*inside, "ip", "link", "set", "eth0", "up"]]
    return cmds


def teardown_commands(hostnet: HostNet) -> list[list[str]]:
    """Host-side veths first (a deleted namespace frees its veth only later, asynchronously),
    then the namespaces, then the bridge. Each may already be gone."""
    return ([["ip", "link", "del", n.veth] for n in hostnet.nodes.values()]
            + [["ip", "netns", "del", n.netns] for n in hostnet.nodes.values()]
            + [["ip", "link", "del", hostnet.bridge]])


# -- running them --------------------------------------------------------------------------------
GONE = ("Cannot find device", "No such file or directory", "does not exist")


def run_commands(cmds: list[list[str]], *, ignore_gone: bool = False, what: str = "") -> None:
    for cmd in cmds:
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        except FileNotFoundError:
            raise TestnetError(f"{what or 'network setup'}: `{cmd[0]}` is not installed (apt-get install iproute2)") from None
        if done.returncode != 0:
            err = done.stderr.strip() or done.stdout.strip()
            if ignore_gone and any(g in err for g in GONE):
                continue
            raise TestnetError(f"{what + ': ' if what else ''}`{' '.join(cmd)}` failed: {err}")


def check_available() -> None:
    """Root, `ip`, and the right to create a namespace: fail early with what is missing."""
    if os.geteuid() != 0:
        raise TestnetError(f"{NEEDS}: run as root (this is uid {os.geteuid()})")
    if shutil.which("ip") is None:
        raise TestnetError(f"{NEEDS}: `ip` is not installed (apt-get install iproute2)")
    probe = f"pw-probe-{os.getpid()}"
    try:
        run_commands([["ip", "netns", "add", probe]], what=NEEDS)
    finally:
        subprocess.run(["ip", "netns", "del", probe], capture_output=True)


def _in_use() -> str:
    out = [subprocess.run(cmd, capture_output=True, text=True).stdout
           for cmd in (["ip", "-o", "link"], ["ip", "-4", "-o", "addr"], ["ip", "-4", "route"], ["ip", "netns", "list"])]
    return "\n".join(out)


def pick_slot() -> int:
    """The lowest slot whose subnet, bridge and namespaces no one (another run, a stale one) uses."""
    seen = _in_use()
    for slot in range(256):
        tag = f"{slot:02x}"
        if f"{SUBNET_PREFIX}.{slot}." in seen or f"pwbr{tag}" in seen or f"pw-{tag}-" in seen:
            continue
        if any(ipaddress.ip_network(f"{SUBNET_PREFIX}.{slot}.0/24").overlaps(net) for net in _routes(seen)):
            continue
        return slot
    raise TestnetError(f"every subnet {SUBNET_PREFIX}.0–255.0/24 is in use; `parawatt testnet down` old --hosts networks")


def _routes(text: str) -> list[ipaddress.IPv4Network]:
    nets = []
    for line in text.splitlines():
        first = line.split(" ", 1)[0]
        if "/" in first:
            try:
                nets.append(ipaddress.ip_network(first, strict=False))
            except ValueError:
                pass
    return nets


def create(hostnet: HostNet) -> None:
    """Build it all; on a failure, remove whatever was built and say which command failed."""
    try:
        run_commands(setup_commands(hostnet), what=NEEDS)
    except BaseException:
        remove(hostnet)
        raise


def remove(hostnet: HostNet) -> None:
    run_commands(teardown_commands(hostnet), ignore_gone=True, what="removing the --hosts network")


def leftovers(hostnet: HostNet) -> list[str]:
    """Namespaces and links of this network that still exist (empty once `remove` has run)."""
    seen = _in_use()
    names = [n.netns for n in hostnet.nodes.values()] + [n.veth for n in hostnet.nodes.values()] + [hostnet.bridge]
    return [name for name in names if _mentions(seen, name)]


def _mentions(text: str, name: str) -> bool:
    return any(word.rstrip(":").split("@")[0] == name for line in text.splitlines() for word in line.split())
