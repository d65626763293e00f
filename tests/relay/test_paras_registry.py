"""Paras: the registry from genesis, root-only registration and deregistration, genesis checks."""

from __future__ import annotations

import pytest

from node.primitives.keys import ED25519, dev_keypair
from node.runtime.overlay import StateOverlay
from relay.inclusion import EnterData
from relay.paras import InvalidParasGenesis, Paras, code_hash_of
from relay.runtime import build_relay_runtime
from tests.relay.harness import CHAIN_ID, DEMAND, DG, STORAGE, RelayHarness, genesis_header

NEW_PARA = 2100


@pytest.fixture
def h() -> RelayHarness:
    harness = RelayHarness()
    harness.block()
    return harness


def sudo(h: RelayHarness, signer, inner: dict) -> bytes:
    return h.sign(signer, h.call("Sudo", "sudo", call=inner))


def register_call(para_id=NEW_PARA, name=b"heat", head=None) -> dict:
    head = head if head is not None else genesis_header("heat").encode()
    return {"Paras": {"register": {"para_id": para_id, "name": name, "code_hash": code_hash_of(b"parawatt-heat-v1"), "genesis_head": head}}}


def sudo_result(h: RelayHarness):
    (fields,) = [f for p, n, f in h.events() if (p, n) == ("Sudo", "Sudid")]
    return fields["sudo_result"]


def module_error(h: RelayHarness, result) -> str:
    error = result["Err"]["Module"]
    assert error["index"] == h.paras.index
    return Paras.ERRORS[error["error"][0]][0]


def test_genesis_registers_the_default_paras_with_code_hashes_and_heads(h):
    state = h.overlay()
    assert h.paras.para_ids(state) == [DEMAND, DG, STORAGE]
    info = h.paras.info_of(state, DG)
    assert info.name == b"dg" and info.code_hash == code_hash_of(b"parawatt-dg-v1")
    head = h.paras.head_of(state, STORAGE)
    assert head.head_data == genesis_header("storage").encode() and head.head_hash == genesis_header("storage").hash
    assert head.included_at == 0
    validators = h.paras.validators(state)
    assert validators.keys == h.authority_set().keys and validators.chain_id == CHAIN_ID


def test_root_registers_a_para_through_sudo(h):
    h.block(sudo(h, h.alice, register_call()))
    assert sudo_result(h) == {"Ok": None}
    registered = [f for p, n, f in h.events() if (p, n) == ("Paras", "Registered")]
    assert registered == [{"para_id": NEW_PARA, "code_hash": code_hash_of(b"parawatt-heat-v1"), "head_hash": genesis_header("heat").hash}]
    assert h.paras.para_ids(h.overlay()) == [DEMAND, DG, STORAGE, NEW_PARA]
    candidate, header = h.candidate(NEW_PARA)
    h.block(enter=EnterData(backed=(candidate,)))
    assert h.head(NEW_PARA).head_hash == header.hash


def test_register_refused_to_a_signed_account(h):
    (outcome,), _, _ = h.block(h.sign(h.bob, h.runtime.call_type.encode(register_call())))
    assert not outcome.success and outcome.error.value == "BadOrigin"
    assert not h.paras.is_registered(h.overlay(), NEW_PARA)


def test_register_refused_to_sudo_by_a_non_sudo_account(h):
    (outcome,), _, _ = h.block(sudo(h, h.bob, register_call()))
    assert not outcome.success and "RequireSudo" in str(outcome.error)
    assert not h.paras.is_registered(h.overlay(), NEW_PARA)


@pytest.mark.parametrize(
    "call, error",
    [
        (register_call(para_id=DEMAND), "AlreadyRegistered"),
        (register_call(name=b"x" * 33), "NameTooLong"),
        (register_call(head=b"\x00\x01 not a header"), "InvalidGenesisHead"),
    ],
    ids=["duplicate-id", "long-name", "bad-head"],
)
def test_register_rejects_bad_registrations(h, call, error):
    before = h.paras.para_ids(h.overlay())
    h.block(sudo(h, h.alice, call))
    assert module_error(h, sudo_result(h)) == error
    assert h.paras.para_ids(h.overlay()) == before


def test_root_deregisters_a_para_and_its_candidates_are_then_refused(h):
    candidate, _ = h.candidate(DG)
    h.block(sudo(h, h.alice, {"Paras": {"deregister": {"para_id": DG}}}))
    assert sudo_result(h) == {"Ok": None}
    assert ("Paras", "Deregistered", {"para_id": DG}) in h.events()
    state = h.overlay()
    assert h.paras.para_ids(state) == [DEMAND, STORAGE]
    assert h.paras.head_of(state, DG) is None and h.paras.info_of(state, DG) is None
    assert [d.error for d in h.check(EnterData(backed=(candidate,))).dropped] == ["UnknownPara"]


def test_deregister_refused_to_a_signed_account(h):
    (outcome,), _, _ = h.block(h.sign(h.bob, h.call("Paras", "deregister", para_id=DG)))
    assert outcome.error.value == "BadOrigin"
    assert h.paras.is_registered(h.overlay(), DG)


def test_deregister_of_an_unknown_para_fails(h):
    h.block(sudo(h, h.alice, {"Paras": {"deregister": {"para_id": 4242}}}))
    assert module_error(h, sudo_result(h)) == "NotRegistered"


# -- genesis -------------------------------------------------------------------------------------


def _genesis(**paras) -> dict:
    keys = [dev_keypair(f"V{i}", ED25519).public_key for i in range(4)]
    section = {"validators": keys, "chain_id": CHAIN_ID,
               "paras": [{"id": 2000, "name": "demand", "code": b"parawatt-demand-v1", "genesis_head": genesis_header("d").encode()}]}
    section.update(paras)
    return {"Paras": section}


def test_genesis_accepts_hex_strings_and_a_code_hash():
    head = genesis_header("d").encode()
    code_hash = code_hash_of(b"parawatt-demand-v1")
    runtime = build_relay_runtime()
    state = runtime.build_genesis(_genesis(paras=[{"id": 2000, "name": "demand", "code_hash": "0x" + code_hash.hex(), "genesis_head": "0x" + head.hex()}]))
    paras = runtime.pallet("Paras")
    overlay = StateOverlay(state.get)
    assert paras.info_of(overlay, 2000).code_hash == code_hash
    assert paras.head_of(overlay, 2000).head_data == head


@pytest.mark.parametrize(
    "override, problem",
    [
        ({"backing_votes": 0}, "backing_votes"),
        ({"backing_votes": 5}, "backing_votes"),
        ({"validators": [b"\x01" * 32, b"\x01" * 32]}, "twice"),
        ({"validators": [b"\x01" * 31]}, "32 bytes"),
        ({"validators": [], "backing_votes": 2}, "needs validators"),
        ({"backing_groups": 0}, "backing_groups"),
        ({"backing_groups": 3}, "backing_groups"),  # 4 validators, 2 votes: at most 2 groups
        ({"backing_votes": 3, "backing_groups": 2}, "backing_groups"),
        ({"backing_groups": True}, "backing_groups"),
        ({"validators": [], "backing_groups": 1}, "needs validators"),
        ({"paras": [{"id": 2000, "code": b"c", "genesis_head": b"junk"}]}, "not a SCALE header"),
        ({"paras": [{"id": 2000, "genesis_head": genesis_header("d").encode()}]}, "code or code_hash"),
        ({"paras": [{"id": -1, "code": b"c", "genesis_head": genesis_header("d").encode()}]}, "u32"),
        ({"paras": [{"id": 7, "code": b"c", "genesis_head": genesis_header("d").encode()}] * 2}, "twice"),
    ],
)
def test_genesis_rejects_a_configuration_that_cannot_work(override, problem):
    with pytest.raises(InvalidParasGenesis, match=problem):
        build_relay_runtime().build_genesis(_genesis(**override))
