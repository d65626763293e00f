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

from dataclasses import dataclass

import trio

from node.consensus.authorities import AuthoritySet
from node.light import LightClient, LightClientError, verify_finalized, verify_read
from node.primitives.hashing import twox_64
from node.primitives.header import Header
from node.trie import InvalidProof, verify_read_proof
from relay.paras import ParaHeadType, Paras
from relay.primitives import CandidateReceipt, PoV



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
    """The relay over its nodes' JSON-RPC, through a verifying light client."""

    def __init__(self, urls: list[str] | str, authorities: AuthoritySet):
        self.light = LightClient(urls, authorities)

    async def anchored(self, para_id: int) -> Anchored:
        try:
            header = await self.light.finalized()
            value = (await self.light.read([para_head_key(para_id)], at=header))[para_head_key(para_id)]
        except LightClientError as e:
            raise RelayError(str(e)) from None
        if value is None:
            raise RelayError(f"para {para_id} is not registered on the relay")
        head = ParaHeadType.decode_all(value)
        return Anchored(head["head_hash"], head["head_data"], header.hash, header.number)

    async def finalized(self) -> tuple[Header, bytes | None]:
        """The relay's finalized header (verified) and its justification."""
        try:
            return await self.light.finalized_with_justification()
        except LightClientError as e:
            raise RelayError(str(e)) from None

    async def read(self, keys: list[bytes], header: Header) -> tuple[dict[bytes, bytes | None], list[bytes]]:
        """Relay state at ``header``: the keys' values, verified, and the proof's nodes."""
        try:
            return await self.light.read_with_proof(keys, at=header)
        except LightClientError as e:
            raise RelayError(str(e)) from None

    async def submit_candidate(self, receipt: CandidateReceipt, pov: PoV) -> dict:
        try:
            return await self.light.call("paras_submitCandidate", ["0x" + receipt.encode().hex(), "0x" + pov.encode().hex()])
        except LightClientError as e:
            raise RelayError(str(e)) from None


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
        try:
            verify_finalized(header, node.chain.justification(header.hash), self.authorities)
        except LightClientError as e:
            raise RelayError(str(e)) from None
        proof = node.chain.state_at(header.hash).read_proof([para_head_key(para_id)])
        head_hash, head_data, _ = verify_para_head(para_id, header, proof)
        return Anchored(head_hash, head_data, header.hash, header.number)

    async def finalized(self) -> tuple[Header, bytes | None]:
        await trio.lowlevel.checkpoint()
        node = self._node()
        header = node.chain.finalized
        justification = node.chain.justification(header.hash)
        try:
            verify_finalized(header, justification, self.authorities)
        except LightClientError as e:
            raise RelayError(str(e)) from None
        return header, justification

    async def read(self, keys: list[bytes], header: Header) -> tuple[dict[bytes, bytes | None], list[bytes]]:
        await trio.lowlevel.checkpoint()
        node = self._node()
        state = node.chain.state_at(header.hash)
        if state is None:
            raise RelayError("the relay node does not have that block's state")
        proof = state.read_proof(keys)
        try:
            return verify_read(header, proof, keys), proof
        except LightClientError as e:
            raise RelayError(str(e)) from None

    async def submit_candidate(self, receipt: CandidateReceipt, pov: PoV) -> dict:
        await trio.lowlevel.checkpoint()
        backing = next(e for e in self._node().extensions if hasattr(e, "table"))
        statement = backing.submit(receipt, pov)
        return {"candidateHash": "0x" + receipt.hash.hex(), "statement": None if statement is None else statement.kind}
