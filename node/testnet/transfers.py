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
    kind: str = "relay"  # the runtime: relay, demand, dg or storage

    def read(self, item, *keys, finalized: bool = False):
        """A storage item of the runtime (``Pallet.Item``) at the best or finalized block."""
        params = ["0x" + item.key(*keys).hex()]
        if finalized:
            params.append(self.call("chain_getFinalizedHead"))
        raw = self.call("state_getStorage", params)
        return item.default if raw is None else item.value.decode_all(bytes.fromhex(raw[2:]))

    def call(self, method: str, params=()):
        last = None
        for url in self.urls:  # the first live node answers
            try:
                return rpc(url, method, params)
            except TestnetError as e:
                last = e
        raise last

    def events(self, block_hash: str) -> list[tuple[str, str, dict, int | None]]:
        """(pallet, event, fields, extrinsic index) of a block, decoded with the runtime's codec."""
        system = self.runtime.pallet("System")
        raw = self.call("state_getStorage", ["0x" + system.Events.key().hex(), block_hash])
        if raw is None:
            return []
        records = self.runtime.placeholders[EVENT_RECORDS].decode_all(bytes.fromhex(raw[2:]))
        out = []
        for record in records:
            phase = record["phase"]
            index = phase["ApplyExtrinsic"] if isinstance(phase, dict) else None
            ((pallet, inner),) = record["event"].items()
            if isinstance(inner, str):
                out.append((pallet, inner, {}, index))
            else:
                ((name, fields),) = inner.items()
                out.append((pallet, name, fields, index))
        return out

    def signers(self, block_hash: str) -> list[bytes | None]:
        """The signer of each extrinsic of a block, in order."""
        from node.primitives.extrinsic import decode_extrinsic

        block = self.call("chain_getBlock", [block_hash])["block"]
        return [decode_extrinsic(bytes.fromhex(xt[2:])).signer for xt in block["extrinsics"]]


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
        chains[name] = ChainHandle(name, chain_id, [n.rpc_url for n in network.chain_nodes(name)], runtime, spec.runtime)
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
    relay_included: int | None = None  # the relay's best number when the source block was seen
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


def send_transfers(network: Network, *, source: str, dest: str, amount: int, signers: list[str], to_account: str | None,
                   count: int, timeout_blocks: int, wait_s: float, progress=lambda line: None) -> dict:
    """Submit ``count`` transfers from each signer and follow each to a finalized credit (or
    its refund); the report."""
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
    minimum = src.runtime.pallet("Balances").existential_deposit
    if amount < minimum:
        raise TestnetError(f"--amount must be at least the existential deposit ({minimum})")
    keypairs = []
    for signer in signers:
        try:
            keypairs.append(Keypair.create_from_uri(signer))
        except (ValueError, AttributeError) as e:  # substrate-interface: a bad phrase, or a URI it cannot parse
            raise TestnetError(f"--signer {signer!r}: {e}") from None
    fixed_beneficiary = _account(to_account) if to_account else None
    substrate = SubstrateInterface(url=src.urls[0])
    per_signer = []  # per signer: (sender, extrinsic hex) in nonce order
    for keypair in keypairs:
        nonce = substrate.get_account_nonce(keypair.ss58_address)
        beneficiary = fixed_beneficiary or bytes.fromhex(keypair.public_key.hex())
        call = substrate.compose_call("XTransfers", "transfer", {
            "dest": dst.chain_id, "beneficiary": "0x" + beneficiary.hex(), "amount": amount, "timeout_blocks": timeout_blocks})
        sender = bytes.fromhex(keypair.public_key.hex())
        per_signer.append([(sender, str(substrate.create_signed_extrinsic(call, keypair, nonce=nonce + i).data)) for i in range(count)])
    substrate.close()
    extrinsics = [xt for group in zip(*per_signer) for xt in group]
    # Followed from now on; the relay first, so a block's relay number is never older than it.
    followers = {name: BlockFollower(chains[name]) for name in dict.fromkeys(("relay", source, dest))}
    tracked, waiting = [], {sender: [] for sender, _ in extrinsics}
    for first in range(0, len(extrinsics), SUBMIT_BATCH):  # JSON-RPC batches: one round trip per hundred
        batch = extrinsics[first:first + SUBMIT_BATCH]
        relay_best = int(relay.call("chain_getHeader")["number"], 16)
        _submit_batch(src, [xt for _, xt in batch])
        now = time.monotonic()
        for sender, _ in batch:
            tracked.append(Tracked(now, relay_best, times={"submitted": 0.0}))
            waiting[sender].append(tracked[-1])
    progress(f"submitted {len(tracked)} transfer(s) of {amount} from {source} to {dest}")
    by_id: dict[tuple[int, int], Tracked] = {}
    deadline = time.monotonic() + wait_s
    while any(t.outcome == "in flight" for t in tracked) and time.monotonic() < deadline:
        for name, follower in followers.items():
            for number, block_hash in follower.new_blocks():
                now = time.monotonic()
                relay_number = followers["relay"].next - 1
                events = chains[name].events(block_hash)
                failed = [index for pallet, event, _, index in events if (pallet, event) == ("System", "ExtrinsicFailed")]
                if name == source and failed:  # a transfer refused on its own chain (a full channel, a low balance …)
                    signers = chains[name].signers(block_hash)
                    for index in failed:
                        if waiting.get(signers[index]):
                            waiting[signers[index]].pop(0).outcome = "failed"
                for pallet, event, f, _ in events:
                    if pallet == "XTransfers":
                        _note(name, event, f, number, block_hash, now, relay_number, source=source, dest=dest,
                              waiting=waiting, by_id=by_id)
        finalized = {name: follower.finalized_number() for name, follower in followers.items()}
        now = time.monotonic()
        for t in tracked:
            if t.received_block is not None and "finalized" not in t.times and finalized[dest] >= t.received_block[0]:
                t.times["finalized"] = now - t.submitted_at
                t.relay_finalized_at = finalized["relay"]
                t.outcome = "delivered"
        time.sleep(POLL_S)  # the chains are other processes: we follow them by polling their RPC
    return _report(tracked, source, dest, amount)


def _note(chain, event, f, number, block_hash, now, relay_number, *, source, dest, waiting, by_id) -> None:
    def step(t: Tracked, name: str) -> None:
        t.times.setdefault(name, now - t.submitted_at)

    if chain == source and event == "TransferSent" and waiting.get(f.get("sender")):
        t = waiting[f["sender"]].pop(0)  # one signer's transfers are included in nonce order
        t.id = (f["origin"], f["nonce"])
        t.relay_included = relay_number
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
    from_block = [t.times["finalized"] - t.times["included"] for t in delivered if "included" in t.times]
    from_block_relay = [t.relay_finalized_at - t.relay_included for t in delivered if t.relay_included is not None]
    span = max((t.submitted_at + t.times["finalized"] for t in delivered), default=0) - min((t.submitted_at for t in tracked), default=0)
    report = {
        "from": source, "to": dest, "amount": amount, "count": len(tracked),
        "delivered": len(delivered), "refunded": sum(t.outcome == "refunded" for t in tracked),
        "failed": sum(t.outcome == "failed" for t in tracked),
        "inFlight": sum(t.outcome == "in flight" for t in tracked),
        "latencyS": {"p50": _percentile(latency, 50), "p95": _percentile(latency, 95)},
        "latencyRelayBlocks": {"p50": _percentile(relay_blocks, 50), "p95": _percentile(relay_blocks, 95)},
        # from the sender's block (the measure) to the finalized credit
        "fromBlockS": {"p50": _percentile(from_block, 50), "p95": _percentile(from_block, 95)},
        "fromBlockRelayBlocks": {"p50": _percentile(from_block_relay, 50), "p95": _percentile(from_block_relay, 95)},
        "throughputPerS": round(len(delivered) / span, 1) if delivered and span > 0 else None,
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
    lines.append(f"{report['delivered']}/{report['count']} delivered, {report['refunded']} refunded, "
                 f"{report['failed']} refused on the source chain, {report['inFlight']} still in flight")
    if lat["p50"] is not None:
        lines.append(f"submission → finalized credit: p50 {lat['p50']:.2f} s, p95 {lat['p95']:.2f} s "
                     f"({blocks['p50']:.0f} / {blocks['p95']:.0f} relay blocks)")
        block, block_relay = report["fromBlockS"], report["fromBlockRelayBlocks"]
        if block["p50"] is not None:
            lines.append(f"sender's block → finalized credit: p50 {block['p50']:.2f} s, p95 {block['p95']:.2f} s "
                         f"({block_relay['p50']:.0f} / {block_relay['p95']:.0f} relay blocks)")
        if report["count"] > 1:
            lines.append(f"throughput: {report['throughputPerS']} transfers/s, first submission to last finalized credit")
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
