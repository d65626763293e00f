"""A dev node killed with SIGKILL while it authors blocks full of transfers restarts on the same
base path from its last committed block, with that block's state intact, and keeps authoring.

Transfers are signed here (as any client signs them) and sent as JSON-RPC batches over HTTP;
the headers the node announced are read from a `chain_subscribeNewHeads` WebSocket, whose buffer
still holds everything the node sent before it died.
"""

from __future__ import annotations

import json
import time

import pytest
import websocket
from substrateinterface import SubstrateInterface

from node.cli import DEV_ENDOWMENT
from node.primitives.era import IMMORTAL
from node.primitives.extrinsic import sign_extrinsic
from node.primitives.hashing import blake2_128, blake2_256, storage_prefix
from node.primitives.header import Header
from node.primitives.keys import DEV_ACCOUNTS
from node.primitives.scale import encode_compact

from .conftest import BLOCK_TIME_MS

pytestmark = pytest.mark.slow

UNIT = 10**12
AMOUNT = UNIT
DESTS = [blake2_256(b"crash-recovery-dest-%d" % i) for i in range(5)]  # fresh accounts
CLIENT_TIMEOUT_S = 20  # a node that stops announcing fails the test instead of hanging it
BALANCES, TRANSFER_KEEP_ALIVE = 2, 3  # pallet and call index, as the metadata lists them
TOTAL_ISSUANCE_KEY = storage_prefix("Balances", "TotalIssuance")
# A 1,000-transfer block takes the dev node ~50 ms to execute and commit on this machine kind:
# kill 20 ms into its slot (executing), 45 ms (about to commit), 75 ms (committed, perhaps not
# yet announced), and once right as a block is announced.
BIG_BATCH = 1000
KILL_POINTS_MS = (20, 45, 75, None)


def account_key(account: bytes) -> bytes:
    return storage_prefix("System", "Account") + blake2_128(account) + account


def transfer_call(dest: bytes, amount: int) -> bytes:
    return bytes((BALANCES, TRANSFER_KEEP_ALIVE, 0)) + dest + encode_compact(amount)  # MultiAddress::Id


class HeadWatcher:
    """Every header the node announces on `chain_subscribeNewHeads`, in order."""

    def __init__(self, url: str):
        self.ws = websocket.create_connection(url, timeout=CLIENT_TIMEOUT_S)
        self.ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "chain_subscribeNewHeads", "params": []}))
        reply = json.loads(self.ws.recv())
        assert "result" in reply, reply
        self.headers: list[Header] = []

    def next(self) -> Header:
        """The next announcement; blocks until the node sends it (every slot, 500 ms)."""
        message = json.loads(self.ws.recv())
        header = Header.from_json(message["params"]["result"])
        self.headers.append(header)
        return header

    def wait_for(self, number: int) -> Header:
        while not self.headers or self.headers[-1].number < number:
            self.next()
        return self.headers[-1]

    def drain_after_kill(self) -> list[Header]:
        """What the dead node sent: read the socket's buffer until the connection ends."""
        try:
            while True:
                self.next()
        except (websocket.WebSocketConnectionClosedException, OSError):
            pass
        finally:
            self.ws.close()
        return self.headers

    def close(self) -> None:
        self.ws.close()


class TransferLoad:
    """Transfers from the six dev accounts to five fresh ones, signed with consecutive nonces.
    Sender s's transfer with nonce n goes to DESTS[n % 5], so the on-chain nonces say exactly
    which transfers a chain holds."""

    def __init__(self, node):
        self.genesis = bytes.fromhex(node.rpc("chain_getBlockHash", [0])[2:])
        version = node.rpc("state_getRuntimeVersion")
        self.versions = (version["specVersion"], version["transactionVersion"])
        self.senders = list(DEV_ACCOUNTS.values())
        self.signed: dict[bytes, list[bytes]] = {k.public_key: [] for k in self.senders}
        self._turn = 0

    def submit(self, node, count: int) -> None:
        batch = []
        for _ in range(count):
            sender = self.senders[self._turn % len(self.senders)]
            self._turn += 1
            sent = self.signed[sender.public_key]
            nonce = len(sent)
            call = transfer_call(DESTS[nonce % len(DESTS)], AMOUNT)
            xt = sign_extrinsic(sender, call, nonce, IMMORTAL, 0, *self.versions, self.genesis)
            sent.append(xt)
            batch.append(["0x" + xt.hex()])
        refused = [r["error"] for r in node.rpc_batch("author_submitExtrinsic", batch) if "error" in r]
        assert not refused, refused[:3]

    def resync(self, nonces: dict[bytes, int]) -> None:
        """After a restart the pool is empty: what the chain did not include is gone."""
        for who, sent in self.signed.items():
            assert nonces[who] <= len(sent), "the chain holds transfers nobody signed"
            del sent[nonces[who]:]


def read_nonces(node, at: str) -> dict[bytes, int]:
    nonces = {}
    for keypair in DEV_ACCOUNTS.values():
        raw = node.rpc("state_getStorage", ["0x" + account_key(keypair.public_key).hex(), at])
        nonces[keypair.public_key] = int.from_bytes(bytes.fromhex(raw[2:10]), "little")  # AccountInfo.nonce: u32
    return nonces


def snapshot(node, header: Header) -> dict[str, str | None]:
    """State the test compares across the crash: issuance and every sender's account record."""
    at = "0x" + header.hash.hex()
    keys = [TOTAL_ISSUANCE_KEY] + [account_key(k.public_key) for k in DEV_ACCOUNTS.values()] + [account_key(d) for d in DESTS]
    (entry,) = node.rpc("state_queryStorageAt", [["0x" + k.hex() for k in keys], at])
    assert entry["block"] == at
    return dict(entry["changes"])


def run_until_killed(node, load: TransferLoad, *, blocks: int, kill_ms: int | None) -> tuple[list[Header], dict]:
    """Author `blocks` blocks with transfers flowing, then SIGKILL the node: `kill_ms` into the
    slot whose block takes a large batch of transfers (it is executing or committing them), or,
    with None, the moment a block is announced (it is updating its pool and finality)."""
    heads = HeadWatcher(node.ws_url)
    snapshots = {}
    start = heads.next().number
    for _ in range(blocks):
        load.submit(node, 300)
        header = heads.wait_for(heads.headers[-1].number + 1)
        snapshots[header.hash] = snapshot(node, header)
    heads.next()  # a slot just began
    if kill_ms is not None:
        load.submit(node, BIG_BATCH)  # pooled well before the next slot
        # Aim the kill at a point inside the node's next slot. Slots start at multiples of the
        # block time on the wall clock, and nothing the node emits marks "half-way through a
        # block", so this one wait is on the clock (it only aims the fault; no check depends on
        # where it lands).
        slot_start = (time.time() * 1000 // BLOCK_TIME_MS + 1) * BLOCK_TIME_MS
        time.sleep(max(0.0, (slot_start + kill_ms) / 1000 - time.time()))
    node.kill()
    announced = heads.drain_after_kill()
    assert announced[-1].number >= start + blocks
    return announced, snapshots


def check_recovered(node, announced: list[Header], snapshots: dict) -> Header:
    """The restarted node continues from its last committed block; returns its best header."""
    best = Header.from_json(node.rpc("chain_getHeader"))
    last = announced[-1]
    assert best.number >= last.number, f"restarted at #{best.number}, but #{last.number} was announced"
    # A block committed but not yet announced when the kill came is fine: it must build on the
    # last announced one.
    walk = best
    while walk.number > last.number:
        walk = Header.from_json(node.rpc("chain_getHeader", ["0x" + walk.parent_hash.hex()]))
    assert walk.hash == last.hash

    for header in announced:  # every announced block is still there, canonical, byte for byte
        at = "0x" + header.hash.hex()
        assert node.rpc("chain_getBlockHash", [header.number]) == at
        assert Header.from_json(node.rpc("chain_getHeader", [at])) == header
    for block_hash, before in snapshots.items():  # and its state reads back the same
        header = Header.from_json(node.rpc("chain_getHeader", ["0x" + block_hash.hex()]))
        assert snapshot(node, header) == before

    finalized = Header.from_json(node.rpc("chain_getHeader", [node.rpc("chain_getFinalizedHead")]))
    assert finalized.number <= best.number
    assert node.rpc("chain_getBlockHash", [finalized.number]) == "0x" + finalized.hash.hex()
    return best


def check_balances(node, load: TransferLoad, at: str) -> int:
    """Every account holds exactly what the included transfers and their fees say; returns how
    many transfers the chain holds."""
    nonces = read_nonces(node, at)
    load.resync(nonces)
    fee_of_length: dict[int, int] = {}
    with SubstrateInterface(url=node.ws_url, ws_options={"timeout": CLIENT_TIMEOUT_S}) as substrate:
        def free(who: bytes) -> int:
            return substrate.query("System", "Account", ["0x" + who.hex()], block_hash=at).value["data"]["free"]

        received = {d: 0 for d in DESTS}
        burned = 0
        for who, sent in load.signed.items():
            fees = 0
            for nonce, xt in enumerate(sent):
                if len(xt) not in fee_of_length:
                    fee_of_length[len(xt)] = int(node.rpc("payment_queryInfo", ["0x" + xt.hex(), at])["partialFee"])
                fees += fee_of_length[len(xt)]
                received[DESTS[nonce % len(DESTS)]] += AMOUNT
            assert free(who) == DEV_ENDOWMENT - len(sent) * AMOUNT - fees
            burned += fees
        for dest, amount in received.items():
            assert free(dest) == amount
        issuance = substrate.query("Balances", "TotalIssuance", block_hash=at).value
        assert issuance == len(DEV_ACCOUNTS) * DEV_ENDOWMENT - burned  # fees are burned
        holdings = sum(v.value["data"]["free"] + v.value["data"]["reserved"] for _, v in substrate.query_map("System", "Account", block_hash=at))
        assert holdings == issuance
    return sum(nonces.values())


def test_node_killed_while_authoring_restarts_from_its_last_block_and_keeps_authoring(node_factory):
    node = node_factory()
    load = TransferLoad(node)
    included = 0
    for kill_ms in KILL_POINTS_MS:
        announced, snapshots = run_until_killed(node, load, blocks=2, kill_ms=kill_ms)

        node = node_factory()  # the same base path
        try:
            best = check_recovered(node, announced, snapshots)
            now_included = check_balances(node, load, "0x" + best.hash.hex())
            assert now_included > included, "no transfer made it into a block before the kill"
        except AssertionError as e:
            when = "on an announcement" if kill_ms is None else f"{kill_ms} ms into a slot"
            raise AssertionError(f"after the kill {when} (announced up to #{announced[-1].number}): {e}") from e
        included = now_included

    # Still authoring after the last restart, and including transfers.
    heads = HeadWatcher(node.ws_url)
    try:
        first = heads.next()
        load.submit(node, 60)
        last = heads.wait_for(first.number + 2)
    finally:
        heads.close()
    assert check_balances(node, load, "0x" + last.hash.hex()) == included + 60
