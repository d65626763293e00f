"""Many full nodes in one process on an in-memory network, on trio's virtual clock."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import trio

from node.cli import dev_node_config
from node.consensus.authorities import AuthoritySet
from node.network.memory import MemoryHub, MemoryNetwork
from node.primitives.keys import Keypair
from node.service.node import Node

CHAIN_ID = b"parawatt-test"


def authority_keys(n: int) -> list[Keypair]:
    return [Keypair.from_uri(f"//Authority{i}", crypto="ed25519") for i in range(n)]


def virtual_clock_ms() -> int:
    # trio's MockClock starts near 0; offset it so slot numbers look like real ones.
    return 1_700_000_000_000 + int(trio.current_time() * 1000)


class Cluster:
    def __init__(self, base: Path, engine: str, n: int = 4, block_time_ms: int = 1000):
        self.hub = MemoryHub(seed=1)
        self.keys = authority_keys(n)
        self.authorities = AuthoritySet("ed25519", tuple(k.public_key for k in self.keys), 0, CHAIN_ID)
        self.names = [f"node{i}" for i in range(n)]
        self.base, self.engine, self.block_time_ms = base, engine, block_time_ms
        self.nodes: dict[str, Node] = {}
        self.scopes: dict[str, trio.CancelScope] = {}

    def config(self, i: int):
        name = self.names[i]
        base = dev_node_config(self.base / name, rpc_port=None, block_time_ms=self.block_time_ms)
        genesis = dict(base.genesis)
        genesis["Offences"] = {"authorities": list(self.authorities.keys), "crypto": "ed25519", "chain_id": CHAIN_ID}
        others = [n for n in self.names if n != name]
        return dataclasses.replace(
            base,
            node_name=name,
            genesis=genesis,
            engine=self.engine,
            authorities=self.authorities,
            keypair=self.keys[i],
            verifier_workers=0,
            clock_ms=virtual_clock_ms,
            network_factory=lambda status, name=name, others=others: MemoryNetwork(self.hub, name, status, bootnodes=others),
        )

    async def start(self, nursery: trio.Nursery, i: int) -> Node:
        name = self.names[i]
        node = Node(self.config(i))
        scope = trio.CancelScope()

        async def run(task_status=trio.TASK_STATUS_IGNORED):
            with scope:
                await node.run(task_status=task_status)

        await nursery.start(run)
        self.nodes[name], self.scopes[name] = node, scope
        return node

    def stop(self, i: int) -> None:
        name = self.names[i]
        self.scopes.pop(name).cancel()
        self.nodes.pop(name)

    def finalized(self) -> dict[str, int]:
        return {name: node.chain.finalized.number for name, node in self.nodes.items()}

    async def wait_until(self, predicate, *, timeout_s: float) -> None:
        """Poll the (virtual) clock until ``predicate()``; fails the test on timeout."""
        with trio.fail_after(timeout_s):
            while not predicate():
                await trio.sleep(0.1)
