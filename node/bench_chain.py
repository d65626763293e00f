"""`parawatt bench chain`: how many signed transfers one dev node takes in per second, against
how many sr25519 signatures this machine verifies per second — both measured in the same run.

The node is a real process on a temporary base path. Transfers are signed beforehand and sent as
JSON-RPC batches of `author_submitExtrinsic` over HTTP (the node's real submission path: decode,
signature, era, nonce and fee checks, pool), then authored into blocks and committed to RocksDB.
The rate is counted from the first submission until the last transfer is in a committed block.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sr25519

from node.dev_runtime import EXISTENTIAL_DEPOSIT, build_runtime
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import sign_extrinsic
from node.primitives.keys import DEV_ACCOUNTS, dev_keypair


def sr25519_verifications_per_second(seconds: float = 1.0) -> float:
    public, secret = sr25519.pair_from_seed(bytes(range(32)))
    message = bytes(140)  # about a transfer's signing payload
    signature = sr25519.sign((public, secret), message)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(500):
            sr25519.verify(signature, message, public)
        count += 500
    return count / (time.perf_counter() - start)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RpcClient:
    """Minimal JSON-RPC over one keep-alive HTTP connection."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.next_id = 0

    def _post(self, payload):
        body = json.dumps(payload)
        try:
            self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
            return json.loads(self.conn.getresponse().read())
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # The server closes a keep-alive connection left idle (e.g. while transfers are
            # signed): open a new one and send again.
            self.conn.close()
            self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
            return json.loads(self.conn.getresponse().read())

    def call(self, method, params=()):
        self.next_id += 1
        reply = self._post({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)})
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def batch(self, method, param_lists):
        payload = []
        for params in param_lists:
            self.next_id += 1
            payload.append({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": list(params)})
        return self._post(payload)


def _wait_for_rpc(port: int, proc: subprocess.Popen, timeout_s: float = 60) -> RpcClient:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the node exited with code {proc.returncode}")
        try:
            client = RpcClient(port)
            client.call("system_health")
            return client
        except OSError:
            time.sleep(0.1)  # polling a process we just started: there is no event to wait on
    raise RuntimeError("the node did not answer RPC in time")


def presign_transfers(total: int, genesis_hash: bytes, spec_version: int, tx_version: int) -> list[str]:
    runtime = build_runtime()
    senders = [dev_keypair(name) for name in DEV_ACCOUNTS]
    signed = []
    for i in range(total):
        sender = senders[i % len(senders)]
        nonce = i // len(senders)
        dest = i.to_bytes(4, "little") * 8  # a fresh account per transfer: the state grows, as in use
        call = runtime.call_type.encode({"Balances": {"transfer_keep_alive": {"dest": {"Id": dest}, "value": EXISTENTIAL_DEPOSIT}}})
        xt = sign_extrinsic(sender, call, nonce, IMMORTAL, 0, spec_version, tx_version, genesis_hash)
        signed.append("0x" + xt.hex())
    return signed


def main(args) -> int:
    total = args.transfers
    batch_size = 1000
    print("measuring sr25519 verifications per second …", flush=True)
    verify_rate = sr25519_verifications_per_second()
    print(f"  {verify_rate:,.0f} verifications/s")

    base = Path(tempfile.mkdtemp(prefix="parawatt-bench-"))
    port = _free_port()
    cmd = [sys.executable, "-m", "node.cli", "node", "--dev", "--base-path", str(base), "--rpc-port", str(port), "--block-time-ms", "1000"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ))
    try:
        client = _wait_for_rpc(port, proc)
        genesis = bytes.fromhex(client.call("chain_getBlockHash", [0])[2:])
        version = client.call("state_getRuntimeVersion")
        print(f"signing {total:,} transfers …", flush=True)
        signed = presign_transfers(total, genesis, version["specVersion"], version["transactionVersion"])
        senders = ["0x" + dev_keypair(name).public_key.hex() for name in DEV_ACCOUNTS]
        final_nonce = {s: (total - i + len(senders) - 1) // len(senders) for i, s in enumerate(senders)}

        def on_chain_nonce(account_hex: str) -> int:
            return int.from_bytes(bytes.fromhex(client.call("state_call", ["AccountNonceApi_account_nonce", account_hex])[2:]), "little")

        print(f"submitting in batches of {batch_size} …", flush=True)
        start = time.perf_counter()
        rejected = 0
        for i in range(0, total, batch_size):
            replies = client.batch("author_submitExtrinsic", [[xt] for xt in signed[i : i + batch_size]])
            rejected += sum(1 for r in replies if "error" in r)
        submitted = time.perf_counter()
        while True:  # poll until every sender's nonce shows all its transfers in blocks
            if all(on_chain_nonce(s) >= n for s, n in final_nonce.items()):
                break
            if time.perf_counter() - start > 600:
                raise RuntimeError("transfers were not all included within 10 minutes")
            time.sleep(0.05)
        included = time.perf_counter()
        best = int(client.call("chain_getHeader")["number"], 16)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    rate = (total - rejected) / (included - start)
    print()
    print(f"sr25519 verifications/s       {verify_rate:12,.0f}")
    print(f"transfers/s taken in          {rate:12,.0f}   ({total - rejected:,} transfers, {rejected} rejected, best block #{best})")
    print(f"  submission alone            {(total - rejected) / (submitted - start):12,.0f}/s")
    print(f"ratio transfers / verifies    {rate / verify_rate:12.3f}   (target ≥ 0.25)")
    return 0 if rejected == 0 else 1
