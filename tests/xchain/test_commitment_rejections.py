"""A candidate's message commitments: validators recompute them, the codec bounds them.

`validate_candidate` re-executes a real demand block — it imports a finalized relay header with a
Credit (moving the inbound watermark) and sends a transfer and the Credit's Ack up — from its
proof of validity alone; a receipt that claims other messages or watermarks is invalid.
`decode_commitments` refuses hostile encodings before anything is allocated for them.
"""

from __future__ import annotations

import dataclasses

import pytest

from node.pallets.messaging import EMPTY_HEAD, chain_heads
from node.pallets.transfer_messages import encode_message
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import decode_extrinsic, sign_extrinsic
from node.primitives.keys import dev_keypair
from node.primitives.scale import DecodeError, decode_all, encode_bytes, encode_compact
from node.service.chain import Chain
from node.storage.db import ChainDB
from parachains.collation import build_candidate
from parachains.runtimes import build_parachain_runtime
from relay.inclusion import EnterData
from relay.primitives import (
    MAX_CANDIDATE_MESSAGES,
    MAX_CHANNELS,
    MAX_HEAD_DATA,
    MAX_MESSAGE_SIZE,
    CandidateCommitments,
    OutboundBatch,
    decode_commitments,
)
from relay.router import RELAY_CHAIN
from relay.validation import InvalidCandidate, validate_candidate
from tests.xchain.world import DEMAND, DG, UNIT, Para, Relay, para_genesis

RELAY_PARENT, COLLATOR = bytes([1]) * 32, bytes([2]) * 32


@pytest.fixture(scope="module")
def candidate(tmp_path_factory):
    """A demand block that processes one Credit from the relay and sends one transfer up."""
    relay = Relay()
    relay.apply(relay.signed(relay.alice, "XTransfers", "transfer", dest=DEMAND, beneficiary=relay.bob.public_key,
                             amount=UNIT, timeout_blocks=100))
    data = Para(DEMAND).relay_data(relay.finalize(3), deliver=[(RELAY_CHAIN, 1)])
    runtime = build_parachain_runtime("demand")
    chain = Chain(ChainDB(tmp_path_factory.mktemp("demand") / "db"), runtime, para_genesis())
    call = runtime.call_type.encode({"XTransfers": {"transfer": {
        "dest": DG, "beneficiary": dev_keypair("Bob").public_key, "amount": UNIT, "timeout_blocks": 10}}})
    v = runtime.version
    xt = sign_extrinsic(dev_keypair("Alice"), call, 0, IMMORTAL, 0, v.spec_version, v.transaction_version, chain.genesis_hash)
    parent = chain.best
    built = chain.build_block([(chain.executive.check_format(decode_extrinsic(xt)), False)], timestamp_ms=6000, slot=6,
                              inherents=[runtime.call_type.encode(data.call())])
    receipt, pov = build_candidate(chain.executive, chain.node_store, DEMAND, RELAY_PARENT, parent, built.block, COLLATOR)
    return chain.executive, receipt, pov, parent


def test_candidate_commits_to_what_it_sent_and_processed(candidate):
    executive, receipt, pov, parent = candidate
    (batch,) = receipt.commitments.outbound
    assert (batch.dest, batch.first, len(batch.messages)) == (RELAY_CHAIN, 0, 2)  # the Ack and the transfer
    assert receipt.commitments.processed == ((RELAY_CHAIN, 1),)
    assert validate_candidate(executive, receipt, pov, parent).encode() == receipt.commitments.head_data


def with_messages(receipt, outbound=None, processed=None):
    c = receipt.commitments
    commitments = dataclasses.replace(c, outbound=c.outbound if outbound is None else tuple(outbound),
                                      processed=c.processed if processed is None else tuple(processed))
    return dataclasses.replace(receipt, commitments=commitments)


def _forged_outbound(batch: OutboundBatch) -> OutboundBatch:
    """The block's batch with its transfer replaced by a bigger one: a head the relay would accept."""
    bigger = encode_message("Transfer", id={"origin": DEMAND, "nonce": 0}, origin_account=dev_keypair("Alice").public_key,
                            dest=DG, beneficiary=dev_keypair("Bob").public_key, amount=10**6 * UNIT, timeout=10)
    messages = batch.messages[:-1] + (bigger,)
    return dataclasses.replace(batch, messages=messages, head=chain_heads(EMPTY_HEAD, messages))


FORGERIES = {
    "no outbound messages": lambda c: with_messages(c, outbound=()),
    "a forged message with a consistent head": lambda c: with_messages(c, outbound=[_forged_outbound(c.commitments.outbound[0])]),
    "a message dropped": lambda c: with_messages(c, outbound=[dataclasses.replace(
        c.commitments.outbound[0], messages=c.commitments.outbound[0].messages[:1])]),
    "an extra batch": lambda c: with_messages(c, outbound=list(c.commitments.outbound) + [OutboundBatch(DG, 0, (b"\x00x",), bytes(32))]),
    "no watermark": lambda c: with_messages(c, processed=()),
    "a watermark further on": lambda c: with_messages(c, processed=[(RELAY_CHAIN, 2)]),
    "an extra watermark": lambda c: with_messages(c, processed=[(RELAY_CHAIN, 1), (DG, 0)]),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_candidate_invalid_if_its_messages_differ_from_execution(candidate, forgery):
    executive, receipt, pov, parent = candidate
    with pytest.raises(InvalidCandidate, match="committed messages differ"):
        validate_candidate(executive, FORGERIES[forgery](receipt), pov, parent)


# -- the codec boundary --------------------------------------------------------------------------

HEAD = encode_bytes(b"h" * 10)


def batch_bytes(dest: int, first: int, count_prefix: bytes, body: bytes) -> bytes:
    return dest.to_bytes(4, "little") + first.to_bytes(8, "little") + count_prefix + body + bytes(32)


def decode(data: bytes) -> CandidateCommitments:
    return decode_all(decode_commitments, data)


def test_commitments_round_trip():
    c = CandidateCommitments(b"h" * 10, (OutboundBatch(DG, 3, (b"a", b""), bytes(32)),), ((RELAY_CHAIN, 4),))
    assert decode(c.encode()) == c


ONE = HEAD + encode_compact(1)  # one outbound batch follows
MANY = MAX_CANDIDATE_MESSAGES // 2 + 1

HOSTILE = {  # what the input claims -> (the DecodeError it must raise, the bytes)
    "huge outbound count": ("too many outbound channels", HEAD + encode_compact(2**30)),
    "outbound count past the bound": ("too many outbound channels", HEAD + encode_compact(MAX_CHANNELS + 1)
                                      + batch_bytes(DG, 0, encode_compact(0), b"") * (MAX_CHANNELS + 1)),
    "huge message count": ("message count exceeds the input", ONE + batch_bytes(DG, 0, encode_compact(2**30), b"")),
    "message count past the input": ("message count exceeds the input", ONE + batch_bytes(DG, 0, encode_compact(100), encode_bytes(b"x"))),
    "message length past the input": ("end of input", ONE + batch_bytes(DG, 0, encode_compact(1), encode_compact(2**20) + b"x")),
    "oversized message": ("message too large", ONE + batch_bytes(DG, 0, encode_compact(1), encode_bytes(bytes(MAX_MESSAGE_SIZE + 1)))),
    "too many messages over all batches": ("too many messages in one candidate", HEAD + encode_compact(2)
                                           + batch_bytes(DG, 0, encode_compact(MANY), encode_bytes(b"") * MANY) * 2),
    "oversized head data": ("head data too large", encode_bytes(bytes(MAX_HEAD_DATA + 1))),
    "huge watermark count": ("too many inbound watermarks", HEAD + encode_compact(0) + encode_compact(2**30)),
    "watermark count past the bound": ("too many inbound watermarks", HEAD + encode_compact(0) + encode_compact(MAX_CHANNELS + 1)
                                       + bytes(12 * (MAX_CHANNELS + 1))),
    "truncated watermark": ("end of input", HEAD + encode_compact(0) + encode_compact(1) + bytes(11)),
    "truncated batch head": ("end of input", ONE + batch_bytes(DG, 0, encode_compact(0), b"")[:-1]),
    "trailing bytes": ("trailing bytes", CandidateCommitments(b"h").encode() + b"\x00"),
    "empty": ("end of input", b""),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_commitments_decode_rejects_hostile_input(case):
    reason, data = HOSTILE[case]
    with pytest.raises(DecodeError, match=reason):
        decode(data)


def test_enter_call_with_hostile_commitments_does_not_decode():
    """The inherent's arguments decode through the same bounded codec."""
    relay = Relay()
    batch = OutboundBatch(DG, 0, (b"x",), bytes(32))
    receipt = relay.receipt(DEMAND, relay.head_header(DEMAND))
    backed = relay.backed(dataclasses.replace(receipt, commitments=CandidateCommitments(b"h" * 10, (batch,))))
    honest = relay.enter_call(EnterData((backed,)))
    assert relay.runtime.decode_call(honest)
    hostile = honest.replace(batch.encode(), batch_bytes(DG, 0, encode_compact(2**30), encode_bytes(b"x")))
    assert hostile != honest
    with pytest.raises(DecodeError):
        relay.runtime.decode_call(hostile)
