"""pallet_offences: equivocations on chain, each proved by its own evidence.

``report_equivocation(evidence)`` takes SCALE-encoded ``node.consensus.equivocation`` evidence
(two blocks sealed for one Aura slot, or two votes by one voter for one height, round and step),
verifies it against the authority set kept here, refuses an offence already reported, stores the
evidence and emits ``Offence { kind, offender, slot_or_round }``.

Who may report (decided): anyone, because the evidence proves itself. Two origins work:
- unsigned, added by the block author: a runtime that lists ``("Offences",
  "report_equivocation")`` among its inherents lets the node put the evidence its consensus
  detected into its next block, with no account or fee. As with every inherent, a report that
  fails makes the block invalid, so the author checks it first with ``check_report``;
- signed, by an operator: in a runtime that does not list it as an inherent, any account may
  submit it through the transaction pool (it pays the usual fee, which keeps spam costly).

The authority set here must match the consensus engine's; the chain spec gives both the same.
"""

from __future__ import annotations

from node.consensus.authorities import AuthoritySet, InvalidAuthoritySet
from node.consensus.equivocation import Evidence, decode_evidence, verify_evidence
from node.consensus.errors import InvalidEvidence
from node.primitives.scale_types import U8, U64, AccountId, Bytes, H256, Sequence_, Variant, VariantSpec
from node.runtime.errors import BadOrigin
from node.runtime.pallet import Pallet, StorageValue, call, event, map_of

REPORT_WEIGHT = 60_000_000  # two signature checks and a few storage accesses
_CRYPTO_CODES = {"ed25519": 0, "sr25519": 1}  # MultiSignature's order
_CODE_CRYPTOS = {v: k for k, v in _CRYPTO_CODES.items()}

OffenceKind = Variant(
    "pallet_offences::pallet::OffenceKind",
    [VariantSpec(0, "BlockEquivocation", docs=("Two blocks for one Aura slot.",)),
     VariantSpec(1, "VoteEquivocation", docs=("Two votes for one height, round and step.",))],
)


class Offences(Pallet):
    name = "Offences"
    crate = "pallet_offences"

    # -- storage ------------------------------------------------------------------------------
    Authorities = StorageValue(Sequence_(AccountId), default=[], docs="The consensus authorities, in rotation order.")
    AuthorityCrypto = StorageValue(U8, default=1, docs="Their key scheme: 0 = ed25519, 1 = sr25519.")
    SetId = StorageValue(U64, default=0, docs="The authority set id that votes commit to.")
    ChainId = StorageValue(Bytes, default=b"", docs="The chain id that votes commit to.")
    Reports = map_of(H256, Bytes, hasher="Identity", docs="Evidence of each reported offence, by offence key.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "Offence", "An authority equivocated; its evidence is in `Reports`.",
              kind=OffenceKind, offender=AccountId, slot_or_round=U64),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("InvalidEvidence", "The evidence does not decode or does not prove an equivocation."),
        ("DuplicateReport", "This offence has already been reported."),
        ("NoAuthorities", "No authority set is configured."),
    )

    # -- calls --------------------------------------------------------------------------------
    @call(0, evidence=Bytes, weight=REPORT_WEIGHT)
    def report_equivocation(self, ctx, origin, evidence):
        """Record a verified equivocation. Unsigned (from the block author) or signed by anyone."""
        if origin.kind not in ("none", "signed"):
            raise BadOrigin()
        proof = self.check_report(ctx.state, evidence)
        self.Reports.set(ctx.state, proof.offence_key(), evidence)
        self.deposit_event(
            ctx, "Offence", {"kind": proof.kind, "offender": proof.offender, "slot_or_round": proof.slot_or_round}
        )

    # -- the interface other code uses --------------------------------------------------------
    def authority_set(self, state) -> AuthoritySet:
        keys = self.Authorities.get(state)
        try:
            crypto = _CODE_CRYPTOS[self.AuthorityCrypto.get(state)]
            return AuthoritySet(crypto, tuple(keys), self.SetId.get(state), self.ChainId.get(state))
        except (InvalidAuthoritySet, KeyError):
            raise self.error("NoAuthorities") from None

    def check_report(self, state, evidence: bytes) -> Evidence:
        """The decoded evidence if a report of it would succeed now; else the call's error."""
        authorities = self.authority_set(state)
        try:
            proof = decode_evidence(evidence)
            verify_evidence(proof, authorities)
        except InvalidEvidence:
            raise self.error("InvalidEvidence") from None
        if self.Reports.contains(state, proof.offence_key()):
            raise self.error("DuplicateReport")
        return proof

    def is_reported(self, state, proof: Evidence) -> bool:
        return self.Reports.contains(state, proof.offence_key())

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, state, config):
        """``{"authorities": [32-byte keys], "crypto": "sr25519", "set_id": 0, "chain_id": b"..."}``"""
        if "authorities" not in config:
            return
        crypto = config.get("crypto", "sr25519")
        authorities = AuthoritySet(
            crypto, tuple(config["authorities"]), config.get("set_id", 0), config.get("chain_id", b"")
        )
        self.Authorities.set(state, list(authorities.keys))
        self.AuthorityCrypto.set(state, _CRYPTO_CODES[crypto])
        self.SetId.set(state, authorities.set_id)
        self.ChainId.set(state, authorities.chain_id)
