"""Orders and the integer units they are written in.

Units (market.md, "Participants and money"):

- ``Energy``: units of 10 Wh, so 100 units are 1 kWh.
- ``Price``: planck per kWh; 1 token is 10^12 planck.
- ``Ppm``: credit values and coefficients in parts per million, 10^6 is 1.

These are plain ``int`` aliases (no runtime wrapper) so the hot path pays nothing for them.
The on-chain widths are u64 for energy and u128 for balances and prices; an order outside them is
rejected with :class:`AmountOutOfRange` before it touches the book.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeAlias

from bridge.errors import (
    AmountOutOfRange,
    InsufficientEscrow,
    ReserveOnWrongSide,
    ZeroPrice,
    ZeroQuantity,
)

Energy: TypeAlias = int  # units of 10 Wh
Price: TypeAlias = int  # planck per kWh
Balance: TypeAlias = int  # planck
Ppm: TypeAlias = int  # parts per million
AccountId: TypeAlias = str | bytes  # an aggregator; the engine only compares and hashes it
ChainId: TypeAlias = str | int  # the home parachain (name or ParaId)

PRICE_DECIMALS: Final = 12  # planck are the 12th decimal of a token
ENERGY_DECIMALS: Final = 2  # 10 Wh is the 2nd decimal of a kWh
PPM_DECIMALS: Final = 6
PLANCK_PER_TOKEN: Final = 10**PRICE_DECIMALS
ENERGY_UNITS_PER_KWH: Final = 10**ENERGY_DECIMALS
PPM: Final = 10**PPM_DECIMALS
DEFAULT_EXCLUSION_THRESHOLD: Final[Ppm] = 300_000  # market.md: "default 0.3"

MAX_ENERGY: Final = 2**64 - 1  # u64
MAX_PRICE: Final = 2**128 - 1  # u128


class Side(Enum):
    BUY = "buy"
    SELL = "sell"


# Who may trade on which parachain (the chains' rule, enforced at placement): demand buys, DG
# sells, storage does both.
CHAIN_SIDES: dict[str, frozenset[Side]] = {
    "demand": frozenset({Side.BUY}), "dg": frozenset({Side.SELL}), "storage": frozenset({Side.BUY, Side.SELL})}


@dataclass(frozen=True, slots=True)
class Order:
    """One order as placed on its home chain; its arrival index is its position in the auction."""

    side: Side
    quantity: Energy  # > 0
    price: Price  # the offer λ, > 0
    reserve: Price  # r: buy r ≥ λ (the most it will ever pay), sell r ≤ λ (the least it accepts)
    period: int  # trading period index
    owner: AccountId
    chain: ChainId  # home parachain, where the escrow sits


def validate_order_fields(order: Order) -> None:
    """Reject an order whose own fields break market.md's rules (zero, reserve side, width)."""
    for name in ("quantity", "price", "reserve", "period"):
        value = getattr(order, name)
        if type(value) is not int or value < 0:
            raise AmountOutOfRange(f"{name} must be a non-negative integer, got {value!r}")
    if order.quantity == 0:
        raise ZeroQuantity("order quantity is zero")
    if order.price == 0 or order.reserve == 0:
        raise ZeroPrice("order offer and reserve prices must be positive")
    if order.quantity > MAX_ENERGY:
        raise AmountOutOfRange(f"quantity {order.quantity} does not fit in u64")
    if order.price > MAX_PRICE or order.reserve > MAX_PRICE:
        raise AmountOutOfRange("price does not fit in u128")
    if order.side is Side.BUY:
        if order.reserve < order.price:
            raise ReserveOnWrongSide(
                f"a buy's reserve ({order.reserve}) must be at least its offer ({order.price})"
            )
    elif order.side is Side.SELL:
        if order.reserve > order.price:
            raise ReserveOnWrongSide(
                f"a sell's reserve ({order.reserve}) must be at most its offer ({order.price})"
            )
    else:
        raise AmountOutOfRange(f"side must be a Side, got {order.side!r}")


def trade_value(quantity: Energy, price: Price) -> Balance:
    """Planck owed for ``quantity`` at ``price``; divides by 100 units/kWh, rounding toward zero."""
    return quantity * price // ENERGY_UNITS_PER_KWH


def escrow_required(order: Order) -> int:
    """What placing ``order`` locks on its home chain: planck for a buy, energy units for a sell.

    A buy locks ``q · r`` (rounded toward zero). That covers every peer trade of the order: each
    fill pays ``f · p // 100`` with ``p ≤ r``, and a sum of floors never exceeds the floor of
    the sum.
    """
    if order.side is Side.BUY:
        return trade_value(order.quantity, order.reserve)
    return order.quantity


def validate_escrow(order: Order, available: int) -> None:
    """Reject an order its owner cannot escrow (``available``: free planck, or free allowance)."""
    needed = escrow_required(order)
    if available < needed:
        what = "planck" if order.side is Side.BUY else "energy units of allowance"
        raise InsufficientEscrow(f"order needs {needed} {what} locked, owner has {available}")
