"""The two-round continuous double auction of one trading period (market.md, "Matching").

Pure and deterministic: integers only, no I/O, no clocks, no hashing-order dependence (every
choice is a minimum over unique integer keys). A runtime pallet drives it with :meth:`Auction.place`
as orders are anchored and :meth:`Auction.close` at the gate; :func:`run_auction` does both for a
whole list.

Transaction price of a match, from the two orders' standing prices ``λ_b ≥ λ_s`` and credits in
ppm: ``(R_s·λ_b + R_b·λ_s) // (R_s + R_b)``, or ``(λ_b + λ_s) // 2`` when both credits are 0.
Both divide non-negative integers, so ``//`` rounds toward zero; the result stays in [λ_s, λ_b].
``ξ = R_s·10^6 // (R_s + R_b)`` ppm (500,000 when both are 0) is reported, also rounded toward zero.

Decisions where market.md is open (each has a test):

- Round 2, buy phase: the transaction price uses the re-submitted buy's reserve as ``λ_b`` and the
  resting ask's offer as ``λ_s``. A re-submitted buy that is not filled rests at its reserve price
  (it was re-submitted at that price), so in the sell phase every resting bid stands at its reserve
  and the price uses the bid's reserve and the re-submitted sell's reserve.
- Round 2 re-submits each order once, keeping its arrival index for tie-breaks.
- An aggregator's buy may match its own sell (a storage aggregator can have both). Such a trade
  nets to zero in settlement; refusing it would make priority depend on the owner.
- Tie-lines are directed, from the seller's home chain to the buyer's, and cap the peer energy
  matched across them in the period (both rounds together). Trades within one chain and grid
  trades are never capped. A pair without an entry is unlimited. When the best resting order sits
  behind a full tie-line, the incoming order skips that chain's orders and keeps matching the
  best of the others; the skipped orders keep their place.
- Grid trades are listed in arrival order of the orders they fill.
- Exclusion by credit applies when an order is placed (market.md: "cannot place new orders");
  resting orders are not withdrawn if credit changes during the window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeAlias

from bridge.book import MAX_ORDERS, PRICE_SHIFT, SEQ_MASK, Book, priority_key
from bridge.credit import validate_credit
from bridge.errors import (
    AmountOutOfRange,
    InvalidCredit,
    InvalidTieLine,
    MarketError,
    PeriodClosed,
    PeriodNotOpen,
    UnknownOwner,
)
from bridge.orders import (
    DEFAULT_EXCLUSION_THRESHOLD,
    MAX_ENERGY,
    PPM,
    AccountId,
    ChainId,
    Energy,
    Order,
    Ppm,
    Price,
    Side,
    validate_order_fields,
)
from bridge.tariff import Tariff, validate_tariff

TieLines: TypeAlias = Mapping[tuple[ChainId, ChainId], Energy]  # (seller chain, buyer chain) → cap

ROUND_CONTINUOUS = 1
ROUND_RESERVE = 2
_HALF = PPM // 2


@dataclass(frozen=True, slots=True)
class Trade:
    """One peer match, in the order it was made."""

    round: int  # 1: continuous round, 2: reserve-price round
    buy: int  # arrival index of the buy order
    sell: int  # arrival index of the sell order
    buyer: AccountId
    seller: AccountId
    quantity: Energy
    price: Price  # planck per kWh
    xi: Ppm  # ξ = R_s / (R_s + R_b): the weight of the bid in the price


@dataclass(frozen=True, slots=True)
class GridTrade:
    """What the grid absorbs: an unfilled remainder at the TOU tariff."""

    order: int  # arrival index
    owner: AccountId
    side: Side  # the aggregator's side: BUY means the grid supplies it at λ_grid
    quantity: Energy
    price: Price  # λ_grid(t) for a buy, λ_0(t) for a sell


@dataclass(frozen=True, slots=True)
class AuctionResult:
    period: int
    tariff: Tariff
    orders: tuple[Order, ...]  # accepted orders, by arrival index
    trades: tuple[Trade, ...]
    grid: tuple[GridTrade, ...]


def validate_tie_lines(tie_lines: TieLines) -> None:
    for pair, cap in tie_lines.items():
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise InvalidTieLine(
                f"a tie-line is keyed by (seller chain, buyer chain), got {pair!r}"
            )
        if pair[0] == pair[1]:
            raise InvalidTieLine(f"a tie-line joins two different chains, got {pair!r}")
        if type(cap) is not int or not 0 <= cap <= MAX_ENERGY:
            raise InvalidTieLine(
                f"tie-line {pair!r}: limit must be a u64 energy amount, got {cap!r}"
            )


class Auction:
    """The book and trades of one period; round 1 runs as orders arrive, round 2 at close."""

    __slots__ = (
        "period", "tariff", "exclusion_threshold", "_credits", "_caps", "_orders", "_credit",
        "_remaining", "_bids", "_asks", "_trades", "_grid", "_closed",
    )  # fmt: skip

    def __init__(
        self,
        period: int,
        tariff: Tariff,
        credits: Mapping[AccountId, Ppm],
        *,
        tie_lines: TieLines | None = None,
        exclusion_threshold: Ppm = DEFAULT_EXCLUSION_THRESHOLD,
    ) -> None:
        validate_tariff(tariff)
        if tie_lines:
            validate_tie_lines(tie_lines)
        if type(exclusion_threshold) is not int or not 0 <= exclusion_threshold <= PPM:
            raise InvalidCredit(f"exclusion threshold must be in [0, {PPM}] ppm")
        self.period = period
        self.tariff = tariff
        self.exclusion_threshold = exclusion_threshold
        self._credits = credits
        self._caps: dict[tuple[ChainId, ChainId], Energy] = dict(tie_lines or {})
        self._orders: list[Order] = []
        self._credit: list[Ppm] = []
        self._remaining: list[Energy] = []
        self._bids = Book(Side.BUY)
        self._asks = Book(Side.SELL)
        self._trades: list[Trade] = []
        self._grid: list[GridTrade] = []
        self._closed = False

    # --- round 1 ------------------------------------------------------------------------------

    def place(self, order: Order) -> tuple[Trade, ...]:
        """Accept ``order`` as the next arrival and match it; returns the trades it made.

        Raises an :class:`~bridge.errors.OrderRejected` subclass, leaving the book unchanged,
        for an order market.md rejects (the home chain checks escrow and registration first).
        """
        credit = self._admit(order)
        seq = len(self._orders)
        self._orders.append(order)
        self._credit.append(credit)
        self._remaining.append(order.quantity)
        first = len(self._trades)
        if order.side is Side.BUY:
            if self._match_buy(seq, order.price, ROUND_CONTINUOUS):
                self._bids.add(order.chain, order.price, credit, seq)
        elif self._match_sell(seq, order.price, ROUND_CONTINUOUS):
            self._asks.add(order.chain, order.price, credit, seq)
        return tuple(self._trades[first:])

    def _admit(self, order: Order) -> Ppm:
        if self._closed:
            raise PeriodClosed(f"the order window of period {self.period} has closed")
        validate_order_fields(order)
        if order.period < self.period:
            raise PeriodClosed(f"the order window of period {order.period} has closed")
        if order.period > self.period:
            raise PeriodNotOpen(f"period {order.period} is not open (auctioning {self.period})")
        credit = self._credits.get(order.owner)
        if credit is None:
            raise UnknownOwner(f"{order.owner!r} is not a registered aggregator")
        if type(credit) is not int or not 0 <= credit <= PPM:
            raise InvalidCredit(
                f"credit of {order.owner!r} must be in [0, {PPM}] ppm, got {credit!r}"
            )
        validate_credit(credit, self.exclusion_threshold)
        if len(self._orders) >= MAX_ORDERS:
            raise AmountOutOfRange(f"a period holds at most {MAX_ORDERS} orders")
        return credit

    # --- round 2 and grid ---------------------------------------------------------------------

    def close(self) -> AuctionResult:
        """Close the window: round 2 at reserve prices, then grid absorption of the rest."""
        if self._closed:
            raise PeriodClosed(f"period {self.period} is already closed")
        self._closed = True
        orders, credit = self._orders, self._credit

        buys = self._bids.drain()  # every unfilled buy rests here; all are re-submitted
        buys.sort(key=lambda b: priority_key(Side.BUY, orders[b].reserve, credit[b], b))
        for b in buys:
            reserve = orders[b].reserve
            if self._match_buy(b, reserve, ROUND_RESERVE):
                self._bids.add(orders[b].chain, reserve, credit[b], b)

        sells = self._asks.drain()
        sells.sort(key=lambda s: priority_key(Side.SELL, orders[s].reserve, credit[s], s))
        for s in sells:
            reserve = orders[s].reserve
            if self._match_sell(s, reserve, ROUND_RESERVE):
                self._asks.add(orders[s].chain, reserve, credit[s], s)

        remaining = self._remaining
        sale, purchase = self.tariff.grid_sale, self.tariff.grid_purchase
        for i, left in enumerate(remaining):
            if left:
                order = orders[i]
                price = sale if order.side is Side.BUY else purchase
                self._grid.append(GridTrade(i, order.owner, order.side, left, price))
                remaining[i] = 0
        return AuctionResult(
            self.period, self.tariff, tuple(orders), tuple(self._trades), tuple(self._grid)
        )

    # --- matching -----------------------------------------------------------------------------

    def _saturated(self, chain: ChainId, *, into: bool) -> set[ChainId]:
        """Chains whose tie-line towards (into=True) or from ``chain`` is already full."""
        if into:
            return {src for (src, dst), cap in self._caps.items() if dst == chain and cap == 0}
        return {dst for (src, dst), cap in self._caps.items() if src == chain and cap == 0}

    def _match_buy(self, b: int, price: Price, rnd: int) -> Energy:
        """Match buy ``b`` standing at ``price`` against the asks; returns what is left of it."""
        remaining, credit, orders, trades = (
            self._remaining,
            self._credit,
            self._orders,
            self._trades,
        )
        asks, caps = self._asks, self._caps
        q = remaining[b]
        buyer = orders[b].owner
        chain_b = orders[b].chain
        credit_b = credit[b]
        skip = self._saturated(chain_b, into=True) if caps else ()
        while q:
            found = asks.best(skip)
            if found is None:
                break
            key, chain_s = found
            ask = key >> PRICE_SHIFT
            if ask > price:
                break
            s = key & SEQ_MASK
            left = remaining[s]
            fill = left if left < q else q
            if caps:
                fill = _take_tie_line(caps, skip, chain_s, chain_b, fill, full=chain_s)
            deal, xi = transaction_price(credit[s], credit_b, price, ask)
            trades.append(Trade(rnd, b, s, buyer, orders[s].owner, fill, deal, xi))
            q -= fill
            left -= fill
            remaining[s] = left
            if not left:
                asks.pop_best(chain_s)
        remaining[b] = q
        return q

    def _match_sell(self, s: int, price: Price, rnd: int) -> Energy:
        """Match sell ``s`` standing at ``price`` against the bids; returns what is left of it."""
        remaining, credit, orders, trades = (
            self._remaining,
            self._credit,
            self._orders,
            self._trades,
        )
        bids, caps = self._bids, self._caps
        q = remaining[s]
        seller = orders[s].owner
        chain_s = orders[s].chain
        credit_s = credit[s]
        skip = self._saturated(chain_s, into=False) if caps else ()
        while q:
            found = bids.best(skip)
            if found is None:
                break
            key, chain_b = found
            bid = -(key >> PRICE_SHIFT)
            if bid < price:
                break
            b = key & SEQ_MASK
            left = remaining[b]
            fill = left if left < q else q
            if caps:
                fill = _take_tie_line(caps, skip, chain_s, chain_b, fill, full=chain_b)
            deal, xi = transaction_price(credit_s, credit[b], bid, price)
            trades.append(Trade(rnd, b, s, orders[b].owner, seller, fill, deal, xi))
            q -= fill
            left -= fill
            remaining[b] = left
            if not left:
                bids.pop_best(chain_b)
        remaining[s] = q
        return q


def transaction_price(credit_s: Ppm, credit_b: Ppm, bid: Price, ask: Price) -> tuple[Price, Ppm]:
    """market.md's credit-weighted price of a match and its weight ξ = R_s / (R_s + R_b):
    ``(R_s·λ_b + R_b·λ_s) // (R_s + R_b)``, the midpoint when both credits are 0. Divides
    non-negative integers: rounds toward zero."""
    total = credit_s + credit_b
    if total:
        return (credit_s * bid + credit_b * ask) // total, credit_s * PPM // total
    return (bid + ask) // 2, _HALF


def _take_tie_line(caps: dict, skip: set, chain_s: ChainId, chain_b: ChainId, fill: Energy, *, full: ChainId) -> Energy:
    """Shrink ``fill`` to what the tie-line from ``chain_s`` to ``chain_b`` still carries and
    charge it; a line that fills up puts ``full`` (the counterpart's chain) in ``skip``."""
    cap = caps.get((chain_s, chain_b))
    if cap is None:
        return fill
    if cap <= fill:
        fill = cap
        skip.add(full)
    caps[(chain_s, chain_b)] = cap - fill
    return fill


def run_auction(
    orders: Iterable[Order],
    *,
    period: int,
    tariff: Tariff,
    credits: Mapping[AccountId, Ppm],
    tie_lines: TieLines | None = None,
    exclusion_threshold: Ppm = DEFAULT_EXCLUSION_THRESHOLD,
) -> AuctionResult:
    """Run a whole period over ``orders`` in arrival order; any rejected order aborts the run.

    The raised error is the same typed error :meth:`Auction.place` gives, with the arrival index
    of the offending order prefixed to its message.
    """
    auction = Auction(
        period, tariff, credits, tie_lines=tie_lines, exclusion_threshold=exclusion_threshold
    )
    for i, order in enumerate(orders):
        try:
            auction.place(order)
        except MarketError as e:
            raise type(e)(f"order {i}: {e}") from e
    return auction.close()
