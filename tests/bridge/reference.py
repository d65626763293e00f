"""A deliberately naive model of market.md's matching, for differential tests of the engine.

Everything is a linear scan over plain lists with tuple priorities; no packed keys, no sorted
containers, no partitions. It states the spec (and the engine's documented decisions) as directly
as possible; it is quadratic and only for small generated books.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.orders import Order, Side

PPM = 10**6


@dataclass
class Entry:
    seq: int
    order: Order
    credit: int
    left: int
    standing: int  # the price it rests at


def _priority(entry: Entry) -> tuple[int, int, int]:
    better_price = -entry.standing if entry.order.side is Side.BUY else entry.standing
    return (better_price, -entry.credit, entry.seq)


def _price(bid: int, ask: int, credit_b: int, credit_s: int) -> tuple[int, int]:
    if credit_s + credit_b == 0:
        return (bid + ask) // 2, PPM // 2
    return (credit_s * bid + credit_b * ask) // (credit_s + credit_b), credit_s * PPM // (
        credit_s + credit_b
    )


def reference_auction(
    orders: list[Order],
    credits: dict,
    grid_sale: int,
    grid_purchase: int,
    tie_lines: dict | None = None,
) -> tuple[list[tuple], list[tuple]]:
    """Trades as (round, buy, sell, quantity, price, xi); grid as (order, side, quantity, price)."""
    caps = dict(tie_lines or {})
    entries = [Entry(i, o, credits[o.owner], o.quantity, o.price) for i, o in enumerate(orders)]
    resting: list[Entry] = []
    trades: list[tuple] = []

    def cap_left(seller: Entry, buyer: Entry) -> int | None:
        return caps.get((seller.order.chain, buyer.order.chain))

    def take(incoming: Entry, rnd: int) -> None:
        buying = incoming.order.side is Side.BUY
        while incoming.left:
            candidates = []
            for e in resting:
                if e.order.side is incoming.order.side:
                    continue
                seller, buyer = (e, incoming) if buying else (incoming, e)
                if cap_left(seller, buyer) == 0:
                    continue
                crosses = (
                    e.standing <= incoming.standing if buying else e.standing >= incoming.standing
                )
                if crosses:
                    candidates.append(e)
            if not candidates:
                return
            other = min(candidates, key=_priority)
            seller, buyer = (other, incoming) if buying else (incoming, other)
            q = min(incoming.left, other.left)
            cap = cap_left(seller, buyer)
            if cap is not None:
                q = min(q, cap)
                caps[(seller.order.chain, buyer.order.chain)] = cap - q
            price, xi = _price(buyer.standing, seller.standing, buyer.credit, seller.credit)
            trades.append((rnd, buyer.seq, seller.seq, q, price, xi))
            incoming.left -= q
            other.left -= q
            if other.left == 0:
                resting.remove(other)

    for entry in entries:  # round 1, arrival order
        take(entry, 1)
        if entry.left:
            resting.append(entry)

    for side, order_key in (
        (Side.BUY, lambda e: (-e.order.reserve, -e.credit, e.seq)),
        (Side.SELL, lambda e: (e.order.reserve, -e.credit, e.seq)),
    ):
        unfilled = sorted((e for e in resting if e.order.side is side), key=order_key)
        for e in unfilled:
            resting.remove(e)
        for e in unfilled:  # re-submitted at reserve; what is left rests at reserve
            e.standing = e.order.reserve
            take(e, 2)
            if e.left:
                resting.append(e)

    grid = [
        (e.seq, e.order.side, e.left, grid_sale if e.order.side is Side.BUY else grid_purchase)
        for e in entries
        if e.left
    ]
    return trades, grid
