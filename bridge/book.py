"""The order book: resting orders of one side, kept in market.md's priority order.

Priority among resting orders: better price first (higher bid, lower ask); at equal price, higher
credit first; at equal credit, earlier arrival first. The three criteria are packed into one
integer key, so the sorted containers compare machine-sized ints instead of tuples:

    key = price_rank · 2^60 + (10^6 − credit) · 2^40 + arrival

where ``price_rank`` is the ask price, or minus the bid price (Python ints are unbounded and the
packing uses ``+``, so a negative rank keeps the order). Smaller key = better priority. Arrival
indices must stay below 2^40 and credits in [0, 10^6] (< 2^20), so the fields never overlap.

The book is partitioned by the resting order's home chain. The best order overall is the best of
the partition heads (three chains, three comparisons); a tie-line that is full for one chain pair
simply skips that partition, so the auction never scans past blocked orders.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Final

from sortedcontainers import SortedList

from bridge.orders import PPM, ChainId, Price, Side

SEQ_BITS: Final = 40
PRICE_SHIFT: Final = 60  # SEQ_BITS + 20 bits of credit rank
SEQ_MASK: Final = (1 << SEQ_BITS) - 1
MAX_ORDERS: Final = 1 << SEQ_BITS


def priority_key(side: Side, price: Price, credit: int, seq: int) -> int:
    """The sort key of a resting order; smaller is served first."""
    rank = ((PPM - credit) << SEQ_BITS) + seq
    if side is Side.BUY:
        return (-price << PRICE_SHIFT) + rank
    return (price << PRICE_SHIFT) + rank


def key_price(side: Side, key: int) -> Price:
    """The standing price a key was built from (``>>`` floors, which undoes the packing exactly)."""
    rank = key >> PRICE_SHIFT
    return -rank if side is Side.BUY else rank


def key_seq(key: int) -> int:
    return key & SEQ_MASK


class Book:
    """Resting orders of one side, per home chain, each partition sorted by priority key."""

    __slots__ = ("side", "_parts")

    def __init__(self, side: Side) -> None:
        self.side = side
        self._parts: dict[ChainId, SortedList] = {}

    def __len__(self) -> int:
        return sum(len(part) for part in self._parts.values())

    def add(self, chain: ChainId, price: Price, credit: int, seq: int) -> int:
        key = priority_key(self.side, price, credit, seq)
        part = self._parts.get(chain)
        if part is None:
            part = self._parts[chain] = SortedList()
        part.add(key)
        return key

    def best(self, skip: Collection[ChainId] = ()) -> tuple[int, ChainId] | None:
        """The best resting key and its chain, ignoring partitions in ``skip``; None if none."""
        best = None
        where: ChainId = ""
        for chain, part in self._parts.items():
            if part and chain not in skip:
                key = part[0]
                if best is None or key < best:
                    best = key
                    where = chain
        return None if best is None else (best, where)

    def pop_best(self, chain: ChainId) -> int:
        """Remove and return the head of ``chain``'s partition (the key :meth:`best` returned)."""
        return self._parts[chain].pop(0)

    def keys(self) -> list[int]:
        """Every resting key in priority order (a merge of the partitions)."""
        return sorted(key for part in self._parts.values() for key in part)

    def drain(self) -> list[int]:
        """Remove every resting order and return their arrival indices, in no particular order."""
        seqs = [key & SEQ_MASK for part in self._parts.values() for key in part]
        for part in self._parts.values():
            part.clear()
        return seqs
