"""A parachain node's view of the relay chain: a light client that follows the relay's finalized
headers and proves what the relay anchored for its para, and the channel to submit candidates.

Nothing the relay says is taken on trust: a finalized header counts only with a justification
signed by more than 2/3 of the relay authorities (from the parachain's chain spec), and a para
head only with a read proof against that header's state root.

Two implementations of one interface: `RpcRelayClient` talks to a relay node's JSON-RPC (real
processes, also what `parawatt light` uses); `LocalRelayClient` calls a relay node object in
the same process (deterministic simulations).
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

import trio

from node.consensus.authorities import AuthoritySet
from node.consensus.errors import ConsensusError
from node.consensus.justification import decode_justification, verify_justification
from node.primitives.hashing import twox_64
from node.primitives.header import Header
from node.primitives.scale import DecodeError, decode_all
from node.trie import InvalidProof, verify_read_proof
from relay.paras import ParaHeadType, Paras
from relay.primitives import CandidateReceipt, PoV

RPC_TIMEOUT_S = 10  # per relay RPC call; a failure is retried on the next follow tick


class RelayError(Exception):
    """The relay could not be reached, or what it sent does not verify."""


@dataclass(frozen=True, slots=True)
class Anchored:
    """A para head the relay has anchored in a finalized relay block."""

    head_hash: bytes
    head_data: bytes
    relay_hash: bytes
    relay_number: int

    @property
    def header(self) -> Header:
        return Header.decode(self.head_data)


def para_head_key(para_id: int) -> bytes:
    return Paras.Heads.prefix + twox_64(para_id.to_bytes(4, "little")) + para_id.to_bytes(4, "little")


def verify_finalized(header: Header, justification: bytes | None, authorities: AuthoritySet) -> None:
    """A relay header is final only with a valid justification for it (or a descendant)."""
    if header.number == 0:
        return
    if justification is None:
        raise RelayError(f"relay block #{header.number} comes without a justification")
    try:
        decoded = decode_all(decode_justification, justification)
        verify_justification(decoded, authorities, lambda ancestor, block: False, target=(header.hash, header.number))
    except (ConsensusError, DecodeError, ValueError) as e:
        raise RelayError(f"relay justification for #{header.number} does not verify: {e}") from None


def verify_para_head(para_id: int, header: Header, proof: list[bytes]) -> tuple[bytes, bytes, int]:
    """(head hash, head data, included at) of ``para_id`` proven against ``header``'s state."""
    key = para_head_key(para_id)
    try:
        value = verify_read_proof(header.state_root, proof, [key])[key]
    except InvalidProof as e:
        raise RelayError(f"para head proof does not verify: {e}") from None
    if value is None:
        raise RelayError(f"para {para_id} is not registered on the relay")
    head = ParaHeadType.decode_all(value)
    return head["head_hash"], head["head_data"], head["included_at"]


class RpcRelayClient:
    """Talks to relay nodes' JSON-RPC, moving to the next URL when one fails."""

    def __init__(self, urls: list[str] | str, authorities: AuthoritySet):
        urls = [urls] if isinstance(urls, str) else list(urls)
        self.urls = [u.replace("ws://", "http://").replace("wss://", "https://") for u in urls]
        self.authorities = authorities
        self._current = 0

    def _call(self, method: str, params: list):
        try:
            return self._call_one(self.urls[self._current], method, params)
        except RelayError:
            self._current = (self._current + 1) % len(self.urls)
            raise

    def _call_one(self, url: str, method: str, params: list):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_S) as reply:
                answer = json.loads(reply.read())
        except (OSError, ValueError) as e:
            raise RelayError(f"relay RPC {method} failed: {e}") from None
        if "error" in answer:
            raise RelayError(f"relay RPC {method}: {answer['error'].get('message')}")
        return answer["result"]

    async def call(self, method: str, params: list):
        # Blocking HTTP in a worker thread; the node's event loop goes on meanwhile.
        return await trio.to_thread.run_sync(self._call, method, params)

    async def anchored(self, para_id: int) -> Anchored:
        finalized = await self.call("chain_getFinalizedHead", [])
        block = await self.call("chain_getBlock", [finalized])
        header = Header.from_json(block["block"]["header"])
        if "0x" + header.hash.hex() != finalized:
            raise RelayError("the relay's finalized header does not hash to its finalized head")
        justifications = block.get("justifications") or []
        justification = bytes.fromhex(justifications[0][1][2:]) if justifications else None
        verify_finalized(header, justification, self.authorities)
        proof = await self.call("state_getReadProof", [["0x" + para_head_key(para_id).hex()], finalized])
        nodes = [bytes.fromhex(p[2:]) for p in proof["proof"]]
        head_hash, head_data, _ = verify_para_head(para_id, header, nodes)
        return Anchored(head_hash, head_data, header.hash, header.number)

    async def submit_candidate(self, receipt: CandidateReceipt, pov: PoV) -> dict:
        return await self.call("paras_submitCandidate", ["0x" + receipt.encode().hex(), "0x" + pov.encode().hex()])


class LocalRelayClient:
    """The same answers from a relay node in this process (tests, simulations); proofs are still
    built and verified, so the light-client path is exercised."""

    def __init__(self, relay_nodes: list, authorities: AuthoritySet):
        self.relay_nodes = relay_nodes
        self.authorities = authorities
        self._next = 0

    def _node(self):
        live = [n for n in self.relay_nodes if n is not None]
        if not live:
            raise RelayError("no relay node is running")
        self._next = (self._next + 1) % len(live)
        return live[self._next]

    async def anchored(self, para_id: int) -> Anchored:
        await trio.lowlevel.checkpoint()
        node = self._node()
        header = node.chain.finalized
        verify_finalized(header, node.chain.justification(header.hash), self.authorities)
        proof = node.chain.state_at(header.hash).read_proof([para_head_key(para_id)])
        head_hash, head_data, _ = verify_para_head(para_id, header, proof)
        return Anchored(head_hash, head_data, header.hash, header.number)

    async def submit_candidate(self, receipt: CandidateReceipt, pov: PoV) -> dict:
        await trio.lowlevel.checkpoint()
        backing = next(e for e in self._node().extensions if hasattr(e, "table"))
        statement = backing.submit(receipt, pov)
        return {"candidateHash": "0x" + receipt.hash.hex(), "statement": None if statement is None else statement.kind}
