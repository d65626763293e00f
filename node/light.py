"""A light client: follows a chain's finalized headers through their justifications, and reads
state through read proofs checked against a finalized header's state root. It trusts only the
authority set from the chain spec — never the node it talks to. What a terminal device (a
meter) would run.

    client = LightClient("http://127.0.0.1:9944", authorities)
    header = await client.finalized()                       # verified
    values = await client.read([key], at=header)            # proven against header.state_root
"""

from __future__ import annotations

import json
import urllib.request

import trio

from node.consensus.authorities import AuthoritySet
from node.consensus.errors import ConsensusError
from node.consensus.justification import decode_justification, verify_justification
from node.primitives.header import Header
from node.primitives.scale import DecodeError, decode_all
from node.trie import InvalidProof, verify_read_proof

RPC_TIMEOUT_S = 10


class LightClientError(Exception):
    """The node could not be reached, or what it sent does not verify."""


def verify_finalized(header: Header, justification: bytes | None, authorities: AuthoritySet) -> None:
    """A header is final only with a justification for it signed by more than 2/3."""
    if header.number == 0:
        return
    if justification is None:
        raise LightClientError(f"block #{header.number} comes without a justification")
    try:
        decoded = decode_all(decode_justification, justification)
        verify_justification(decoded, authorities, lambda ancestor, block: False, target=(header.hash, header.number))
    except (ConsensusError, DecodeError, ValueError) as e:
        raise LightClientError(f"justification for #{header.number} does not verify: {e}") from None


def verify_read(header: Header, proof: list[bytes], keys: list[bytes]) -> dict[bytes, bytes | None]:
    try:
        return verify_read_proof(header.state_root, proof, keys)
    except InvalidProof as e:
        raise LightClientError(f"read proof does not verify: {e}") from None


class LightClient:
    """Over a node's JSON-RPC (HTTP), moving to the next URL when one fails."""

    def __init__(self, urls: list[str] | str, authorities: AuthoritySet):
        urls = [urls] if isinstance(urls, str) else list(urls)
        self.urls = [u.replace("ws://", "http://").replace("wss://", "https://") for u in urls]
        self.authorities = authorities
        self._current = 0

    def _call(self, method: str, params: list):
        url = self.urls[self._current]
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode()
        request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=RPC_TIMEOUT_S) as reply:
                answer = json.loads(reply.read())
        except (OSError, ValueError) as e:
            self._current = (self._current + 1) % len(self.urls)
            raise LightClientError(f"RPC {method} at {url} failed: {e}") from None
        if "error" in answer:
            raise LightClientError(f"RPC {method}: {answer['error'].get('message')}")
        return answer["result"]

    async def call(self, method: str, params: list):
        # Blocking HTTP in a worker thread; the caller's event loop goes on meanwhile.
        return await trio.to_thread.run_sync(self._call, method, params)

    async def finalized(self) -> Header:
        return (await self.finalized_with_justification())[0]

    async def finalized_with_justification(self) -> tuple[Header, bytes | None]:
        """The finalized header, verified, and the justification that proves it (None at genesis)."""
        head = await self.call("chain_getFinalizedHead", [])
        block = await self.call("chain_getBlock", [head])
        try:
            header = Header.from_json(block["block"]["header"])
        except (KeyError, TypeError, ValueError) as e:
            raise LightClientError(f"malformed header: {e}") from None
        if "0x" + header.hash.hex() != head:
            raise LightClientError("the finalized header does not hash to the finalized head")
        justifications = block.get("justifications") or []
        justification = bytes.fromhex(justifications[0][1][2:]) if justifications else None
        verify_finalized(header, justification, self.authorities)
        return header, justification

    async def read(self, keys: list[bytes], *, at: Header) -> dict[bytes, bytes | None]:
        return (await self.read_with_proof(keys, at=at))[0]

    async def read_with_proof(self, keys: list[bytes], *, at: Header) -> tuple[dict[bytes, bytes | None], list[bytes]]:
        """The keys' values proven against ``at``'s state root, and the proof's nodes."""
        answer = await self.call("state_getReadProof", [["0x" + k.hex() for k in keys], "0x" + at.hash.hex()])
        try:
            proof = [bytes.fromhex(p[2:]) for p in answer["proof"]]
        except (KeyError, TypeError, ValueError) as e:
            raise LightClientError(f"malformed read proof: {e}") from None
        return verify_read(at, proof, keys), proof
