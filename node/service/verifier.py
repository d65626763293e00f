"""Signature checks on a second core.

sr25519 verification is the single largest cost of taking in a transaction, and the binding
holds the GIL while it runs, so threads cannot share it. A worker process checks whole batches
while the node's own thread goes on with decoding, state checks and block authoring.

Batches below `min_batch` are checked in-process: shipping them would cost more than it saves.
The worker is started with the "spawn" method, so it inherits none of the node's threads (trio,
grpc) or open database handles.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Sequence

import trio

from node.primitives.keys import verify_signature

Check = tuple[str, bytes, bytes, bytes]  # (crypto, public key, message, signature)


PARENT_CHECK_S = 1.0  # how often a worker looks for its node; there is no event for a parent's death


def _worker_init(parent_pid: int) -> None:
    # Ctrl-C reaches the whole process group; the node shuts its worker down itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    # A node killed with SIGKILL cannot shut its worker down: the worker leaves on its own once
    # it has been orphaned (re-parented away from the node).
    def watch_parent() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch_parent, name="parent-watch", daemon=True).start()


def verify_batch(checks: Sequence[Check]) -> list[bool]:
    return [verify_signature(crypto, public, message, signature) for crypto, public, message, signature in checks]


class SignatureVerifier:
    def __init__(self, *, workers: int = 1, min_batch: int = 64):
        self.workers = workers
        self.min_batch = min_batch
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self.workers > 0 and self._pool is None:
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init,
                initargs=(os.getpid(),),
            )
            self._pool.submit(verify_batch, []).result(timeout=60)  # the worker is up and importable

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def verify_many(self, checks: Sequence[Check]) -> list[bool]:
        """Verify every check; the order of results follows ``checks``."""
        if self._pool is None or len(checks) < self.min_batch:
            return verify_batch(checks)
        future = self._pool.submit(verify_batch, list(checks))
        # Waiting blocks a trio worker thread, not the event loop; a cancelled wait abandons
        # the result, which is harmless (verification has no side effects).
        return await trio.to_thread.run_sync(future.result, abandon_on_cancel=True)
