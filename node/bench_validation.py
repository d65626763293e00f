"""`parawatt bench validation`: parachain transactions one relay validator re-executes per second
from proofs of validity alone (stateless), against the machine's sr25519 verify rate."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from node.bench_chain import sr25519_verifications_per_second
from node.cli import dev_node_config
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import decode_extrinsic, sign_extrinsic
from node.primitives.keys import DEV_ACCOUNTS, dev_keypair
from node.service.chain import Chain
from node.storage.db import ChainDB
from parachains.collation import build_candidate
from relay.validation import validate_candidate


def main(args) -> int:
    verify_rate = sr25519_verifications_per_second()
    base = Path(tempfile.mkdtemp(prefix="parawatt-bench-validation-"))
    config = dev_node_config(base, rpc_port=0, block_time_ms=1000)
    chain = Chain(ChainDB(base / "para"), config.runtime, config.genesis)
    validator = Chain(ChainDB(base / "validator"), config.runtime, config.genesis)  # no para state used
    senders = [dev_keypair(n) for n in DEV_ACCOUNTS]
    v = config.runtime.version
    candidates, total = [], 0
    nonces = {k.public_key: 0 for k in senders}
    print(f"authoring {args.blocks} parachain blocks of {args.transfers} transfers and recording their proofs …", flush=True)
    for b in range(args.blocks):
        parent = chain.best
        txs = []
        for i in range(args.transfers):
            sender = senders[i % len(senders)]
            nonce = nonces[sender.public_key]
            nonces[sender.public_key] += 1
            dest = (b * args.transfers + i).to_bytes(4, "little") * 8
            call = config.runtime.call_type.encode({"Balances": {"transfer_keep_alive": {"dest": {"Id": dest}, "value": 10**10}}})
            xt = sign_extrinsic(sender, call, nonce, IMMORTAL, 0, v.spec_version, v.transaction_version, chain.genesis_hash)
            txs.append((chain.executive.check_format(decode_extrinsic(xt)), False))
        built = chain.build_block(txs, timestamp_ms=(b + 1) * 1000, slot=b + 1)
        total += len(built.included)
        receipt, pov = build_candidate(chain.executive, chain.node_store, 2000, bytes(32), parent, built.block, bytes(32))
        candidates.append((receipt, pov, parent))
    print("validating …", flush=True)
    start = time.perf_counter()
    for receipt, pov, parent in candidates:
        validate_candidate(validator.executive, receipt, pov, parent)
    elapsed = time.perf_counter() - start
    rate = total / elapsed
    proof_kb = sum(len(n) for _, pov, _ in candidates for n in pov.proof) / len(candidates) / 1024
    print()
    print(f"sr25519 verifications/s                 {verify_rate:10,.0f}")
    print(f"parachain transactions validated/s      {rate:10,.0f}   ({total:,} in {len(candidates)} candidates, {elapsed:.2f} s; ratio {rate / verify_rate:.3f})")
    print(f"proof of validity per candidate         {proof_kb:10,.0f} KiB")
    return 0


def register(kinds) -> None:
    bench = kinds.add_parser("validation", help="parachain transactions a relay validator re-executes per second from PoVs")
    bench.add_argument("--blocks", type=int, default=5)
    bench.add_argument("--transfers", type=int, default=1000)
    bench.set_defaults(func=main)
