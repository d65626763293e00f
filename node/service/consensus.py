"""Consensus on a running node: who authors when, which imported blocks are acceptable, and the
engine's effects carried out (broadcasts, timers, finality, the voter's write-ahead state).

Three engines, chosen by the chain spec:
- ``dev``: one authority authors every slot and finalizes each block when it authors the next.
- ``aura``: round-robin slots among the authorities (``node.consensus.aura``), and the BFT
  finality gadget (``node.consensus.finality``) finalizing what they build.
- ``bft``: Tendermint with instant finality (``node.consensus.bft``): the round's proposer builds
  the block at each height, and a block is final once more than 2/3 precommit it.

The engines are pure state machines; this module is where they meet trio, the chain and the
network. Every engine call returns effects, which `_carry_out` performs in order.
"""

from __future__ import annotations

import logging

import trio

from node.consensus import aura
from node.consensus.authorities import AuthoritySet
from node.consensus.bft import BftEngine
from node.consensus.effects import (
    AuthorBlock,
    Broadcast,
    Finalize,
    PersistVoterState,
    ReportEquivocation,
    RequestBlock,
    ScheduleTimeout,
    TimeoutFired,
)
from node.consensus.equivocation import SlotEquivocationDetector, encode_evidence
from node.consensus.errors import ConsensusError
from node.consensus.finality import FinalityGadget
from node.consensus.tendermint import Timeouts
from node.consensus.justification import Justification, decode_justification
from node.consensus.voter_state import VoterState
from node.consensus.wire import decode_message, encode_message
from node.network.messages import ConsensusMessage
from node.primitives.header import Block, Header
from node.primitives.keys import Keypair
from node.primitives.scale import DecodeError, decode_all

log = logging.getLogger("parawatt.consensus")

VOTES_ENGINE_ID = b"pwbf"  # network envelope id of Tendermint proposals, votes and justifications
JUSTIFICATION_ENGINE_ID = VOTES_ENGINE_ID  # what chain_getBlock lists justifications under
MAX_DRIFT_SLOTS = 2  # how far ahead of our clock a block's slot may be
VOTER_STATE_KEY = "voter_state"
BAD_MESSAGE_PENALTY = 20


class InvalidHeader(Exception):
    """A block whose header breaks the consensus rules (seal, author, slot)."""


def decode_stored_justification(data: bytes) -> Justification:
    return decode_all(decode_justification, data)


class Consensus:
    """Base: the dev engine. Subclasses add authorities, seals and a BFT engine."""

    engine_name = "dev"

    def __init__(self, node, *, authorities: AuthoritySet | None = None, keypair: Keypair | None = None):
        self.node = node
        self.authorities = authorities
        self.keypair = keypair
        self.block_time = node.config.block_time_ms
        self._nursery: trio.Nursery | None = None

    # -- hooks the node calls -----------------------------------------------------------------
    @property
    def is_authority(self) -> bool:
        return True

    def seal(self, header: Header) -> Header:
        return header

    def verify_header(self, header: Header, parent: Header) -> None:
        raise InvalidHeader("a dev chain has one author and imports no blocks")

    def on_block(self, header: Header, *, authored: bool) -> None:
        """A block was authored or imported (and executed correctly)."""

    def on_invalid_block(self, block_hash: bytes) -> None:
        """A block that failed to import."""

    def on_message(self, peer: str, message: ConsensusMessage) -> None:
        self._blame(peer, "consensus message on a chain without BFT")

    def on_justification(self, peer: str | None, block_hash: bytes, justification: bytes) -> None:
        self._blame(peer, "justification on a chain without BFT")

    def _blame(self, peer: str | None, reason: str) -> None:
        """Lower the score of the peer that sent something invalid (None: it came with a block
        we fetched ourselves, whose sender sync already answers for)."""
        if peer is not None and self.node.network is not None:
            self.node.network.report(peer, BAD_MESSAGE_PENALTY, reason)
        else:
            log.warning("%s", reason)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        """Dev: author every slot; finalize the previous block when authoring the next."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                task_status.started()
                async for slot in self._slots():
                    self.author_slot(slot)
            finally:
                self._nursery = None  # see BftConsensus.run

    def author_slot(self, slot: int):
        """Dev: author the slot's block and finalize its parent."""
        previous = self.node.chain.best
        built = self.node.author_block(slot, slot * self.block_time)
        if previous.number > self.node.chain.finalized.number:
            self.node.finalize(previous.hash)
        return built

    async def _slots(self):
        """Every slot start, by the node's clock. A slot missed while busy is skipped."""
        while True:
            now = self.node.config.clock_ms()
            slot = now // self.block_time + 1
            await trio.sleep((slot * self.block_time - now) / 1000)
            yield slot


class BftConsensus(Consensus):
    """Shared by ``aura`` and ``bft``: the Tendermint engine and its effects."""

    def __init__(self, node, *, authorities: AuthoritySet, keypair: Keypair | None, engine_cls):
        super().__init__(node, authorities=authorities, keypair=keypair)
        finalized = node.chain.finalized
        stored = node.db.meta(VOTER_STATE_KEY)
        resume = VoterState.decode(stored) if stored else None
        voter = keypair if self.is_authority else None
        bt = self.block_time
        # Step timeouts scale with the block time: a proposal may wait up to one block time.
        timeouts = Timeouts(propose_ms=2 * bt + 500, prevote_ms=bt, precommit_ms=bt, increment_ms=bt // 2)
        self.engine = engine_cls(authorities, voter, finalized.hash, finalized.number, timeouts=timeouts, resume=resume,
                                 justification=self._stored_justification(finalized.hash))
        # The engine knows the unfinalized blocks this node has (a restart re-reads them).
        for header in node.chain.unfinalized_headers():
            self.engine.blocks.add(header.hash, header.number, header.parent_hash)

    @property
    def is_authority(self) -> bool:
        return self.keypair is not None and self.keypair.public_key in self.authorities.keys

    def _stored_justification(self, block_hash: bytes) -> Justification | None:
        stored = self.node.chain.justification(block_hash)
        if stored is None:
            return None
        try:
            return decode_stored_justification(stored)
        except (DecodeError, ValueError):
            log.warning("the stored justification of 0x%s does not decode", block_hash.hex()[:12])
            return None

    def on_block(self, header: Header, *, authored: bool) -> None:
        self._carry_out(self.engine.apply_block(header.hash, header.number, header.parent_hash))

    def on_invalid_block(self, block_hash: bytes) -> None:
        self._carry_out(self.engine.apply_invalid_block(block_hash))

    def on_message(self, peer: str, message: ConsensusMessage) -> None:
        if message.engine_id != VOTES_ENGINE_ID:
            self._blame(peer, f"unknown consensus engine {message.engine_id!r}")
            return
        try:
            effects = self.engine.apply_message(decode_message(message.payload))
        except ConsensusError as e:
            self._blame(peer, f"invalid consensus message: {e}")
            return
        self._carry_out(effects)

    def on_justification(self, peer: str, block_hash: bytes, justification: bytes) -> None:
        try:
            decoded = decode_stored_justification(justification)
            effects = self.engine.apply_justification(decoded)
        except (ConsensusError, DecodeError, ValueError) as e:
            self._blame(peer, f"invalid justification: {e}")
            return
        self._carry_out(effects)

    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            try:
                self._carry_out(self.engine.start())
                task_status.started()
                await self._author()
            finally:
                # Stopping: start no more timers. The nursery closes once its timers are gone,
                # possibly while the node's other tasks still hand in a message or a block
                # (whose effects would then fail the node with "Nursery is closed").
                self._nursery = None

    async def _author(self) -> None:
        await trio.sleep_forever()

    # -- effects ------------------------------------------------------------------------------
    def _carry_out(self, effects: list) -> None:
        for effect in effects:
            if isinstance(effect, PersistVoterState):
                # Before anything it signed leaves the node: a restart must never sign twice.
                self.node.db.put_meta(VOTER_STATE_KEY, effect.state.encode())
            elif isinstance(effect, Broadcast):
                message = effect.message
                if isinstance(message, Justification):
                    self.node.broadcast_justification(message.target_hash, message.target_number, message.encode())
                else:
                    self.node.network_broadcast(ConsensusMessage(VOTES_ENGINE_ID, encode_message(message)))
            elif isinstance(effect, ScheduleTimeout):
                if self._nursery is not None:
                    self._nursery.start_soon(self._timer, effect)
            elif isinstance(effect, Finalize):
                self.node.finalize(effect.block_hash, effect.justification.encode())
            elif isinstance(effect, RequestBlock):
                if self.node.chain.header(effect.block_hash) is not None and self._nursery is not None:
                    self._nursery.start_soon(self._show_stored, effect.block_hash)
                else:
                    self.node.request_block(effect.block_hash)
            elif isinstance(effect, AuthorBlock):
                self._author_bft(effect)
            elif isinstance(effect, ReportEquivocation):
                self.node.report_equivocation(encode_evidence(effect.evidence))
            else:
                log.warning("unhandled consensus effect %r", effect)

    async def _show_stored(self, block_hash: bytes) -> None:
        """The engine asks for a block this node already has: one on a fork, stored before a
        restart (a restart re-reads only the best chain). Without it the engine could never
        judge a peer's lock on that fork, and the height would stall. Shown with its ancestors
        down to the finalized block, oldest first; a separate task, so the engine is never
        re-entered while its effects are being carried out."""
        chain = self.node.chain
        headers = []
        header = chain.header(block_hash)
        while header is not None and header.number > chain.finalized.number:
            headers.append(header)
            header = chain.header(header.parent_hash)
        if header is None or header.hash != chain.finalized.hash:
            return  # not above the finalized block: consensus can never use it
        for h in reversed(headers):
            self._carry_out(self.engine.apply_block(h.hash, h.number, h.parent_hash))

    async def _timer(self, timeout: ScheduleTimeout) -> None:
        await trio.sleep(timeout.duration_ms / 1000)
        self._carry_out(self.engine.apply_timeout(TimeoutFired(timeout.height, timeout.step, timeout.round)))

    def _author_bft(self, request: AuthorBlock) -> None:
        raise ConsensusError("only the bft engine authors on request")


class AuraConsensus(BftConsensus):
    """Aura slots for authorship, the BFT finality gadget for finality."""

    engine_name = "aura"

    def __init__(self, node, *, authorities: AuthoritySet, keypair: Keypair | None):
        super().__init__(node, authorities=authorities, keypair=keypair, engine_cls=FinalityGadget)
        self.detector = SlotEquivocationDetector()

    def seal(self, header: Header) -> Header:
        return aura.seal(header, self.keypair)

    def verify_header(self, header: Header, parent: Header) -> None:
        now_slot = self.node.config.clock_ms() // self.block_time
        try:
            slot = aura.verify_header(header, parent, self.authorities, now_slot=now_slot, max_drift_slots=MAX_DRIFT_SLOTS)
        except ConsensusError as e:
            raise InvalidHeader(str(e)) from None
        evidence = self.detector.note_header(header, slot, aura.slot_author(self.authorities, slot))
        if evidence is not None:
            log.warning("equivocation: two blocks for slot %d by %s", slot, evidence.offender.hex()[:16])
            self.node.report_equivocation(encode_evidence(evidence))

    async def _author(self) -> None:
        async for slot in self._slots():
            if not self.is_authority or aura.slot_author(self.authorities, slot) != self.keypair.public_key:
                continue
            parent = self.node.chain.best
            self.node.author_block(slot, slot * self.block_time)
            if self.node.config.equivocate:  # test-only: a second, different block for the slot
                self.node.chain.set_best(parent.hash)
                self.node.author_block(slot, slot * self.block_time + 1)


class BftOnlyConsensus(BftConsensus):
    """Tendermint with instant finality: the proposer of (height, round) builds the block."""

    engine_name = "bft"

    def __init__(self, node, *, authorities: AuthoritySet, keypair: Keypair | None):
        super().__init__(node, authorities=authorities, keypair=keypair, engine_cls=BftEngine)

    def seal(self, header: Header) -> Header:
        return aura.seal(header, self.keypair)  # the proposer's signature over the pre-seal hash

    def verify_header(self, header: Header, parent: Header) -> None:
        # Which authority may propose is the engine's business (signed proposals); here the block
        # must be sealed by some authority and build on the last finalized block.
        try:
            pre_header, signature = aura.unseal(header)
        except ConsensusError as e:
            raise InvalidHeader(str(e)) from None
        if not any(self.authorities.verify(key, pre_header.hash, signature) for key in self.authorities.keys):
            raise InvalidHeader("the block is not sealed by an authority")

    def _author_bft(self, request: AuthorBlock) -> None:
        """Propose at (height, round): one block time after the parent, not sooner, so a bft
        chain keeps its spec's block time instead of deciding as fast as it can."""
        if self._nursery is not None:
            self._nursery.start_soon(self._propose, request)

    async def _propose(self, request: AuthorBlock) -> None:
        node = self.node
        parent = node.chain.header(request.parent_hash)
        if parent is None:  # decided elsewhere, not here yet: fetch it; this round times out
            node.request_block(request.parent_hash)
            return
        not_before = self._timestamp_of(parent) + self.block_time
        now = node.config.clock_ms()
        if now < not_before:
            await trio.sleep((not_before - now) / 1000)
        if self.engine.height != request.height:
            return  # decided meanwhile
        if node.chain.best.hash != request.parent_hash:
            node.chain.set_best(request.parent_hash)  # a proposal not decided: build beside it
        timestamp = max(node.config.clock_ms(), not_before)
        built = node.author_block(timestamp // self.block_time, timestamp)
        self._carry_out(self.engine.apply_authored(request.height, request.round, built.hash))

    def _timestamp_of(self, header: Header) -> int:
        timestamp = self.node.config.runtime.pallet("Timestamp")
        view = self.node.chain.state_at(header.hash)
        raw = view.get(timestamp.Now.key())
        return 0 if raw is None else int.from_bytes(raw, "little")


def build_consensus(node, engine: str, authorities: AuthoritySet | None, keypair: Keypair | None) -> Consensus:
    if engine == "dev":
        return Consensus(node)
    if authorities is None:
        raise ValueError(f"the {engine} engine needs an authority set")
    if engine == "aura":
        return AuraConsensus(node, authorities=authorities, keypair=keypair)
    if engine == "bft":
        return BftOnlyConsensus(node, authorities=authorities, keypair=keypair)
    raise ValueError(f"unknown consensus engine {engine!r}")


__all__ = ["Consensus", "AuraConsensus", "BftOnlyConsensus", "InvalidHeader", "build_consensus", "Block"]
