"""The transaction pool: validated extrinsics waiting for a block.

A transaction enters only after full validation against the best block (decode, signature, era,
genesis, nonce, fee). Per sender, transactions form a nonce chain: the one whose nonce equals the
account's is *ready*; later ones are *future* until the gap closes. Stale nonces are refused.
Both queues are bounded; a full pool refuses new work (error 1014) rather than evicting.
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Iterator

from node.runtime.executive import CheckedExtrinsic, ValidTransaction


class PoolError(Exception):
    code = 1010
    message = "Invalid Transaction"


class AlreadyImported(PoolError):
    code = 1013
    message = "Transaction Already Imported"


class TooLowPriority(PoolError):
    code = 1014
    message = "Priority is too low"


class PoolFull(TooLowPriority):
    """Substrate reports a full pool as 1014 (ImmediatelyDropped); so do we."""


@dataclass(eq=False, slots=True)
class PoolTransaction:
    checked: CheckedExtrinsic
    valid: ValidTransaction
    arrival: int
    death: int  # first block number at which it is no longer valid (mortal eras)

    @property
    def hash(self) -> bytes:
        return self.checked.xt.hash

    @property
    def signer(self) -> bytes:
        return self.checked.xt.signer

    @property
    def nonce(self) -> int:
        return self.checked.xt.nonce


@dataclass(slots=True)
class _Sender:
    next_nonce: int  # the account's nonce on the best block
    by_nonce: dict[int, PoolTransaction] = field(default_factory=dict)
    ready_end: int = 0  # the first nonce at or after next_nonce that is missing: the gap

    def advance(self) -> None:
        self.ready_end = max(self.ready_end, self.next_nonce)
        while self.ready_end in self.by_nonce:
            self.ready_end += 1


class TransactionPool:
    def __init__(self, max_transactions: int = 100_000):
        self.max_transactions = max_transactions
        self._by_hash: dict[bytes, PoolTransaction] = {}
        self._senders: dict[bytes, _Sender] = {}
        self._arrivals = itertools.count()

    def __len__(self) -> int:
        return len(self._by_hash)

    def __contains__(self, xt_hash: bytes) -> bool:
        return xt_hash in self._by_hash

    def get(self, xt_hash: bytes) -> PoolTransaction | None:
        return self._by_hash.get(xt_hash)

    # -- entry --------------------------------------------------------------------------------
    def submit(self, checked: CheckedExtrinsic, valid: ValidTransaction, account_nonce: int, death: int) -> str:
        """Add a validated transaction; returns "ready" or "future"."""
        xt = checked.xt
        if xt.hash in self._by_hash:
            raise AlreadyImported()
        sender = self._senders.get(xt.signer)
        if sender is None:
            sender = self._senders[xt.signer] = _Sender(account_nonce)
        elif sender.next_nonce != account_nonce:
            # The best block moved under the pool: a reorg retracted this sender's transactions
            # and they come back here. Follow the state, or the re-submitted nonce would sit
            # below next_nonce and never be yielded, and every later one would wait on it.
            sender.next_nonce = sender.ready_end = account_nonce
        existing = sender.by_nonce.get(xt.nonce)
        if existing is not None:
            # Replacement needs a strictly higher tip, as in Substrate.
            if xt.tip <= existing.checked.xt.tip:
                raise TooLowPriority("a transaction with this nonce is already in the pool")
            self._remove(existing)
            sender = self._senders.setdefault(xt.signer, sender)  # _remove drops emptied senders
        elif len(self._by_hash) >= self.max_transactions:
            raise PoolFull(f"the pool holds its limit of {self.max_transactions} transactions")
        tx = PoolTransaction(checked, valid, next(self._arrivals), death)
        sender.by_nonce[xt.nonce] = tx
        self._by_hash[xt.hash] = tx
        sender.advance()
        return "ready" if xt.nonce < sender.ready_end else "future"

    # -- block building -----------------------------------------------------------------------
    def ready(self) -> Iterator[PoolTransaction]:
        """Ready transactions in the order a block should take them: highest tip, then
        earliest arrival, always each sender's nonces in sequence."""
        heads = []
        for signer, sender in self._senders.items():
            tx = sender.by_nonce.get(sender.next_nonce)
            if tx is not None:
                heads.append((-tx.valid.priority, tx.arrival, signer, tx))
        heapq.heapify(heads)
        while heads:
            _, _, signer, tx = heapq.heappop(heads)
            yield tx
            nxt = self._senders[signer].by_nonce.get(tx.nonce + 1)
            if nxt is not None:
                heapq.heappush(heads, (-nxt.valid.priority, nxt.arrival, signer, nxt))

    def status_counts(self) -> tuple[int, int]:
        """(ready, future) counts."""
        ready = sum(s.ready_end - s.next_nonce for s in self._senders.values())
        return ready, len(self._by_hash) - ready

    # -- after a block ------------------------------------------------------------------------
    def on_block(self, included: list[bytes], rejected: list[bytes], account_nonce, block_number: int) -> list[PoolTransaction]:
        """Drop what the block included or refused, then what the new best state makes stale or
        expired. ``account_nonce(signer)`` reads the new best state. Returns the dropped-as-invalid
        transactions (not the included ones)."""
        touched = set()
        for h in included:
            tx = self._by_hash.get(h)
            if tx is not None:
                touched.add(tx.signer)
                self._remove(tx)
        dropped = []
        for h in rejected:
            tx = self._by_hash.get(h)
            if tx is not None:
                touched.add(tx.signer)
                self._remove(tx)
                dropped.append(tx)
        for signer in touched | {tx.signer for tx in self._by_hash.values() if tx.death <= block_number + 1}:
            sender = self._senders.get(signer)
            if sender is None:
                continue
            sender.next_nonce = account_nonce(signer)
            for nonce, tx in list(sender.by_nonce.items()):
                if nonce < sender.next_nonce or tx.death <= block_number + 1:
                    self._remove(tx)
                    dropped.append(tx)
            sender.advance()
        return dropped

    def _remove(self, tx: PoolTransaction) -> None:
        self._by_hash.pop(tx.hash, None)
        sender = self._senders.get(tx.signer)
        if sender is not None:
            sender.by_nonce.pop(tx.nonce, None)
            if not sender.by_nonce:
                del self._senders[tx.signer]
            elif tx.nonce < sender.ready_end:
                sender.ready_end = max(tx.nonce, sender.next_nonce)  # a gap opened; advance() refills

    def pending(self) -> list[PoolTransaction]:
        return sorted(self._by_hash.values(), key=lambda tx: tx.arrival)
