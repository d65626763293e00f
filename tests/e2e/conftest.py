"""Real dev node processes for the end-to-end tests.

Each node is `python -m node.cli node --dev` in its own process, on a port the node picks itself
(`--rpc-port 0`, so there is no window between choosing a free port and binding it), with its
database under pytest's tmp_path. Clients talk to it only through its RPC port, as any wallet
or indexer would.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BLOCK_TIME_MS = 500
STARTUP_DEADLINE_S = 30.0  # a cold start imports, builds genesis and encodes metadata: ~1-2 s
STARTUP_POLL_S = 0.05
STOP_DEADLINE_S = 10.0
URL_LINE = re.compile(r"Parawatt dev chain running: RPC ws://(?P<host>[\d.]+):(?P<port>\d+)")


class NodeFailed(Exception):
    pass


@dataclass
class DevNode:
    """One running node process and where to reach it."""

    process: subprocess.Popen
    base_path: Path
    log_path: Path
    port: int

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def _post(self, payload, timeout: float):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("POST", "/", body=json.dumps(payload), headers={"Content-Type": "application/json"})
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def rpc(self, method: str, params: list | None = None, *, timeout: float = 10.0):
        """One JSON-RPC call over HTTP; raises NodeFailed on an error response."""
        reply = self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout)
        if "error" in reply:
            raise NodeFailed(f"{method} failed: {reply['error']}")
        return reply["result"]

    def rpc_batch(self, method: str, param_lists: list[list], *, timeout: float = 30.0) -> list[dict]:
        """One JSON-RPC batch over HTTP: the replies (result or error) in request order."""
        payload = [{"jsonrpc": "2.0", "id": i, "method": method, "params": p} for i, p in enumerate(param_lists)]
        replies = self._post(payload, timeout)
        return sorted(replies, key=lambda r: r["id"])

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash or an OOM kill."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=STOP_DEADLINE_S)

    def stop(self) -> None:
        """Ctrl-C, then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                pass
        self.kill()


def start_node(base_path: Path, log_path: Path, *, block_time_ms: int = BLOCK_TIME_MS) -> DevNode:
    """Start a dev node and return once its RPC answers; on failure the node is killed and the
    error carries its log."""
    base_path.mkdir(parents=True, exist_ok=True)
    log_offset = log_path.stat().st_size if log_path.exists() else 0  # a restart appends to the log
    log_file = open(log_path, "ab")
    command = [
        sys.executable, "-m", "node.cli", "-v", "node", "--dev",
        "--base-path", str(base_path), "--rpc-port", "0", "--block-time-ms", str(block_time_ms),
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=log_file, stderr=subprocess.STDOUT, env=env,
        # A pytest started in the background inherits an ignored SIGINT, and Python then never
        # installs its Ctrl-C handler: restore the default so `stop()` can shut it down cleanly.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    log_file.close()  # the child holds its own descriptor
    node = DevNode(process, base_path, log_path, 0)
    try:
        node.port = _wait_until_serving(node, log_path, log_offset)
    except BaseException:
        node.kill()
        raise
    return node


def _wait_until_serving(node: DevNode, log_path: Path, log_offset: int) -> int:
    """The node is another process: there is no event to await, only its log and its port to
    look at, so poll both every 50 ms (short next to a ~1 s start-up) until a deadline."""
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    port = None
    while True:
        if node.process.poll() is not None:
            raise NodeFailed(f"the node exited with {node.process.returncode} before serving RPC; its log:\n{node.log()}")
        if port is None:
            found = URL_LINE.search(log_path.read_bytes()[log_offset:].decode(errors="replace"))
            if found:
                port = int(found["port"])
        if port is not None:
            node.port = port
            try:
                node.rpc("system_chain", timeout=2.0)
                return port
            except (OSError, http.client.HTTPException):
                pass  # not accepting yet
        if time.monotonic() > deadline:
            raise NodeFailed(f"the node did not answer RPC within {STARTUP_DEADLINE_S:.0f} s; its log:\n{node.log()}")
        time.sleep(STARTUP_POLL_S)


@pytest.fixture(scope="session")
def dev_node(tmp_path_factory) -> DevNode:
    """One dev node shared by the client tests (they use fresh accounts or balance deltas, never
    absolute balances of shared accounts)."""
    root = tmp_path_factory.mktemp("dev-node")
    node = start_node(root / "base", root / "node.log")
    yield node
    crashed = node.process.poll() is not None
    node.stop()
    if crashed:  # the tests saw dropped connections; this says why
        raise NodeFailed(f"the shared dev node died during the tests (exit {node.process.returncode}); its log:\n{node.log()[-20000:]}")


@pytest.fixture
def node_factory(tmp_path):
    """Start nodes on demand (crash tests restart them); every one is stopped at teardown."""
    started: list[DevNode] = []

    def start(base_path: Path | None = None) -> DevNode:
        node = start_node(base_path or tmp_path / "base", tmp_path / "node.log")
        started.append(node)
        return node

    yield start
    for node in started:
        node.stop()
