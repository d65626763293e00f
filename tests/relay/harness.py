"""An in-memory relay runtime with three paras and four ed25519 validators, for executing relay
blocks (with the ParaInclusion.enter inherent) without a node; and a factory for candidates."""

from __future__ import annotations

from node.consensus.authorities import AuthoritySet
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import decode_extrinsic, encode_unsigned, sign_extrinsic
from node.primitives.hashing import blake2_256
from node.primitives.header import Header
from node.primitives.keys import ED25519, dev_keypair
from node.primitives.scale_types import Sequence_
from node.runtime.executive import Executive
from node.runtime.overlay import StateOverlay
from relay.inclusion import EnterCheck, EnterData
from relay.paras import ParaHead
from relay.primitives import (
    DEFAULT_PARA_IDS,
    VALID,
    BackedCandidate,
    CandidateCommitments,
    CandidateDescriptor,
    CandidateReceipt,
    Statement,
)
from relay.runtime import build_relay_runtime

GENESIS_HASH = bytes([9]) * 32
CHAIN_ID = b"parawatt-relay-test"
ENDOWMENT = 10**18
DEMAND, DG, STORAGE = DEFAULT_PARA_IDS["demand"], DEFAULT_PARA_IDS["dg"], DEFAULT_PARA_IDS["storage"]
COLLATOR = dev_keypair("Collator", ED25519)


def genesis_header(name: str) -> Header:
    return Header(bytes(32), 0, blake2_256(b"genesis state of " + name.encode()), bytes(32))


def child_header(parent: Header, salt: bytes = b"") -> Header:
    """The next para block's header: a fresh state root, the parent's hash and number + 1."""
    return Header(parent.hash, parent.number + 1, blake2_256(parent.hash + salt), bytes(32))


class RelayHarness:
    def __init__(self, *, validators: int = 4, backing_votes: int | None = None, backing_groups: int | None = 1,
                 genesis: dict | None = None):
        """``genesis`` adds or replaces genesis sections (Router channels, more balances, …).
        One backing group (every validator backs every para) unless a test is about groups;
        ``backing_groups=None`` takes the genesis default."""
        self.runtime = build_relay_runtime()
        self.validators = [dev_keypair(f"Validator{i}", ED25519) for i in range(validators)]
        self.alice, self.bob = dev_keypair("Alice"), dev_keypair("Bob")
        paras = {
            "paras": [
                {"id": pid, "name": name, "code": f"parawatt-{name}-v1".encode(), "genesis_head": genesis_header(name).encode()}
                for name, pid in DEFAULT_PARA_IDS.items()
            ],
            "validators": [k.public_key for k in self.validators],
            "chain_id": CHAIN_ID,
        }
        if backing_votes is not None:
            paras["backing_votes"] = backing_votes
        if backing_groups is not None:
            paras["backing_groups"] = backing_groups
        self.state: dict[bytes, bytes] = self.runtime.build_genesis({
            "Balances": {"balances": [(k.public_key, ENDOWMENT) for k in (self.alice, self.bob)]},
            "Sudo": {"key": self.alice.public_key},
            "Paras": paras,
            **(genesis or {}),
        })
        self.executive = Executive(self.runtime, GENESIS_HASH)
        self.system = self.runtime.pallet("System")
        self.paras = self.runtime.pallet("Paras")
        self.inclusion = self.runtime.pallet("ParaInclusion")
        self.number = 0
        self.hashes = {0: GENESIS_HASH}
        self.now = 1_000_000

    # -- state -------------------------------------------------------------------------------
    def overlay(self) -> StateOverlay:
        return StateOverlay(self.state.get)

    def head(self, para_id: int) -> ParaHead | None:
        return self.paras.head_of(self.overlay(), para_id)

    def head_header(self, para_id: int) -> Header:
        return self.head(para_id).header

    @property
    def best_hash(self) -> bytes:
        return self.hashes[self.number]

    # -- candidates --------------------------------------------------------------------------
    def statement(self, validator: int, candidate_hash: bytes, kind: int = VALID, reason: bytes = b"",
                  *, key=None, index: int | None = None) -> Statement:
        """A statement signed by validator ``validator`` (or by ``key``, claiming ``index``)."""
        unsigned = Statement(kind, candidate_hash, validator if index is None else index, reason)
        signer = key or self.validators[validator]
        return Statement(unsigned.kind, candidate_hash, unsigned.validator_index, reason, signer.sign(unsigned.payload(CHAIN_ID)))

    def receipt(self, para_id: int, parent: Header, *, header: Header | None = None, head_data: bytes | None = None,
                relay_parent: bytes | None = None, parent_head_hash: bytes | None = None) -> CandidateReceipt:
        header = header or child_header(parent)
        descriptor = CandidateDescriptor(
            para_id,
            self.best_hash if relay_parent is None else relay_parent,
            parent.hash if parent_head_hash is None else parent_head_hash,
            blake2_256(b"pov" + header.hash),
            COLLATOR.public_key,
        )
        return CandidateReceipt(descriptor, CandidateCommitments(header.encode() if head_data is None else head_data))

    def backed(self, receipt: CandidateReceipt, signers=(0, 1)) -> BackedCandidate:
        return BackedCandidate(receipt, tuple(self.statement(i, receipt.hash) for i in signers))

    def candidate(self, para_id: int, parent: Header | None = None, signers=(0, 1), **kw) -> tuple[BackedCandidate, Header]:
        """A well-formed candidate on ``parent`` (the para's head by default), and its header."""
        parent = parent or self.head_header(para_id)
        header = kw.pop("header", None) or child_header(parent)
        return self.backed(self.receipt(para_id, parent, header=header, **kw), signers), header

    def authority_set(self) -> AuthoritySet:
        return AuthoritySet.of(self.validators, chain_id=CHAIN_ID)

    # -- extrinsics --------------------------------------------------------------------------
    def call(self, pallet: str, name: str, **args) -> bytes:
        return self.runtime.call_type.encode({pallet: {name: args}})

    def sign(self, key, call: bytes) -> bytes:
        nonce = self.system.account(self.overlay(), key.public_key).nonce
        version = self.runtime.version
        return sign_extrinsic(key, call, nonce, IMMORTAL, 0, version.spec_version, version.transaction_version, GENESIS_HASH)

    def enter_call(self, data: EnterData) -> bytes:
        return self.call("ParaInclusion", "enter", **data.call_args())

    # -- blocks ------------------------------------------------------------------------------
    def _start(self):
        overlay = self.overlay()
        number = self.number + 1
        ctx = self.executive.initialize_block(overlay, number, self.hashes[self.number], ())
        now = self.now + 1000
        inherent = encode_unsigned(self.call("Timestamp", "set", now=now))
        self.executive.apply_extrinsic(ctx, 0, self.executive.check_format(decode_extrinsic(inherent)))
        return overlay, ctx, now

    def check(self, data: EnterData) -> EnterCheck:
        """`check_enter` on the next block's state, as its author would run it (nothing kept)."""
        overlay, _, _ = self._start()
        return self.inclusion.check_enter(overlay, data)

    def block(self, *xts: bytes, enter: EnterData | None = None, author: bool = False):
        """Execute and commit the next block: timestamp, ``enter`` (as given, or only what
        `check_enter` keeps when ``author``), then ``xts``. Returns (outcomes, events, check).
        A failing inherent raises InherentFailed and commits nothing."""
        overlay, ctx, now = self._start()
        inherents = 1
        check = None
        if enter is not None:
            if author:
                check = self.inclusion.check_enter(overlay, enter)
                enter = check.data
            xt = encode_unsigned(self.enter_call(enter))
            self.executive.apply_extrinsic(ctx, 1, self.executive.check_format(decode_extrinsic(xt)))
            inherents = 2
        outcomes = [
            self.executive.apply_extrinsic(ctx, inherents + i, self.executive.check_format(decode_extrinsic(xt)))
            for i, xt in enumerate(xts)
        ]
        self.executive.finalize_block(ctx, inherents + len(xts))
        for k, v in overlay.changes.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        self.number += 1
        self.now = now
        self.hashes[self.number] = blake2_256(b"relay block" + self.number.to_bytes(4, "little"))
        return outcomes, self.events(), check

    def events(self) -> list[tuple[str, str, object]]:
        """The last block's events as (pallet, event name, fields)."""
        raw = self.state.get(self.system.Events.key())
        out = []
        for r in Sequence_(self.runtime.event_record_type).decode_all(raw):
            ((pallet, inner),) = r["event"].items()
            if isinstance(inner, str):
                out.append((pallet, inner, None))
            else:
                ((name, fields),) = inner.items()
                out.append((pallet, name, fields))
        return out

    def para_events(self) -> list[tuple[str, dict]]:
        return [(name, fields) for pallet, name, fields in self.events() if pallet == "ParaInclusion"]
