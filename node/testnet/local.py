"""A local network of real node processes on loopback: what `parawatt testnet` builds on.

`prepare_network` writes a run folder — the network's CA, one key folder per node (TLS key and
certificate, ed25519 identity key), and a chain spec whose authorities are those identity keys —
and picks free ports. `NodeProcess` starts one node (`parawatt node --chain …`) with its log in
the run folder, and knows how to wait for it, kill it and restart it.
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

from node.cli import DEV_ENDOWMENT
from node.primitives.keys import DEV_ACCOUNTS, dev_keypair
from node.security.ca import init_ca, issue_node_certificate
from node.service.network_setup import load_identity
from node.security.files import NodeFiles

RPC_READY_TIMEOUT_S = 60


_handed_out: set[int] = set()


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A port free now and below the ephemeral range: the kernel gives the ephemeral range to
    outgoing connections (the nodes dial each other a lot), and one of those could take a port
    we picked before its node binds it. Never the same port twice in one process."""
    low, _ = _ephemeral_range()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 20000), low)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:  # a crowded machine: any free port
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class NodeLayout:
    name: str
    keys: str
    base_path: str
    rpc_port: int
    p2p_port: int
    log: str
    prometheus_port: int | None = None  # None: the node serves no metrics
    host: str = "127.0.0.1"  # where it listens (RPC, metrics, p2p): its namespace's address with --hosts

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.rpc_port}"

    @property
    def metrics_url(self) -> str | None:
        return None if self.prometheus_port is None else f"http://{self.host}:{self.prometheus_port}/metrics"


@dataclass
class NetworkLayout:
    run_dir: str
    chain_spec: str
    engine: str
    nodes: list[NodeLayout] = field(default_factory=list)

    def node(self, name: str) -> NodeLayout:
        return next(n for n in self.nodes if n.name == name)

    def save(self) -> None:
        Path(self.run_dir, "network.json").write_text(json.dumps(asdict(self), indent=2))


def prepare_network(run_dir: Path, *, names: list[str], engine: str, block_time_ms: int, chain_id: str = "parawatt_local") -> NetworkLayout:
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    ca_dir = run_dir / "ca"
    init_ca(ca_dir, chain_id)
    layout = NetworkLayout(str(run_dir), str(run_dir / "chain-spec.json"), engine)
    authorities = []
    for name in names:
        keys = run_dir / "keys" / name
        issue_node_certificate(ca_dir, name, keys)
        _, keypair = load_identity(NodeFiles.in_dir(keys))
        authorities.append("0x" + keypair.public_key.hex())
        layout.nodes.append(NodeLayout(name, str(keys), str(run_dir / "nodes" / name), free_port(), free_port(), str(run_dir / "logs" / f"{name}.log"), free_port()))
    (run_dir / "logs").mkdir(exist_ok=True)
    accounts = [dev_keypair(n).ss58_address for n in DEV_ACCOUNTS]
    spec = {
        "name": "Parawatt Local",
        "id": chain_id,
        "chainType": "Local",
        "runtime": "dev",
        "consensus": {"engine": engine, "blockTimeMs": block_time_ms, "authorities": authorities},
        "genesis": {"balances": [[a, DEV_ENDOWMENT] for a in accounts], "sudo": accounts[0]},
        "bootNodes": [],
    }
    Path(layout.chain_spec).write_text(json.dumps(spec, indent=2))
    layout.save()
    return layout


class NodeProcess:
    def __init__(self, layout: NetworkLayout, node: NodeLayout):
        self.layout, self.node = layout, node
        self.proc: subprocess.Popen | None = None

    def command(self) -> list[str]:
        others = [f"{n.host}:{n.p2p_port}" for n in self.layout.nodes if n.name != self.node.name]
        hosts = ["--p2p-host", self.node.host, "--rpc-host", self.node.host] if self.node.host != "127.0.0.1" else []
        return [
            sys.executable, "-m", "node.cli", "node", "--chain", self.layout.chain_spec, "--base-path", self.node.base_path,
            "--keys", self.node.keys, "--rpc-port", str(self.node.rpc_port), "--p2p-port", str(self.node.p2p_port),
            *(["--prometheus-port", str(self.node.prometheus_port)] if self.node.prometheus_port is not None else []),
            *hosts, "--bootnodes", *others,
        ]

    def start(self) -> None:
        log = open(self.node.log, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=dict(os.environ))
        log.close()

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def rpc(self, method: str, params=()) -> object:
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
        request = urllib.request.Request(self.node.rpc_url, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:
            answer = json.loads(reply.read())
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer["result"]

    def wait_ready(self, timeout_s: float = RPC_READY_TIMEOUT_S) -> None:
        """Until its RPC answers. Polls: an external process gives us no event to wait on."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.node.name} exited with {self.proc.returncode}; log:\n{self.log_tail()}")
            try:
                self.rpc("system_health")
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.node.name} did not answer RPC within {timeout_s} s; log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(Path(self.node.log).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def finalized_number(self) -> int:
        head = self.rpc("chain_getFinalizedHead")
        return int(self.rpc("chain_getHeader", [head])["number"], 16)

    def hash_at(self, number: int) -> str | None:
        return self.rpc("chain_getBlockHash", [number])


PARA_IDS = {"demand": 2000, "dg": 2001, "storage": 2002}
CHANNEL_CAPACITY = 8192  # unacknowledged messages per channel: seconds of 1,000 transfers/s
CHANNEL_MAX_MESSAGE = 16 * 1024  # bytes


@dataclass(frozen=True, slots=True)
class ParaPlan:
    """One parachain of a planned network: ``kind`` is its runtime (and fixes its para id)."""

    name: str
    kind: str
    collators: int
    engine: str
    block_time_ms: int


@dataclass(frozen=True, slots=True)
class ChannelPlan:
    """A channel between two parachains, by name, opened in genesis on both and on the relay."""

    sender: str
    recipient: str
    capacity: int = CHANNEL_CAPACITY
    max_message_size: int = CHANNEL_MAX_MESSAGE


@dataclass(frozen=True, slots=True)
class AccountPlan:
    address: str  # SS58 or 0x hex
    balance: int


def _channel_list(plans: list[ParaPlan], channels: list[ChannelPlan] | None) -> list[list[int]]:
    """(sender, receiver, capacity, max size) for genesis: relay <-> every para always, and the
    parachain pairs asked for (every pair when None)."""
    ids = {p.name: PARA_IDS[p.kind] for p in plans}
    out = [[a, b, CHANNEL_CAPACITY, CHANNEL_MAX_MESSAGE] for para in ids.values() for a, b in ((0, para), (para, 0))]
    if channels is None:
        out += [[a, b, CHANNEL_CAPACITY, CHANNEL_MAX_MESSAGE] for a in ids.values() for b in ids.values() if a != b]
    else:
        out += [[ids[c.sender], ids[c.recipient], c.capacity, c.max_message_size] for c in channels]
    return out


@dataclass
class ChainLayout:
    name: str  # "relay", "demand", "dg", "storage"
    chain_spec: str
    nodes: list[NodeLayout] = field(default_factory=list)


def prepare_multichain(
    run_dir: Path, *, validators: int = 4, paras: tuple[str, ...] = ("demand", "dg", "storage"), collators: int = 2,
    relay_engine: str = "aura", para_engine: str = "aura", block_time_ms: int = 1000, para_block_time_ms: int | None = None,
    plans: list[ParaPlan] | None = None, channels: list[ChannelPlan] | None = None,
    accounts: list[AccountPlan] | None = None, hosts: dict[str, str] | None = None,
    market=None, aggregators: tuple = (), backing_groups: int | None = None,
) -> dict[str, ChainLayout]:
    """A relay with ``validators`` and each para with ``collators``: one CA, keys for every node,
    every chain spec (the relay's carrying the paras' genesis heads), free ports. ``plans`` (from a
    testnet spec) gives each para its own name, collator count, engine and block time instead.

    Channels: the relay and every parachain always have their upward and downward channels
    (transfers and the market need them); between parachains, ``channels`` (by para name) or,
    when None, every pair. ``accounts`` are funded on every chain besides the dev accounts.
    ``hosts`` (node name → IP address) puts nodes on their own addresses instead of loopback: they
    listen and are dialled there, and their certificates name it.

    ``market`` (`market_spec.MarketPlan`) configures the relay's Market and every parachain's
    Periods; ``aggregators`` (`market_spec.AggregatorPlan`) are registered and funded on their
    home chains, with their credits on the relay, and listed in the run folder's `market.json`
    for the clients that trade as them (`parawatt experiment market`)."""
    from node.chain_spec import parse_chain_spec
    from node.service.chain import genesis_header
    from node.service.network_setup import genesis_config_for, runtime_for
    from relay.xtransfers import sovereign_account

    run_dir = Path(run_dir)
    (run_dir / "logs").mkdir(parents=True, exist_ok=True)
    ca_dir = run_dir / "ca"
    init_ca(ca_dir, "parawatt_local")
    balances = [[dev_keypair(n).ss58_address, DEV_ENDOWMENT] for n in DEV_ACCOUNTS]
    balances += [[a.address, a.balance] for a in accounts or ()]
    sudo = balances[0][0]  # //Alice

    def make_nodes(chain: str, names: list[str]) -> tuple[list[NodeLayout], list[str]]:
        nodes, keys = [], []
        for name in names:
            folder = run_dir / "keys" / name
            host = (hosts or {}).get(name, "127.0.0.1")
            issue_node_certificate(ca_dir, name, folder, hosts=tuple(dict.fromkeys((host, "127.0.0.1", "localhost"))))
            _, keypair = load_identity(NodeFiles.in_dir(folder))
            keys.append("0x" + keypair.public_key.hex())
            nodes.append(NodeLayout(name, str(folder), str(run_dir / "nodes" / name), free_port(), free_port(),
                                    str(run_dir / "logs" / f"{name}.log"), free_port(), host))
        return nodes, keys

    relay_nodes, relay_keys = make_nodes("relay", [f"validator-{i}" for i in range(validators)])
    chains = {"relay": ChainLayout("relay", str(run_dir / "relay.json"), relay_nodes)}
    para_entries = []
    if plans is None:
        para_time = para_block_time_ms or block_time_ms
        plans = [ParaPlan(kind, kind, collators, para_engine, para_time) for kind in paras]
    channels = _channel_list(plans, channels)
    sovereign = []
    for plan in plans:
        kind, para_time = plan.kind, plan.block_time_ms
        nodes, keys = make_nodes(plan.name, [f"{plan.name}-collator-{i}" for i in range(plan.collators)])
        home = [a for a in aggregators if a.chain == plan.name]
        para_balances = balances + [["0x" + a.account.hex(), a.balance] for a in home]
        # Each parachain's tokens are the relay's, held in reserve by its sovereign account there.
        sovereign.append(["0x" + sovereign_account(PARA_IDS[kind]).hex(), sum(amount for _, amount in para_balances)])
        genesis = {"balances": para_balances, "sudo": sudo, "Messaging": {"channels": channels}}
        if home:
            genesis["Registry"] = {"aggregators": [a.registry_genesis() for a in home]}
        if market is not None:
            genesis["Periods"] = market.para_genesis(block_time_ms)
        spec = {
            "name": f"Parawatt {plan.name}", "id": f"parawatt_{plan.name}", "chainType": "Local", "runtime": kind,
            "consensus": {"engine": plan.engine, "blockTimeMs": para_time, "authorities": keys},
            "genesis": genesis,
            "relay": {"paraId": PARA_IDS[kind], "rpc": [n.rpc_url for n in relay_nodes], "authorities": relay_keys, "chainId": "parawatt_relay"},
        }
        head = genesis_header(runtime_for(kind, para_time), genesis_config_for(parse_chain_spec(spec)))
        para_entries.append({"id": PARA_IDS[kind], "name": plan.name, "runtime": kind, "genesisHead": "0x" + head.encode().hex()})
        path = run_dir / f"{plan.name}.json"
        path.write_text(json.dumps(spec, indent=2))
        chains[plan.name] = ChainLayout(plan.name, str(path), nodes)
    relay_spec = {
        "name": "Parawatt Relay", "id": "parawatt_relay", "chainType": "Local", "runtime": "relay",
        "consensus": {"engine": relay_engine, "blockTimeMs": block_time_ms, "authorities": relay_keys},
        "genesis": {"balances": balances + sovereign, "sudo": sudo, "Router": {"channels": channels}},
        "paras": para_entries,
    }
    if backing_groups is not None:
        relay_spec["backingGroups"] = backing_groups
    if market is not None:
        relay_spec["genesis"]["Market"] = market.relay_genesis(tuple(aggregators))
    elif any(a.credit is not None for a in aggregators):
        relay_spec["genesis"]["Market"] = {"credits": [["0x" + a.account.hex(), a.credit] for a in aggregators if a.credit is not None]}
    Path(chains["relay"].chain_spec).write_text(json.dumps(relay_spec, indent=2))
    Path(run_dir, "market.json").write_text(json.dumps({"aggregators": [
        {"name": a.name, "chain": a.chain, "para_id": PARA_IDS[next(p.kind for p in plans if p.name == a.chain)],
         "kind": a.kind.value, "uri": a.uri, "account": "0x" + a.account.hex()} for a in aggregators]}, indent=2))
    Path(run_dir, "network.json").write_text(json.dumps({k: asdict(v) for k, v in chains.items()}, indent=2))
    return chains


def chain_processes(chain: ChainLayout) -> list[NodeProcess]:
    layout = NetworkLayout(str(Path(chain.chain_spec).parent), chain.chain_spec, "", chain.nodes)
    return [NodeProcess(layout, n) for n in chain.nodes]
