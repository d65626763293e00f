"""The messages the cross-chain market is made of (protocol byte `MARKET` = 2), shared by the
relay's `Market` pallet and the parachains' `MarketLink` pallet.

    Order   para → relay   an order was placed and escrowed on its home chain (sent at placement,
                           so orders reach the relay in the order their blocks are anchored)
    Leg     relay → para   apply one side of a committed trade to an order: `Orders.settle_leg`
                           (a buy pays `payee` on this chain, or burns with no payee), then mint
                           `mint` planck to the order's owner (a seller paid from another chain
                           or by the grid)
    Refund  relay → para   release everything an order still holds (`Orders.refund`)
    Delivery para → relay  an aggregator's delivery of a period is known (`parachains.market`):
                           the settled obligations it released (`sold`, `bought`) and the energy
                           its meters measured (`exported`, `imported`), all in 10 Wh units
    Credit  relay → para   an aggregator's credit value in ppm (the daily update or the
                           operator's `set_credit`), for `Orders.set_credit`

An order is named by (home chain, order id on that chain); a trade by its id on the relay.

Decoding is strict: trailing bytes, unknown variants and values outside a kind's rules are
refused with `MalformedMarketMessage` — a Delivery must report a contract (`sold` or `bought`
non-zero: nothing else can be scored), a Credit must be within [0, 10^6] ppm.
"""

from __future__ import annotations

from bridge.orders import PPM
from node.primitives.scale import DecodeError
from node.primitives.scale_types import U32, U64, U128, AccountId, Field, Option, Variant, VariantSpec

MARKET = 2  # the protocol byte (0 remark, 1 transfer)

Side = Variant("parawatt_market::Side", [VariantSpec(0, "Buy"), VariantSpec(1, "Sell")])

MarketMessage = Variant(
    "parawatt_market::MarketMessage",
    [
        VariantSpec(0, "Order", (
            Field("order_id", U64), Field("owner", AccountId), Field("side", Side), Field("quantity", U64),
            Field("price", U128), Field("reserve", U128), Field("period", U64))),
        VariantSpec(1, "Leg", (
            Field("trade_id", U64), Field("order_id", U64), Field("quantity", U64), Field("price", U128),
            Field("payee", Option(AccountId)), Field("mint", U128))),
        VariantSpec(2, "Refund", (Field("order_id", U64),)),
        VariantSpec(3, "Delivery", (
            Field("owner", AccountId), Field("period", U64), Field("sold", U64), Field("bought", U64),
            Field("exported", U64), Field("imported", U64))),
        VariantSpec(4, "Credit", (Field("who", AccountId), Field("credit", U32))),
    ],
)


class MalformedMarketMessage(ValueError):
    """Bytes that are not a market message, or a message the receiving side does not take.
    A ValueError, so `MessageHandlers` reports it as `MessageFailed` and keeps nothing of it."""


def _check(kind: str, fields: dict) -> None:
    """The rules a kind's values follow beyond their widths."""
    if kind == "Delivery" and fields["sold"] == 0 and fields["bought"] == 0:
        raise MalformedMarketMessage("a delivery reports a settled contract: sold or bought must be non-zero")
    if kind == "Credit" and not 0 <= fields["credit"] <= PPM:
        raise MalformedMarketMessage(f"a credit value is in [0, {PPM}] ppm, got {fields['credit']}")


def encode_market_message(kind: str, **fields) -> bytes:
    """The message bytes, protocol byte first, as `Messaging.send` and `Router.send` take them."""
    _check(kind, fields)
    return bytes((MARKET,)) + MarketMessage.encode({kind: fields})


def decode_market_message(body: bytes) -> tuple[str, dict]:
    """(kind, fields) of a message body (after the protocol byte)."""
    try:
        ((kind, fields),) = MarketMessage.decode_all(body).items()
    except (DecodeError, ValueError, TypeError) as e:
        raise MalformedMarketMessage(f"malformed market message: {e}") from None
    _check(kind, fields)
    return kind, fields


__all__ = ["MARKET", "Side", "MarketMessage", "MalformedMarketMessage", "encode_market_message", "decode_market_message"]
