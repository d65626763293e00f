"""Helpers for the network tests: one harness per transport, a log watcher, bounded waits.

The conformance suite takes ``harness`` and so runs once over memory and once over gRPC (real
servers on 127.0.0.1, port 0). Waits are bounded by ``WAIT`` seconds of trio time so that a broken
network fails a test instead of hanging it; nothing sleeps.
"""

from __future__ import annotations

import logging

import trio

from node.network.codec import decode_message, encode_message
from node.network.grpc_transport import GrpcNetwork
from node.network.link import Link
from node.network.memory import MemoryHub, MemoryNetwork
from node.network.messages import PROTOCOL_VERSION, Handshake, HandshakeAccepted, Head, Role
from node.network.transport import ChainStatus, NetworkConfig

GENESIS = bytes(range(32))
OTHER_GENESIS = bytes(32)
WAIT = 15.0
CONFIG = NetworkConfig(backoff_initial=0.05, backoff_max=0.5, handshake_timeout=5.0, request_timeout=5.0)


def status(genesis: bytes = GENESIS, best: int = 0, roles=(Role.FULL,)) -> ChainStatus:
    head = Head(bytes([best % 256]) * 32, best)
    return ChainStatus(genesis, "test-chain", frozenset(roles), head, Head(genesis, 0))


class Harness:
    """Starts named nodes of one transport in the test's nursery."""

    kind = ""

    def __init__(self, nursery: trio.Nursery):
        self.nursery = nursery

    def make(self, name: str, chain: ChainStatus, bootnodes: tuple[str, ...], config: NetworkConfig, listen: str | None):
        raise NotImplementedError

    async def start(
        self, name: str, *, bootnodes=(), chain: ChainStatus | None = None, config: NetworkConfig = CONFIG,
        listen: str | None = None,
    ):
        """A running node; returns (network, its address, a cancel scope that stops it)."""
        net = self.make(name, chain or status(), tuple(bootnodes), config, listen)
        scope = trio.CancelScope()

        async def run(task_status=trio.TASK_STATUS_IGNORED):
            with scope:
                await net.run(task_status=task_status)

        address = await self.nursery.start(run)
        return net, address, scope

    async def raw_link(self, address: str) -> Link:
        """A bare link to a node, for a test to speak bytes on (a hostile or odd peer)."""
        raise NotImplementedError


class MemoryHarness(Harness):
    kind = "memory"

    def __init__(self, nursery):
        super().__init__(nursery)
        self.hub = MemoryHub(seed=7)

    def make(self, name, chain, bootnodes, config, listen):
        return MemoryNetwork(self.hub, name, chain, bootnodes=bootnodes, config=config)

    async def raw_link(self, address):
        link = self.hub.connect("mallory", address)
        await self.nursery.start(link.run)
        return link


class GrpcHarness(Harness):
    kind = "grpc"

    def make(self, name, chain, bootnodes, config, listen):
        return GrpcNetwork(name, chain, listen=listen or "127.0.0.1:0", bootnodes=bootnodes, config=config)

    async def raw_link(self, address):
        link = await GrpcNetwork("mallory", status(), config=CONFIG)._open_link(address)
        self.nursery.start_soon(link.run)
        return link


async def raw_handshake(link: Link, *, name: str = "mallory", genesis: bytes = GENESIS, version: int = PROTOCOL_VERSION):
    """Speak the dialer's part of the handshake on a bare link (accepting whatever handshake the
    node answers with); the node's answer, decoded."""
    head = Head(genesis, 0)
    hello = Handshake(version, genesis, "test-chain", frozenset({Role.FULL}), name, head, head, 1, bytes(32))
    await link.send(encode_message(hello))
    with trio.fail_after(WAIT):
        answer = decode_message(await link.receive())
    if isinstance(answer, Handshake):
        await link.send(encode_message(HandshakeAccepted()))
    return answer


async def wait_until(net, predicate) -> None:
    with trio.fail_after(WAIT):
        await net.wait_for(predicate)


async def connected(*pairs) -> None:
    """Wait until each (network, peer name) pair has a session."""
    for net, name in pairs:
        await wait_until(net, lambda net=net, name=name: name in {p.name for p in net.peers()})


async def receive(net, count: int = 1) -> list:
    out = []
    with trio.fail_after(WAIT):
        for _ in range(count):
            out.append(await net.inbound.receive())
    return out


class LogWatcher(logging.Handler):
    """Collects the network's log lines; tests wait for a line instead of sleeping."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._waiters: list[tuple[str, trio.Event, trio.lowlevel.TrioToken]] = []

    def emit(self, record: logging.LogRecord) -> None:
        line = record.getMessage()
        self.lines.append(line)
        for text, event, token in list(self._waiters):
            if text in line:
                token.run_sync_soon(event.set)  # emit may run in a grpc thread

    def has(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    async def wait_for(self, text: str) -> str:
        event = trio.Event()
        self._waiters.append((text, event, trio.lowlevel.current_trio_token()))
        if not self.has(text):
            with trio.fail_after(WAIT):
                await event.wait()
        return next(line for line in self.lines if text in line)
