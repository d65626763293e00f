"""`parawatt testnet up`: from a spec to a ready network of node processes.

`prepare` writes the run folder (CA, keys, chain specs, ports, each node's command) and
`network.json`; `launch` starts every node and waits until the network is ready — every node's
metrics answer, the relay finalizes, every parachain has a block anchored on the relay — and
fails fast, naming the node and showing its log, when one exits or the deadline passes.

With ``hosts=True`` every node gets its own network namespace and address (netns.py): `launch`
builds them before starting the nodes and `teardown` removes them.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Callable

from node.testnet.control import POLL_S, Network, NodeEntry, TestnetError
from node.testnet import netns
from node.testnet.local import NetworkLayout, NodeProcess, prepare_multichain
from node.testnet.spec import TestnetSpec

DEFAULT_RUN_DIR = Path(".run/testnet")


def _check_folder(run_dir: Path, fresh: bool) -> None:
    if not run_dir.exists() or not any(run_dir.iterdir()):
        return
    if not (run_dir / "network.json").exists():
        raise TestnetError(f"{run_dir} is not empty and holds no testnet; choose another --run-dir")
    earlier = Network.load(run_dir)
    live = earlier.live()
    if live:
        raise TestnetError(f"a testnet is running in {run_dir} ({', '.join(live)}); `parawatt testnet down --run-dir {run_dir}` first")
    if not fresh:
        raise TestnetError(f"{run_dir} holds an earlier testnet; pass --fresh to wipe it, or choose another --run-dir")
    teardown(earlier)  # its namespaces, if any were left behind
    shutil.rmtree(run_dir)


def node_names(spec: TestnetSpec) -> list[str]:
    """Every node's name, in launch order (as prepare_multichain names them)."""
    return ([f"validator-{i}" for i in range(spec.relay.validators)]
            + [f"{p.name}-collator-{i}" for p in spec.parachains for i in range(p.collators)])


def prepare(run_dir: Path, spec: TestnetSpec, *, fresh: bool = False, hosts: bool = False) -> Network:
    run_dir = Path(run_dir).resolve()
    hostnet = None
    if hosts:
        netns.check_available()
    _check_folder(run_dir, fresh)
    if hosts:
        hostnet = netns.plan_hosts(netns.pick_slot(), node_names(spec))
    relay = spec.relay
    chains = prepare_multichain(run_dir, validators=relay.validators, relay_engine=relay.consensus, block_time_ms=relay.block_time_ms,
                                plans=[p.plan() for p in spec.parachains],
                                channels=None if spec.channels is None else list(spec.channels), accounts=list(spec.accounts),
                                market=spec.market, aggregators=spec.aggregators, backing_groups=relay.backing_groups,
                                hosts=None if hostnet is None else {name: n.address for name, n in hostnet.nodes.items()})
    nodes, chain_info = [], {}
    for chain_name, chain in chains.items():
        layout = NetworkLayout(str(run_dir), chain.chain_spec, "", chain.nodes)
        chain_info[chain_name] = {"chain_spec": chain.chain_spec, "kind": "relay" if chain_name == "relay" else "parachain"}
        for n in chain.nodes:
            prefix = () if hostnet is None else netns.exec_prefix(hostnet, n.name)
            nodes.append(NodeEntry(n.name, chain_name, "validator" if chain_name == "relay" else "collator",
                                   f"ws://{n.host}:{n.rpc_port}", n.metrics_url, n.log, n.base_path,
                                   (*prefix, *NodeProcess(layout, n).command())))
    network = Network(run_dir, chain_info, nodes, spec.settings.ready_timeout_s, hostnet)
    network.save()
    return network


def readiness(network: Network) -> tuple[bool, str, list[str]]:
    """(ready?, a one-line summary, the nodes holding it back)."""
    heights = {n.name: network.heights(n.name) for n in network.nodes}
    silent = [name for name, h in heights.items() if h is None]
    parts = [f"metrics {len(heights) - len(silent)}/{len(heights)}"]
    blockers = list(silent)
    ready = not silent
    for chain, info in network.chains.items():
        status = "finalized" if info["kind"] == "relay" else "anchored"
        members = network.chain_nodes(chain)
        best = max((heights[n.name] or {}).get(status, 0) for n in members)
        parts.append(f"{chain} {status} #{best}")
        if best < 1:
            ready = False
            blockers.append(members[0].name)
    return ready, " · ".join(parts), blockers


def launch(network: Network, progress: Callable[[str], None] = print) -> float:
    """Start every node and wait until the network is ready; returns the seconds it took. On any
    failure every node started is stopped again and a TestnetError says which node and why."""
    began = time.monotonic()
    try:
        if network.hosts is not None:
            netns.create(network.hosts)
            progress(f"{len(network.hosts.nodes)} network namespaces on bridge {network.hosts.bridge} ({network.hosts.subnet})")
        for entry in network.nodes:
            network.start(entry.name)
        progress(f"started {len(network.nodes)} nodes; logs in {network.run_dir / 'logs'}")
        deadline = began + network.ready_timeout_s
        shown = ""
        while True:
            for entry in network.nodes:
                if network.pid(entry.name) is None:
                    raise TestnetError(f"{entry.name} exited before the network was ready ({network.exit_status(entry.name)}); "
                                       f"its log:\n{network.log_tail(entry.name)}")
            ready, summary, blockers = readiness(network)
            if summary != shown:
                progress(f"[{time.monotonic() - began:5.1f} s] {summary}")
                shown = summary
            if ready:
                return time.monotonic() - began
            if time.monotonic() > deadline:
                culprit = blockers[0]
                raise TestnetError(f"not ready within {network.ready_timeout_s} s ({summary}); waiting on {', '.join(blockers)}; "
                                   f"log of {culprit}:\n{network.log_tail(culprit)}")
            time.sleep(POLL_S * 2)
    except BaseException:
        teardown(network)
        raise


def teardown(network: Network) -> list[str]:
    """Stop every node and remove the network's namespaces, veths and bridge (if it has them) and
    its recorded faults. Returns the nodes it stopped."""
    from node.testnet.netfaults import clear_state

    stopped = network.stop()
    if network.hosts is not None:
        netns.remove(network.hosts)
        clear_state(network.run_dir)
    return stopped


def table(network: Network) -> str:
    rows = [("NODE", "CHAIN", "ROLE", "RPC", "METRICS", "LOG")]
    rows += [(n.name, n.chain, n.role, n.rpc_url, n.metrics_url, n.log) for n in network.nodes]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
