"""`parawatt transfer` and `parawatt supply`: cross-chain transfers against a running testnet.

Extrinsics are composed and signed by substrate-interface from each chain's own metadata (the
client every Parawatt user has); the chains are watched through their JSON-RPC, decoding
`System.Events` with the runtime's fast codec, since a block of a thousand transfers holds
thousands of events and scalecodec takes ~50 µs per object.

The steps of a transfer, each timed from its submission:

    submitted   the source node accepted the extrinsic
    included    a source block holds it (`XTransfers.TransferSent`)
    anchored    the relay processed it: included the source block and moved the reserve
                (`TransferForwarded`, or `TransferDelivered` for the relay)
    received    a destination block credited it (`TransferReceived`; the relay's own event
                when the destination is the relay)
    finalized   that destination block is finalized
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.request
from dataclasses import dataclass, field

from node.runtime.pallet import EVENT_RECORDS
from node.testnet.control import Network, TestnetError

POLL_S = 0.05
SUBMIT_BATCH = 100
RPC_TIMEOUT_S = 10
STEPS = ("submitted", "included", "anchored", "received", "finalized")


def rpc(url: str, method: str, params=()):
    http = url.replace("ws://", "http://")
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}).encode()
    request = urllib.request.Request(http, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_S) as reply:
            answer = json.loads(reply.read())
    except OSError as e:
        raise TestnetError(f"{method} at {url} failed: {e}") from None
    if "error" in answer:
        raise TestnetError(f"{method} at {url}: {answer['error'].get('message')}")
    return answer["result"]


@dataclass
class ChainHandle:
    """One chain of the testnet: where to reach it, its id and runtime."""

    name: str
    chain_id: int  # 0 for the relay, else the para id
    urls: list[str]
    runtime: object

    def call(self, method: str, params=()):
        last = None
        for url in self.urls:  # the first live node answers
            try:
                return rpc(url, method, params)
            except TestnetError as e:
                last = e
        raise last

    def events(self, block_hash: str) -> list[tuple[str, str, dict]]:
        """(pallet, event, fields) of a block, decoded with the runtime's codec."""
        system = self.runtime.pallet("System")
        raw = self.call("state_getStorage", ["0x" + system.Events.key().hex(), block_hash])
        if raw is None:
            return []
        records = self.runtime.placeholders[EVENT_RECORDS].decode_all(bytes.fromhex(raw[2:]))
        out = []
        for record in records:
            ((pallet, inner),) = record["event"].items()
            if isinstance(inner, str):
                out.append((pallet, inner, {}))
            else:
                ((name, fields),) = inner.items()
                out.append((pallet, name, fields))
        return out


def _submit_batch(chain: ChainHandle, extrinsics: list[str]) -> None:
    body = json.dumps([{"jsonrpc": "2.0", "id": i, "method": "author_submitExtrinsic", "params": [xt]}
                       for i, xt in enumerate(extrinsics)]).encode()
    request = urllib.request.Request(chain.urls[0].replace("ws://", "http://"), body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_S) as reply:
            answers = json.loads(reply.read())
    except OSError as e:
        raise TestnetError(f"submitting to {chain.name} failed: {e}") from None
    refused = [a["error"].get("message") for a in answers if "error" in a]
    if refused:
        raise TestnetError(f"{chain.name} refused {len(refused)} of {len(extrinsics)} transfers: {refused[0]}")


def open_chains(network: Network) -> dict[str, ChainHandle]:
    from node.chain_spec import load_chain_spec
    from node.service.network_setup import runtime_for

    chains = {}
    for name, info in network.chains.items():
        spec = load_chain_spec(info["chain_spec"])
        runtime = runtime_for(spec.runtime, spec.consensus.block_time_ms)
        chain_id = 0 if spec.relay is None else spec.relay.para_id
        chains[name] = ChainHandle(name, chain_id, [n.rpc_url for n in network.chain_nodes(name)], runtime)
    return chains


class BlockFollower:
    """New best blocks of one chain, in order, polled; and its finalized height."""

    def __init__(self, chain: ChainHandle):
        self.chain = chain
        self.next = int(chain.call("chain_getHeader")["number"], 16) + 1

    def new_blocks(self) -> list[tuple[int, str]]:
        best = int(self.chain.call("chain_getHeader")["number"], 16)
        out = []
        while self.next <= best:
            block_hash = self.chain.call("chain_getBlockHash", [self.next])
            if block_hash is None:
                break
            out.append((self.next, block_hash))
            self.next += 1
        return out

    def finalized_number(self) -> int:
        head = self.chain.call("chain_getFinalizedHead")
        return int(self.chain.call("chain_getHeader", [head])["number"], 16)


@dataclass
class Tracked:
    submitted_at: float
    relay_submitted: int
    id: tuple[int, int] | None = None
    times: dict[str, float] = field(default_factory=dict)
    received_block: tuple[int, str] | None = None
    relay_finalized_at: int | None = None
    outcome: str = "in flight"


def _account(value: str) -> bytes:
    from node.primitives.ss58 import InvalidAddress, ss58_decode

    if value.startswith("0x"):
        raw = bytes.fromhex(value[2:])
        if len(raw) != 32:
            raise TestnetError("--to-account must be 32 bytes of hex or an SS58 address")
        return raw
    try:
        return ss58_decode(value)[1]
    except InvalidAddress as e:
        raise TestnetError(f"--to-account: {e}") from None


def send_transfers(network: Network, *, source: str, dest: str, amount: int, signer: str, to_account: str | None,
                   count: int, timeout_blocks: int, wait_s: float, progress=lambda line: None) -> dict:
    """Submit ``count`` transfers and follow each to a finalized credit; the report."""
    from substrateinterface import Keypair, SubstrateInterface

    chains = open_chains(network)
    for name in (source, dest):
        if name not in chains:
            raise TestnetError(f"no chain {name!r} in this testnet; it has {', '.join(chains)}")
    if source == dest:
        raise TestnetError("--from and --to name the same chain")
    if amount <= 0 or count <= 0:
        raise TestnetError("--amount and --count must be positive")
    src, dst, relay = chains[source], chains[dest], chains["relay"]
    try:
        keypair = Keypair.create_from_uri(signer)
    except (ValueError, AttributeError) as e:  # substrate-interface: a bad phrase, or a URI it cannot parse
        raise TestnetError(f"--signer {signer!r}: {e}") from None
    beneficiary = _account(to_account) if to_account else bytes.fromhex(keypair.public_key.hex())
    followers = {name: BlockFollower(chains[name]) for name in {source, dest, "relay"}}
    substrate = SubstrateInterface(url=src.urls[0])
    nonce = substrate.get_account_nonce(keypair.ss58_address)
    extrinsics = []
    for i in range(count):
        call = substrate.compose_call("XTransfers", "transfer", {
            "dest": dst.chain_id, "beneficiary": "0x" + beneficiary.hex(), "amount": amount, "timeout_blocks": timeout_blocks})
        extrinsics.append(substrate.create_signed_extrinsic(call, keypair, nonce=nonce + i))
    substrate.close()
    tracked = []
    for first in range(0, count, SUBMIT_BATCH):  # JSON-RPC batches: one round trip per hundred
        batch = extrinsics[first:first + SUBMIT_BATCH]
        relay_best = int(relay.call("chain_getHeader")["number"], 16)
        _submit_batch(src, [str(xt.data) for xt in batch])
        now = time.monotonic()
        tracked.extend(Tracked(now, relay_best, times={"submitted": 0.0}) for _ in batch)
    progress(f"submitted {count} transfer(s) of {amount} from {source} to {dest}")
    by_id: dict[tuple[int, int], Tracked] = {}
    waiting_for_id = list(tracked)
    deadline = time.monotonic() + wait_s
    sender = bytes.fromhex(keypair.public_key.hex())
    while any(t.outcome == "in flight" for t in tracked):
        if time.monotonic() > deadline:
            break
        for name, follower in followers.items():
            for number, block_hash in follower.new_blocks():
                now = time.monotonic()
                for pallet, event, f in chains[name].events(block_hash):
                    if pallet != "XTransfers":
                        continue
                    _note(name, event, f, number, block_hash, now, source=source, dest=dest, sender=sender,
                          waiting=waiting_for_id, by_id=by_id)
        finalized = {name: follower.finalized_number() for name, follower in followers.items()}
        now = time.monotonic()
        for t in tracked:
            if t.received_block is not None and "finalized" not in t.times and finalized[dest] >= t.received_block[0]:
                t.times["finalized"] = now - t.submitted_at
                t.relay_finalized_at = finalized["relay"]
                t.outcome = "delivered"
        time.sleep(POLL_S)
    return _report(tracked, source, dest, amount)


def _note(chain, event, f, number, block_hash, now, *, source, dest, sender, waiting, by_id) -> None:
    def step(t: Tracked, name: str) -> None:
        t.times.setdefault(name, now - t.submitted_at)

    if chain == source and event == "TransferSent" and f.get("sender") == sender and waiting:
        t = waiting.pop(0)  # one signer's transfers are included in nonce order
        t.id = (f["origin"], f["nonce"])
        by_id[t.id] = t
        step(t, "included")
        if source == "relay":
            step(t, "anchored")
    t = by_id.get((f.get("origin"), f.get("nonce")))
    if t is None:
        return
    if chain == "relay" and event in ("TransferForwarded", "TransferDelivered"):
        step(t, "anchored")
    if chain == dest and (event == "TransferReceived" or (dest == "relay" and event == "TransferDelivered")):
        step(t, "received")
        t.received_block = (number, block_hash)
    if chain == "relay" and event in ("TransferRefunding", "TransferRefunded"):
        t.outcome = "refunded"


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _report(tracked: list[Tracked], source: str, dest: str, amount: int) -> dict:
    delivered = [t for t in tracked if t.outcome == "delivered"]
    latency = [t.times["finalized"] for t in delivered]
    relay_blocks = [t.relay_finalized_at - t.relay_submitted for t in delivered]
    report = {
        "from": source, "to": dest, "amount": amount, "count": len(tracked),
        "delivered": len(delivered), "refunded": sum(t.outcome == "refunded" for t in tracked),
        "inFlight": sum(t.outcome == "in flight" for t in tracked),
        "latencyS": {"p50": _percentile(latency, 50), "p95": _percentile(latency, 95)},
        "latencyRelayBlocks": {"p50": _percentile(relay_blocks, 50), "p95": _percentile(relay_blocks, 95)},
    }
    report["stepsP50S"] = {name: _percentile([t.times[name] for t in tracked if name in t.times], 50) for name in STEPS}
    if len(tracked) == 1:
        t = tracked[0]
        report["id"] = None if t.id is None else {"origin": t.id[0], "nonce": t.id[1]}
        report["steps"] = {name: t.times.get(name) for name in STEPS}
    return report


def format_report(report: dict) -> list[str]:
    lines = []
    if "steps" in report:
        for name in STEPS:
            value = report["steps"][name]
            lines.append(f"  {name:<10} {'—' if value is None else f'{value:7.2f} s'}")
    lat, blocks = report["latencyS"], report["latencyRelayBlocks"]
    lines.append(f"{report['delivered']}/{report['count']} delivered, {report['refunded']} refunded, {report['inFlight']} still in flight")
    if lat["p50"] is not None:
        lines.append(f"submission → finalized credit: p50 {lat['p50']:.2f} s, p95 {lat['p95']:.2f} s "
                     f"({blocks['p50']:.0f} / {blocks['p95']:.0f} relay blocks)")
    return lines


# -- supply --------------------------------------------------------------------------------------
def supply_report(network: Network) -> dict:
    """Every chain's issuance and burned fees on one consistent cut: the relay's finalized block
    and each parachain's state as anchored there."""
    chains = open_chains(network)
    relay = chains["relay"].call("xtransfers_supply")
    report = {"relay": {"block": relay["number"], "issuance": int(relay["issuance"]), "feesBurned": int(relay["feesBurned"]),
                        "transit": int(relay["transit"])},
              "parachains": {}, "ok": True}
    by_id = {c.chain_id: c for c in chains.values()}
    for para_id, entry in relay["paras"].items():
        chain = by_id.get(int(para_id))
        if chain is None:
            continue
        para = chain.call("xtransfers_supply", [entry["anchoredHead"]])
        backed = int(para["issuance"]) + int(para["feesBurned"])
        ok = int(entry["sovereign"]) == backed
        report["parachains"][chain.name] = {"paraId": int(para_id), "anchoredBlock": para["number"],
                                            "issuance": int(para["issuance"]), "feesBurned": int(para["feesBurned"]),
                                            "sovereign": int(entry["sovereign"]), "backed": ok}
        report["ok"] &= ok
    return report


def format_supply(report: dict) -> list[str]:
    r = report["relay"]
    lines = [f"{'chain':<10} {'block':>7} {'issuance':>26} {'fees burned':>20} {'sovereign on relay':>26}",
             f"{'relay':<10} {r['block']:>7} {r['issuance']:>26} {r['feesBurned']:>20} {'(transit ' + str(r['transit']) + ')':>26}"]
    for name, p in report["parachains"].items():
        mark = "✓" if p["backed"] else "✗"
        lines.append(f"{name:<10} {p['anchoredBlock']:>7} {p['issuance']:>26} {p['feesBurned']:>20} {p['sovereign']:>26} {mark}")
    lines.append("every parachain is fully backed" if report["ok"] else "SUPPLY MISMATCH")
    return lines


__all__ = ["send_transfers", "format_report", "supply_report", "format_supply", "open_chains"]
