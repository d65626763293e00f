"""A deterministic in-process network of consensus nodes, for tests.

Pure and repeatable: one priority queue holds message deliveries and timers over a fake
millisecond clock; a seeded RNG picks delays and drops. Partitions and crashes are switched by
the test. Messages travel as bytes (``wire.encode_message``), so every hop exercises the codec.

Each ``SimNode`` does what the node wiring will do: carries out engine effects, imports blocks
(Aura checks and equivocation detection included), fetches blocks it lacks from peers, and
checks every justification it finalizes with, as an importer would.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

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
from node.consensus.equivocation import SlotEquivocationDetector, verify_evidence
from node.consensus.errors import ConsensusError
from node.consensus.finality import FinalityGadget
from node.consensus.justification import verify_justification
from node.consensus.messages import Proposal, Vote, sign_proposal, sign_vote
from node.consensus.tendermint import Timeouts
from node.consensus.wire import decode_message, encode_message
from node.primitives.hashing import blake2_256
from node.primitives.header import Header
from node.primitives.keys import Keypair

GENESIS = Header(bytes(32), 0, blake2_256(b"genesis"), bytes(32))
SLOT_MS = 1000
BFT_BUILD_MS = 200
TIMEOUTS = Timeouts(propose_ms=600, prevote_ms=300, precommit_ms=300, increment_ms=200)
MAX_QUEUE = 50_000  # far above any healthy run; a storm fails fast instead of eating memory
_KEYS: dict[tuple[str, int], Keypair] = {}


def keypairs(n: int, crypto: str = "sr25519") -> list[Keypair]:
    out = []
    for i in range(n):
        if (crypto, i) not in _KEYS:
            _KEYS[(crypto, i)] = Keypair.from_uri(f"//Authority{i}", crypto)
        out.append(_KEYS[(crypto, i)])
    return out


@dataclass
class Network:
    seed: int = 0
    min_delay: int = 5
    max_delay: int = 40
    drop_percent: int = 0
    now: int = 0
    crashed: set[int] = field(default_factory=set)
    groups: list[set[int]] | None = None  # a partition: nodes talk only within their group
    delivered: int = 0

    def __post_init__(self):
        self.rng = random.Random(self.seed)
        self._queue: list = []
        self._seq = 0
        self.nodes: list[SimNode] = []

    def connected(self, a: int, b: int) -> bool:
        if a in self.crashed or b in self.crashed:
            return False
        return self.groups is None or any(a in g and b in g for g in self.groups)

    def _push(self, at: int, item) -> None:
        if len(self._queue) > MAX_QUEUE:
            raise AssertionError("message storm: the simulated network's queue overflowed")
        self._seq += 1
        heapq.heappush(self._queue, (at, self._seq, item))

    def send(self, src: int, dst: int, payload: tuple) -> None:
        if not self.connected(src, dst) or self.rng.randrange(100) < self.drop_percent:
            return
        self._push(self.now + self.rng.randint(self.min_delay, self.max_delay), ("msg", src, dst, payload))

    def timer(self, node: int, after_ms: int, what) -> None:
        self._push(self.now + after_ms, ("timer", node, what, self.nodes[node].epoch))

    def run_until(self, t: int) -> None:
        while self._queue and self._queue[0][0] <= t:
            at, _, item = heapq.heappop(self._queue)
            self.now = at
            if item[0] == "msg":
                _, src, dst, payload = item
                if self.connected(src, dst):  # a link cut in flight loses the message
                    self.delivered += 1
                    self.nodes[dst].on_message(src, payload)
            else:
                _, node, what, epoch = item
                if node not in self.crashed and epoch == self.nodes[node].epoch:
                    self.nodes[node].on_timer(what)
        self.now = t

    def run_for(self, ms: int) -> None:
        self.run_until(self.now + ms)

    # -- faults ------------------------------------------------------------------------------
    def crash(self, i: int) -> None:
        self.crashed.add(i)

    def restart(self, i: int) -> None:
        """Bring a crashed node back with only what it persisted: finalized head and voter state."""
        self.crashed.discard(i)
        self.nodes[i].restart()

    def partition(self, *groups: set[int]) -> None:
        self.groups = [set(g) for g in groups]

    def heal(self) -> None:
        self.groups = None


class SimNode:
    def __init__(self, net: Network, index: int, keypair: Keypair, authorities: AuthoritySet, kind: str):
        self.net, self.index, self.keypair, self.authorities, self.kind = net, index, keypair, authorities, kind
        self.headers: dict[bytes, Header] = {GENESIS.hash: GENESIS}
        self.orphans: dict[bytes, list[Header]] = {}
        self.finalized: dict[int, bytes] = {0: GENESIS.hash}
        self.justifications: dict[bytes, object] = {}
        self.evidence: list = []
        self.rejected: list[ConsensusError] = []
        self.persisted = None  # the last PersistVoterState, as a disk would keep it
        self.detector = SlotEquivocationDetector()
        self.equivocate = False  # test-only Byzantine mode: sign two things wherever it signs one
        self._alternatives: dict[tuple[int, int], bytes] = {}
        self._wanted: dict[bytes, int] = {}  # block hash -> when last asked for
        self.epoch = 0
        self.engine = self._new_engine(GENESIS.hash, 0, None)

    def _new_engine(self, head: bytes, number: int, resume):
        cls = BftEngine if self.kind == "bft" else FinalityGadget
        return cls(self.authorities, self.keypair, head, number, TIMEOUTS, resume)

    def start(self) -> None:
        self.run(self.engine.start())
        if self.kind == "aura":
            self._schedule_slot()

    def restart(self) -> None:
        self.epoch += 1  # timers from before the crash never fire
        number = max(self.finalized)
        head = self.finalized[number]
        self.engine = self._new_engine(head, number, self.persisted.state if self.persisted else None)
        # Re-announce what this node holds above its finalized head, as import on restart would.
        for header in sorted(self.headers.values(), key=lambda h: h.number):
            if header.number > number:
                self.engine.apply_block(header.hash, header.number, header.parent_hash)
        self.start()

    @property
    def head(self) -> tuple[int, bytes]:
        number = max(self.finalized)
        return number, self.finalized[number]

    # -- effects -----------------------------------------------------------------------------
    def run(self, effects: list) -> None:
        for effect in effects:
            if isinstance(effect, Broadcast):
                self.broadcast(effect.message)
            elif isinstance(effect, ScheduleTimeout):
                self.net.timer(self.index, effect.duration_ms, TimeoutFired(effect.height, effect.step, effect.round))
            elif isinstance(effect, PersistVoterState):
                self.persisted = effect
            elif isinstance(effect, Finalize):
                self._finalize(effect)
            elif isinstance(effect, RequestBlock):
                self._want(effect.block_hash)
            elif isinstance(effect, ReportEquivocation):
                verify_evidence(effect.evidence, self.authorities)
                self.evidence.append(effect.evidence)
            elif isinstance(effect, AuthorBlock):
                self.net.timer(self.index, BFT_BUILD_MS, effect)  # building a block takes time
            else:
                raise AssertionError(f"unexpected effect {effect}")

    def broadcast(self, message) -> None:
        data = encode_message(message)
        twin = self._twin(message) if self.equivocate else None
        for peer in self._peers():
            if twin is not None and self.net.rng.randrange(2):
                self.net.send(self.index, peer, ("consensus", twin))
                self.net.send(self.index, peer, ("consensus", data))
            else:
                self.net.send(self.index, peer, ("consensus", data))
                if twin is not None:
                    self.net.send(self.index, peer, ("consensus", twin))

    def _twin(self, message) -> bytes | None:
        """A conflicting message for the same height, round and step: another block for a
        proposal, nil <-> a made-up value for a vote."""
        if isinstance(message, Proposal):
            alt = self._alternatives.get((message.height, message.round))
            if alt is None:
                return None
            return encode_message(sign_proposal(self.keypair, self.authorities, message.height, message.round, alt, -1))
        if not isinstance(message, Vote):
            return None
        other = blake2_256(b"twin" + message.encode()) if message.value is None else None
        vote = sign_vote(self.keypair, self.authorities, message.step, message.height, message.round, other)
        return encode_message(vote)

    def _peers(self):
        return [n.index for n in self.net.nodes if n.index != self.index]

    def _want(self, block_hash: bytes) -> None:
        """Ask peers for a block, at most once per 500 ms (their answers could otherwise multiply)."""
        if block_hash in self.headers or self.net.now - self._wanted.get(block_hash, -(10**9)) < 500:
            return
        self._wanted[block_hash] = self.net.now
        self._gossip(("want", block_hash))

    def _gossip(self, payload) -> None:
        for peer in self._peers():
            self.net.send(self.index, peer, payload)

    def _finalize(self, f: Finalize) -> None:
        # An importer's check: the justification must prove what the engine says is final.
        is_desc = self.engine._is_descendant
        verify_justification(f.justification, self.authorities, is_desc, target=(f.block_hash, f.number))
        previous = self.finalized.get(f.number)
        assert previous in (None, f.block_hash), f"node {self.index} finalized two blocks at {f.number}"
        self.finalized[f.number] = f.block_hash
        self.justifications[f.block_hash] = f.justification

    # -- blocks ------------------------------------------------------------------------------
    def _author_bft(self, a: AuthorBlock) -> None:
        root = blake2_256(self.keypair.public_key + a.height.to_bytes(8, "little") + a.round.to_bytes(4, "little"))
        header = Header(a.parent_hash, a.height, root, bytes(32))
        self.headers[header.hash] = header
        self._gossip(("block", header.encode()))
        if self.equivocate:  # a second block for the same height and round, proposed to some peers
            twin = Header(a.parent_hash, a.height, blake2_256(root), bytes(32))
            self.headers[twin.hash] = twin
            self._gossip(("block", twin.encode()))
            self._alternatives[(a.height, a.round)] = twin.hash
        self.run(self.engine.apply_authored(a.height, a.round, header.hash))

    def _schedule_slot(self) -> None:
        self.net.timer(self.index, SLOT_MS - self.net.now % SLOT_MS, "slot")

    def _author_aura(self) -> None:
        slot = aura.slot_at(self.net.now, SLOT_MS)
        if aura.slot_author(self.authorities, slot) != self.keypair.public_key:
            return
        parent = self.headers[self.engine.best_block()]
        twins = 2 if self.equivocate else 1
        for k in range(twins):
            root = blake2_256(self.keypair.public_key + slot.to_bytes(8, "little") + bytes([k]))
            pre = Header(parent.hash, parent.number + 1, root, bytes(32), (aura.pre_digest(slot),))
            header = aura.seal(pre, self.keypair)
            self.import_header(header)
            self._gossip(("block", header.encode()))

    def import_header(self, header: Header) -> None:
        if header.hash in self.headers:
            return
        parent = self.headers.get(header.parent_hash)
        if parent is None:
            waiting = self.orphans.setdefault(header.parent_hash, [])
            if all(h.hash != header.hash for h in waiting):
                waiting.append(header)
            self._want(header.parent_hash)
            return
        if self.kind == "aura":
            try:
                slot = aura.verify_header(header, parent, self.authorities, now_slot=aura.slot_at(self.net.now, SLOT_MS), max_drift_slots=2)
            except ConsensusError as e:
                self.rejected.append(e)
                return
            evidence = self.detector.note_header(header, slot, aura.slot_author(self.authorities, slot))
            if evidence is not None:
                self.run([ReportEquivocation(evidence)])
        self.headers[header.hash] = header
        self.run(self.engine.apply_block(header.hash, header.number, header.parent_hash))
        for child in self.orphans.pop(header.hash, []):
            self.import_header(child)

    # -- inputs ------------------------------------------------------------------------------
    def on_message(self, src: int, payload) -> None:
        kind, body = payload
        if kind == "consensus":
            try:
                self.run(self.engine.apply_message(decode_message(body)))
            except ConsensusError as e:
                self.rejected.append(e)
        elif kind == "block":
            self.import_header(Header.decode(body))
        elif kind == "want":
            header = self.headers.get(body)
            if header is not None:
                self.net.send(self.index, src, ("block", header.encode()))

    def on_timer(self, what) -> None:
        if what == "slot":
            self._author_aura()
            self._schedule_slot()
        elif isinstance(what, AuthorBlock):
            self._author_bft(what)
        else:
            self.run(self.engine.apply_timeout(what))


def make_network(kind: str, n: int = 4, *, seed: int = 0, crypto: str = "sr25519", start: bool = True, **net_kw) -> Network:
    net = Network(seed=seed, **net_kw)
    keys = keypairs(n, crypto)
    authorities = AuthoritySet.of(keys, chain_id=b"sim")
    net.nodes = [SimNode(net, i, k, authorities, kind) for i, k in enumerate(keys)]
    if start:
        for node in net.nodes:
            node.start()
    return net


def honest(net: Network, byzantine: set[int] = frozenset()) -> list[SimNode]:
    return [n for n in net.nodes if n.index not in byzantine]


def assert_agreement(nodes: list[SimNode]) -> None:
    """No two nodes finalized different blocks at one number, and each finalized chain links up."""
    seen: dict[int, bytes] = {}
    for node in nodes:
        for number, block_hash in node.finalized.items():
            assert seen.setdefault(number, block_hash) == block_hash, f"conflicting finality at {number}"
    everything: dict[bytes, Header] = {}
    for node in nodes:
        everything.update(node.headers)
    for node in nodes:
        numbers = sorted(node.finalized)
        for lower, upper in zip(numbers, numbers[1:]):
            h = everything.get(node.finalized[upper])
            while h is not None and h.number > lower:
                h = everything.get(h.parent_hash)
            if h is not None:
                assert h.hash == node.finalized[lower], f"node {node.index}: finalized block {upper} does not extend {lower}"
