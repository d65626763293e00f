"""ParaInclusion.enter, one test per rule: a candidate that breaks a rule fails the inherent (the
block is invalid and nothing is stored), and `check_enter` drops it naming the same error."""

from __future__ import annotations

import pytest

from node.primitives.extrinsic import decode_extrinsic, encode_unsigned
from node.primitives.hashing import blake2_256
from node.primitives.header import Header
from node.primitives.keys import ED25519, dev_keypair
from node.runtime.errors import CallNotExpected
from node.runtime.runtime import InherentFailed
from relay.inclusion import MAX_RELAY_PARENT_AGE, EnterData
from relay.primitives import INVALID, VALID, BackedCandidate, Statement
from tests.relay.harness import DEMAND, DG, STORAGE, RelayHarness, child_header


@pytest.fixture
def h() -> RelayHarness:
    harness = RelayHarness()
    harness.block()  # block 1: the genesis hash is now in System.BlockHash
    return harness


def assert_rejected(h: RelayHarness, candidate: BackedCandidate, error: str) -> None:
    heads = {pid: h.head(pid) for pid in (DEMAND, DG, STORAGE)}
    data = EnterData(backed=(candidate,))
    check = h.check(data)
    assert check.data == EnterData()
    assert [d.error for d in check.dropped] == [error]
    number = h.number
    with pytest.raises(InherentFailed, match=f"ParaInclusion.{error}"):
        h.block(enter=data)
    assert h.number == number
    assert {pid: h.head(pid) for pid in heads} == heads


# -- included ------------------------------------------------------------------------------------


def test_backed_candidate_is_included_and_its_head_stored(h):
    candidate, header = h.candidate(DEMAND)
    _, events, _ = h.block(enter=EnterData(backed=(candidate,)))
    head = h.head(DEMAND)
    assert head.head_hash == header.hash and head.head_data == header.encode() and head.included_at == h.number
    cand_hash = candidate.receipt.hash
    assert h.para_events() == [
        ("CandidateBacked", {"para_id": DEMAND, "candidate_hash": cand_hash, "head_hash": header.hash,
                             "relay_parent": candidate.receipt.descriptor.relay_parent}),
        ("CandidateIncluded", {"para_id": DEMAND, "candidate_hash": cand_hash, "head_hash": header.hash, "number": 1}),
    ]
    assert ("System", "ExtrinsicSuccess") in [(p, n) for p, n, _ in events]


def test_two_consecutive_candidates_of_one_para_in_one_call(h):
    first, header1 = h.candidate(DG)
    second, header2 = h.candidate(DG, parent=header1)
    h.block(enter=EnterData(backed=(first, second)))
    assert h.head(DG).head_hash == header2.hash
    included = [f["number"] for name, f in h.para_events() if name == "CandidateIncluded"]
    assert included == [1, 2]


def test_candidates_of_different_paras_in_one_call(h):
    a, ha = h.candidate(DEMAND)
    b, hb = h.candidate(STORAGE)
    h.block(enter=EnterData(backed=(a, b)))
    assert (h.head(DEMAND).head_hash, h.head(STORAGE).head_hash) == (ha.hash, hb.hash)


def test_relay_parent_may_be_an_older_recent_block(h):
    old = h.best_hash
    for _ in range(5):
        h.block()
    candidate, header = h.candidate(DEMAND, relay_parent=old)
    h.block(enter=EnterData(backed=(candidate,)))
    assert h.head(DEMAND).head_hash == header.hash


def test_an_empty_enter_changes_nothing(h):
    h.block(enter=EnterData())
    assert h.para_events() == []


# -- rejected ------------------------------------------------------------------------------------


def test_candidate_rejected_if_its_para_is_unknown(h):
    parent = h.head_header(DEMAND)
    candidate = h.backed(h.receipt(4242, parent))
    assert_rejected(h, candidate, "UnknownPara")


def test_candidate_rejected_if_it_builds_on_another_head(h):
    stale_parent = child_header(h.head_header(DEMAND), b"a sibling the relay never saw")
    candidate, _ = h.candidate(DEMAND, parent=stale_parent)
    assert_rejected(h, candidate, "WrongParentHead")


def test_candidate_rejected_if_its_relay_parent_is_unknown(h):
    candidate, _ = h.candidate(DEMAND, relay_parent=blake2_256(b"no such relay block"))
    assert_rejected(h, candidate, "UnknownRelayParent")


def test_candidate_rejected_if_its_relay_parent_is_older_than_max_relay_parent_age(h):
    while h.number < MAX_RELAY_PARENT_AGE + 8:
        h.block()
    building = h.number + 1
    too_old, _ = h.candidate(DEMAND, relay_parent=h.hashes[building - MAX_RELAY_PARENT_AGE - 1])
    assert_rejected(h, too_old, "UnknownRelayParent")
    oldest, header = h.candidate(DEMAND, relay_parent=h.hashes[building - MAX_RELAY_PARENT_AGE])
    h.block(enter=EnterData(backed=(oldest,)))
    assert h.head(DEMAND).head_hash == header.hash


def test_candidate_rejected_if_backed_by_too_few_statements(h):
    candidate, _ = h.candidate(DEMAND, signers=(2,))
    assert_rejected(h, candidate, "InsufficientBacking")


def test_candidate_rejected_if_it_has_no_statements(h):
    candidate, _ = h.candidate(DEMAND, signers=())
    assert_rejected(h, candidate, "InsufficientBacking")


def test_candidate_rejected_if_one_validator_backs_it_twice(h):
    candidate, _ = h.candidate(DEMAND, signers=(1, 1))
    assert_rejected(h, candidate, "DuplicateValidator")


def test_candidate_rejected_if_a_statement_names_an_index_outside_the_set(h):
    candidate, _ = h.candidate(DEMAND, signers=(0,))
    outsider = dev_keypair("Mallory", ED25519)
    statement = h.statement(0, candidate.receipt.hash, key=outsider, index=4)
    assert_rejected(h, BackedCandidate(candidate.receipt, candidate.statements + (statement,)), "UnknownValidator")


def test_candidate_rejected_if_a_non_validator_signs_in_a_validators_place(h):
    candidate, _ = h.candidate(DEMAND, signers=(0,))
    outsider = dev_keypair("Mallory", ED25519)
    statement = h.statement(0, candidate.receipt.hash, key=outsider, index=3)
    assert_rejected(h, BackedCandidate(candidate.receipt, candidate.statements + (statement,)), "BadSignature")


def test_candidate_rejected_if_a_signature_is_corrupted(h):
    candidate, _ = h.candidate(DEMAND)
    good = candidate.statements[1]
    bad = Statement(good.kind, good.candidate_hash, good.validator_index, good.reason, bytes([good.signature[0] ^ 1]) + good.signature[1:])
    assert_rejected(h, BackedCandidate(candidate.receipt, (candidate.statements[0], bad)), "BadSignature")


def test_candidate_rejected_if_a_statement_was_signed_for_another_relay_chain(h):
    candidate, _ = h.candidate(DEMAND, signers=(0,))
    unsigned = Statement(VALID, candidate.receipt.hash, 1)
    foreign = Statement(VALID, candidate.receipt.hash, 1, b"", h.validators[1].sign(unsigned.payload(b"another relay")))
    assert_rejected(h, BackedCandidate(candidate.receipt, candidate.statements + (foreign,)), "BadSignature")


def test_candidate_rejected_if_a_statement_is_about_another_candidate(h):
    candidate, _ = h.candidate(DEMAND, signers=(0,))
    other, _ = h.candidate(DG)
    borrowed = h.statement(1, other.receipt.hash)
    assert_rejected(h, BackedCandidate(candidate.receipt, candidate.statements + (borrowed,)), "WrongCandidateHash")


def test_candidate_rejected_if_backed_by_an_invalid_statement(h):
    candidate, _ = h.candidate(DEMAND, signers=(0,))
    verdict = h.statement(1, candidate.receipt.hash, INVALID, b"bad state root")
    assert_rejected(h, BackedCandidate(candidate.receipt, candidate.statements + (verdict,)), "WrongStatementKind")


def test_candidate_rejected_if_its_head_data_does_not_decode(h):
    candidate, _ = h.candidate(DEMAND, head_data=b"\x01\x02 not a header")
    assert_rejected(h, candidate, "InvalidHeadData")


def test_candidate_rejected_if_its_head_data_has_trailing_bytes(h):
    parent = h.head_header(DEMAND)
    candidate, _ = h.candidate(DEMAND, head_data=child_header(parent).encode() + b"\x00")
    assert_rejected(h, candidate, "InvalidHeadData")


def test_candidate_rejected_if_its_header_has_another_parent(h):
    parent = h.head_header(DEMAND)
    orphan = Header(blake2_256(b"elsewhere"), parent.number + 1, bytes(32), bytes(32))
    candidate, _ = h.candidate(DEMAND, header=orphan)
    assert_rejected(h, candidate, "HeadNotChildOfParent")


def test_candidate_rejected_if_its_header_skips_a_number(h):
    parent = h.head_header(DEMAND)
    skipping = Header(parent.hash, parent.number + 2, bytes(32), bytes(32))
    candidate, _ = h.candidate(DEMAND, header=skipping)
    assert_rejected(h, candidate, "HeadNotChildOfParent")


def test_one_bad_candidate_fails_the_whole_inherent(h):
    good, _ = h.candidate(DEMAND)
    bad, _ = h.candidate(DG, signers=(0,))
    genesis_demand = h.head(DEMAND)
    with pytest.raises(InherentFailed, match="InsufficientBacking"):
        h.block(enter=EnterData(backed=(good, bad)))
    assert h.head(DEMAND) == genesis_demand


def test_the_same_candidate_twice_is_rejected_the_second_time(h):
    candidate, _ = h.candidate(DEMAND)
    check = h.check(EnterData(backed=(candidate, candidate)))
    assert check.data.backed == (candidate,) and [d.error for d in check.dropped] == ["WrongParentHead"]


def test_enter_runs_at_most_once_per_block(h):
    candidate, _ = h.candidate(DEMAND)
    _, ctx, _ = h._start()

    def apply(index: int, data: EnterData):
        xt = encode_unsigned(h.enter_call(data))
        h.executive.apply_extrinsic(ctx, index, h.executive.check_format(decode_extrinsic(xt)))

    apply(1, EnterData(backed=(candidate,)))
    with pytest.raises(InherentFailed, match="AlreadyEntered"):
        apply(2, EnterData())


def test_the_next_block_may_enter_again(h):
    a, ha = h.candidate(DEMAND)
    h.block(enter=EnterData(backed=(a,)))
    b, hb = h.candidate(DEMAND)
    h.block(enter=EnterData(backed=(b,)))
    assert h.head(DEMAND).head_hash == hb.hash


# -- backing threshold ----------------------------------------------------------------------------


@pytest.mark.parametrize("validators, threshold", [(1, 1), (3, 1), (4, 2), (7, 3), (10, 4)])
def test_default_backing_threshold_is_f_plus_one(validators, threshold):
    h = RelayHarness(validators=validators)
    assert h.paras.threshold(h.overlay()) == threshold


def test_backing_threshold_from_genesis_is_enforced():
    h = RelayHarness(backing_votes=3)
    h.block()
    candidate, _ = h.candidate(DEMAND, signers=(0, 1))
    assert_rejected(h, candidate, "InsufficientBacking")
    enough, header = h.candidate(DEMAND, signers=(3, 0, 2))
    h.block(enter=EnterData(backed=(enough,)))
    assert h.head(DEMAND).head_hash == header.hash


# -- invalidity reports ---------------------------------------------------------------------------


def test_invalid_report_emits_candidate_invalid_and_stores_nothing(h):
    candidate, _ = h.candidate(DEMAND)
    receipt = candidate.receipt
    statements = (h.statement(2, receipt.hash, INVALID, b"state root mismatch"), h.statement(3, receipt.hash, INVALID, b"x"))
    before = h.head(DEMAND)
    h.block(enter=EnterData(invalid=((receipt, statements),)))
    assert h.head(DEMAND) == before
    assert h.para_events() == [
        ("CandidateInvalid", {"para_id": DEMAND, "candidate_hash": receipt.hash, "reason": b"state root mismatch"})
    ]


@pytest.mark.parametrize(
    "tamper, error",
    [
        (lambda h, r: (), "EmptyReport"),
        (lambda h, r: (h.statement(0, r.hash, VALID),), "WrongStatementKind"),
        (lambda h, r: (h.statement(0, blake2_256(b"other"), INVALID, b"x"),), "WrongCandidateHash"),
        (lambda h, r: (h.statement(0, r.hash, INVALID, b"x", index=9),), "UnknownValidator"),
        (lambda h, r: (h.statement(0, r.hash, INVALID, b"x"), h.statement(0, r.hash, INVALID, b"y")), "DuplicateValidator"),
        (lambda h, r: (h.statement(0, r.hash, INVALID, b"x", key=dev_keypair("Mallory", ED25519)),), "BadSignature"),
    ],
    ids=["empty", "valid-verdict", "other-candidate", "outsider-index", "duplicate", "forged"],
)
def test_invalid_report_rejected_unless_signed_invalid_by_validators(h, tamper, error):
    candidate, _ = h.candidate(DEMAND)
    data = EnterData(invalid=((candidate.receipt, tamper(h, candidate.receipt)),))
    assert [d.error for d in h.check(data).dropped] == [error]
    with pytest.raises(InherentFailed, match=error):
        h.block(enter=data)


def test_invalid_report_rejected_for_an_unknown_para(h):
    receipt = h.receipt(4242, h.head_header(DEMAND))
    data = EnterData(invalid=((receipt, (h.statement(0, receipt.hash, INVALID, b"x"),)),))
    assert [d.error for d in h.check(data).dropped] == ["UnknownPara"]


# -- origins --------------------------------------------------------------------------------------


def test_enter_cannot_be_signed(h):
    candidate, _ = h.candidate(DEMAND)
    xt = h.sign(h.alice, h.enter_call(EnterData(backed=(candidate,))))
    with pytest.raises(CallNotExpected):
        h.block(xt)


def test_enter_cannot_be_dispatched_by_root(h):
    candidate, _ = h.candidate(DEMAND)
    inner = h.runtime.call_type.decode_all(h.enter_call(EnterData(backed=(candidate,))))
    xt = h.sign(h.alice, h.call("Sudo", "sudo", call=inner))
    before = h.head(DEMAND)
    h.block(xt)
    (sudid,) = [f for p, n, f in h.events() if n == "Sudid"]
    assert sudid["sudo_result"] == {"Err": "BadOrigin"}
    assert h.head(DEMAND) == before
