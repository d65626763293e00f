"""The Offences pallet through the real extrinsic path: unsigned reports added by the block
author (an inherent) and signed reports from an operator; every refusal leaves no trace."""

import pytest

from node.consensus import aura
from node.consensus.authorities import AuthoritySet
from node.consensus.equivocation import SlotEquivocation, VoteEquivocation, encode_evidence
from node.consensus.messages import Step, sign_vote
from node.dev_runtime import EXISTENTIAL_DEPOSIT
from node.pallets.balances import Balances
from node.pallets.offences import Offences
from node.pallets.system import System
from node.pallets.timestamp import Timestamp
from node.pallets.transaction_payment import TransactionPayment
from node.primitives.extrinsic import encode_unsigned
from node.primitives.header import Header
from node.primitives.keys import DEV_ACCOUNTS, dev_keypair
from node.runtime.errors import ModuleError
from node.runtime.executive import Executive
from node.runtime.metadata import decode_metadata, encode_metadata
from node.runtime.runtime import InherentFailed, Runtime, RuntimeVersion
from tests.consensus.sim import GENESIS, keypairs
from tests.runtime.harness import ENDOWMENT, GENESIS_HASH, Harness

KEYS = keypairs(4)
AUTH = AuthoritySet.of(KEYS, chain_id=b"relay")


def build_runtime(*, inherent: bool) -> Runtime:
    system = System(0)
    balances = Balances(2, system, existential_deposit=EXISTENTIAL_DEPOSIT)
    inherents = [("Timestamp", "set")] + ([("Offences", "report_equivocation")] if inherent else [])
    return Runtime(
        crate="offences_test_runtime",
        version=RuntimeVersion(spec_name="offences-test", impl_name="parawatt-node", spec_version=1),
        pallets=[system, Timestamp(1, minimum_period_ms=500), balances, TransactionPayment(3, balances), Offences(4)],
        inherents=inherents,
    )


class OffencesHarness(Harness):
    """The runtime harness over a runtime with the Offences pallet."""

    def __init__(self, *, inherent: bool):
        self.runtime = build_runtime(inherent=inherent)
        self.keys = {name: dev_keypair(name) for name in DEV_ACCOUNTS}
        self.alice, self.bob = self.keys["Alice"].public_key, self.keys["Bob"].public_key
        self.state = self.runtime.build_genesis(
            {
                "Balances": {"balances": [(k.public_key, ENDOWMENT) for k in self.keys.values()]},
                "Offences": {"authorities": list(AUTH.keys), "crypto": AUTH.crypto, "chain_id": AUTH.chain_id},
            }
        )
        self.executive = Executive(self.runtime, GENESIS_HASH)
        self.system = self.runtime.pallet("System")
        self.balances = self.runtime.pallet("Balances")
        self.offences = self.runtime.pallet("Offences")
        self.number, self.hashes, self.now = 0, {0: GENESIS_HASH}, 1_000_000

    def report_call(self, evidence) -> bytes:
        return self.call("Offences", "report_equivocation", evidence=encode_evidence(evidence))

    def offences_events(self, events):
        return [f for p, n, f in events if (p, n) == ("Offences", "Offence")]


def vote_evidence(round_=2):
    first = sign_vote(KEYS[1], AUTH, Step.PRECOMMIT, 5, round_, b"x" * 32)
    second = sign_vote(KEYS[1], AUTH, Step.PRECOMMIT, 5, round_, None)
    return VoteEquivocation(first, second)


def slot_evidence(slot=6):
    def block(root):
        return aura.seal(Header(GENESIS.hash, 1, root * 32, bytes(32), (aura.pre_digest(slot),)), KEYS[slot % 4])

    return SlotEquivocation(slot, KEYS[slot % 4].public_key, block(b"\x01"), block(b"\x02"))


@pytest.fixture
def unsigned():
    return OffencesHarness(inherent=True)


@pytest.fixture
def signed():
    return OffencesHarness(inherent=False)


def test_block_author_reports_an_equivocation_unsigned_and_it_is_recorded(unsigned):
    h = unsigned
    evidence = vote_evidence()
    (outcome,), events = h.block(encode_unsigned(h.report_call(evidence)))
    assert outcome.success and outcome.fee == 0
    assert h.offences_events(events) == [{"kind": "VoteEquivocation", "offender": KEYS[1].public_key, "slot_or_round": 2}]
    assert h.offences.is_reported(h.overlay(), evidence)
    assert h.offences.Reports.get(h.overlay(), evidence.offence_key()) == encode_evidence(evidence)


def test_slot_equivocation_is_recorded_with_its_slot(unsigned):
    h = unsigned
    _, events = h.block(encode_unsigned(h.report_call(slot_evidence(6))))
    assert h.offences_events(events) == [{"kind": "BlockEquivocation", "offender": KEYS[2].public_key, "slot_or_round": 6}]


def test_duplicate_report_makes_an_authors_block_invalid_and_check_report_says_so_first(unsigned):
    h = unsigned
    h.block(encode_unsigned(h.report_call(vote_evidence())))
    # The same offence with the votes swapped is still the same offence.
    again = VoteEquivocation(vote_evidence().second, vote_evidence().first)
    with pytest.raises(ModuleError) as refused:
        h.offences.check_report(h.overlay(), encode_evidence(again))
    assert refused.value.error == "DuplicateReport"
    with pytest.raises(InherentFailed):
        h.block(encode_unsigned(h.report_call(again)))


def test_invalid_evidence_makes_an_authors_block_invalid(unsigned):
    h = unsigned
    forged = VoteEquivocation(vote_evidence().first, vote_evidence().first)
    before = dict(h.state)
    with pytest.raises(InherentFailed):
        h.block(encode_unsigned(h.report_call(forged)))
    assert h.state == before


def test_unsigned_report_is_refused_by_the_pool(unsigned):
    from node.runtime.errors import CallNotExpected

    h = unsigned
    with pytest.raises(CallNotExpected):
        h.validate(encode_unsigned(h.report_call(vote_evidence())))


def test_operator_reports_with_a_signed_extrinsic(signed):
    h = signed
    (outcome,), events = h.block(h.sign("Bob", h.report_call(vote_evidence())))
    assert outcome.success and outcome.fee > 0
    assert len(h.offences_events(events)) == 1


def test_signed_duplicate_fails_and_leaves_only_its_fee(signed):
    h = signed
    h.block(h.sign("Bob", h.report_call(vote_evidence())))
    before = h.free(h.bob)
    (outcome,), events = h.block(h.sign("Bob", h.report_call(vote_evidence())))
    assert not outcome.success and outcome.error.error == "DuplicateReport"
    assert h.free(h.bob) == before - outcome.fee
    assert not h.offences_events(events)


@pytest.mark.parametrize("evidence", [b"", b"\x07", b"\x01" + bytes(40)])
def test_signed_report_with_undecodable_evidence_fails(signed, evidence):
    h = signed
    (outcome,), _ = h.block(h.sign("Bob", h.call("Offences", "report_equivocation", evidence=evidence)))
    assert not outcome.success and outcome.error.error == "InvalidEvidence"


def test_evidence_from_another_chain_is_refused(signed):
    h = signed
    other = AuthoritySet.of(KEYS, chain_id=b"dg")
    votes = [sign_vote(KEYS[1], other, Step.PREVOTE, 5, 2, v) for v in (b"x" * 32, None)]
    (outcome,), _ = h.block(h.sign("Bob", h.report_call(VoteEquivocation(*votes))))
    assert not outcome.success and outcome.error.error == "InvalidEvidence"


def test_the_pallet_appears_in_metadata_with_its_call_event_and_errors():
    v14 = decode_metadata(encode_metadata(build_runtime(inherent=True))).value[1]["V14"]
    (pallet,) = [p for p in v14["pallets"] if p["name"] == "Offences"]
    assert pallet["index"] == 4
    assert {e["name"] for e in pallet["storage"]["entries"]} == {"Authorities", "AuthorityCrypto", "SetId", "ChainId", "Reports"}
