"""`parawatt bench pipeline`: the CPU time each stage of a parachain transfer's way to the relay
costs, per transfer, measured in one process with process time (so other work on the machine
skews it far less than wall-clock throughput), and what the stages add up to.

Stages, for blocks of signed balance transfers on a parachain runtime's Balances:
- verify: one sr25519 signature check (the pool does it once on each collator that receives the
  transaction: the one it was submitted to, and the one it was gossiped to);
- build: authoring the block from pool-verified transactions;
- import: the other collator executing it (signatures the pool checked are not checked again),
  keeping the witness a proof of validity is made of;
- pov: making the proof of validity from that witness (`pov_from_witness`), and, for comparison,
  by executing the block again on a recording trie (`record_pov`, what the author would do);
- validate: one validator re-executing the candidate from its PoV alone, signatures included.

The sum per transfer with every validator re-executing each candidate and with one backing group
of `backing_votes` validators, against the CPU seconds the machine has, bounds the aggregate
throughput a one-machine testnet can reach before any networking, RPC or consensus work.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import sr25519

from node.cli import dev_node_config
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import decode_extrinsic, sign_extrinsic
from node.primitives.hashing import blake2_256
from node.primitives.keys import DEV_ACCOUNTS, dev_keypair
from node.service.chain import Chain
from node.storage.db import ChainDB
from parachains.collation import candidate_receipt, pov_from_witness, record_candidate
from relay.paras import default_backing_votes
from relay.validation import validate_candidate

STAGES = ("verify", "build", "import", "pov", "pov_by_execution", "validate")


def measure(blocks: int, transfers: int) -> dict[str, float]:
    """CPU seconds per transfer of each stage."""
    base = Path(tempfile.mkdtemp(prefix="parawatt-bench-pipeline-"))
    config = dev_node_config(base, rpc_port=0, block_time_ms=1000)
    author, importer, validator = (Chain(ChainDB(base / n), config.runtime, config.genesis) for n in ("author", "importer", "validator"))
    importer.witnesses = {}
    senders = [dev_keypair(n) for n in DEV_ACCOUNTS]
    nonces = {k.public_key: 0 for k in senders}
    v = config.runtime.version
    cost = dict.fromkeys(STAGES, 0.0)
    total = 0
    message, key = b"a signed payload of about a transfer's length".ljust(120, b"."), senders[0]
    signature = key.sign(message)

    def timed(stage, f, *args, **kw):
        start = time.process_time()
        result = f(*args, **kw)
        cost[stage] += time.process_time() - start
        return result

    for b in range(blocks):
        parent = author.best
        txs = []
        for i in range(transfers):
            sender = senders[i % len(senders)]
            nonce = nonces[sender.public_key]
            nonces[sender.public_key] += 1
            dest = (b * transfers + i).to_bytes(4, "little") * 8  # fresh accounts: the state grows
            call = config.runtime.call_type.encode({"Balances": {"transfer_keep_alive": {"dest": {"Id": dest}, "value": 10**10}}})
            xt = sign_extrinsic(sender, call, nonce, IMMORTAL, 0, v.spec_version, v.transaction_version, author.genesis_hash)
            txs.append(author.executive.check_format(decode_extrinsic(xt)))
        timed("verify", lambda: [sr25519.verify(signature, message, key.public_key) for _ in txs])
        block = timed("build", author.build_block, [(c, True) for c in txs], timestamp_ms=(b + 1) * 1000, slot=b + 1).block
        total += len(block.extrinsics) - 1
        timed("import", importer.import_block, block, verified=frozenset(blake2_256(x) for x in block.extrinsics))
        witness = importer.witnesses.pop(block.header.hash)
        pov, commitments = timed("pov", pov_from_witness, importer.executive, importer, parent, block, witness)
        timed("pov_by_execution", record_candidate, author.executive, author.node_store, parent, block)
        receipt = candidate_receipt(2000, bytes(32), parent, pov, commitments, bytes(32))
        timed("validate", validate_candidate, validator.executive, receipt, pov, parent)
    return {stage: seconds / total for stage, seconds in cost.items()}


def main(args) -> int:
    per_tx = measure(args.blocks, args.transfers)
    print(f"CPU per transfer, {args.blocks} blocks of {args.transfers} transfers (process time):")
    for stage in STAGES:
        print(f"  {stage:18s} {per_tx[stage] * 1e6:8.1f} µs")
    votes = default_backing_votes(args.validators)
    collators = 2 * per_tx["verify"] + per_tx["build"] + per_tx["import"]
    cores = args.cores or os.cpu_count() or 1
    for label, povs, judges in (("every validator re-executes, PoV by execution", per_tx["pov_by_execution"], args.validators),
                                (f"backing group of {votes}, PoV from the import witness", per_tx["pov"], votes)):
        total = collators + povs + judges * per_tx["validate"]
        print(f"  {label}: {total * 1e6:7.1f} µs per transfer → at most {cores / total:,.0f} transfers/s on {cores} cores")
    return 0


def register(kinds) -> None:
    bench = kinds.add_parser("pipeline", help="CPU per transfer of each stage from pool to relay validation, and their sum")
    bench.add_argument("--blocks", type=int, default=3)
    bench.add_argument("--transfers", type=int, default=1000)
    bench.add_argument("--validators", type=int, default=4)
    bench.add_argument("--cores", type=int, default=0, help="cores to divide by (default: this machine's)")
    bench.set_defaults(func=main)
