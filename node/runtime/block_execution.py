"""Executing a whole block against some state: what importing a block, recording a parachain
block's proof of validity, and validating that proof statelessly all do, exactly alike.

Pure: the state is whatever the caller's overlay reads from (the flat table, a trie, a proof).
"""

from __future__ import annotations

from node.primitives.extrinsic import decode_extrinsic
from node.primitives.header import SEAL, Block, Header, extrinsics_root
from node.primitives.scale import DecodeError
from node.runtime.errors import TransactionValidityError
from node.runtime.executive import Executive
from node.runtime.overlay import StateOverlay
from node.runtime.runtime import InherentFailed
from node.trie import trie_root


class BlockExecutionError(Exception):
    """The block cannot be valid; the message says why."""


def strip_seal(header: Header) -> Header:
    """The header as executed: without its trailing Seal items, which sign the rest."""
    digest = header.digest
    while digest and digest[-1].kind == SEAL:
        digest = digest[:-1]
    return Header(header.parent_hash, header.number, header.state_root, header.extrinsics_root, digest)


def ordered_root(items: list[tuple[bytes, bytes]]) -> bytes:
    return trie_root(dict(items))


def check_extrinsics_root(block: Block) -> None:
    if extrinsics_root(block.extrinsics, ordered_root) != block.header.extrinsics_root:
        raise BlockExecutionError("extrinsics root does not match the body")


def execute_block(executive: Executive, state: StateOverlay, block: Block, *, verified: frozenset | set = frozenset()) -> None:
    """Run every extrinsic of ``block`` on ``state`` as its author did (inherents first, every
    signed extrinsic re-checked, signatures too unless their hash is in ``verified``). Leaves
    the block's writes in ``state.changes``; the caller compares the resulting state root."""
    header = block.header
    executed = strip_seal(header)
    ctx = executive.initialize_block(state, header.number, header.parent_hash, executed.digest)
    seen_signed = False
    try:
        for index, data in enumerate(block.extrinsics):
            checked = executive.check_format(decode_extrinsic(data))
            if checked.xt.signer is None and seen_signed:
                raise BlockExecutionError("inherents must come before signed extrinsics")
            seen_signed = seen_signed or checked.xt.signer is not None
            executive.apply_extrinsic(ctx, index, checked, signature_verified=checked.xt.hash in verified)
        executive.finalize_block(ctx, len(block.extrinsics))
    except (TransactionValidityError, DecodeError, InherentFailed) as e:
        raise BlockExecutionError(f"extrinsic refused: {e}") from None
