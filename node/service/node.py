"""The node: one composition root owning the chain, the transaction pool, consensus, the
network services (sync, transaction gossip) and the JSON-RPC server, each a service in one trio
nursery.

Which engine authors and finalizes is the chain spec's choice (`node.service.consensus`): dev
chains have one authority that finalizes each block when it authors the next, so finality
trails the head by one block (clients such as polkadot.js need `inBlock` and `finalized` to
arrive as separate events); `aura` and `bft` chains run on several nodes over the network.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import trio

from node.primitives.extrinsic import decode_extrinsic
from node.primitives.scale import DecodeError
from node.runtime.apis import RuntimeApis
from node.runtime.errors import TransactionValidityError
from node.runtime.executive import CheckedExtrinsic
from node.runtime.metadata import encode_metadata
from node.runtime.overlay import StateOverlay
from node.runtime.runtime import Runtime
from node.consensus.authorities import AuthoritySet
from node.network.messages import BlockAnnounce, BlockRequest, ConsensusMessage, Head, Justification, Role, Transactions
from node.network.transport import ChainStatus, Network
from node.primitives.hashing import blake2_256
from node.primitives.header import Block
from node.primitives.keys import Keypair
from node.runtime.errors import DispatchError
from node.service.chain import BuiltBlock, Chain, ImportResult, UnknownParent
from node.service.consensus import build_consensus
from node.service.gossip import TransactionGossip
from node.service.sync import SyncService
from node.service.txpool import PoolError, PoolTransaction, TransactionPool
from node.service.verifier import SignatureVerifier
from node.storage.db import ChainDB

log = logging.getLogger("parawatt.node")

MAX_PENDING_REPORTS = 64  # equivocation evidence waiting for this node's next block


@dataclass
class NodeConfig:
    chain_name: str
    chain_type: str  # "Development" | "Local" | "Live"
    base_path: Path
    runtime: Runtime
    genesis: dict
    properties: dict
    rpc_host: str = "127.0.0.1"
    rpc_port: int | None = 9944  # None: no RPC server (in-process simulations)
    block_time_ms: int = 1000
    node_name: str = "parawatt"
    max_pool: int = 100_000
    authoring: bool = True  # tests turn the slot timer off and call author_block themselves
    verifier_workers: int = 1  # processes checking signatures of submitted batches (0: in-process)
    clock_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))
    engine: str = "dev"  # "dev" | "aura" | "bft"
    authorities: AuthoritySet | None = None
    keypair: Keypair | None = None  # this node's authority key, if it is one
    # Builds the network once the chain's genesis and heads are known (memory or gRPC).
    network_factory: Callable[[ChainStatus], Network] | None = None
    roles: frozenset = frozenset({Role.AUTHORITY})
    prometheus_port: int | None = None  # None: no metrics endpoint; 0 picks a free port
    # Test-only misbehaviour: an aura authority that seals two different blocks in each of its
    # slots, so detection, evidence and the Offences pallet can be exercised. Never in a spec.
    equivocate: bool = False
    # Role-specific services plugged into the node (relay backing, parachain collation): each is
    # built with the node and may add inherents, RPC methods, message handlers and a task.
    extensions: tuple[Callable[["Node"], "NodeExtension"], ...] = ()


class NodeExtension:
    """A service a chain's role adds to the node. Every hook is optional."""

    engine_ids: tuple[bytes, ...] = ()  # ConsensusMessage envelopes it handles

    def inherents(self, state) -> list[bytes]:
        """Unsigned calls for the block this node is authoring, checked against ``state``."""
        return []

    def register_rpc(self, module) -> None:
        """Add RPC methods."""

    def on_message(self, peer: str, message) -> None:
        """A ConsensusMessage with one of ``engine_ids``."""

    def on_new_best(self) -> None:
        """The best block moved (authored, imported or reorganised)."""

    def on_finalized(self, header) -> None:
        """A block was finalized."""

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()


def message_totals(runtime, db) -> dict[str, int]:
    """Cross-chain messages this chain has sent and received, summed over its queues in the best
    state (a handful of keys: one per channel)."""
    if "Router" in runtime.by_name:  # the relay: chain 0 of the Router's queues
        heads = runtime.pallet("Router").Heads
        n = len(heads.prefix)
        sent = received = 0
        for key in db.iter_state(heads.prefix):
            sender, receiver = int.from_bytes(key[n + 8:n + 12], "little"), int.from_bytes(key[n + 20:n + 24], "little")
            queue = heads.value.decode_all(db.state(key))
            sent += queue["count"] if sender == 0 else 0
            received += queue["processed"] if receiver == 0 else 0
        return {"messages_sent": sent, "messages_received": received}
    if "Messaging" in runtime.by_name:
        messaging = runtime.pallet("Messaging")
        totals = {}
        for name, item in (("messages_sent", messaging.Outbound), ("messages_received", messaging.Inbound)):
            totals[name] = sum(item.value.decode_all(db.state(k))["count"] for k in db.iter_state(item.prefix))
        return totals
    return {}


def included_heights(runtime, db) -> dict[str, dict[int, int]]:
    """On the relay: each parachain's block number the relay last included (best state)."""
    if "Paras" not in runtime.by_name:
        return {}
    from node.primitives.header import Header

    paras = runtime.pallet("Paras")
    raw = db.state(paras.Parachains.key())
    heights = {}
    for para_id in [] if raw is None else paras.Parachains.value.decode_all(raw):
        head = db.state(paras.Heads.key(para_id))
        if head is not None:
            heights[para_id] = Header.decode(paras.Heads.value.decode_all(head)["head_data"]).number
    return {"included": heights}


def market_totals(runtime, db) -> dict[str, int]:
    """Orders placed on a parachain, trades committed on the relay (best state; one key each)."""
    for name, pallet, item in (("orders_placed", "Orders", "NextOrderId"), ("trades_committed", "Market", "NextTrade")):
        if pallet in runtime.by_name:
            storage = getattr(runtime.pallet(pallet), item)
            raw = db.state(storage.key())
            return {name: storage.default if raw is None else storage.value.decode_all(raw)}
    return {}


class TxWatchers:
    """Who watches which extrinsic (author_submitAndWatchExtrinsic), and the blocks awaiting
    finality that include watched extrinsics."""

    def __init__(self):
        self.by_hash: dict[bytes, set] = {}
        self.in_block: dict[bytes, list[bytes]] = {}  # block hash -> watched extrinsic hashes

    def watch(self, xt_hash: bytes, sub) -> None:
        self.by_hash.setdefault(xt_hash, set()).add(sub)
        sub.on_close(lambda: self._forget(xt_hash, sub))

    def _forget(self, xt_hash: bytes, sub) -> None:
        subs = self.by_hash.get(xt_hash)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self.by_hash[xt_hash]

    def notify(self, xt_hash: bytes, status, *, final: bool = False) -> None:
        for sub in list(self.by_hash.get(xt_hash, ())):
            sub.send(status)
            if final:
                sub.close()


class Node:
    def __init__(self, config: NodeConfig):
        self.config = config
        self.db = ChainDB(config.base_path / "db")
        self.chain = Chain(self.db, config.runtime, config.genesis)
        self.executive = self.chain.executive
        self.metadata = encode_metadata(config.runtime)
        self.apis = RuntimeApis(self.executive, self.metadata)
        self.pool = TransactionPool(config.max_pool)
        self.verifier = SignatureVerifier(workers=config.verifier_workers)
        self.watchers = TxWatchers()
        self.head_subscribers: dict[str, set] = {"best": set(), "finalized": set()}
        self.storage_subscribers: set = set()  # (sub, keys or None)
        self.blocks_authored = 0
        self.rpc_url: str | None = None
        self.consensus = build_consensus(self, config.engine, config.authorities, config.keypair)
        self.network: Network | None = None
        if config.network_factory is not None:
            self.network = config.network_factory(self._chain_status())
        self.sync = SyncService(self)
        self.gossip = TransactionGossip(self)
        self._pending_reports: deque[bytes] = deque(maxlen=MAX_PENDING_REPORTS)
        self._requested: dict[bytes, int] = {}  # block hash -> when consensus last asked for it
        self._pending_finality: tuple[bytes, bytes | None] | None = None  # decided, not yet here
        self.extensions = [make(self) for make in config.extensions]
        self.stats: dict[str, int] = {}  # refreshed per block; what the metrics endpoint reads
        self._refresh_stats()

    def _chain_status(self) -> ChainStatus:
        chain = self.chain
        return ChainStatus(
            chain.genesis_hash, self.config.chain_name, self.config.roles,
            Head(chain.best.hash, chain.best.number), Head(chain.finalized.hash, chain.finalized.number),
        )

    # -- transactions -------------------------------------------------------------------------
    def submit(self, data: bytes) -> tuple[PoolTransaction, str]:
        """Validate and pool an extrinsic. Raises DecodeError, TransactionValidityError or
        PoolError; the state and the pool are unchanged when it raises."""
        checked = self.executive.check_format(decode_extrinsic(data))
        result = self.submit_checked(checked)
        self._gossip(data)
        return result

    def _gossip(self, data: bytes) -> None:
        if self.network is not None:
            self.gossip.queue(data)

    async def submit_many(self, datas: list[bytes], *, gossip: bool = True) -> list:
        """Validate and pool many extrinsics, their signatures checked together on the verifier's
        core. One result per input, in order: (pool transaction, status) or the exception that
        refused it (DecodeError, TransactionValidityError, PoolError); refusals change nothing."""
        results: list = [None] * len(datas)
        checked: list[tuple[int, CheckedExtrinsic]] = []
        for i, data in enumerate(datas):
            try:
                checked.append((i, self.executive.check_format(decode_extrinsic(data))))
            except (DecodeError, TransactionValidityError) as e:
                results[i] = e
        current = self.chain.best.number + 1
        block_hash = self.chain.best_block_hash_lookup()
        checks = [self.executive.signature_check(c.xt, current, block_hash) for _, c in checked]
        wanted = [c for c in checks if c is not None]
        verdicts = iter(await self.verifier.verify_many(wanted))
        for (i, c), check in zip(checked, checks):
            # A failed or impossible check goes the slow way, which names the exact reason.
            verified = check is not None and next(verdicts)
            try:
                results[i] = self.submit_checked(c, signature_verified=verified)
            except (TransactionValidityError, PoolError) as e:
                results[i] = e
            else:
                if gossip:
                    self._gossip(datas[i])
        return results

    def submit_checked(self, checked: CheckedExtrinsic, *, signature_verified: bool = False) -> tuple[PoolTransaction, str]:
        chain = self.chain
        state = StateOverlay(self.db.state)
        current = chain.best.number + 1
        valid, account = self.executive.validate_with_account(
            state, checked, current, chain.best_block_hash_lookup(), False, signature_verified
        )
        xt = checked.xt
        account_nonce = account.nonce
        death = xt.era.death(current) if not xt.era.is_immortal else 2**64
        status = self.pool.submit(checked, valid, account_nonce, death)
        return self.pool.get(xt.hash), status

    def next_index(self, who: bytes) -> int:
        """`system_accountNextIndex`: the account nonce after the pool's pending transactions."""
        nonce = self.executive.system.account(StateOverlay(self.db.state), who).nonce
        for tx in self.pool.pending():
            if tx.signer == who and tx.nonce == nonce:
                nonce += 1
        return nonce

    # -- blocks -------------------------------------------------------------------------------
    def author_block(self, slot: int, timestamp_ms: int) -> BuiltBlock:
        """Build, seal, store and announce a block on the best head from the pool's ready
        transactions (and any equivocation reports waiting to go on chain)."""
        candidates = ((tx.checked, True) for tx in self.pool.ready())
        seal = None if self.config.engine == "dev" else self.consensus.seal
        built = self.chain.build_block(candidates, timestamp_ms, slot, seal=seal, inherents=self._inherents)
        self.blocks_authored += 1
        self._after_best_moved([built.block], [], built.changed_keys, rejected=built.rejected)
        if self.network is not None:
            self.network.broadcast(BlockAnnounce(built.block.header, True))
        self.consensus.on_block(built.block.header, authored=True)
        log.info(
            "authored #%d 0x%s… with %d extrinsics, pool %d",
            built.block.header.number, built.hash.hex()[:12], len(built.included), len(self.pool),
        )
        return built

    def import_block(self, block: Block, *, justification: bytes | None = None) -> ImportResult:
        """A block from a peer: consensus checks its header, the chain executes and stores it.
        Raises InvalidHeader, InvalidBlock, UnknownParent; nothing is stored when it raises."""
        parent = self.chain.header(block.header.parent_hash)
        if parent is None:
            raise UnknownParent(f"parent of #{block.header.number} is unknown")
        if self.chain.header(block.hash) is None:
            self.consensus.verify_header(block.header, parent)
        known = {h for h in (blake2_256(xt) for xt in block.extrinsics) if h in self.pool}
        result = self.chain.import_block(block, verified=known)
        if result.already_known:
            return result
        if result.is_new_best:
            enacted = [self.chain.block(h) for h in result.enacted]
            retracted = [self.chain.block(h) for h in result.retracted]
            self._after_best_moved(enacted, retracted, result.changed_keys)
        self.consensus.on_block(block.header, authored=False)
        if justification is not None:
            self.consensus.on_justification(None, block.hash, justification)
        pending = self._pending_finality
        if pending is not None and pending[0] == block.hash:
            self._pending_finality = None
            self.finalize(*pending)
        return result

    def _after_best_moved(self, enacted: list[Block], retracted: list[Block], changed_keys, *, rejected=None) -> None:
        """The pool, the watchers and the subscribers follow a new best block."""
        state = StateOverlay(self.db.state)
        nonce_of = lambda who: self.executive.system.account(state, who).nonce  # noqa: E731
        rejected = rejected or {}
        for block in enacted:
            included = [blake2_256(xt) for xt in block.extrinsics]
            dropped = self.pool.on_block(included, list(rejected), nonce_of, block.header.number)
            for tx in dropped:
                self.watchers.notify(tx.hash, "invalid" if tx.hash in rejected else "dropped", final=True)
            watched = [h for h in included if h in self.watchers.by_hash]
            for h in watched:
                self.watchers.notify(h, {"inBlock": "0x" + block.hash.hex()})
            if watched:
                self.watchers.in_block[block.hash] = watched
        for block in retracted:  # their transactions go back to the pool, as in Substrate
            for xt in block.extrinsics[1:]:
                try:
                    self.submit(xt)
                except (DecodeError, TransactionValidityError, PoolError):
                    pass
        best = self.chain.best
        for extension in self.extensions:
            extension.on_new_best()
        self._refresh_stats()
        self._notify_heads("best", best)
        self._notify_storage(best.hash, changed_keys)
        if self.network is not None:
            self.network.update_heads(Head(best.hash, best.number), Head(self.chain.finalized.hash, self.chain.finalized.number))

    def finalize(self, block_hash: bytes, justification: bytes | None = None) -> None:
        previous = self.chain.finalized
        if block_hash == previous.hash:
            return
        if self.chain.header(block_hash) is None:
            # Consensus may decide a block before this node has it: fetch it, finalize on import.
            self._pending_finality = (block_hash, justification)
            self.request_block(block_hash)
            return
        best_before = self.chain.best
        header = self.chain.finalize(block_hash, justification)
        if self.chain.best.hash != best_before.hash and not self.chain.is_descendant(best_before, header):
            self._after_best_moved([], [], frozenset())
        self._notify_heads("finalized", header)
        for extension in self.extensions:
            extension.on_finalized(header)
        self._refresh_stats()
        # Every block from the old finalized one up to this one is final now.
        cursor = header
        while cursor is not None and cursor.number > previous.number:
            for h in self.watchers.in_block.pop(cursor.hash, ()):
                self.watchers.notify(h, {"finalized": "0x" + cursor.hash.hex()}, final=True)
            cursor = self.chain.header(cursor.parent_hash)
        if self.network is not None:
            self.network.update_heads(Head(self.chain.best.hash, self.chain.best.number), Head(header.hash, header.number))

    # -- network-facing ------------------------------------------------------------------------
    def network_broadcast(self, message) -> None:
        if self.network is not None:
            self.network.broadcast(message)

    def broadcast_justification(self, block_hash: bytes, number: int, justification: bytes) -> None:
        self.network_broadcast(Justification(block_hash, number, justification))

    def request_block(self, block_hash: bytes) -> None:
        """Consensus refers to a block we lack: fetch it from the peer with the highest head.
        Asked at most once per block time per block, so repeated references cost nothing."""
        if self.network is None or self.chain.header(block_hash) is not None:
            return
        now = self.config.clock_ms()
        if now - self._requested.get(block_hash, -10**12) < self.config.block_time_ms:
            return
        if len(self._requested) > 1024:
            self._requested.clear()
        self._requested[block_hash] = now
        for peer in sorted(self.network.peers(), key=lambda p: -p.best.number):
            self.sync.want(peer.name, block_hash, 0)
            return

    def report_equivocation(self, evidence: bytes) -> None:
        """Evidence of an equivocation goes on chain in the next block this node authors."""
        offences = self.config.runtime.by_name.get("Offences")
        if offences is None:
            log.warning("equivocation detected, but this runtime has no Offences pallet to record it")
            return
        self._pending_reports.append(evidence)

    def _inherents(self, state) -> list[bytes]:
        calls = self._take_reports(state)
        for extension in self.extensions:
            calls += extension.inherents(state)
        return calls

    def _take_reports(self, state) -> list[bytes]:
        offences = self.config.runtime.by_name.get("Offences")
        calls = []
        while self._pending_reports:
            evidence = self._pending_reports.popleft()
            try:
                offences.check_report(state, evidence)
            except DispatchError as e:
                log.info("equivocation report not needed: %s", e)
                continue
            calls.append(self.config.runtime.call_type.encode({"Offences": {"report_equivocation": {"evidence": evidence}}}))
        return calls

    async def _dispatch_inbound(self) -> None:
        """Every message from peers, by kind. Handlers never block for long: fetches and
        validations are queued to their own services."""
        async for peer, message in self.network.inbound:
            if isinstance(message, BlockAnnounce):
                self.sync.on_announce(peer, message)
            elif isinstance(message, BlockRequest):
                self.sync.answer(peer, message)
            elif isinstance(message, Transactions):
                await self.gossip.received(peer, message)
            elif isinstance(message, ConsensusMessage):
                for extension in self.extensions:
                    if message.engine_id in extension.engine_ids:
                        extension.on_message(peer, message)
                        break
                else:
                    self.consensus.on_message(peer, message)
            elif isinstance(message, Justification):
                if self.chain.header(message.block_hash) is None:
                    self.sync.want(peer, message.block_hash, message.number)
                self.consensus.on_justification(peer, message.block_hash, message.justification)

    async def _catch_up(self) -> None:
        """Peers ahead of us (from their handshakes and announcements): fetch what they have.
        Checked every block time; a want for a block already being fetched is cheap."""
        while True:
            for peer in self.network.peers():
                self.sync.on_peer_head(peer.name, peer.best.hash, peer.best.number)
            await trio.sleep(self.config.block_time_ms / 1000)

    @property
    def is_syncing(self) -> bool:
        return self.sync.syncing

    def _refresh_stats(self) -> None:
        ready, future = self.pool.status_counts()
        self.stats = {
            "best": self.chain.best.number,
            "finalized": self.chain.finalized.number,
            "ready": ready,
            "future": future,
            "peers": 0 if self.network is None else len(self.network.peers()),
            **message_totals(self.config.runtime, self.db),
            **market_totals(self.config.runtime, self.db),
            **included_heights(self.config.runtime, self.db),
        }

    def _notify_heads(self, kind: str, header) -> None:
        subs = self.head_subscribers[kind]
        if subs:
            as_json = header.to_json()
            for sub in list(subs):
                sub.send(as_json)

    def _notify_storage(self, block_hash: bytes, changed_keys) -> None:
        if not self.storage_subscribers or not changed_keys:
            return
        state = self.db.state
        block = "0x" + block_hash.hex()
        for sub, keys in list(self.storage_subscribers):
            changed = changed_keys if keys is None else [k for k in keys if k in changed_keys]
            if changed:
                changes = [["0x" + k.hex(), _hex_or_none(state(k))] for k in sorted(changed)]
                sub.send({"block": block, "changes": changes})

    # -- lifecycle ----------------------------------------------------------------------------
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        from node.api import build_rpc_module  # the API layer depends on the node, not vice versa
        from node.rpc.server import RpcServer

        # A block can finish thousands of watched extrinsics at once: room for their notifications.
        await trio.to_thread.run_sync(self.verifier.start)
        try:
            async with trio.open_nursery() as nursery:
                if self.config.prometheus_port is not None:
                    from node.service.metrics import serve_metrics

                    self.metrics_port = serve_metrics(self, self.config.rpc_host, self.config.prometheus_port)
                if self.config.rpc_port is not None:
                    server = RpcServer(build_rpc_module(self), self.config.rpc_host, self.config.rpc_port, max_queued_messages=65_536)
                    port = await nursery.start(server.run)
                    self.rpc_url = f"ws://{self.config.rpc_host}:{port}"
                if self.network is not None:
                    self.p2p_address = await nursery.start(self.network.run)
                    nursery.start_soon(self._dispatch_inbound)
                    nursery.start_soon(self._catch_up)
                    await nursery.start(self.sync.run)
                    await nursery.start(self.gossip.run)
                for extension in self.extensions:
                    await nursery.start(extension.run)
                if self.config.authoring:
                    await nursery.start(self.consensus.run)
                task_status.started(self.rpc_url)
        finally:
            self.verifier.close()
            self.db.close()


def _hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


__all__ = ["Node", "NodeConfig", "TransactionValidityError"]
