"""Micro-benchmark of the extrinsic hot path: decode, then decode + signature check.

Run from the checkout root: ``python -m tests.primitives.bench_extrinsic`` (or with
``PYTHONPATH=.``). Prints µs per operation; not collected by pytest.
"""

from __future__ import annotations

import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from node.primitives.era import Era  # noqa: E402
from node.primitives.extrinsic import (  # noqa: E402
    decode_extrinsic,
    sign_extrinsic,
    verify_extrinsic_signature,
)
from node.primitives.keys import DEV_ACCOUNTS, ED25519, SR25519, dev_keypair  # noqa: E402
from node.primitives.scale import encode_compact  # noqa: E402

SPEC, TXV = 1, 1
GENESIS = bytes(range(32))
CHECKPOINT = bytes(range(32, 64))
CALL = bytes([5, 3, 0]) + DEV_ACCOUNTS["Bob"].public_key + encode_compact(10**12)


def _per_op_us(fn, number: int) -> float:
    return min(timeit.repeat(fn, number=number, repeat=5)) / number * 1e6


def main() -> None:
    era = Era.mortal(64, 1000)
    for crypto in (SR25519, ED25519):
        data = sign_extrinsic(dev_keypair("Alice", crypto), CALL, 7, era, 0, SPEC, TXV, GENESIS, CHECKPOINT)
        xt = decode_extrinsic(data)
        assert verify_extrinsic_signature(xt, SPEC, TXV, GENESIS, CHECKPOINT)
        decode = _per_op_us(lambda: decode_extrinsic(data), 20000)
        verify = _per_op_us(lambda: verify_extrinsic_signature(xt, SPEC, TXV, GENESIS, CHECKPOINT), 2000)
        both = decode + verify
        print(
            f"{crypto}: {len(data)}-byte transfer  decode {decode:.2f} µs  verify {verify:.1f} µs  "
            f"decode+verify {both:.1f} µs  (~{1e6 / both:,.0f} tx/s per core)"
        )


if __name__ == "__main__":
    main()
