"""A relay and its parachains as plain runtimes on dict state, for cross-chain unit tests.

No node, no network: the relay runtime runs on `tests.relay.harness.RelayHarness` state with
Router channels and funded sovereign accounts; `Relay.finalize` turns its state into a real trie
and a header finalized by a real ed25519 justification; a `Para` (a parachain runtime) imports
that header and the messages proven against it through `ParachainSystem.set_relay_data`, exactly
as a collator's inherent would. `Para.anchor` puts a parachain's real state root into the relay's
`Paras.Heads`, for proofs about the parachain (`claim_timeout`).

`apply` runs one call the way the executive does: inside a storage transaction whose failure
rolls back, on an overlay that is committed either way — so a test that finds the state unchanged
after a rejection shows the rejection left no trace.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from node.consensus.authorities import AuthoritySet
from node.consensus.justification import justification_from_precommits
from node.consensus.messages import Step, sign_vote
from node.primitives.hashing import blake2_256
from node.primitives.header import Header
from node.primitives.keys import ED25519, dev_keypair
from node.runtime.errors import DispatchError, ModuleError
from node.runtime.overlay import StateOverlay
from node.runtime.pallet import NONE, Origin
from node.trie import MemoryStore, Trie, build_trie
from node.pallets.messaging import Messaging
from parachains.parachain_system import ParachainSystem, RelayData, relay_keys
from parachains.runtimes import build_parachain_runtime
from relay.primitives import CandidateCommitments
from relay.router import RELAY_CHAIN
from relay.xtransfers import sovereign_account
from tests.relay.harness import CHAIN_ID, DEMAND, DG, ENDOWMENT, STORAGE, RelayHarness

CAPACITY, MAX_MESSAGE = 4, 256
CHAINS = (RELAY_CHAIN, DEMAND, DG)  # STORAGE is registered but has no channels
CHANNELS = [(a, b, CAPACITY, MAX_MESSAGE) for a in CHAINS for b in CHAINS if a != b]
ISSUANCE = 10**16  # each parachain's genesis issuance, held by its sovereign account
UNIT = 10**12
VALIDATORS = [dev_keypair(f"Validator{i}", ED25519) for i in range(4)]  # RelayHarness's validators
KINDS = {DEMAND: "demand", DG: "dg", STORAGE: "storage"}
CLAIM_KEYS = [ParachainSystem.LastRelay.key(), Messaging.Inbound.key(RELAY_CHAIN)]  # what claim_timeout proves


def commit(state: dict, changes: dict) -> None:
    for key, value in changes.items():
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value


@dataclass
class Applied:
    """What a successful `apply` did: fn's result, the decoded events, the storage changes."""

    result: object
    events: list[tuple[str, str, object]]
    changes: dict = field(repr=False)

    def named(self, name: str) -> list:
        return [fields for _, n, fields in self.events if n == name]


def apply(runtime, state: dict, fn, number: int) -> Applied:
    """Run ``fn(ctx)`` at block ``number`` in a storage transaction, as the executive runs a call,
    and commit the overlay whether or not it failed; re-raise the failure after committing."""
    overlay = StateOverlay(state.get)
    ctx = runtime.new_context(overlay, number)
    error = None
    try:
        with overlay.transaction():
            result = fn(ctx)
    except DispatchError as e:
        error = e
    commit(state, overlay.changes)
    if error is not None:
        assert not overlay.events, "a failed call leaves no events"
        raise error
    events = []
    for record in overlay.events:
        ((pallet, inner),) = runtime.event_record_type.decode_all(record)["event"].items()
        ((name, fields),) = inner.items() if isinstance(inner, dict) else ((inner, None),)
        events.append((pallet, name, fields))
    return Applied(result, events, dict(overlay.changes))


def rejects(chain, pallet: str, error: str, fn) -> ModuleError:
    """Assert ``chain.apply(fn)`` fails with ``pallet.error`` and changes nothing."""
    before = dict(chain.state)
    with pytest.raises(ModuleError) as raised:
        chain.apply(fn)
    assert (raised.value.pallet, raised.value.error) == (pallet, error), str(raised.value)
    assert chain.state == before
    return raised.value


def justify(header: Header, signers=VALIDATORS[:3], authorities=None, *, set_id: int = 0, chain_id: bytes = CHAIN_ID) -> bytes:
    """A justification finalizing ``header``: precommits by ``signers`` in one round."""
    authorities = authorities or AuthoritySet.of(VALIDATORS, set_id=set_id, chain_id=chain_id)
    votes = [sign_vote(key, authorities, Step.PRECOMMIT, header.number, 0, header.hash) for key in signers]
    return justification_from_precommits(votes, header.hash, header.number).encode()


@dataclass(frozen=True)
class RelaySnapshot:
    """One finalized relay block: its header, justification and full state trie."""

    header: Header
    justification: bytes
    trie: Trie

    def proof(self, keys) -> list[bytes]:
        return self.trie.read_proof(keys)


class Relay(RelayHarness):
    """The relay runtime with channels between itself, demand and dg, and funded sovereigns."""

    def __init__(self):
        harness_keys = (dev_keypair("Alice"), dev_keypair("Bob"))
        super().__init__(genesis={
            "Router": {"channels": CHANNELS},
            "Balances": {"balances": [(k.public_key, ENDOWMENT) for k in harness_keys]
                         + [(sovereign_account(p), ISSUANCE) for p in (DEMAND, DG)]},
        })
        self.router = self.runtime.pallet("Router")
        self.xtransfers = self.runtime.pallet("XTransfers")
        self.balances = self.runtime.pallet("Balances")
        self.block()  # relay block 1: genesis is now a recent relay parent

    def apply(self, fn, number: int | None = None) -> Applied:
        """Run ``fn(ctx)`` in the next relay block (without executing a whole block)."""
        return apply(self.runtime, self.state, fn, self.number + 1 if number is None else number)

    def signed(self, who, pallet: str, name: str, **args):
        """``fn(ctx)`` dispatching a call signed by ``who`` (a keypair or an account id)."""
        origin = Origin.signed(getattr(who, "public_key", who))
        return lambda ctx: self.runtime.dispatch(ctx, origin, {pallet: {name: args}})

    def free(self, who: bytes) -> int:
        return self.balances.free_balance(self.overlay(), who)

    def include(self, para_id: int, commitments: CandidateCommitments) -> Applied:
        """What inclusion does with a candidate's messages: anchor them, then dispatch them."""
        def run(ctx):
            routed = self.router.include(ctx.state, para_id, commitments)
            self.router.dispatch(ctx, routed, commitments)
        return self.apply(run)

    def finalize(self, number: int) -> RelaySnapshot:
        """The relay state as relay block ``number``, finalized by the relay validators."""
        update = build_trie(self.state)
        header = Header(blake2_256(b"relay" + (number - 1).to_bytes(4, "little")), number, update.root, bytes(32))
        return RelaySnapshot(header, justify(header), Trie(MemoryStore(update.new_nodes), update.root))


def para_genesis() -> dict:
    """A parachain's genesis: Alice and Bob hold its issuance; channels and relay authorities."""
    alice, bob = dev_keypair("Alice").public_key, dev_keypair("Bob").public_key
    return {
        "Balances": {"balances": [(alice, ISSUANCE // 2), (bob, ISSUANCE // 2)]},
        "Sudo": {"key": alice},
        "Messaging": {"channels": CHANNELS},
        "ParachainSystem": {"relay_authorities": [k.public_key for k in VALIDATORS], "relay_chain_id": CHAIN_ID},
    }


class Para:
    """A parachain runtime on dict state, with the same channels as the relay and the relay's
    authorities in `ParachainSystem`'s genesis."""

    def __init__(self, para_id: int = DEMAND):
        self.para_id = para_id
        self.runtime = build_parachain_runtime(KINDS[para_id])
        self.alice, self.bob = dev_keypair("Alice"), dev_keypair("Bob")
        self.state: dict[bytes, bytes] = self.runtime.build_genesis(para_genesis())
        self.system = self.runtime.pallet("ParachainSystem")
        self.messaging = self.runtime.pallet("Messaging")
        self.xtransfers = self.runtime.pallet("XTransfers")
        self.balances = self.runtime.pallet("Balances")
        self.number = 0
        self.head = Header(bytes(32), 0, build_trie(self.state).root, bytes(32))

    def overlay(self) -> StateOverlay:
        return StateOverlay(self.state.get)

    def apply(self, fn) -> Applied:
        """Run ``fn(ctx)`` as one parachain block: the block's hooks end it (so the next one may
        import relay data again) only when ``fn`` succeeded."""
        def block(ctx):
            result = fn(ctx)
            self.system.on_finalize(ctx)
            return result
        applied = apply(self.runtime, self.state, block, self.number + 1)
        self.number += 1
        return applied

    def signed(self, who, pallet: str, name: str, **args):
        """``fn(ctx)`` dispatching a call signed by ``who`` (a keypair or an account id)."""
        origin = Origin.signed(getattr(who, "public_key", who))
        return lambda ctx: self.runtime.dispatch(ctx, origin, {pallet: {name: args}})

    def free(self, who) -> int:
        return self.balances.free_balance(self.overlay(), getattr(who, "public_key", who))

    def watermark(self, source: int) -> int:
        return self.messaging.Inbound.get(self.overlay(), source)["count"]

    # -- relay data ---------------------------------------------------------------------------
    def keys(self, deliver=(), acknowledge=()) -> list[bytes]:
        """The relay keys a delivery from the current watermarks reads."""
        watermarks = {source: self.watermark(source) for source, _ in deliver}
        return relay_keys(self.para_id, deliver, acknowledge, watermarks)

    def relay_data(self, snapshot: RelaySnapshot, deliver=(), acknowledge=(), **overrides) -> RelayData:
        """The honest `set_relay_data` for ``snapshot``; ``overrides`` replace its fields."""
        data = dict(header=snapshot.header, justification=snapshot.justification, deliver=tuple(deliver),
                    acknowledge=tuple(acknowledge), proof=tuple(snapshot.proof(self.keys(deliver, acknowledge))))
        data.update(overrides)
        return RelayData(**data)

    def set_relay_data(self, data: RelayData):
        """``fn(ctx)`` running the inherent with ``data``."""
        return lambda ctx: self.runtime.dispatch(ctx, NONE, data.call())

    def import_relay(self, snapshot: RelaySnapshot, deliver=(), acknowledge=()) -> Applied:
        return self.apply(self.set_relay_data(self.relay_data(snapshot, deliver, acknowledge)))

    # -- what the relay sees of this chain ----------------------------------------------------
    def commitments(self, applied: Applied, state_root: bytes | None = None) -> CandidateCommitments:
        """A candidate for the block ``applied`` ran: the next header, its messages and watermarks."""
        header = Header(self.head.hash, self.head.number + 1, state_root or build_trie(self.state).root, bytes(32))
        self.head = header
        outbound, processed = self.messaging.block_commitments(applied.changes)
        return CandidateCommitments(header.encode(), outbound, processed)

    def anchor(self, relay: Relay, state: dict | None = None) -> Trie:
        """Make ``state`` (this chain's own by default) the para head anchored in relay state, as
        an included candidate would; the trie to prove reads from it against that head."""
        update = build_trie(self.state if state is None else state)
        header = Header(self.head.hash, self.head.number + 1, update.root, bytes(32))
        self.head = header
        relay.apply(lambda ctx: relay.paras.set_head(ctx.state, self.para_id, header.encode(), ctx.block_number))
        return Trie(MemoryStore(update.new_nodes), update.root)


__all__ = ["Relay", "Para", "para_genesis", "CLAIM_KEYS", "RelaySnapshot", "apply", "rejects", "justify", "commit", "CHANNELS", "CAPACITY",
           "MAX_MESSAGE", "ISSUANCE", "UNIT", "VALIDATORS", "DEMAND", "DG", "STORAGE", "RELAY_CHAIN"]
