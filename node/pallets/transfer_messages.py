"""The messages cross-chain token transfers are made of (protocol byte `TRANSFER`), shared by the
relay's and the parachains' XTransfers pallets. The relay is the reserve: every transfer goes up
to it and, if bound for another parachain, down from it.

    Transfer  para → relay   burned on the origin para; the relay takes it out of that para's
                             sovereign account
    Credit    relay → para   mint to the beneficiary, if the para's relay clock is within the
                             timeout; the para answers with Ack
    Ack       para → relay   the Credit was applied (in the same block that applied it)
    Refund    relay → para   mint back to the origin account

A transfer is named by (origin chain, nonce on that chain).
"""

from __future__ import annotations

from node.pallets.messaging import TRANSFER
from node.primitives.scale import DecodeError
from node.primitives.scale_types import U32, U64, AccountId, Balance, Composite, Field, Variant, VariantSpec

TransferId = Composite("parawatt_xtransfers::TransferId", [Field("origin", U32, "u32"), Field("nonce", U64, "u64")])

TransferMessage = Variant(
    "parawatt_xtransfers::TransferMessage",
    [
        VariantSpec(0, "Transfer", (
            Field("id", TransferId), Field("origin_account", AccountId), Field("dest", U32),
            Field("beneficiary", AccountId), Field("amount", Balance), Field("timeout", U32))),
        VariantSpec(1, "Credit", (
            Field("id", TransferId), Field("beneficiary", AccountId), Field("amount", Balance), Field("timeout", U32))),
        VariantSpec(2, "Ack", (Field("id", TransferId),)),
        VariantSpec(3, "Refund", (Field("id", TransferId), Field("account", AccountId), Field("amount", Balance))),
    ],
)


def encode_message(kind: str, **fields) -> bytes:
    """The message bytes, protocol byte first, as `Messaging.send` and `Router.send` take them."""
    return bytes((TRANSFER,)) + TransferMessage.encode({kind: fields})


def decode_message(body: bytes) -> tuple[str, dict]:
    """(kind, fields) of a message body (after the protocol byte); ValueError if malformed."""
    try:
        ((kind, fields),) = TransferMessage.decode_all(body).items()
    except (DecodeError, ValueError) as e:
        raise ValueError(f"malformed transfer message: {e}") from None
    return kind, fields


def id_tuple(transfer_id: dict) -> tuple[int, int]:
    return transfer_id["origin"], transfer_id["nonce"]


__all__ = ["TransferId", "TransferMessage", "encode_message", "decode_message", "id_tuple"]
