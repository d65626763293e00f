"""JSON-RPC error objects, with the codes Substrate nodes use.

A handler raises :class:`RpcError` to answer with that error; any other exception becomes
``internal_error()`` and is logged. Codes and messages follow JSON-RPC 2.0, jsonrpsee and
polkadot-sdk's ``sc-rpc-api`` (author 1000+, chain 3000+, state 4000+) so clients that match on
them (e.g. 1010 "Invalid Transaction", 1016 "Immediately Dropped") behave as with a Substrate node.
"""

from __future__ import annotations

from typing import Any


class RpcError(Exception):
    """An error the client sees as ``{"code": code, "message": message, "data"?: data}``."""

    def __init__(self, code: int, message: str, data: Any = None) -> None:
        super().__init__(code, message, data)
        self.code = code
        self.message = message
        self.data = data

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            obj["data"] = self.data
        return obj

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" + (f" ({self.data})" if self.data is not None else "")


# JSON-RPC 2.0 and jsonrpsee ---------------------------------------------------------------------

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
OVERSIZED_REQUEST = -32007  # jsonrpsee: "Request is too big"


def parse_error(detail: str | None = None) -> RpcError:
    return RpcError(PARSE_ERROR, "Parse error", detail)


def invalid_request(detail: str | None = None) -> RpcError:
    return RpcError(INVALID_REQUEST, "Invalid request", detail)


def method_not_found(detail: str | None = None) -> RpcError:
    return RpcError(METHOD_NOT_FOUND, "Method not found", detail)


def invalid_params(detail: str) -> RpcError:
    return RpcError(INVALID_PARAMS, "Invalid params", detail)


def internal_error() -> RpcError:
    # No details: the cause is logged on the node, not leaked to the client.
    return RpcError(INTERNAL_ERROR, "Internal error")


def request_too_big(limit: int) -> RpcError:
    return RpcError(OVERSIZED_REQUEST, "Request is too big", f"Exceeded max limit of {limit}")


# Author (transaction submission), sc-rpc-api author/error.rs ------------------------------------

BAD_FORMAT = 1001
VERIFICATION_ERROR = 1002
POOL_INVALID_TX = 1010
POOL_UNKNOWN_VALIDITY = 1011
POOL_TEMPORARILY_BANNED = 1012
POOL_ALREADY_IMPORTED = 1013
POOL_TOO_LOW_PRIORITY = 1014
POOL_CYCLE_DETECTED = 1015
POOL_IMMEDIATELY_DROPPED = 1016
UNSUPPORTED_KEY_TYPE = 1017
POOL_UNACTIONABLE = 1018
POOL_NO_TAGS = 1019
POOL_INVALID_BLOCK_ID = 1020
POOL_FUTURE_TX = 1021


def bad_format(detail: str) -> RpcError:
    return RpcError(BAD_FORMAT, f"Extrinsic has invalid format: {detail}")


def verification_error(detail: str) -> RpcError:
    return RpcError(VERIFICATION_ERROR, f"Verification Error: {detail}", detail)


def invalid_transaction(reason: str) -> RpcError:
    """``reason`` is what clients show, e.g. "Transaction has a bad signature"."""
    return RpcError(POOL_INVALID_TX, "Invalid Transaction", reason)


def unknown_transaction_validity(reason: str) -> RpcError:
    return RpcError(POOL_UNKNOWN_VALIDITY, "Unknown Transaction Validity", reason)


def temporarily_banned() -> RpcError:
    return RpcError(POOL_TEMPORARILY_BANNED, "Transaction is temporarily banned")


def already_imported(tx_hash_hex: str) -> RpcError:
    return RpcError(POOL_ALREADY_IMPORTED, "Transaction Already Imported", tx_hash_hex)


def too_low_priority(old: int, new: int) -> RpcError:
    return RpcError(
        POOL_TOO_LOW_PRIORITY,
        f"Priority is too low: ({old} vs {new})",
        "The transaction has too low priority to replace another transaction already in the pool.",
    )


def cycle_detected() -> RpcError:
    return RpcError(POOL_CYCLE_DETECTED, "Cycle Detected")


def immediately_dropped() -> RpcError:
    return RpcError(
        POOL_IMMEDIATELY_DROPPED,
        "Immediately Dropped",
        "The transaction couldn't enter the pool because of the limit",
    )


def unsupported_key_type() -> RpcError:
    return RpcError(UNSUPPORTED_KEY_TYPE, "Unknown key type crypto")


def unactionable() -> RpcError:
    return RpcError(
        POOL_UNACTIONABLE,
        "Unactionable",
        "The transaction is unactionable since it is not propagable and the local node does not "
        "author blocks",
    )


def no_tags_provided() -> RpcError:
    return RpcError(
        POOL_NO_TAGS,
        "No tags provided",
        "Transaction does not provide any tags, so the pool can't identify it",
    )


def invalid_block_id(detail: str | None = None) -> RpcError:
    return RpcError(POOL_INVALID_BLOCK_ID, "The provided block ID is not valid", detail)


def future_transaction_rejected() -> RpcError:
    return RpcError(POOL_FUTURE_TX, "The pool is not accepting future transactions")


# Chain and state, sc-rpc-api chain/error.rs and state/error.rs ----------------------------------

CHAIN_OTHER = 3001
CHAIN_CLIENT = 3002
STATE_INVALID_BLOCK_RANGE = 4001
STATE_INVALID_COUNT = 4002
STATE_CLIENT = 4003


def chain_error(message: str) -> RpcError:
    return RpcError(CHAIN_OTHER, message)


def chain_client_error(detail: str) -> RpcError:
    return RpcError(CHAIN_CLIENT, f"Client error: {detail}")


def invalid_block_range(start: str, end: str, details: str) -> RpcError:
    return RpcError(
        STATE_INVALID_BLOCK_RANGE, f"Cannot resolve a block range ['{start}' ... '{end}]. {details}"
    )


def invalid_count(value: int, maximum: int) -> RpcError:
    return RpcError(
        STATE_INVALID_COUNT, f"count exceeds maximum value. value: {value}, max: {maximum}"
    )


def state_client_error(detail: str) -> RpcError:
    return RpcError(STATE_CLIENT, f"Client error: {detail}")
