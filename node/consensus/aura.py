"""Aura: round-robin slot authorship among the authorities (proof of authority).

Time is cut into slots of fixed length; slot ``s`` belongs to ``authorities[s mod n]``. The
author puts the slot in a ``PreRuntime(b"aura", u64 LE slot)`` digest item, builds the block, then
appends ``Seal(b"aura", signature)`` where the signature is over the hash of the header *without*
the seal — byte for byte what Substrate's Aura does, so its headers decode in polkadot.js.

Aura alone gives no finality: two blocks may compete for a height. ``finality`` adds that.
"""

from __future__ import annotations

from dataclasses import replace

from node.consensus.authorities import AuthoritySet
from node.consensus.errors import (
    InvalidPreDigest,
    InvalidSeal,
    SlotInFuture,
    SlotNotIncreasing,
    WrongAuthor,
    WrongParent,
)
from node.primitives.header import PRE_RUNTIME, SEAL, DigestItem, Header
from node.primitives.keys import SIGNATURE_LEN, Keypair

AURA_ENGINE_ID = b"aura"
SLOT_LEN = 8


def slot_at(timestamp_ms: int, slot_duration_ms: int) -> int:
    """The slot a moment falls in (Substrate: ``timestamp / slot_duration``)."""
    return timestamp_ms // slot_duration_ms


def slot_author(authorities: AuthoritySet, slot: int) -> bytes:
    return authorities.at(slot)


def pre_digest(slot: int) -> DigestItem:
    if not 0 <= slot < 1 << 64:
        raise ValueError("slot must fit in u64")
    return DigestItem.pre_runtime(AURA_ENGINE_ID, slot.to_bytes(SLOT_LEN, "little"))


def slot_of(header: Header) -> int:
    """The slot in the header's Aura pre-digest; exactly one must be present."""
    slots = [
        item.data
        for item in header.digest
        if item.kind == PRE_RUNTIME and item.engine == AURA_ENGINE_ID
    ]
    if len(slots) != 1:
        raise InvalidPreDigest(f"expected one Aura pre-digest, found {len(slots)}")
    if len(slots[0]) != SLOT_LEN:
        raise InvalidPreDigest("the Aura pre-digest must hold a u64 slot")
    return int.from_bytes(slots[0], "little")


def _is_aura_seal(item: DigestItem) -> bool:
    return item.kind == SEAL and item.engine == AURA_ENGINE_ID


def seal(header_without_seal: Header, keypair: Keypair) -> Header:
    """The header with an Aura seal: ``keypair``'s signature over the pre-seal header hash."""
    if any(_is_aura_seal(item) for item in header_without_seal.digest):
        raise InvalidSeal("the header is already sealed")
    signature = keypair.sign(header_without_seal.hash)
    return replace(header_without_seal, digest=header_without_seal.digest + (DigestItem.seal(AURA_ENGINE_ID, signature),))


def unseal(header: Header) -> tuple[Header, bytes]:
    """(the pre-seal header, the seal's signature); the seal must be the last digest item."""
    if not header.digest or not _is_aura_seal(header.digest[-1]):
        raise InvalidSeal("the last digest item is not an Aura seal")
    signature = header.digest[-1].data
    if len(signature) != SIGNATURE_LEN:
        raise InvalidSeal(f"an Aura seal holds a {SIGNATURE_LEN}-byte signature")
    return replace(header, digest=header.digest[:-1]), signature


def verify_header(
    header: Header,
    parent_header: Header,
    authorities: AuthoritySet,
    *,
    now_slot: int,
    max_drift_slots: int,
) -> int:
    """Check a sealed header against Aura's rules; return its slot.

    Cheap checks come first, the signature last, so a flood of junk headers costs little.
    The genesis block has no slot, so any slot may follow it.
    """
    if header.parent_hash != parent_header.hash or header.number != parent_header.number + 1:
        raise WrongParent(f"block {header.number} is not a child of block {parent_header.number}")
    pre_header, signature = unseal(header)
    slot = slot_of(pre_header)
    if slot > now_slot + max_drift_slots:
        raise SlotInFuture(f"slot {slot} is ahead of the local slot {now_slot} by more than {max_drift_slots}")
    if parent_header.number > 0:
        parent_slot = slot_of(parent_header)
        if slot <= parent_slot:
            raise SlotNotIncreasing(f"slot {slot} does not follow the parent's slot {parent_slot}")
    author = slot_author(authorities, slot)
    pre_hash = pre_header.hash
    if authorities.verify(author, pre_hash, signature):
        return slot
    # Tell a misbehaving authority from a forger; only on the failure path, at most n checks.
    if any(authorities.verify(key, pre_hash, signature) for key in authorities.keys if key != author):
        raise WrongAuthor(f"slot {slot} belongs to {author.hex()}, sealed by another authority")
    raise InvalidSeal("the seal's signature is not the slot author's")
