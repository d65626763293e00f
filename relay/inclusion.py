"""ParaInclusion: parachain candidates enter the relay through one inherent, `enter`.

``enter(backed: Vec<BackedCandidate>, invalid: Vec<(CandidateReceipt, Vec<Statement>)>)`` is an
unsigned call the relay block author adds, at most once per block. Its arguments are declared as
typed SCALE (`relay.types`), byte for byte the `relay.primitives` encodings, so clients decode the
call from the metadata.

A backed candidate is included when, in this order:
1. its para is registered (`UnknownPara`);
2. ``descriptor.parent_head_hash`` is the para's current head (`WrongParentHead`);
3. ``descriptor.relay_parent`` is one of the last `MaxRelayParentAge` relay blocks, as kept in
   System.BlockHash (`UnknownRelayParent`): collators build on their finalized view of the relay,
   which lags the best block by a few blocks;
4. its statements are VALID (`WrongStatementKind`), about this candidate's hash
   (`WrongCandidateHash`), by validators in the set (`UnknownValidator`) and in the backing group
   assigned to the para at the relay parent (`NotInBackingGroup`, see `relay.paras`), one per
   validator (`DuplicateValidator`), at least `Paras.threshold` of them (`InsufficientBacking`),
   and each is signed by its validator over ``Statement.payload(relay chain id)`` (`BadSignature`);
5. its head data decodes as a header (`InvalidHeadData`) whose parent is the old head and whose
   number follows it (`HeadNotChildOfParent`);
6. its outbound messages continue the anchored queues and its processed watermarks move
   forward within them (the Router's errors, `relay.router`).
Then the para's head becomes the new header, the Router anchors its messages, and
`CandidateBacked` and `CandidateIncluded` are emitted; messages it sent to the relay are
processed right away, after the events. Any failure fails the inherent, and with it the block; so the author first keeps only
what `check_enter` accepts.

Decisions:
- Backing and inclusion happen in one step, in the same block. Polkadot includes a candidate
  some blocks after backing it, once 2/3 of validators attest its erasure-coded PoV is available;
  there is no availability layer here (the backers keep the PoV), so that wait would only add
  latency. Both events are still emitted, so a later availability phase can split them.
- A para faster than the relay gets every block validated as several consecutive candidates in
  one `enter`: each names the previous one's head as its parent and is checked against the head
  the previous one set. One candidate per para block (rather than one candidate carrying a chain
  of blocks) keeps every para block individually backed, and every para block hash anchored.
- An invalidity report (INVALID statements signed by validators, at least one) emits
  `CandidateInvalid` with the first statement's reason and stores nothing: the candidate's head
  never enters relay state, and honest collators carry on from the anchored head. Reports are
  not deduplicated: one only emits an event, and the author includes each report it has once.
  Any validator may sign a report (only the backing group re-executes, so in practice it is
  one of them), as any validator may raise a dispute in Polkadot.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.consensus.authorities import AuthoritySet
from node.primitives.header import Header
from node.primitives.scale import DecodeError
from node.primitives.scale_types import U32, Bool, Bytes, H256, Vec
from node.runtime.errors import ModuleError
from node.runtime.overlay import StateOverlay
from node.runtime.pallet import Constant, Pallet, StorageValue, call, event
from relay.paras import ParaHead, Paras, assigned_group, group_members
from relay.router import Routed, Router
from relay.primitives import INVALID, VALID, BackedCandidate, CandidateReceipt, ParaId, Statement
from relay.types import BackedCandidateType, InvalidReportType

MAX_RELAY_PARENT_AGE = 32  # relay blocks back a candidate's relay parent may be
ENTER_BASE_WEIGHT = 10_000_000
CANDIDATE_WEIGHT = 40_000_000  # hashing the receipt, decoding two headers, a few storage accesses
STATEMENT_WEIGHT = 50_000_000  # one ed25519 verification

InvalidReport = tuple[CandidateReceipt, tuple[Statement, ...]]


def _enter_weight(backed, invalid) -> int:
    return (
        ENTER_BASE_WEIGHT
        + sum(CANDIDATE_WEIGHT + STATEMENT_WEIGHT * len(c.statements) for c in backed)
        + sum(CANDIDATE_WEIGHT + STATEMENT_WEIGHT * len(statements) for _, statements in invalid)
    )


@dataclass(frozen=True, slots=True)
class EnterData:
    """The arguments of one `enter` call, typed."""

    backed: tuple[BackedCandidate, ...] = ()
    invalid: tuple[InvalidReport, ...] = ()

    def call_args(self) -> dict:
        return {"backed": list(self.backed), "invalid": [(r, list(s)) for r, s in self.invalid]}

    @property
    def is_empty(self) -> bool:
        return not self.backed and not self.invalid


@dataclass(frozen=True, slots=True)
class Dropped:
    """A candidate or report `check_enter` left out, and the error `enter` would have raised."""

    para_id: ParaId
    candidate_hash: bytes
    error: str


@dataclass(frozen=True, slots=True)
class EnterCheck:
    data: EnterData  # what `enter` accepts, in the original order
    dropped: tuple[Dropped, ...]


@dataclass(frozen=True, slots=True)
class Inclusion:
    """What including one backed candidate did."""

    para_id: ParaId
    candidate_hash: bytes
    head: ParaHead
    relay_parent: bytes
    number: int  # the para block's number
    routed: Routed  # what its messages did, for the Router to dispatch


@dataclass(frozen=True, slots=True)
class InclusionContext:
    """What every candidate of one `enter` is checked against, read once per call."""

    validators: AuthoritySet
    threshold: int
    recent_relay_parents: dict[bytes, int]  # hash -> number of the last MaxRelayParentAge relay blocks
    block_number: int
    groups: int = 1  # backing groups (`relay.paras`)

    def backing_group(self, para_id: ParaId, relay_parent: bytes) -> range:
        """The validators that may back ``para_id`` on ``relay_parent`` (a recent relay block)."""
        number = self.recent_relay_parents[relay_parent]
        return group_members(self.validators.n, self.groups, assigned_group(para_id, number, self.groups))


class ParaInclusion(Pallet):
    name = "ParaInclusion"
    crate = "parawatt_relay::inclusion"

    # -- storage ------------------------------------------------------------------------------
    Included = StorageValue(Bool, default=False, docs="Whether `enter` ran in this block (cleared at its end).")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "CandidateBacked", "A candidate was backed by enough validators.",
              para_id=U32, candidate_hash=H256, head_hash=H256, relay_parent=H256),
        event(1, "CandidateIncluded", "A candidate was included: its header is the para's new head; `number` is the para block's.",
              para_id=U32, candidate_hash=H256, head_hash=H256, number=U32),
        event(2, "CandidateInvalid", "Validators found a candidate invalid; nothing of it was stored.",
              para_id=U32, candidate_hash=H256, reason=Bytes),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("UnknownPara", "The candidate's para is not registered."),
        ("WrongParentHead", "The candidate does not build on the para's current head."),
        ("UnknownRelayParent", "The relay parent is not one of the last MaxRelayParentAge relay blocks."),
        ("WrongStatementKind", "A statement has the wrong verdict (Invalid backing, or Valid in a report)."),
        ("WrongCandidateHash", "A statement is about another candidate."),
        ("UnknownValidator", "A statement names a validator index outside the set."),
        ("DuplicateValidator", "Two statements come from one validator."),
        ("InsufficientBacking", "Fewer VALID statements than the backing threshold."),
        ("BadSignature", "A statement's signature is not its validator's."),
        ("InvalidHeadData", "The head data does not decode as a header."),
        ("HeadNotChildOfParent", "The new header's parent or number does not follow the para's current head."),
        ("EmptyReport", "An invalidity report carries no statement."),
        ("NoValidators", "No validator set is configured."),
        ("AlreadyEntered", "`enter` may run once per block."),
        ("NotInBackingGroup", "A backing statement comes from a validator outside the group assigned to the para at the relay parent."),
    )

    def __init__(self, index: int, system, paras: Paras, router: Router):
        super().__init__(index)
        self.system = system
        self.paras = paras
        self.router = router

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [Constant("MaxRelayParentAge", U32, MAX_RELAY_PARENT_AGE, "How many relay blocks back a relay parent may be.")]

    # -- calls --------------------------------------------------------------------------------
    @call(0, backed=Vec(BackedCandidateType), invalid=Vec(InvalidReportType), weight=_enter_weight, pays_fee=False)
    def enter(self, ctx, origin, backed, invalid):
        """Include backed candidates and record invalidity reports. An inherent: the relay block
        author adds it, unsigned, at most once per block."""
        ctx.ensure_none(origin)
        state = ctx.state
        if self.Included.get(state):
            raise self.error("AlreadyEntered")
        self.Included.set(state, True)
        if not backed and not invalid:
            return
        context = self.inclusion_context(state, ctx.block_number)
        for candidate in backed:
            done = self.apply_backed(state, context, candidate)
            self.deposit_event(ctx, "CandidateBacked", {
                "para_id": done.para_id, "candidate_hash": done.candidate_hash,
                "head_hash": done.head.head_hash, "relay_parent": done.relay_parent})
            self.deposit_event(ctx, "CandidateIncluded", {
                "para_id": done.para_id, "candidate_hash": done.candidate_hash,
                "head_hash": done.head.head_hash, "number": done.number})
            self.router.dispatch(ctx, done.routed, candidate.receipt.commitments)
        for receipt, statements in invalid:
            reason = self.verify_report(state, context, receipt, statements)
            self.deposit_event(ctx, "CandidateInvalid", {
                "para_id": receipt.descriptor.para_id, "candidate_hash": receipt.hash, "reason": reason})

    # -- hooks --------------------------------------------------------------------------------
    def on_finalize(self, ctx):
        if self.Included.get(ctx.state):
            self.Included.kill(ctx.state)

    # -- the interface the block author uses --------------------------------------------------
    def check_enter(self, state: StateOverlay, data: EnterData) -> EnterCheck:
        """What of ``data`` `enter` would accept now, so the inherent never fails.

        ``state`` is the block's state as `enter` will see it: after `initialize_block` (so
        System.Number is the block being built and System.BlockHash holds its parent's hash).
        On the parent's state the relay-parent window would be one block off, and a candidate
        at its far edge would pass here and fail in the block.
        Candidates are tried in order on a scratch overlay, each against the heads the kept ones
        before it set: a chain broken in the middle keeps its valid prefix. Nothing is written to
        ``state``.
        """
        if data.is_empty:
            return EnterCheck(data, ())
        scratch = StateOverlay(state.get)
        try:
            if self.Included.get(scratch):
                raise self.error("AlreadyEntered")
            context = self.inclusion_context(scratch, self.system.Number.get(scratch))
        except ModuleError as e:
            everything = [c.receipt for c in data.backed] + [r for r, _ in data.invalid]
            return EnterCheck(EnterData(), tuple(Dropped(r.descriptor.para_id, r.hash, e.error) for r in everything))
        backed, invalid, dropped = [], [], []
        for candidate in data.backed:
            try:
                with scratch.transaction():
                    self.apply_backed(scratch, context, candidate)
            except ModuleError as e:
                dropped.append(Dropped(candidate.receipt.descriptor.para_id, candidate.receipt.hash, e.error))
            else:
                backed.append(candidate)
        for receipt, statements in data.invalid:
            try:
                self.verify_report(scratch, context, receipt, statements)
            except ModuleError as e:
                dropped.append(Dropped(receipt.descriptor.para_id, receipt.hash, e.error))
            else:
                invalid.append((receipt, tuple(statements)))
        return EnterCheck(EnterData(tuple(backed), tuple(invalid)), tuple(dropped))

    # -- checks and state changes -------------------------------------------------------------
    def inclusion_context(self, state, block_number: int) -> InclusionContext:
        """The validator set, threshold and recent relay blocks that the candidates in block
        ``block_number`` are checked against."""
        validators = self.paras.validators(state)
        if validators is None:
            raise self.error("NoValidators")
        first = max(0, block_number - MAX_RELAY_PARENT_AGE)
        recent = {h: n for n in range(first, block_number) if (h := self.system.block_hash(state, n)) is not None}
        return InclusionContext(validators, self.paras.threshold(state), recent, block_number, self.paras.groups(state))

    def apply_backed(self, state, context: InclusionContext, candidate: BackedCandidate) -> Inclusion:
        """Check one backed candidate (rules 1-6), then store its head and anchor its messages.
        Raises the pallet's (or the Router's) error if a rule fails; run it in a storage
        transaction to drop what rule 6 may have written before failing."""
        receipt = candidate.receipt
        descriptor = receipt.descriptor
        head = self.paras.head_of(state, descriptor.para_id)
        if head is None:
            raise self.error("UnknownPara")
        if descriptor.parent_head_hash != head.head_hash:
            raise self.error("WrongParentHead")
        if descriptor.relay_parent not in context.recent_relay_parents:
            raise self.error("UnknownRelayParent")
        candidate_hash = receipt.hash
        group = context.backing_group(descriptor.para_id, descriptor.relay_parent)
        self._verify_statements(context, candidate.statements, candidate_hash, VALID, context.threshold, "InsufficientBacking", group)
        header = self._child_header(head, receipt.commitments.head_data)
        routed = self.router.include(state, descriptor.para_id, receipt.commitments)
        new_head = self.paras.set_head(state, descriptor.para_id, receipt.commitments.head_data, context.block_number)
        return Inclusion(descriptor.para_id, candidate_hash, new_head, descriptor.relay_parent, header.number, routed)

    def verify_report(self, state, context: InclusionContext, receipt: CandidateReceipt, statements) -> bytes:
        """Check an invalidity report; the reason it gives (its first statement's)."""
        if not self.paras.is_registered(state, receipt.descriptor.para_id):
            raise self.error("UnknownPara")
        self._verify_statements(context, statements, receipt.hash, INVALID, 1, "EmptyReport")
        return statements[0].reason

    # -- internals ----------------------------------------------------------------------------
    def _verify_statements(self, context, statements, candidate_hash: bytes, kind: int, minimum: int, too_few: str,
                           group: range | None = None) -> None:
        """``group``: the only validators whose statements count (None: any in the set)."""
        validators = context.validators
        seen: set[int] = set()
        for s in statements:  # the cheap checks first, then the signatures
            if s.kind != kind:
                raise self.error("WrongStatementKind")
            if s.candidate_hash != candidate_hash:
                raise self.error("WrongCandidateHash")
            if s.validator_index >= validators.n:
                raise self.error("UnknownValidator")
            if group is not None and s.validator_index not in group:
                raise self.error("NotInBackingGroup")
            if s.validator_index in seen:
                raise self.error("DuplicateValidator")
            seen.add(s.validator_index)
        if len(seen) < minimum:
            raise self.error(too_few)
        chain_id = validators.chain_id
        for s in statements:
            if not validators.verify(validators.keys[s.validator_index], s.payload(chain_id), s.signature):
                raise self.error("BadSignature")

    def _child_header(self, head: ParaHead, head_data: bytes) -> Header:
        try:
            header = Header.decode(head_data)
        except (DecodeError, ValueError):
            raise self.error("InvalidHeadData") from None
        if header.parent_hash != head.head_hash or header.number != head.header.number + 1:
            raise self.error("HeadNotChildOfParent")
        return header
