"""Backing groups: only the validators assigned to a para at a candidate's relay parent may back
it; the assignment rotates with the relay parent's number, and the threshold is unchanged."""

from __future__ import annotations

import pytest

from node.runtime.runtime import InherentFailed
from relay.inclusion import EnterData
from relay.paras import assigned_group, default_backing_groups, group_members
from relay.primitives import INVALID
from tests.relay.harness import DEMAND, DG, RelayHarness


@pytest.fixture
def h() -> RelayHarness:
    harness = RelayHarness(backing_groups=None)  # the genesis default: 4 validators, 2 groups of 2
    harness.block()
    harness.block()
    return harness


def group_at(h: RelayHarness, para_id: int, relay_parent_number: int) -> list[int]:
    return list(h.paras.backing_group(h.overlay(), para_id, relay_parent_number))


def outside(group: list[int], validators: int = 4) -> list[int]:
    return [i for i in range(validators) if i not in group]


def test_default_groups_hold_backing_votes_validators_each():
    assert default_backing_groups(4, 2) == 2
    assert default_backing_groups(10, 4) == 2
    assert default_backing_groups(3, 1) == 3
    assert default_backing_groups(1, 1) == 1
    assert [list(group_members(4, 2, g)) for g in range(2)] == [[0, 1], [2, 3]]
    assert [list(group_members(7, 3, g)) for g in range(3)] == [[0, 1], [2, 3], [4, 5, 6]]


def test_genesis_default_splits_four_validators_into_two_groups(h):
    assert h.paras.groups(h.overlay()) == 2


def test_the_assigned_group_rotates_with_the_relay_parent(h):
    assert group_at(h, DEMAND, 1) != group_at(h, DEMAND, 2)
    assert group_at(h, DEMAND, 1) == group_at(h, DEMAND, 3)
    assert group_at(h, DEMAND, 1) != group_at(h, DG, 1)  # neighbouring paras take turns
    assert assigned_group(DEMAND, 5, 1) == 0


def test_candidate_backed_by_its_assigned_group_is_included(h):
    relay_parent = h.number  # the harness builds on its best block
    candidate, header = h.candidate(DEMAND, signers=group_at(h, DEMAND, relay_parent))
    assert h.check(EnterData(backed=(candidate,))).dropped == ()
    h.block(enter=EnterData(backed=(candidate,)))
    assert h.head(DEMAND).head_hash == header.hash


def test_candidate_rejected_if_a_statement_is_from_outside_the_assigned_group(h):
    group = group_at(h, DEMAND, h.number)
    candidate, _ = h.candidate(DEMAND, signers=(group[0], outside(group)[0]))
    heads = h.head(DEMAND)
    data = EnterData(backed=(candidate,))
    assert [d.error for d in h.check(data).dropped] == ["NotInBackingGroup"]
    number = h.number
    with pytest.raises(InherentFailed, match="ParaInclusion.NotInBackingGroup"):
        h.block(enter=data)
    assert h.number == number and h.head(DEMAND) == heads


def test_candidate_rejected_if_backed_only_by_another_group_even_with_enough_votes(h):
    other = outside(group_at(h, DEMAND, h.number))
    candidate, _ = h.candidate(DEMAND, signers=other)
    assert [d.error for d in h.check(EnterData(backed=(candidate,))).dropped] == ["NotInBackingGroup"]


def test_group_is_read_at_the_candidates_relay_parent_not_the_block_it_enters(h):
    """A candidate built on an older recent relay block is judged by that block's group."""
    older = h.number - 1
    candidate, header = h.candidate(DEMAND, signers=group_at(h, DEMAND, older), relay_parent=h.hashes[older])
    assert group_at(h, DEMAND, older) != group_at(h, DEMAND, h.number)
    h.block(enter=EnterData(backed=(candidate,)))
    assert h.head(DEMAND).head_hash == header.hash


def test_candidate_rejected_if_its_group_gives_fewer_than_the_threshold(h):
    group = group_at(h, DEMAND, h.number)
    candidate, _ = h.candidate(DEMAND, signers=group[:1])
    assert [d.error for d in h.check(EnterData(backed=(candidate,))).dropped] == ["InsufficientBacking"]


def test_invalidity_report_may_come_from_any_validator(h):
    group = group_at(h, DG, h.number)
    receipt = h.receipt(DG, h.head_header(DG))
    statements = (h.statement(outside(group)[0], receipt.hash, INVALID, b"bad"),)
    h.block(enter=EnterData(invalid=((receipt, statements),)))
    assert [name for name, _ in h.para_events()] == ["CandidateInvalid"]


def test_one_group_means_every_validator_may_back():
    h = RelayHarness(backing_groups=1)
    h.block()
    candidate, header = h.candidate(DEMAND, signers=(0, 3))
    h.block(enter=EnterData(backed=(candidate,)))
    assert h.head(DEMAND).head_hash == header.hash
