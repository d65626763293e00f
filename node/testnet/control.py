"""A running testnet as its run folder describes it: `network.json` (chains, nodes, each node's
command) and `pids/NODE.pid`. Every `parawatt testnet` command after `up` works from these files
alone, so any shell can kill, pause or restart a node of a network another process started.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

import node

REPO_ROOT = Path(node.__file__).resolve().parents[1]
STOP_GRACE_S = 15
POLL_S = 0.1
HEIGHT_LINE = re.compile(r'^substrate_block_height\{status="(\w+)"\} ([0-9.e+]+)$', re.M)


class TestnetError(Exception):
    """A testnet command cannot do what was asked; the message says why (and what to do)."""


@dataclass(frozen=True, slots=True)
class NodeEntry:
    name: str
    chain: str
    role: str  # "validator" or "collator"
    rpc_url: str
    metrics_url: str
    log: str
    base_path: str
    command: tuple[str, ...]


def _proc_state(pid: int) -> str | None:
    """The kernel's state letter for a pid (R, S, T, Z …), None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2]


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass  # not our child: init (or whoever started it) reaps it


class Network:
    def __init__(self, run_dir: Path, chains: dict[str, dict], nodes: list[NodeEntry], ready_timeout_s: int = 60, hosts=None):
        self.run_dir = Path(run_dir).resolve()
        self.chains, self.nodes, self.ready_timeout_s = chains, nodes, ready_timeout_s
        self._children: dict[str, subprocess.Popen] = {}  # nodes this process started
        self.hosts = hosts  # a netns.HostNet when every node has its own namespace (`up --hosts`), else None

    # -- the run folder -----------------------------------------------------------------------
    @classmethod
    def load(cls, run_dir: Path) -> Network:
        path = Path(run_dir) / "network.json"
        try:
            obj = json.loads(path.read_text())
            from node.testnet.netns import HostNet

            nodes = [NodeEntry(**{**n, "command": tuple(n["command"])}) for n in obj["nodes"]]
            hosts = HostNet.from_json(obj["hosts"]) if obj.get("hosts") else None
            return cls(run_dir, obj["chains"], nodes, obj.get("ready_timeout_s", 60), hosts)
        except FileNotFoundError:
            raise TestnetError(f"no testnet in {run_dir} (no network.json); start one with `parawatt testnet up --run-dir {run_dir}`") from None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise TestnetError(f"{path} is not a testnet description: {e}") from None

    def save(self) -> None:
        obj = {"run_dir": str(self.run_dir), "ready_timeout_s": self.ready_timeout_s, "chains": self.chains,
               "nodes": [{**asdict(n), "command": list(n.command)} for n in self.nodes],
               "hosts": None if self.hosts is None else self.hosts.to_json(),
               # what `testnet up` prints, for people and scripts (load() reads only the above)
               "table": [{"node": n.name, "chain": n.chain, "role": n.role, "rpc": n.rpc_url, "metrics": n.metrics_url, "log": n.log}
                         for n in self.nodes]}
        (self.run_dir / "network.json").write_text(json.dumps(obj, indent=2))

    def node(self, name: str) -> NodeEntry:
        for entry in self.nodes:
            if entry.name == name:
                return entry
        raise TestnetError(f"unknown node {name!r}; this network has {', '.join(n.name for n in self.nodes)}")

    def chain_nodes(self, chain: str) -> list[NodeEntry]:
        return [n for n in self.nodes if n.chain == chain]

    def _pid_file(self, name: str) -> Path:
        return self.run_dir / "pids" / f"{name}.pid"

    # -- processes ----------------------------------------------------------------------------
    def pid(self, name: str) -> int | None:
        """The node's live pid, or None. Checks the pid still runs this node's command (pids are reused)."""
        entry = self.node(name)
        try:
            pid = int(self._pid_file(name).read_text())
        except (OSError, ValueError):
            return None
        child = self._children.get(name)
        if child is not None and child.pid == pid:
            # Our own child: its own status is the truth. (Right after exec its /proc cmdline can
            # still read empty — the kernel fills it in after the parent has returned — so the
            # check below would call a starting node dead.)
            return pid if child.poll() is None else None
        _reap(pid)
        if _proc_state(pid) in (None, "Z", "X"):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if cmdline == [b""]:
            return pid  # mid-exec (see above): the process exists and is becoming something
        return pid if entry.base_path.encode() in cmdline else None

    def state(self, name: str) -> str:
        pid = self.pid(name)
        if pid is None:
            return "stopped"
        return "paused" if _proc_state(pid) in ("T", "t") else "running"

    def live(self) -> list[str]:
        return [n.name for n in self.nodes if self.pid(n.name) is not None]

    def start(self, name: str) -> int:
        entry = self.node(name)
        if self.pid(name) is not None:
            raise TestnetError(f"{name} is already running (pid {self.pid(name)})")
        with open(entry.log, "ab") as log:
            # faulthandler: a node that dies of a signal during start-up still leaves a trace in its log
            proc = subprocess.Popen(entry.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=REPO_ROOT, env={**os.environ, "PYTHONFAULTHANDLER": "1"})
        self._pid_file(name).parent.mkdir(exist_ok=True)
        self._pid_file(name).write_text(str(proc.pid))
        self._children[name] = proc
        return proc.pid

    def exit_status(self, name: str) -> str:
        """How a node this process started ended ("exit code 1", "killed by signal 9"), if known."""
        proc = self._children.get(name)
        code = None if proc is None else proc.poll()
        if code is None:
            return "ended (not started by this process, or still being reaped)"
        return f"killed by signal {-code}" if code < 0 else f"exit code {code}"

    def _signal(self, name: str, sig: int) -> int:
        pid = self.pid(name)
        if pid is None:
            raise TestnetError(f"{name} is not running")
        os.killpg(pid, sig)  # its own process group: the node and anything it started
        return pid

    def kill(self, name: str) -> None:
        pid = self._signal(name, signal.SIGKILL)
        self._wait_gone([(name, pid)], 10)

    def pause(self, name: str) -> None:
        self._signal(name, signal.SIGSTOP)

    def resume(self, name: str) -> None:
        self._signal(name, signal.SIGCONT)

    def restart(self, name: str) -> None:
        """Stop it if it runs, start it again with the same command and base path (its database
        survives), and wait until its metrics answer."""
        if self.pid(name) is not None:
            self.stop([name])
        self.start(name)
        deadline = time.monotonic() + self.ready_timeout_s
        while self.heights(name) is None:
            if self.pid(name) is None:
                raise TestnetError(f"{name} exited after restart; its log:\n{self.log_tail(name)}")
            if time.monotonic() > deadline:
                raise TestnetError(f"{name} did not answer on {self.node(name).metrics_url} within {self.ready_timeout_s} s; its log:\n{self.log_tail(name)}")
            time.sleep(POLL_S)

    def stop(self, names: list[str] | None = None) -> list[str]:
        """Ctrl-C every named (default: every live) node at once, SIGKILL whoever outlasts the grace
        period. Returns the nodes it stopped."""
        running = [(n, self.pid(n)) for n in (names if names is not None else [e.name for e in self.nodes])]
        running = [(n, p) for n, p in running if p is not None]
        for _, pid in running:
            for sig in (signal.SIGCONT, signal.SIGINT):  # a paused node must wake to hear the SIGINT
                try:
                    os.killpg(pid, sig)
                except ProcessLookupError:
                    pass
        left = self._wait_gone(running, STOP_GRACE_S, raise_on_timeout=False)
        for _, pid in left:
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._wait_gone(left, 10)
        return [n for n, _ in running]

    def _wait_gone(self, procs: list[tuple[str, int]], timeout_s: float, raise_on_timeout: bool = True) -> list[tuple[str, int]]:
        deadline = time.monotonic() + timeout_s
        while True:
            for _, pid in procs:
                _reap(pid)
            procs = [(n, p) for n, p in procs if _proc_state(p) not in (None, "Z", "X")]
            if not procs or time.monotonic() > deadline:
                break
            time.sleep(POLL_S)
        if procs and raise_on_timeout:
            raise TestnetError(f"{', '.join(n for n, _ in procs)} did not exit within {timeout_s} s")
        return procs

    # -- observing ----------------------------------------------------------------------------
    def heights(self, name: str) -> dict[str, int] | None:
        """best / finalized (/ anchored) from the node's metrics; None when they do not answer."""
        try:
            with urllib.request.urlopen(self.node(name).metrics_url, timeout=2) as reply:
                text = reply.read().decode()
        except (OSError, ValueError):
            return None
        return {status: int(float(value)) for status, value in HEIGHT_LINE.findall(text)}

    def metric(self, name: str, metric: str) -> float | None:
        """The sum of a metric's samples on a node (labels ignored), via prometheus-client's own
        parser; None when the node does not answer or does not export it."""
        from prometheus_client.parser import text_string_to_metric_families

        try:
            with urllib.request.urlopen(self.node(name).metrics_url, timeout=2) as reply:
                text = reply.read().decode()
        except (OSError, ValueError):
            return None
        samples = [s.value for family in text_string_to_metric_families(text) for s in family.samples
                   if s.name in (metric, metric + "_total")]
        return sum(samples) if samples else None

    def chain_height(self, chain: str, status: str) -> int | None:
        """The highest ``status`` height any node of the chain reports (None: none answers)."""
        seen = [h.get(status, 0) for n in self.chain_nodes(chain) if (h := self.heights(n.name)) is not None]
        return max(seen) if seen else None

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            return "\n".join(Path(self.node(name).log).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"
