"""Sudo dispatch inside a real block: the Sudid event carries `Result<(), DispatchError>`."""

from __future__ import annotations

from node.cli import DEV_ENDOWMENT
from node.dev_runtime import UNIT, build_runtime
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import decode_extrinsic, sign_extrinsic
from node.primitives.keys import dev_keypair
from node.primitives.scale_types import Result, Unit
from node.runtime.overlay import StateOverlay
from node.runtime.pallet import EVENT_RECORDS
from node.runtime.types import DispatchError
from node.service.chain import Chain
from node.storage.db import ChainDB

ALICE, BOB, DAVE = (dev_keypair(n) for n in ("Alice", "Bob", "Dave"))


def make_chain(tmp_path) -> Chain:
    runtime = build_runtime()
    genesis = {
        "Balances": {"balances": [(k.public_key, DEV_ENDOWMENT) for k in (ALICE, BOB)]},
        "Sudo": {"key": ALICE.public_key},
    }
    return Chain(ChainDB(tmp_path / "db"), runtime, genesis)


def signed(chain: Chain, signer, call: dict, nonce: int = 0):
    version = chain.runtime.version
    data = sign_extrinsic(
        signer, chain.runtime.call_type.encode(call), nonce, IMMORTAL, 0,
        version.spec_version, version.transaction_version, chain.genesis_hash,
    )
    return chain.executive.check_format(decode_extrinsic(data))


def best_state(chain: Chain) -> StateOverlay:
    return StateOverlay(chain.db.state)


def events(chain: Chain) -> list:
    raw = best_state(chain).get(chain.runtime.pallet("System").Events.key())
    return chain.runtime.placeholders[EVENT_RECORDS].decode_all(raw)


SET_DAVE = {"Sudo": {"sudo": {"call": {"Balances": {"force_set_balance": {"who": {"Id": DAVE.public_key}, "new_free": 7 * UNIT}}}}}}


def test_unit_encodes_to_nothing_and_decodes_to_none():
    assert Unit.encode(None) == b""
    assert Unit.decode(b"\x00", 0) == (None, 0)
    result = Result(Unit, DispatchError)
    assert result.encode({"Ok": None}) == b"\x00"
    assert result.decode(b"\x00", 0) == ({"Ok": None}, 1)


def test_sudo_call_by_the_key_is_dispatched_as_root_and_reported_ok(tmp_path):
    chain = make_chain(tmp_path)
    built = chain.build_block([(signed(chain, ALICE, SET_DAVE), False)], timestamp_ms=1_000, slot=1)
    assert len(built.included) == 1
    assert chain.runtime.pallet("Balances").free_balance(best_state(chain), DAVE.public_key) == 7 * UNIT
    sudid = [r["event"] for r in events(chain) if "Sudo" in r["event"]]
    assert sudid == [{"Sudo": {"Sudid": {"sudo_result": {"Ok": None}}}}]


def test_sudo_call_by_another_signer_fails_with_require_sudo_and_changes_nothing(tmp_path):
    chain = make_chain(tmp_path)
    built = chain.build_block([(signed(chain, BOB, SET_DAVE), False)], timestamp_ms=1_000, slot=1)
    assert len(built.included) == 1  # included, fee paid, call failed
    assert chain.runtime.pallet("Balances").free_balance(best_state(chain), DAVE.public_key) == 0
    system_events = [r["event"]["System"] for r in events(chain) if "System" in r["event"]]
    failed = [e["ExtrinsicFailed"] for e in system_events if "ExtrinsicFailed" in e]
    assert len(failed) == 1
    sudo_index = chain.runtime.pallet("Sudo").index
    assert failed[0]["dispatch_error"] == {"Module": {"index": sudo_index, "error": bytes(4)}}
