"""Block authoring survives a runtime bug: the extrinsic that hit it is dropped, rolled back in
full (no nonce, no fee, no writes, no events), and the rest of the block is built as usual."""

from __future__ import annotations

import logging

from node.cli import DEV_ENDOWMENT
from node.dev_runtime import UNIT, build_runtime
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import decode_extrinsic, sign_extrinsic
from node.primitives.keys import dev_keypair
from node.primitives.scale_types import U32
from node.runtime.errors import ExecutionFailed
from node.runtime.overlay import StateOverlay
from node.runtime.pallet import Pallet, StorageValue, call
from node.runtime.runtime import Runtime
from node.service.chain import Chain
from node.storage.db import ChainDB

ALICE, BOB, DAVE = (dev_keypair(n) for n in ("Alice", "Bob", "Dave"))


class Faulty(Pallet):
    """A pallet with a bug: its call writes, then raises something that is not a DispatchError."""

    name = "Faulty"
    crate = "pallet_faulty"

    Touched = StorageValue(U32, default=0)

    @call(0, weight=1_000_000)
    def explode(self, ctx, origin):
        ctx.ensure_signed(origin)
        self.Touched.set(ctx.state, 1)
        raise KeyError("a bug in the runtime")


def make_chain(tmp_path) -> Chain:
    dev = build_runtime()
    runtime = Runtime(crate="test_runtime", version=dev.version, pallets=[*dev.pallets, Faulty(len(dev.pallets))], inherents=[("Timestamp", "set")])
    genesis = {"Balances": {"balances": [(k.public_key, DEV_ENDOWMENT) for k in (ALICE, BOB)]}, "Sudo": {"key": ALICE.public_key}}
    return Chain(ChainDB(tmp_path / "db"), runtime, genesis)


def signed(chain: Chain, signer, call: dict, nonce: int = 0):
    version = chain.runtime.version
    data = sign_extrinsic(
        signer, chain.runtime.call_type.encode(call), nonce, IMMORTAL, 0,
        version.spec_version, version.transaction_version, chain.genesis_hash,
    )
    return chain.executive.check_format(decode_extrinsic(data))


def test_extrinsic_that_raises_in_the_runtime_is_dropped_and_leaves_no_trace(tmp_path, caplog):
    chain = make_chain(tmp_path)
    faulty = signed(chain, ALICE, {"Faulty": "explode"})
    transfer = signed(chain, BOB, {"Balances": {"transfer_keep_alive": {"dest": {"Id": DAVE.public_key}, "value": UNIT}}})

    with caplog.at_level(logging.ERROR, logger="parawatt.chain"):
        built = chain.build_block([(faulty, False), (transfer, False)], timestamp_ms=1_000, slot=1)

    assert built.included == [transfer.xt.hash]
    assert isinstance(built.rejected[faulty.xt.hash], ExecutionFailed)
    assert "KeyError" in str(built.rejected[faulty.xt.hash])
    assert len(built.block.extrinsics) == 2  # the timestamp inherent and the transfer
    state = StateOverlay(chain.db.state)
    system, balances = chain.runtime.pallet("System"), chain.runtime.pallet("Balances")
    assert system.account(state, ALICE.public_key).nonce == 0
    assert balances.free_balance(state, ALICE.public_key) == DEV_ENDOWMENT
    assert Faulty.Touched.get(state) == 0
    assert balances.free_balance(state, DAVE.public_key) == UNIT
    assert any("dropped extrinsic" in r.message for r in caplog.records)


def test_events_of_a_dropped_extrinsic_are_not_in_the_block(tmp_path):
    chain = make_chain(tmp_path)
    faulty = signed(chain, ALICE, {"Faulty": "explode"})
    chain.build_block([(faulty, False)], timestamp_ms=1_000, slot=1)
    state = StateOverlay(chain.db.state)
    # Only the timestamp inherent's ExtrinsicSuccess: no Withdraw or fee event from Alice.
    assert chain.runtime.pallet("System").EventCount.get(state) == 1
