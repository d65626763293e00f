"""Block sync: serve peers' block requests, follow their announcements, and catch up.

A node that is behind (a late start, a restart after downtime, a missed announcement) asks the
peer for the blocks it lacks: descending from the peer's block until one it knows, then it
imports them in ascending order (each verified and executed by the chain), with their
justifications. Requests go one at a time through a bounded queue of wanted blocks; a full
queue drops the want (the next announcement or handshake brings it back).

Timeout policy: each request waits `NetworkConfig.request_timeout`; a failed request is logged
and the peer's score lowered a little; the want is retried from another peer's announcement.
"""

from __future__ import annotations

import logging

import trio

from node.network.messages import BlockAnnounce, BlockData, BlockRequest, BlockResponse, Direction, MAX_BLOCKS_PER_REQUEST
from node.network.transport import RequestFailed
from node.primitives.header import Block
from node.service.chain import ChainError, InvalidBlock, StaleBlock, UnknownParent
from node.service.consensus import InvalidHeader

log = logging.getLogger("parawatt.sync")

WANTS_QUEUE = 256
MAX_FORK_DEPTH = 4096  # how far back a peer's chain may diverge before we stop walking it
INVALID_BLOCK_PENALTY = 50
FAILED_REQUEST_PENALTY = 5


class SyncService:
    def __init__(self, node):
        self.node = node
        self._wants_send, self._wants = trio.open_memory_channel[tuple[str, bytes, int]](WANTS_QUEUE)
        self.syncing = False

    # -- serving ------------------------------------------------------------------------------
    def answer(self, peer: str, request: BlockRequest) -> None:
        chain = self.node.chain
        start = request.start
        header = chain.header(start) if isinstance(start, bytes) else self._canonical(start)
        blocks = []
        limit = min(request.max_blocks, MAX_BLOCKS_PER_REQUEST)
        while header is not None and len(blocks) < limit:
            block = chain.block(header.hash) if request.want_body else None
            blocks.append(
                BlockData(
                    header.hash,
                    header if request.want_header else None,
                    block.extrinsics if block is not None else None,
                    chain.justification(header.hash) if request.want_justification else None,
                )
            )
            if request.direction == Direction.ASCENDING:
                header = self._canonical(header.number + 1)
            else:
                header = chain.header(header.parent_hash) if header.number > 0 else None
        self.node.network.send(peer, BlockResponse(request.request_id, tuple(blocks)))

    def _canonical(self, number: int):
        block_hash = self.node.chain.hash_at(number)
        return None if block_hash is None else self.node.chain.header(block_hash)

    # -- following ----------------------------------------------------------------------------
    def on_announce(self, peer: str, announce: BlockAnnounce) -> None:
        header = announce.header
        if self.node.chain.header(header.hash) is None:
            self.want(peer, header.hash, header.number)

    def on_peer_head(self, peer: str, best_hash: bytes, best_number: int) -> None:
        if best_number > self.node.chain.best.number and self.node.chain.header(best_hash) is None:
            self.want(peer, best_hash, best_number)

    def want(self, peer: str, block_hash: bytes, number: int) -> None:
        try:
            self._wants_send.send_nowait((peer, block_hash, number))
        except trio.WouldBlock:
            log.debug("sync queue full; dropping want for #%d", number)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        async for peer, block_hash, number in self._wants:
            if self.node.chain.header(block_hash) is not None:
                continue
            self.syncing = True
            try:
                await self._fetch(peer, block_hash, number)
            except RequestFailed as e:
                log.info("sync from %s failed: %s", peer, e)
                self.node.network.report(peer, FAILED_REQUEST_PENALTY, f"block request failed: {e}")
            finally:
                self.syncing = self._wants.statistics().current_buffer_used > 0

    async def _fetch(self, peer: str, block_hash: bytes, number: int) -> None:
        """Fetch ``block_hash`` and every ancestor we lack, then import them oldest first."""
        chain = self.node.chain
        missing: list[BlockData] = []
        cursor = block_hash
        while chain.header(cursor) is None:
            if len(missing) > MAX_FORK_DEPTH:
                self.node.network.report(peer, INVALID_BLOCK_PENALTY, "offers a chain that never meets ours")
                return
            response = await self.node.network.request(
                peer, BlockRequest(0, cursor, Direction.DESCENDING, MAX_BLOCKS_PER_REQUEST, True, True, True)
            )
            if not response.blocks:
                return  # the peer no longer has it (pruned or reorged away)
            for data in response.blocks:
                if chain.header(data.hash) is not None:
                    break
                if data.header is None or data.body is None or data.header.hash != data.hash:
                    self.node.network.report(peer, INVALID_BLOCK_PENALTY, "block response without the block")
                    return
                missing.append(data)
            cursor = missing[-1].header.parent_hash
        for data in reversed(missing):
            if not self._import(peer, data):
                return
        # Keep up with a peer that is still ahead: ask again from its best.
        await trio.lowlevel.checkpoint()

    def _import(self, peer: str, data: BlockData) -> bool:
        try:
            self.node.import_block(Block(data.header, data.body), justification=data.justification)
        except StaleBlock as e:
            # A fork race (it was authored before the other branch was finalized), not a fault:
            # penalizing it bans honest peers after every partition that forked the chain.
            log.info("not importing #%d from %s: %s", data.header.number, peer, e)
            return False
        except (InvalidBlock, InvalidHeader) as e:
            log.warning("invalid block #%d from %s: %s", data.header.number, peer, e)
            self.node.network.report(peer, INVALID_BLOCK_PENALTY, f"invalid block: {e}")
            self.node.consensus.on_invalid_block(data.hash)
            return False
        except (UnknownParent, ChainError) as e:
            log.info("cannot import #%d from %s: %s", data.header.number, peer, e)
            return False
        return True
