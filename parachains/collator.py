"""Collation on a parachain node: every finalized parachain block goes to the relay as a
candidate, and the node follows what the relay has anchored.

Which blocks become candidates: the parachain's own finalized blocks, in order, each as its own
candidate. Finality first keeps the relay from anchoring a block the parachain later drops.
A parachain faster than the relay gets every block validated because the relay includes several
consecutive candidates of one para in one relay block (see `relay.inclusion`).

Each block this node authors imports the newest finalized relay header and the messages waiting
for this chain, proven against it (`parachains.inbound`, fetched once per tick).

Collators take turns (block n is first sent by the collator after its Aura author, or by collator
n mod N without an Aura slot), so the work of recording each proof of validity is done once, and
by a collator that imported the block: its import left the witness the proof is made of without
executing the block again (`parachains.collation.pov_from_witness`; the author, or any collator
without a witness, executes it on a recording trie). A block still not anchored `RESUBMIT_AFTER`
follow ticks after a collator first saw it is sent by every collator (the relay de-duplicates by
candidate hash), so a crashed collator does not stall the para. The follow loop runs once per parachain block time; a relay that cannot be reached
or whose answers do not verify is logged and retried on the next tick.
"""

from __future__ import annotations

import logging

import trio

from node.primitives.header import Header
from node.service.node import NodeExtension
from node.runtime.overlay import StateOverlay
from node.consensus.aura import slot_of
from node.consensus.errors import InvalidPreDigest
from node.primitives.hashing import blake2_256
from parachains.collation import candidate_receipt, pov_from_witness, record_candidate
from parachains.inbound import RelayView, channels_of, fetch_relay_view, relay_data
from parachains.relay_client import Anchored, RelayError

log = logging.getLogger("parawatt.collator")

MAX_CANDIDATES_PER_TICK = 16
RESUBMIT_AFTER = 5


class CollationService(NodeExtension):
    def __init__(self, node, *, para_id: int, relay, collator_key: bytes, malicious: str | None = None):
        self.node = node
        # Test-only misbehaviour: "state_root", "invalid_transaction" or "missing_node" — every
        # candidate this collator sends is forged that way, to show validators refuse it.
        self.malicious = malicious
        self.para_id = para_id
        self.relay = relay
        self.collator_key = collator_key
        self.anchored: Anchored | None = None
        self._submitted: dict[bytes, int] = {}  # para block hash -> tick it was last sent
        self._seen: dict[bytes, int] = {}  # para block hash -> tick it was first due (another collator's turn)
        # para block hash -> (number, PoV, commitments): a resend only needs a new relay parent,
        # not a second recording of the same block
        self._recorded: dict[bytes, tuple] = {}
        authorities, keypair = node.config.authorities, node.config.keypair
        in_set = authorities is not None and keypair is not None and keypair.public_key in authorities.keys
        self._turn = (authorities.keys.index(keypair.public_key), authorities.n) if in_set else None
        self._tick = 0
        if node.chain.witnesses is None:
            node.chain.witnesses = {}  # what each import read: proofs of validity without re-execution
        self.candidates_submitted = 0
        self.povs = {"witness": 0, "executed": 0}  # how each recorded proof of validity was made
        self.relay_view: RelayView | None = None  # what the next block imports from the relay

    # -- what the node exposes ----------------------------------------------------------------
    def anchored_number(self) -> int:
        return -1 if self.anchored is None else self.anchored.header.number

    def is_anchored(self, header: Header) -> bool:
        """Included in a finalized relay block: the anchored head or one of its ancestors."""
        if self.anchored is None:
            return False
        ancestor = self.node.chain.ancestor_at(self.anchored.header, header.number) if header.number <= self.anchored.header.number else None
        return ancestor is not None and ancestor.hash == header.hash

    def register_rpc(self, module) -> None:
        async def anchored_head(params, conn):
            a = self.anchored
            if a is None:
                return None
            return {
                "hash": "0x" + a.head_hash.hex(),
                "number": a.header.number,
                "relayBlock": "0x" + a.relay_hash.hex(),
                "relayNumber": a.relay_number,
            }

        module.register_method("parachain_anchoredHead", anchored_head)

    # -- the loop -----------------------------------------------------------------------------
    async def run(self, *, task_status=trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            await trio.sleep(self.node.config.block_time_ms / 1000)
            self._tick += 1
            try:
                await self.follow()
            except RelayError as e:
                log.warning("para %d: relay: %s", self.para_id, e)

    async def follow(self) -> None:
        anchored = await self.relay.anchored(self.para_id)
        if self.anchored is None or anchored.head_hash != self.anchored.head_hash:
            log.info("para %d: anchored #%d 0x%s… in relay #%d", self.para_id, anchored.header.number, anchored.head_hash.hex()[:12], anchored.relay_number)
        self.anchored = anchored
        await self._submit_pending(anchored)
        await self._fetch_relay_view()

    # -- relay headers and messages in ----------------------------------------------------------
    async def _fetch_relay_view(self) -> None:
        runtime = self.node.config.runtime
        messaging = runtime.by_name.get("Messaging")
        if messaging is None or "ParachainSystem" not in runtime.by_name:
            return
        sources, dests = channels_of(self.node.db.iter_state(messaging.Channels.prefix), messaging.Channels.prefix, self.para_id)
        state = StateOverlay(self.node.db.state)
        watermarks = {s: messaging.Inbound.get(state, s)["count"] for s in sources}
        self.relay_view = await fetch_relay_view(self.relay, self.para_id, sources, dests, watermarks)

    def inherents(self, state) -> list[bytes]:
        if self.relay_view is None:
            return []
        runtime = self.node.config.runtime
        data = relay_data(self.relay_view, runtime, state, self.para_id)
        return [] if data is None else [runtime.call_type.encode(data.call())]

    async def _submit_pending(self, anchored: Anchored) -> None:
        chain = self.node.chain
        if chain.header(anchored.head_hash) is None:
            return  # the relay anchored a block we have not imported yet: sync first
        finalized = chain.finalized
        sent = 0
        parent = anchored.header
        for number in range(parent.number + 1, finalized.number + 1):
            block_hash = chain.hash_at(number)
            if block_hash is None or sent >= MAX_CANDIDATES_PER_TICK:
                break
            last = self._submitted.get(block_hash)
            header = chain.header(block_hash)
            if last is None and not self._my_turn(header):
                if chain.witnesses:
                    chain.witnesses.pop(block_hash, None)  # another collator's turn: not worth its memory
                first_due = self._seen.setdefault(block_hash, self._tick)
                due = self._tick - first_due >= RESUBMIT_AFTER
            else:
                due = last is None or self._tick - last >= RESUBMIT_AFTER
            if due:
                block = chain.block(block_hash)
                recorded = self._recorded.get(block_hash)
                if recorded is None:
                    recorded = self._recorded[block_hash] = (number, *self._record(chain, parent, block))
                _, pov, commitments = recorded
                receipt = candidate_receipt(self.para_id, anchored.relay_hash, parent, pov, commitments, self.collator_key)
                if self.malicious is not None:
                    receipt, pov = forge_candidate(self.malicious, chain, parent, block, receipt, pov)
                await self.relay.submit_candidate(receipt, pov)
                self._submitted[block_hash] = self._tick
                self.candidates_submitted += 1
                sent += 1
            parent = header  # a block's body is only decoded when it is sent
        for seen in (self._submitted, self._seen):
            for block_hash in [h for h, tick in seen.items() if self._tick - tick > 10 * RESUBMIT_AFTER]:
                del seen[block_hash]
        for block_hash in [h for h, (number, _, _) in self._recorded.items() if number <= anchored.header.number]:
            del self._recorded[block_hash]  # anchored (or lost to a block that was)

    def _record(self, chain, parent: Header, block):
        """(PoV, commitments) of a block of our chain: from its import witness if we imported
        it, else by executing it again on a recording trie."""
        witness = chain.witnesses.pop(block.header.hash, None) if chain.witnesses is not None else None
        if witness is not None and witness.parent_root == parent.state_root:
            self.povs["witness"] += 1
            return pov_from_witness(chain.executive, chain, parent, block, witness)
        # The block is in our chain: its signatures were checked when it was built or imported.
        verified = frozenset(blake2_256(xt) for xt in block.extrinsics)
        self.povs["executed"] += 1
        return record_candidate(chain.executive, chain.node_store, parent, block, verified=verified)

    def _my_turn(self, header: Header) -> bool:
        """Whether this collator sends ``header``'s block first: the one after its Aura author
        (which has no import witness of it), or by number without an Aura slot. Every collator
        does if it is not in the authority set it knows."""
        if self._turn is None:
            return True
        index, n = self._turn
        try:
            turn = (slot_of(header) + 1) % n
        except InvalidPreDigest:
            turn = header.number % n
        return turn == index


def forge_candidate(kind: str, chain, parent: Header, block, receipt, pov):
    """Test-only: the three ways the issue's malicious collator breaks a candidate."""
    import dataclasses

    from node.primitives.header import Block, extrinsics_root
    from node.runtime.block_execution import ordered_root
    from relay.primitives import PoV

    if kind == "missing_node":
        pov = PoV(pov.block, pov.proof[1:])
    else:
        header = block.header
        extrinsics = block.extrinsics
        if kind == "invalid_transaction" and len(extrinsics) > 1:
            bad = bytearray(extrinsics[1])
            bad[40] ^= 1
            extrinsics = (extrinsics[0], bytes(bad), *extrinsics[2:])
            header = dataclasses.replace(header, extrinsics_root=extrinsics_root(extrinsics, ordered_root))
        else:  # "state_root" (and an empty block under "invalid_transaction")
            header = dataclasses.replace(header, state_root=bytes(32))
        pov = PoV(Block(header, extrinsics).encode(), pov.proof)
        receipt = dataclasses.replace(receipt, commitments=dataclasses.replace(receipt.commitments, head_data=header.encode()))
    descriptor = dataclasses.replace(receipt.descriptor, pov_hash=pov.hash)
    return dataclasses.replace(receipt, descriptor=descriptor), pov
