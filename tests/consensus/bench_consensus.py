"""Micro-benchmark of consensus work per finalized block, and of checking one justification.

Run from the checkout root: ``python -m tests.consensus.bench_consensus``. Four authorities'
Tendermint cores exchange every message directly (decoded from bytes, signatures checked), so
the figure is the CPU all four spend per decided height; not collected by pytest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from node.consensus.authorities import AuthoritySet  # noqa: E402
from node.consensus.effects import Broadcast, Decide, RequestValue, ValidateValue  # noqa: E402
from node.consensus.justification import justification_from_precommits, verify_justification  # noqa: E402
from node.consensus.tendermint import Tendermint  # noqa: E402
from node.consensus.wire import decode_message, encode_message  # noqa: E402
from node.primitives.hashing import blake2_256  # noqa: E402
from tests.consensus.sim import keypairs  # noqa: E402


def one_height(height: int, authorities: AuthoritySet, keys) -> Decide:
    cores = [Tendermint(height, authorities, k) for k in keys]
    inbox = [(i, e) for i, c in enumerate(cores) for e in c.start()]
    decision = None
    while inbox:
        i, effect = inbox.pop()
        core = cores[i]
        if isinstance(effect, Broadcast):
            data = encode_message(effect.message)
            for j, other in enumerate(cores):
                if j != i:
                    m = decode_message(data)
                    out = other.apply_proposal(m) if hasattr(m, "proposer") else other.apply_vote(m)
                    inbox.extend((j, e) for e in out)
        elif isinstance(effect, RequestValue):
            inbox.extend((i, e) for e in core.apply_value(effect.round, blake2_256(height.to_bytes(8, "little"))))
        elif isinstance(effect, ValidateValue):
            inbox.extend((i, e) for e in core.apply_verdict(effect.value, True))
        elif isinstance(effect, Decide):
            decision = effect
    assert all(c.decision is not None and c.decision.value == decision.value for c in cores)
    return decision


def main() -> None:
    for crypto in ("sr25519", "ed25519"):
        keys = keypairs(4, crypto)
        authorities = AuthoritySet.of(keys)
        heights = 100
        start = time.perf_counter()
        for h in range(1, heights + 1):
            decision = one_height(h, authorities, keys)
        per_height = (time.perf_counter() - start) / heights
        j = justification_from_precommits(decision.commit_certificate, decision.value, heights)
        start = time.perf_counter()
        for _ in range(200):
            verify_justification(j, authorities, lambda a, b: False)
        per_check = (time.perf_counter() - start) / 200
        print(f"{crypto}: {per_height * 1e3:.2f} ms CPU per decided height (4 cores, all messages), "
              f"{per_check * 1e3:.2f} ms per justification check ({len(j.signatures)} signatures)")


if __name__ == "__main__":
    main()
