"""An in-memory runtime with the dev genesis, for executing extrinsics without a node."""

from __future__ import annotations

from node.dev_runtime import EXISTENTIAL_DEPOSIT, build_runtime
from node.primitives.era import IMMORTAL, Era
from node.primitives.extrinsic import decode_extrinsic, encode_unsigned, sign_extrinsic
from node.primitives.keys import DEV_ACCOUNTS, dev_keypair
from node.runtime.executive import Executive
from node.runtime.overlay import StateOverlay

GENESIS_HASH = bytes([7]) * 32
ENDOWMENT = 10**18


class Harness:
    def __init__(self):
        self.runtime = build_runtime()
        self.keys = {name: dev_keypair(name) for name in DEV_ACCOUNTS}
        self.alice, self.bob = self.keys["Alice"].public_key, self.keys["Bob"].public_key
        self.state: dict[bytes, bytes] = self.runtime.build_genesis(
            {"Balances": {"balances": [(k.public_key, ENDOWMENT) for k in self.keys.values()]}, "Sudo": {"key": self.alice}}
        )
        self.executive = Executive(self.runtime, GENESIS_HASH)
        self.system = self.runtime.pallet("System")
        self.balances = self.runtime.pallet("Balances")
        self.number = 0
        self.hashes = {0: GENESIS_HASH}
        self.now = 1_000_000

    # -- building extrinsics -----------------------------------------------------------------
    def call(self, pallet: str, name: str, **args) -> bytes:
        return self.runtime.call_type.encode({pallet: {name: args}})

    def sign(self, who: str, call: bytes, *, nonce: int | None = None, era: Era = IMMORTAL, tip: int = 0,
             genesis: bytes | None = None, checkpoint: bytes | None = None) -> bytes:
        key = self.keys[who]
        if nonce is None:
            nonce = self.free_nonce(key.public_key)
        version = self.runtime.version
        return sign_extrinsic(key, call, nonce, era, tip, version.spec_version, version.transaction_version,
                              genesis or GENESIS_HASH, checkpoint)

    def free_nonce(self, who: bytes) -> int:
        return self.system.account(self.overlay(), who).nonce

    # -- state -------------------------------------------------------------------------------
    def overlay(self) -> StateOverlay:
        return StateOverlay(self.state.get)

    def account(self, who: bytes):
        return self.system.account(self.overlay(), who)

    def free(self, who: bytes) -> int:
        return self.account(who).free

    def total_issuance(self) -> int:
        return self.balances.TotalIssuance.get(self.overlay())

    def block_hash(self, n: int) -> bytes | None:
        return self.hashes.get(n)

    # -- executing ---------------------------------------------------------------------------
    def check(self, xt: bytes):
        return self.executive.check_format(decode_extrinsic(xt))

    def validate(self, xt: bytes):
        return self.executive.validate(self.overlay(), self.check(xt), self.number + 1, self.block_hash, for_block=False)

    def block(self, *xts: bytes):
        """Execute a block with the timestamp inherent and ``xts``; commit its state on success.
        Returns (outcomes, events) where events are the block's decoded event records."""
        overlay = self.overlay()
        self.number += 1
        ctx = self.executive.initialize_block(overlay, self.number, self.hashes[self.number - 1], ())
        self.now += 1000
        inherent = encode_unsigned(self.call("Timestamp", "set", now=self.now))
        self.executive.apply_extrinsic(ctx, 0, self.check(inherent))
        outcomes = [self.executive.apply_extrinsic(ctx, i + 1, self.check(xt)) for i, xt in enumerate(xts)]
        self.executive.finalize_block(ctx, len(xts) + 1)
        for k, v in overlay.changes.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        self.hashes[self.number] = self.number.to_bytes(32, "little")
        return outcomes, self.events()

    def events(self) -> list[tuple[str, str, object]]:
        """This block's events as (pallet, event name, fields)."""
        raw = self.state.get(self.system.Events.key())
        from node.primitives.scale_types import Sequence_

        records = Sequence_(self.runtime.event_record_type).decode_all(raw)
        out = []
        for r in records:
            ((pallet, inner),) = r["event"].items()
            if isinstance(inner, str):
                out.append((pallet, inner, None))
            else:
                ((name, fields),) = inner.items()
                out.append((pallet, name, fields))
        return out


__all__ = ["Harness", "EXISTENTIAL_DEPOSIT", "ENDOWMENT", "GENESIS_HASH", "Era"]
