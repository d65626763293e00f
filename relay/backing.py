"""Backing on a relay validator: take candidates from collators, re-execute them from their
proof of validity, sign statements, share both with the other validators, and hand the relay
block author the candidates that have enough Valid statements.

Candidates arrive by RPC (`paras_submitCandidate`, from collators) or from other validators
over the relay network (`ConsensusMessage` with engine id `BACKING_ENGINE_ID`). Only the backing
group assigned to the candidate's para at its relay parent (`relay.paras`) re-executes it; each
of them checks it itself before it signs: a statement means "I re-executed this". The other
validators keep the candidate and collect the group's statements, so whoever authors the next
relay block can include it; statements from outside the group are not kept.

A candidate that builds on another candidate (consecutive blocks of one para) is judged on top
of that candidate's committed header, whether or not this validator judged it (it may have been
another group's): the statement is about a candidate hash that names its parent head, and the
relay includes it only once that head is the para's, so nothing depends on the parent's
validity but whether the work is useful. A candidate whose parent is not known yet is judged
when the best block moves after it is.

The table of candidates is bounded; a candidate leaves it once its para head has moved past
its parent (it was included, or it lost to another candidate).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from node.primitives.header import Header
from node.primitives.keys import Keypair
from node.primitives.scale import DecodeError, decode_all, decode_bytes, encode_bytes
from node.rpc.errors import RpcError, invalid_params
from node.rpc.params import check_param_count, decode_hex_param, get_param
from node.runtime.executive import Executive
from node.runtime.overlay import StateOverlay
from node.service.node import NodeExtension
from node.network.messages import ConsensusMessage
from relay.inclusion import EnterData
from relay.primitives import (
    INVALID,
    VALID,
    BackedCandidate,
    CandidateReceipt,
    PoV,
    Statement,
    decode_pov,
    decode_receipt,
    decode_statement,
)
from relay.validation import InvalidCandidate, validate_candidate

log = logging.getLogger("parawatt.backing")

BACKING_ENGINE_ID = b"back"
MAX_CANDIDATES = 1024
_CANDIDATE, _STATEMENT = 0, 1
BAD_BACKING_MESSAGE = 20


@dataclass
class Entry:
    receipt: CandidateReceipt
    pov: PoV | None
    statements: dict[int, Statement] = field(default_factory=dict)  # validator index -> statement
    verdict: Statement | None = None  # our own


class BackingService(NodeExtension):
    engine_ids = (BACKING_ENGINE_ID,)

    def __init__(self, node, *, keypair: Keypair | None, para_executives: dict[int, Executive]):
        self.node = node
        self.keypair = keypair
        self.para_executives = para_executives  # para id -> its runtime, for re-execution
        self.paras = node.config.runtime.pallet("Paras")
        self.inclusion = node.config.runtime.pallet("ParaInclusion")
        self.table: dict[bytes, Entry] = {}
        self.verdicts = {"valid": 0, "invalid": 0}  # candidates re-executed from their proofs (metrics)

    # -- helpers ------------------------------------------------------------------------------
    def _state(self) -> StateOverlay:
        return StateOverlay(self.node.db.state)

    def _my_index(self, state) -> int | None:
        validators = self.paras.validators(state)
        if self.keypair is None or validators is None or self.keypair.public_key not in validators.keys:
            return None
        return validators.keys.index(self.keypair.public_key)

    def _chain_id(self, state) -> bytes:
        return self.paras.ChainId.get(state)

    def _group(self, state, receipt: CandidateReceipt) -> range | None:
        """The validators that may back ``receipt`` (None while its relay parent is unknown here)."""
        relay_parent = self.node.chain.header(receipt.descriptor.relay_parent)
        if relay_parent is None:
            return None
        return self.paras.backing_group(state, receipt.descriptor.para_id, relay_parent.number)

    # -- candidates in ------------------------------------------------------------------------
    def submit(self, receipt: CandidateReceipt, pov: PoV, *, share: bool = True) -> Statement | None:
        """Take a candidate: validate it if it is our group's, sign, share. Returns our
        statement (None if this node is not a validator in the candidate's backing group or
        cannot judge it yet)."""
        h = receipt.hash
        entry = self.table.get(h)
        if entry is not None and entry.verdict is not None:
            return entry.verdict
        if entry is None:
            if len(self.table) >= MAX_CANDIDATES:
                self._prune(force=True)
            entry = self.table[h] = Entry(receipt, pov)
        else:
            entry.pov = entry.pov or pov
        if share:
            self.node.network_broadcast(ConsensusMessage(BACKING_ENGINE_ID, bytes((_CANDIDATE,)) + encode_bytes(receipt.encode()) + encode_bytes(pov.encode())))
        return self._judge(entry)

    def _judge(self, entry: Entry) -> Statement | None:
        """Re-execute ``entry``'s candidate and sign the verdict, if it is ours to judge and its
        parent head is known."""
        receipt, pov, h = entry.receipt, entry.pov, entry.receipt.hash
        state = self._state()
        index = self._my_index(state)
        if index is None or pov is None:
            return None
        group = self._group(state, receipt)
        if group is None or index not in group:
            return None  # another group's candidate (or a relay parent we have not seen yet)
        parent = self._parent_header(state, receipt)
        if parent is None:
            return None  # builds on a head we do not know (yet): no verdict
        executive = self.para_executives.get(receipt.descriptor.para_id)
        try:
            if executive is None:
                raise InvalidCandidate("unknown parachain")
            validate_candidate(executive, receipt, pov, parent)
            kind, reason = VALID, b""
        except InvalidCandidate as e:
            log.warning("candidate 0x%s of para %d is invalid: %s", h.hex()[:12], receipt.descriptor.para_id, e.reason)
            kind, reason = INVALID, e.reason.encode()[:200]
        self.verdicts["valid" if kind == VALID else "invalid"] += 1
        unsigned = Statement(kind, h, index, reason)
        statement = Statement(kind, h, index, reason, self.keypair.sign(unsigned.payload(self._chain_id(state))))
        entry.verdict = statement
        entry.statements[index] = statement
        self.node.network_broadcast(ConsensusMessage(BACKING_ENGINE_ID, bytes((_STATEMENT,)) + statement.encode()))
        return statement

    def _parent_header(self, state, receipt: CandidateReceipt) -> Header | None:
        """The para head the candidate builds on: the anchored one, or the header another
        candidate commits to (consecutive blocks of one para) unless that one is known invalid.
        The header is bound by its hash, which the candidate names."""
        para = receipt.descriptor.para_id
        head = self.paras.head_of(state, para)
        if head is not None and head.head_hash == receipt.descriptor.parent_head_hash:
            return head.header
        for entry in self.table.values():
            c = entry.receipt
            if c.descriptor.para_id == para and c.commitments.head_hash == receipt.descriptor.parent_head_hash:
                if any(s.kind == INVALID for s in entry.statements.values()):
                    continue
                try:
                    return Header.decode(c.commitments.head_data)
                except (DecodeError, ValueError):
                    continue
        return None

    def on_message(self, peer: str, message) -> None:
        data = message.payload
        try:
            if not data:
                raise DecodeError("empty backing message")
            if data[0] == _CANDIDATE:
                receipt_bytes, offset = decode_bytes(data, 1)
                pov_bytes, offset = decode_bytes(data, offset)
                if offset != len(data):
                    raise DecodeError("trailing bytes")
                receipt = decode_all(decode_receipt, receipt_bytes)
                self.submit(receipt, decode_pov(pov_bytes), share=False)
            elif data[0] == _STATEMENT:
                self._note_statement(decode_all(decode_statement, data[1:]))
            else:
                raise DecodeError(f"unknown backing message kind {data[0]}")
        except (DecodeError, ValueError) as e:
            self.node.network.report(peer, BAD_BACKING_MESSAGE, f"invalid backing message: {e}")

    def _note_statement(self, statement: Statement) -> None:
        entry = self.table.get(statement.candidate_hash)
        if entry is None:
            return  # the candidate itself will come; its statements are re-sent on retries
        state = self._state()
        validators = self.paras.validators(state)
        if validators is None or statement.validator_index >= len(validators.keys):
            return
        if statement.kind == VALID:
            group = self._group(state, entry.receipt)
            if group is not None and statement.validator_index not in group:
                return  # the relay would refuse it (NotInBackingGroup); not worth a signature check
        key = validators.keys[statement.validator_index]
        unsigned = Statement(statement.kind, statement.candidate_hash, statement.validator_index, statement.reason)
        if validators.verify(key, unsigned.payload(self._chain_id(state)), statement.signature):
            entry.statements[statement.validator_index] = statement

    # -- the block author ---------------------------------------------------------------------
    def inherents(self, state) -> list[bytes]:
        threshold = self.paras.threshold(state)
        backed, invalid = [], []
        for entry in self.table.values():
            group = self._group(state, entry.receipt)
            valid = [s for s in entry.statements.values() if s.kind == VALID and group is not None and s.validator_index in group]
            bad = [s for s in entry.statements.values() if s.kind == INVALID]
            if len(valid) >= threshold:
                backed.append(BackedCandidate(entry.receipt, tuple(valid)))
            elif bad:
                invalid.append((entry.receipt, tuple(bad)))
        if not backed and not invalid:
            return []
        # Parents before children: order each para's candidates by block number.
        backed.sort(key=lambda c: (c.receipt.descriptor.para_id, Header.decode(c.receipt.commitments.head_data).number))
        check = self.inclusion.check_enter(state, EnterData(tuple(backed), tuple(invalid)))
        for dropped in check.dropped:  # a stale parent is routine (included already, or lost a race)
            (log.debug if dropped.error == "WrongParentHead" else log.warning)("candidate 0x%s of para %d left out: %s", dropped.candidate_hash.hex()[:12], dropped.para_id, dropped.error)
        if check.data.is_empty:
            return []
        for report in check.data.invalid:  # reported once: forget them
            self.table.pop(report[0].hash, None)
        return [self.node.config.runtime.call_type.encode({"ParaInclusion": {"enter": check.data.call_args()}})]

    def on_new_best(self) -> None:
        self._prune()
        for entry in list(self.table.values()):  # candidates whose parent head may be known now
            if entry.verdict is None and entry.pov is not None and entry.receipt.hash in self.table:
                self._judge(entry)

    def _prune(self, *, force: bool = False) -> None:
        """Drop candidates whose parent head is no longer current or pending."""
        state = self._state()
        pending = {e.receipt.commitments.head_hash for e in self.table.values()}
        for h, entry in list(self.table.items()):
            d = entry.receipt.descriptor
            head = self.paras.head_of(state, d.para_id)
            current = head is not None and head.head_hash == d.parent_head_hash
            if not current and d.parent_head_hash not in pending:
                del self.table[h]
        if force and len(self.table) >= MAX_CANDIDATES:
            oldest = next(iter(self.table))
            del self.table[oldest]

    # -- RPC ----------------------------------------------------------------------------------
    def register_rpc(self, module) -> None:
        async def submit_candidate(params, conn):
            check_param_count(params, 2)
            try:
                receipt = decode_all(decode_receipt, decode_hex_param(get_param(params, 0, "receipt", required=True), "receipt"))
                pov = decode_pov(decode_hex_param(get_param(params, 1, "pov", required=True), "pov"))
            except (DecodeError, ValueError) as e:
                raise invalid_params(f"candidate does not decode: {e}") from None
            statement = self.submit(receipt, pov)
            return {
                "candidateHash": "0x" + receipt.hash.hex(),
                "statement": None if statement is None else ("valid" if statement.kind == VALID else "invalid"),
                "reason": None if statement is None or not statement.reason else statement.reason.decode(errors="replace"),
            }

        async def para_head(params, conn):
            check_param_count(params, 1)
            para = get_param(params, 0, "paraId", required=True)
            if not isinstance(para, int) or isinstance(para, bool) or not 0 <= para < 2**32:
                raise invalid_params("`paraId` must be a u32")
            head = self.paras.head_of(self._state(), para)
            if head is None:
                raise RpcError(4003, f"parachain {para} is not registered")
            return {"hash": "0x" + head.head_hash.hex(), "number": Header.decode(head.head_data).number, "includedAt": head.included_at}

        module.register_method("paras_submitCandidate", submit_candidate)
        module.register_method("paras_head", para_head)
