"""The node: one composition root owning the chain, the transaction pool, block authoring and
the JSON-RPC server, each a service in one trio nursery.

Dev chains have one authority: it authors a block every slot and finalizes each block when it
authors the next, so finality trails the head by one block (clients such as polkadot.js need
`inBlock` and `finalized` to arrive as separate events).
"""

from __future__ import annotations

import logging
import time
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
from node.service.chain import BuiltBlock, Chain
from node.service.txpool import PoolError, PoolTransaction, TransactionPool
from node.service.verifier import SignatureVerifier
from node.storage.db import ChainDB

log = logging.getLogger("parawatt.node")


@dataclass
class NodeConfig:
    chain_name: str
    chain_type: str  # "Development" | "Local" | "Live"
    base_path: Path
    runtime: Runtime
    genesis: dict
    properties: dict
    rpc_host: str = "127.0.0.1"
    rpc_port: int = 9944
    block_time_ms: int = 1000
    node_name: str = "parawatt"
    max_pool: int = 100_000
    authoring: bool = True  # tests turn the slot timer off and call author_block themselves
    verifier_workers: int = 1  # processes checking signatures of submitted batches (0: in-process)
    clock_ms: Callable[[], int] = field(default=lambda: int(time.time() * 1000))


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

    # -- transactions -------------------------------------------------------------------------
    def submit(self, data: bytes) -> tuple[PoolTransaction, str]:
        """Validate and pool an extrinsic. Raises DecodeError, TransactionValidityError or
        PoolError; the state and the pool are unchanged when it raises."""
        checked = self.executive.check_format(decode_extrinsic(data))
        return self.submit_checked(checked)

    async def submit_many(self, datas: list[bytes]) -> list:
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

    # -- authoring ----------------------------------------------------------------------------
    def author_block(self, slot: int, timestamp_ms: int) -> BuiltBlock:
        candidates = ((tx.checked, True) for tx in self.pool.ready())
        previous_best = self.chain.best
        built = self.chain.build_block(candidates, timestamp_ms, slot)
        self.blocks_authored += 1
        state = StateOverlay(self.db.state)
        nonce_of = lambda who: self.executive.system.account(state, who).nonce  # noqa: E731
        dropped = self.pool.on_block(built.included, list(built.rejected), nonce_of, built.block.header.number)
        for tx in dropped:
            reason = built.rejected.get(tx.hash)
            self.watchers.notify(tx.hash, "invalid" if reason is not None else "dropped", final=True)
        block_hash_hex = "0x" + built.hash.hex()
        watched = [h for h in built.included if h in self.watchers.by_hash]
        for h in watched:
            self.watchers.notify(h, {"inBlock": block_hash_hex})
        if watched:
            self.watchers.in_block[built.hash] = watched
        self._notify_heads("best", built.block.header)
        self._notify_storage(built)
        if previous_best.number > self.chain.finalized.number:
            self.finalize(previous_best.hash)
        return built

    def finalize(self, block_hash: bytes) -> None:
        header = self.chain.finalize(block_hash)
        self._notify_heads("finalized", header)
        for h in self.watchers.in_block.pop(block_hash, ()):
            self.watchers.notify(h, {"finalized": "0x" + block_hash.hex()}, final=True)

    def _notify_heads(self, kind: str, header) -> None:
        subs = self.head_subscribers[kind]
        if subs:
            as_json = header.to_json()
            for sub in list(subs):
                sub.send(as_json)

    def _notify_storage(self, built: BuiltBlock) -> None:
        if not self.storage_subscribers:
            return
        state = self.db.state
        block = "0x" + built.hash.hex()
        for sub, keys in list(self.storage_subscribers):
            changed = built.changed_keys if keys is None else [k for k in keys if k in built.changed_keys]
            if changed:
                changes = [["0x" + k.hex(), _hex_or_none(state(k))] for k in sorted(changed)]
                sub.send({"block": block, "changes": changes})

    async def author_loop(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Author one block per slot. A block that takes longer than a slot delays the next
        one (the missed slot is skipped), it never overlaps it."""
        block_time = self.config.block_time_ms
        task_status.started()
        while True:
            now = self.config.clock_ms()
            slot = now // block_time + 1
            await trio.sleep((slot * block_time - now) / 1000)
            built = self.author_block(slot, slot * block_time)
            log.info(
                "block #%d 0x%s… with %d extrinsics, pool %d",
                built.block.header.number, built.hash.hex()[:12], len(built.included), len(self.pool),
            )

    # -- lifecycle ----------------------------------------------------------------------------
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        from node.api import build_rpc_module  # the API layer depends on the node, not vice versa
        from node.rpc.server import RpcServer

        # A block can finish thousands of watched extrinsics at once: room for their notifications.
        await trio.to_thread.run_sync(self.verifier.start)
        server = RpcServer(build_rpc_module(self), self.config.rpc_host, self.config.rpc_port, max_queued_messages=65_536)
        try:
            async with trio.open_nursery() as nursery:
                port = await nursery.start(server.run)
                self.rpc_url = f"ws://{self.config.rpc_host}:{port}"
                if self.config.authoring:
                    await nursery.start(self.author_loop)
                task_status.started(self.rpc_url)
        finally:
            self.verifier.close()
            self.db.close()


def _hex_or_none(value: bytes | None) -> str | None:
    return None if value is None else "0x" + value.hex()


__all__ = ["Node", "NodeConfig", "TransactionValidityError"]
