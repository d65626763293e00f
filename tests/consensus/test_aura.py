"""Aura: slot ownership, Substrate's digest layout, seals, and every header rule."""

from dataclasses import replace

import pytest
import sr25519

from node.consensus import aura
from node.consensus.authorities import AuthoritySet
from node.consensus.errors import (
    InvalidPreDigest,
    InvalidSeal,
    SlotInFuture,
    SlotNotIncreasing,
    WrongAuthor,
    WrongParent,
)
from node.primitives.header import DigestItem, Header
from tests.consensus.sim import GENESIS, keypairs

KEYS = keypairs(4, "sr25519")
AUTHORITIES = AuthoritySet.of(KEYS)


def block(parent: Header, slot: int, *, author=None, root=b"\x01" * 32) -> Header:
    author = author or KEYS[slot % 4]
    pre = Header(parent.hash, parent.number + 1, root, bytes(32), (aura.pre_digest(slot),))
    return aura.seal(pre, author)


def verify(header, parent=GENESIS, now_slot=100, drift=2):
    return aura.verify_header(header, parent, AUTHORITIES, now_slot=now_slot, max_drift_slots=drift)


def test_slot_author_rotates_round_robin():
    assert [aura.slot_author(AUTHORITIES, s) for s in range(9)] == [k.public_key for k in KEYS * 2] + [KEYS[0].public_key]
    assert aura.slot_at(6_999, 1000) == 6 and aura.slot_at(7_000, 1000) == 7


def test_pre_digest_and_seal_have_substrate_layout():
    slot = 0x0102030405
    item = aura.pre_digest(slot)
    # DigestItem::PreRuntime(*b"aura", Slot.encode()): 06 ++ "aura" ++ compact(8) ++ u64 LE
    assert item.encode() == b"\x06aura\x20" + slot.to_bytes(8, "little")
    header = block(GENESIS, slot)
    seal_item = header.digest[-1]
    assert seal_item.encode()[:7] == b"\x05aura\x01\x01"  # Seal, engine, compact(64)
    pre_hash = Header(header.parent_hash, 1, header.state_root, header.extrinsics_root, header.digest[:-1]).hash
    # The seal is the author's plain sr25519 signature over the pre-seal header hash.
    assert sr25519.verify(seal_item.data, pre_hash, KEYS[slot % 4].public_key)


def test_valid_header_verifies_and_returns_its_slot():
    first = block(GENESIS, 5)
    assert verify(first) == 5
    assert verify(block(first, 6), parent=first) == 6
    assert verify(block(first, 9), parent=first) == 9  # skipped slots are fine


def test_header_rejected_if_it_has_no_seal():
    pre = Header(GENESIS.hash, 1, b"\x01" * 32, bytes(32), (aura.pre_digest(5),))
    with pytest.raises(InvalidSeal):
        verify(pre)


def test_header_rejected_if_the_seal_is_not_the_last_item():
    sealed = block(GENESIS, 5)
    moved = replace(sealed, digest=(sealed.digest[1], sealed.digest[0]))
    with pytest.raises(InvalidSeal):
        verify(moved)


def test_header_rejected_if_sealed_then_changed():
    sealed = block(GENESIS, 5)
    with pytest.raises(InvalidSeal):
        verify(replace(sealed, state_root=b"\x02" * 32))


def test_header_rejected_if_the_seal_is_truncated():
    sealed = block(GENESIS, 5)
    short = replace(sealed, digest=(sealed.digest[0], DigestItem.seal(b"aura", sealed.digest[1].data[:63])))
    with pytest.raises(InvalidSeal):
        verify(short)


def test_header_rejected_if_sealed_by_an_outsider():
    outsider = keypairs(5, "sr25519")[4]
    with pytest.raises(InvalidSeal):
        verify(block(GENESIS, 5, author=outsider))


def test_header_rejected_if_sealed_by_another_authority():
    with pytest.raises(WrongAuthor):
        verify(block(GENESIS, 5, author=KEYS[2]))


def test_header_rejected_if_its_slot_is_too_far_ahead():
    assert verify(block(GENESIS, 102), now_slot=100, drift=2) == 102
    with pytest.raises(SlotInFuture):
        verify(block(GENESIS, 103), now_slot=100, drift=2)


def test_header_rejected_if_its_slot_does_not_increase():
    first = block(GENESIS, 5)
    for slot in (5, 4):
        with pytest.raises(SlotNotIncreasing):
            verify(block(first, slot), parent=first)


def test_header_rejected_if_it_has_no_or_two_pre_digests():
    for digest in ((), (aura.pre_digest(5), aura.pre_digest(5)), (DigestItem.pre_runtime(b"aura", b"\x05"),)):
        pre = Header(GENESIS.hash, 1, b"\x01" * 32, bytes(32), digest)
        with pytest.raises(InvalidPreDigest):
            verify(aura.seal(pre, KEYS[1]))


def test_header_rejected_if_it_is_not_a_child_of_the_parent():
    first = block(GENESIS, 5)
    with pytest.raises(WrongParent):
        verify(block(GENESIS, 6), parent=first)


def test_sealing_twice_is_refused():
    with pytest.raises(InvalidSeal):
        aura.seal(block(GENESIS, 5), KEYS[1])
