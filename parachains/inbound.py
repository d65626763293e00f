"""The collator's side of `ParachainSystem.set_relay_data`: what of the relay to bring into the
next parachain block.

`fetch_relay_view` runs in the collator's follow loop (async, over the relay client): the newest
finalized relay header with its justification, the Router queue heads of every channel into and
out of this chain, and the next pending messages of each inbound queue — all proven against
that header (`RelayView`, a bag of verified proof nodes).

`relay_data` runs when this node authors a block, against that block's state: it picks the
deliveries that continue each watermark, the acknowledgements that move, and cuts from the bag
exactly the proof they need. It dry-runs the call so the inherent never fails a block; what
does not pass falls back to importing the header alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from node.primitives.header import Header
from node.runtime.errors import DispatchError
from node.runtime.overlay import StateOverlay
from node.runtime.pallet import NONE
from node.trie import MissingTrieNode, narrow_proof
from parachains.parachain_system import MAX_MESSAGES_PER_BLOCK, RelayData, relay_keys
from relay.router import ChannelHead, channel_head_key, content_key

log = logging.getLogger("parawatt.collator")

FETCH_AHEAD = MAX_MESSAGES_PER_BLOCK  # messages fetched per source per follow tick
READ_CHUNK = 512  # keys per relay read (state_getReadProof takes at most MAX_QUERY_KEYS)


@dataclass(frozen=True, slots=True)
class RelayView:
    header: Header
    justification: bytes | None
    heads: dict[tuple[int, int], dict]  # (sender, receiver) -> ChannelHead
    fetched: dict[int, tuple[int, int]]  # source -> [first, end) of messages whose proof is in `nodes`
    nodes: tuple[bytes, ...]  # verified proof nodes covering all of the above


def channels_of(state_keys, channels_prefix: bytes, para_id: int) -> tuple[list[int], list[int]]:
    """(sources, destinations) of this chain's open channels, from the keys of its
    `Messaging.Channels` map (Twox64Concat sender, Twox64Concat receiver)."""
    sources, dests = [], []
    n = len(channels_prefix)
    for key in state_keys:
        sender = int.from_bytes(key[n + 8:n + 12], "little")
        receiver = int.from_bytes(key[n + 20:n + 24], "little")
        if receiver == para_id:
            sources.append(sender)
        elif sender == para_id:
            dests.append(receiver)
    return sources, dests


async def fetch_relay_view(relay, para_id: int, sources: list[int], dests: list[int], watermarks: dict[int, int]) -> RelayView:
    header, justification = await relay.finalized()
    head_keys = [channel_head_key(s, para_id) for s in sources] + [channel_head_key(para_id, d) for d in dests]
    values, nodes = await relay.read(head_keys, header)
    heads = {}
    for key, (sender, receiver) in zip(head_keys, [(s, para_id) for s in sources] + [(para_id, d) for d in dests]):
        if values[key] is not None:
            heads[(sender, receiver)] = ChannelHead.decode_all(values[key])
    fetched, content_keys = {}, []
    for source in sources:
        queue = heads.get((source, para_id))
        start = watermarks.get(source, 0)
        if queue is None or queue["count"] <= start:
            continue
        end = min(queue["count"], start + FETCH_AHEAD)
        fetched[source] = (start, end)
        content_keys.extend(content_key(source, para_id, seq) for seq in range(start, end))
    nodes = list(nodes)
    for first in range(0, len(content_keys), READ_CHUNK):  # the RPC bounds the keys per call
        _, more = await relay.read(content_keys[first:first + READ_CHUNK], header)
        nodes.extend(more)
    return RelayView(header, justification, heads, fetched, tuple(dict.fromkeys(nodes)))


def relay_data(view: RelayView, runtime, state, para_id: int) -> RelayData | None:
    """The `set_relay_data` for a block built on ``state``, or None if there is nothing it can
    import (the view is older than what the chain already has)."""
    system = runtime.pallet("ParachainSystem")
    messaging = runtime.pallet("Messaging")
    last = system.LastRelay.get(state)
    if view.header.number == 0 or (last is not None and view.header.number < last["number"]):
        return None  # the relay's genesis is never imported (nothing finalizes it)
    justification = None if last is not None and last["hash"] == view.header.hash else view.justification
    deliver, watermarks, budget = [], {}, MAX_MESSAGES_PER_BLOCK
    for source, (first, end) in view.fetched.items():
        watermark = messaging.Inbound.get(state, source)["count"]
        count = min(end - watermark, budget)
        if watermark >= first and count > 0:
            deliver.append((source, count))
            watermarks[source] = watermark
            budget -= count
    acknowledge = [
        dest for (sender, dest), queue in view.heads.items()
        if sender == para_id and queue["processed"] > messaging.Acknowledged.get(state, dest)
    ]
    header_only = RelayData(view.header, justification)
    try:
        keys = relay_keys(para_id, deliver, acknowledge, watermarks)
        full = RelayData(view.header, justification, tuple(deliver), tuple(acknowledge),
                         tuple(narrow_proof(view.header.state_root, view.nodes, keys)))
    except MissingTrieNode:
        full = header_only
    block_number = runtime.pallet("System").Number.get(state)
    for data in (full, header_only):
        if _dry_run(runtime, state, block_number, data):
            return data
    return None


def _dry_run(runtime, state, block_number: int, data: RelayData) -> bool:
    scratch = StateOverlay(state.get)
    try:
        runtime.dispatch(runtime.new_context(scratch, block_number), NONE, data.call())
    except DispatchError as e:
        log.warning("relay data for relay #%d refused: %s", data.header.number, e)
        return False
    return True


__all__ = ["RelayView", "fetch_relay_view", "relay_data", "channels_of"]
