"""The backing service under backing groups, on a relay state without a network: a validator
outside the candidate's group does not re-execute it, and the block author keeps only the
group's statements (one from outside would make `check_enter` drop the whole candidate)."""

from __future__ import annotations

from types import SimpleNamespace

from node.primitives.header import Header
from node.network.messages import ConsensusMessage
from relay.backing import _STATEMENT, BACKING_ENGINE_ID, BackingService
from relay.primitives import PoV
from tests.relay.harness import DEMAND, RelayHarness


class _Chain:
    """Relay headers by hash, as far as the service asks (the relay parent's number)."""

    def __init__(self, h: RelayHarness):
        self.h = h

    def header(self, block_hash: bytes) -> Header | None:
        for number, known in self.h.hashes.items():
            if known == block_hash:
                return Header(bytes(32), number, bytes(32), bytes(32))
        return None


def service(h: RelayHarness, keypair=None) -> tuple[BackingService, list]:
    sent: list = []
    node = SimpleNamespace(config=SimpleNamespace(runtime=h.runtime), db=SimpleNamespace(state=h.state.get),
                           chain=_Chain(h), network_broadcast=sent.append,
                           network=SimpleNamespace(report=lambda *a: sent.append(("report", a))))
    return BackingService(node, keypair=keypair, para_executives={}), sent


def grouped() -> RelayHarness:
    h = RelayHarness(backing_groups=None)  # 2 groups of 2
    h.block()
    return h


def statement_message(statement) -> ConsensusMessage:
    return ConsensusMessage(BACKING_ENGINE_ID, bytes((_STATEMENT,)) + statement.encode())


def test_a_validator_outside_the_group_keeps_the_candidate_without_judging_it():
    h = grouped()
    group = list(h.paras.backing_group(h.overlay(), DEMAND, h.number))
    outsider = next(i for i in range(4) if i not in group)
    backing, sent = service(h, keypair=h.validators[outsider])
    receipt = h.receipt(DEMAND, h.head_header(DEMAND))
    assert backing.submit(receipt, PoV(b"", ())) is None
    assert receipt.hash in backing.table and backing.verdicts == {"valid": 0, "invalid": 0}
    assert len(sent) == 1  # the candidate was shared; no statement was signed


def test_the_author_keeps_only_the_groups_statements_and_backs_with_them():
    h = grouped()
    group = list(h.paras.backing_group(h.overlay(), DEMAND, h.number))
    outsider = next(i for i in range(4) if i not in group)
    backing, _ = service(h)
    receipt = h.receipt(DEMAND, h.head_header(DEMAND))
    backing.submit(receipt, PoV(b"", ()), share=False)
    backing.on_message("peer", statement_message(h.statement(outsider, receipt.hash)))
    assert backing.table[receipt.hash].statements == {}  # refused before its signature is checked
    for i in group:
        backing.on_message("peer", statement_message(h.statement(i, receipt.hash)))
    overlay, _, _ = h._start()  # the next block's state, as its author sees it
    (call,) = backing.inherents(overlay)
    (candidate,) = h.runtime.decode_call(call)["ParaInclusion"]["enter"]["backed"]
    assert candidate.receipt == receipt
    assert sorted(s.validator_index for s in candidate.statements) == group
