"""The signature worker process never outlives its node, even one killed with SIGKILL."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_worker_exits_when_its_node_is_killed(tmp_path):
    node = subprocess.Popen(
        [sys.executable, "-m", "node.cli", "node", "--dev", "--base-path", str(tmp_path), "--rpc-port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        assert b"running" in node.stdout.readline()  # the verifier starts before the RPC URL is printed
        workers = [c for c in children(node.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert workers, "the node runs a signature worker"
        os.kill(node.pid, signal.SIGKILL)  # only the node: its worker is orphaned
        node.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)  # an orphan's exit is an external event we can only poll for
        assert not any(alive(w) for w in workers)
    finally:
        if node.poll() is None:
            os.killpg(node.pid, signal.SIGKILL)
