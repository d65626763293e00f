"""Trie benchmark: ``python -m node.trie.bench [--keys N] [--changes M] [--proofs P]``.

State shaped like a chain's ``System.Account`` map: 80-byte keys (pallet/item prefix, then
Blake2_128Concat of a 32-byte account) and 80-byte values, so every value is a V1 value node.
A block's write set is ``--changes`` keys: 80% updates, 10% inserts, 10% deletes.
Times are CPU seconds of this process (``time.process_time``), so busy neighbours skew them less.
"""

from __future__ import annotations

import argparse
import random
import time

from node.primitives.hashing import blake2_128, storage_prefix
from node.trie.build import build_trie
from node.trie.proof import verify_read_proof
from node.trie.store import MemoryStore
from node.trie.trie import Trie

PREFIX = storage_prefix("System", "Account")


def account_key(n: int) -> bytes:
    account = n.to_bytes(32, "little")
    return PREFIX + blake2_128(account) + account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--proofs", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    def value() -> bytes:
        return rng.randbytes(80)

    state = {account_key(i): value() for i in range(args.keys)}
    t0 = time.process_time()
    genesis = build_trie(state)
    t1 = time.process_time()
    print(
        f"build {args.keys} keys from scratch: {t1 - t0:.2f} s "
        f"({args.keys / (t1 - t0):,.0f} keys/s)"
    )
    store = MemoryStore(genesis.new_nodes)

    existing = list(state)
    picked = rng.sample(existing, args.changes * 9 // 10)
    n_delete = args.changes // 10
    changes: dict[bytes, bytes | None] = {k: None for k in picked[:n_delete]}
    changes.update((k, value()) for k in picked[n_delete:])
    changes.update(
        (account_key(args.keys + i), value()) for i in range(args.changes - len(changes))
    )

    best = float("inf")
    for _ in range(args.repeat):  # a fresh Trie each time: nothing decoded in advance
        trie = Trie(store, genesis.root)
        t0 = time.process_time()
        update = trie.apply_changes(changes)
        best = min(best, time.process_time() - t0)
    print(
        f"apply_changes: {len(changes)} changed keys in a {args.keys}-key trie: {best:.3f} s "
        f"({len(changes) / best:,.0f} keys/s), {len(update.new_nodes)} new nodes "
        f"(best of {args.repeat})"
    )
    store.update(update.new_nodes)

    trie = Trie(store, update.root)
    queries = [rng.choice(existing) for _ in range(args.proofs)]
    t0 = time.process_time()
    for key in queries:
        trie.get(key)
    t1 = time.process_time()
    for key in queries:
        trie.get(key)
    t2 = time.process_time()
    print(f"get: {args.proofs / (t1 - t0):,.0f} reads/s cold, {args.proofs / (t2 - t1):,.0f} warm")

    proofs = [(key, Trie(store, update.root).read_proof([key])) for key in queries]
    t2 = time.process_time()
    for key, proof in proofs:
        verify_read_proof(update.root, proof, [key])
    t3 = time.process_time()
    size = sum(len(n) for _, p in proofs for n in p) / len(proofs)
    print(
        f"verify_read_proof, 1 key each: {args.proofs / (t3 - t2):,.0f} proofs/s "
        f"({size:,.0f} bytes avg)"
    )


if __name__ == "__main__":
    main()
