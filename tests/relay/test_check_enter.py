"""check_enter: what the relay block author keeps of the candidates it has, so that the
ParaInclusion.enter inherent never fails (a failing inherent would make its block invalid)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.primitives.hashing import blake2_256
from node.primitives.header import Header
from node.primitives.keys import ED25519, dev_keypair
from node.runtime.runtime import InherentFailed
from relay.inclusion import EnterData
from relay.primitives import INVALID, VALID, BackedCandidate
from tests.relay.harness import DEMAND, DG, STORAGE, RelayHarness, child_header, genesis_header

PARAS = (DEMAND, DG, STORAGE)
MALLORY = dev_keypair("Mallory", ED25519)

# How a link of a candidate chain is built; every kind but "good" breaks exactly one rule.
KINDS = {
    "good": None,
    "few": "InsufficientBacking",
    "duplicate": "DuplicateValidator",
    "forged": "BadSignature",
    "outsider": "UnknownValidator",
    "other_candidate": "WrongCandidateHash",
    "invalid_verdict": "WrongStatementKind",
    "relay_parent": "UnknownRelayParent",
    "parent_hash": "WrongParentHead",
    "unknown_para": "UnknownPara",
    "garbage_head": "InvalidHeadData",
    "orphan_header": "HeadNotChildOfParent",
}


def link(h: RelayHarness, para_id: int, parent_hash: bytes, parent_number: int, kind: str, salt: bytes):
    """A candidate of ``kind`` on (parent_hash, parent_number); its head's (hash, number)."""
    header = Header(parent_hash, parent_number + 1, blake2_256(parent_hash + salt), bytes(32))
    head_data = header.encode()
    if kind == "garbage_head":
        head_data = b"\x07garbage" + salt
    elif kind == "orphan_header":
        head_data = Header(blake2_256(salt), parent_number + 1, bytes(32), bytes(32)).encode()
    parent = Header(parent_hash, 0, bytes(32), bytes(32))  # only its hash is read
    receipt = h.receipt(
        4242 if kind == "unknown_para" else para_id,
        parent,
        head_data=head_data,
        relay_parent=blake2_256(b"unknown" + salt) if kind == "relay_parent" else None,
        parent_head_hash=blake2_256(b"fork" + salt) if kind == "parent_hash" else parent_hash,
    )
    ch = receipt.hash
    statements = [h.statement(0, ch), h.statement(1, ch)]
    if kind == "few":
        statements = statements[:1]
    elif kind == "duplicate":
        statements[1] = h.statement(0, ch)
    elif kind == "forged":
        statements[1] = h.statement(1, ch, key=MALLORY)
    elif kind == "outsider":
        statements.append(h.statement(0, ch, key=MALLORY, index=len(h.validators)))
    elif kind == "other_candidate":
        statements[1] = h.statement(1, blake2_256(salt))
    elif kind == "invalid_verdict":
        statements[1] = h.statement(1, ch, INVALID, b"no")
    return BackedCandidate(receipt, tuple(statements)), (blake2_256(head_data), parent_number + 1)


def report(h: RelayHarness, good: bool, salt: bytes):
    receipt = h.receipt(DG, h.head_header(DG), header=child_header(h.head_header(DG), salt))
    if good:
        return receipt, (h.statement(2, receipt.hash, INVALID, b"wrong state root"),)
    return receipt, (h.statement(2, receipt.hash, VALID),)


@pytest.fixture
def h() -> RelayHarness:
    harness = RelayHarness()
    harness.block()
    return harness


def test_a_chain_broken_in_the_middle_keeps_its_valid_prefix(h):
    genesis = h.head_header(DEMAND)
    first, (hash1, n1) = link(h, DEMAND, genesis.hash, 0, "good", b"1")
    second, (hash2, n2) = link(h, DEMAND, hash1, n1, "forged", b"2")
    third, _ = link(h, DEMAND, hash2, n2, "good", b"3")
    other, (dg_hash, _) = link(h, DG, h.head(DG).head_hash, 0, "good", b"dg")
    data = EnterData(backed=(first, second, other, third))

    with pytest.raises(InherentFailed, match="BadSignature"):
        h.block(enter=data)
    _, _, check = h.block(enter=data, author=True)

    assert check.data.backed == (first, other)
    assert [(d.candidate_hash, d.error) for d in check.dropped] == [
        (second.receipt.hash, "BadSignature"), (third.receipt.hash, "WrongParentHead")
    ]
    assert (h.head(DEMAND).head_hash, h.head(DG).head_hash) == (hash1, dg_hash)


def test_check_enter_writes_nothing(h):
    candidate, _ = h.candidate(DEMAND)
    overlay, _, _ = h._start()
    before = dict(overlay.changes)
    kept = h.inclusion.check_enter(overlay, EnterData(backed=(candidate,)))
    assert kept.data.backed == (candidate,)
    assert overlay.changes == before


def test_check_enter_drops_everything_without_a_validator_set():
    h = RelayHarness()
    h.state = h.runtime.build_genesis({"Paras": {"paras": [
        {"id": DEMAND, "name": "demand", "code": b"c", "genesis_head": genesis_header("demand").encode()}]}})
    h.block()
    candidate, _ = h.candidate(DEMAND)
    check = h.check(EnterData(backed=(candidate,)))
    assert check.data == EnterData() and [d.error for d in check.dropped] == ["NoValidators"]
    with pytest.raises(InherentFailed, match="NoValidators"):
        h.block(enter=EnterData(backed=(candidate,)))


@st.composite
def plans(draw):
    order = draw(st.lists(st.sampled_from(PARAS), max_size=9))
    kinds = draw(st.lists(st.sampled_from(sorted(KINDS)), min_size=len(order), max_size=len(order)))
    reports = draw(st.lists(st.booleans(), max_size=3))
    return list(zip(order, kinds)), reports


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=plans())
def test_check_enter_keeps_the_inherent_from_ever_failing(plan):
    links, reports = plan
    h = RelayHarness()
    h.block()
    tips = {pid: (h.head(pid).head_hash, 0) for pid in PARAS}
    broken = {pid: False for pid in PARAS}
    backed, expected = [], []
    for i, (pid, kind) in enumerate(links):
        candidate, tip = link(h, pid, *tips[pid], kind, bytes([i]))
        backed.append(candidate)
        tips[pid] = tip
        broken[pid] = broken[pid] or kind != "good"
        if not broken[pid]:
            expected.append(candidate)
    invalid = [report(h, good, bytes([100 + i])) for i, good in enumerate(reports)]
    data = EnterData(tuple(backed), tuple(invalid))

    check = h.check(data)
    assert check.data.backed == tuple(expected)
    assert check.data.invalid == tuple(r for r, good in zip(invalid, reports) if good)
    assert len(check.dropped) == len(backed) + len(invalid) - len(expected) - sum(reports)

    if check.dropped:  # enter takes all or nothing: the unfiltered data fails the block
        with pytest.raises(InherentFailed):
            h.block(enter=data)
    _, _, authored = h.block(enter=data, author=True)  # never raises
    assert authored == check
    included = [f["candidate_hash"] for name, f in h.para_events() if name == "CandidateIncluded"]
    assert included == [c.receipt.hash for c in expected]
    assert sum(name == "CandidateInvalid" for name, _ in h.para_events()) == sum(reports)
    for pid in PARAS:
        kept = [c for c in expected if c.receipt.descriptor.para_id == pid]
        if kept:
            assert h.head(pid).head_hash == kept[-1].receipt.commitments.head_hash
            assert h.head(pid).included_at == h.number


def test_every_kind_breaks_the_rule_it_is_named_for(h):
    for i, (kind, error) in enumerate(KINDS.items()):
        candidate, _ = link(h, DEMAND, h.head(DEMAND).head_hash, 0, kind, bytes([i]))
        check = h.check(EnterData(backed=(candidate,)))
        assert [d.error for d in check.dropped] == ([] if error is None else [error]), kind
