"""Why a transaction is refused (before inclusion) and why a call fails (after inclusion).

Both mirror Substrate: a `TransactionValidityError` keeps an extrinsic out of the pool and out of
blocks (RPC error 1010 with the same display strings); a `DispatchError` is recorded on chain in
`System.ExtrinsicFailed` and the extrinsic still pays its fee.
"""

from __future__ import annotations


class TransactionValidityError(Exception):
    """An extrinsic that must not be included. ``reason`` is Substrate's display text."""

    kind = "Invalid"
    reason = "Invalid transaction"

    def __init__(self, detail: str | None = None):
        self.detail = detail
        super().__init__(self.reason if detail is None else f"{self.reason}: {detail}")


class InvalidTransaction(TransactionValidityError):
    pass


class BadProof(InvalidTransaction):
    reason = "Transaction has a bad signature"


class Stale(InvalidTransaction):
    reason = "Transaction is outdated"


class Future(InvalidTransaction):
    reason = "Transaction will be valid in the future"


class Payment(InvalidTransaction):
    reason = "Inability to pay some fees (e.g. account balance too low)"


class AncientBirthBlock(InvalidTransaction):
    reason = "Transaction has an ancient birth block"


class ExhaustsResources(InvalidTransaction):
    reason = "Transaction would exhaust the block limits"


class BadSigner(InvalidTransaction):
    reason = "Invalid signing address"


class CallNotExpected(InvalidTransaction):
    reason = "Transaction call is not expected"


class BadMandatory(InvalidTransaction):
    reason = "A call was labelled as mandatory, but resulted in an Error."


class ExecutionFailed(InvalidTransaction):
    """The runtime raised something other than a DispatchError while applying it: a runtime bug.
    Substrate's block builder drops an extrinsic whose execution panics; so does ours."""

    reason = "Transaction failed in the runtime"


class UnknownTransaction(TransactionValidityError):
    kind = "Unknown"
    reason = "Could not lookup information required to validate the transaction"


class DispatchError(Exception):
    """A failed call. ``value`` is the `sp_runtime::DispatchError` value as the metadata types it."""

    def __init__(self, value, message: str):
        self.value = value
        super().__init__(message)


class ModuleError(DispatchError):
    """A pallet's own error: `DispatchError::Module { index, error }`."""

    def __init__(self, pallet_index: int, error_index: int, pallet: str, name: str, doc: str = ""):
        self.pallet_index, self.error_index, self.pallet, self.error = pallet_index, error_index, pallet, name
        value = {"Module": {"index": pallet_index, "error": bytes((error_index, 0, 0, 0))}}
        super().__init__(value, f"{pallet}.{name}" + (f": {doc}" if doc else ""))


class BadOrigin(DispatchError):
    def __init__(self):
        super().__init__("BadOrigin", "BadOrigin: the call needs a different origin")


class CannotLookup(DispatchError):
    def __init__(self):
        super().__init__("CannotLookup", "CannotLookup: the address could not be resolved")


class ArithmeticOverflow(DispatchError):
    def __init__(self):
        super().__init__({"Arithmetic": "Overflow"}, "Arithmetic overflow")
