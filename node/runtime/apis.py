"""Runtime APIs answered through `state_call`: the ones substrate-interface and polkadot.js use.

Each takes SCALE-encoded arguments and returns SCALE-encoded results, as a Wasm runtime would.
Pure: the caller passes the state to read and the pre-encoded metadata.
"""

from __future__ import annotations

from node.primitives.extrinsic import decode_extrinsic
from node.primitives.hashing import blake2_64
from node.primitives.scale import DecodeError, decode_all, decode_fixed, decode_uint, encode_bytes, encode_compact
from node.pallets.transaction_payment import EXTRINSIC_BASE_WEIGHT, BYTE_FEE, weight_to_fee
from node.runtime.executive import Executive
from node.runtime.runtime import RuntimeVersion

METADATA_VERSIONS = (14,)
DISPATCH_CLASS_INDEX = {"Normal": 0, "Operational": 1, "Mandatory": 2}


class UnknownRuntimeApi(LookupError):
    pass


def encode_runtime_version(v: RuntimeVersion) -> bytes:
    apis = b"".join(blake2_64(name.encode()) + version.to_bytes(4, "little") for name, version in v.apis)
    return (
        encode_bytes(v.spec_name.encode())
        + encode_bytes(v.impl_name.encode())
        + v.authoring_version.to_bytes(4, "little")
        + v.spec_version.to_bytes(4, "little")
        + v.impl_version.to_bytes(4, "little")
        + encode_compact(len(v.apis))
        + apis
        + v.transaction_version.to_bytes(4, "little")
        + bytes((v.state_version,))
    )


def runtime_version_json(v: RuntimeVersion) -> dict:
    return {
        "specName": v.spec_name,
        "implName": v.impl_name,
        "authoringVersion": v.authoring_version,
        "specVersion": v.spec_version,
        "implVersion": v.impl_version,
        "apis": [["0x" + blake2_64(name.encode()).hex(), version] for name, version in v.apis],
        "transactionVersion": v.transaction_version,
        "stateVersion": v.state_version,
    }


def dispatch_info_of(executive: Executive, xt_bytes: bytes) -> tuple[int, str, int]:
    """(weight, class, partial fee) of an extrinsic, without checking its signature or nonce:
    what `TransactionPaymentApi_query_info` and `payment_queryInfo` report."""
    checked = executive.check_format(decode_extrinsic(xt_bytes))
    weight = checked.info.weight + EXTRINSIC_BASE_WEIGHT
    fee = executive.payment.compute_fee(checked.length, checked.info.weight, 0, checked.info.pays_fee)
    return weight, checked.info.dispatch_class, fee


class RuntimeApis:
    def __init__(self, executive: Executive, metadata: bytes):
        self.executive = executive
        self.runtime = executive.runtime
        self.metadata = metadata
        self._calls = {
            "Core_version": self._core_version,
            "Metadata_metadata": self._metadata,
            "Metadata_metadata_versions": self._metadata_versions,
            "Metadata_metadata_at_version": self._metadata_at_version,
            "AccountNonceApi_account_nonce": self._account_nonce,
            "TransactionPaymentApi_query_info": self._query_info,
            "TransactionPaymentApi_query_fee_details": self._query_fee_details,
        }

    def names(self) -> list[str]:
        return list(self._calls)

    def call(self, name: str, args: bytes, state) -> bytes:
        """Raises UnknownRuntimeApi, or DecodeError for arguments that do not decode."""
        fn = self._calls.get(name)
        if fn is None:
            raise UnknownRuntimeApi(f"the runtime exports no function {name!r}")
        return fn(args, state)

    def _core_version(self, args, state) -> bytes:
        _no_args(args)
        return encode_runtime_version(self.runtime.version)

    def _metadata(self, args, state) -> bytes:
        _no_args(args)
        return encode_bytes(self.metadata)

    def _metadata_versions(self, args, state) -> bytes:
        _no_args(args)
        return encode_compact(len(METADATA_VERSIONS)) + b"".join(v.to_bytes(4, "little") for v in METADATA_VERSIONS)

    def _metadata_at_version(self, args, state) -> bytes:
        version = decode_all(lambda d, o: decode_uint(d, o, 4), args)
        if version not in METADATA_VERSIONS:
            return b"\x00"
        return b"\x01" + encode_bytes(self.metadata)

    def _account_nonce(self, args, state) -> bytes:
        who = decode_all(lambda d, o: decode_fixed(d, o, 32), args)
        return self.executive.system.account(state, who).nonce.to_bytes(4, "little")

    def _split_query(self, args: bytes) -> bytes:
        # (UncheckedExtrinsic, u32 length): the extrinsic is everything but the last 4 bytes.
        if len(args) < 5:
            raise DecodeError("expected an extrinsic followed by its u32 length")
        return args[:-4]

    def _query_info(self, args, state) -> bytes:
        weight, klass, fee = dispatch_info_of(self.executive, self._split_query(args))
        # RuntimeDispatchInfo { weight: Weight (compact fields), class: DispatchClass, partial_fee: u128 }
        return encode_compact(weight) + encode_compact(0) + bytes((DISPATCH_CLASS_INDEX[klass],)) + fee.to_bytes(16, "little")

    def _query_fee_details(self, args, state) -> bytes:
        xt = self._split_query(args)
        checked = self.executive.check_format(decode_extrinsic(xt))
        if not checked.info.pays_fee:
            return b"\x00" + (0).to_bytes(16, "little")
        base = weight_to_fee(EXTRINSIC_BASE_WEIGHT)
        length_fee = checked.length * BYTE_FEE
        weight_fee = weight_to_fee(EXTRINSIC_BASE_WEIGHT + checked.info.weight) - base
        # FeeDetails { inclusion_fee: Option<InclusionFee { base_fee, len_fee, adjusted_weight_fee }>, tip }
        return b"\x01" + base.to_bytes(16, "little") + length_fee.to_bytes(16, "little") + weight_fee.to_bytes(16, "little") + (0).to_bytes(16, "little")


def _no_args(args: bytes) -> None:
    if args:
        raise DecodeError(f"{len(args)} unexpected argument bytes")
