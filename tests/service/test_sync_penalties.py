"""What a block from a peer costs the peer when it cannot be imported."""

from types import SimpleNamespace

from node.network.messages import BlockData
from node.primitives.header import Header
from node.service.chain import InvalidBlock, StaleBlock
from node.service.sync import INVALID_BLOCK_PENALTY, SyncService


def sync_refusing_with(error: Exception):
    reports, invalid = [], []

    def import_block(block, *, justification=None):
        raise error

    node = SimpleNamespace(
        import_block=import_block,
        network=SimpleNamespace(report=lambda peer, penalty, reason: reports.append((peer, penalty))),
        consensus=SimpleNamespace(on_invalid_block=invalid.append),
    )
    header = Header(bytes(32), 7, bytes(32), bytes(32), ())
    return SyncService(node), BlockData(header.hash, header, (), None), reports, invalid


def test_a_block_left_behind_by_finality_costs_its_sender_nothing():
    sync, data, reports, invalid = sync_refusing_with(StaleBlock("the block is not on the finalized chain"))
    assert sync._import("peer", data) is False
    assert reports == [] and invalid == []


def test_an_invalid_block_costs_its_sender_and_is_never_voted_for():
    sync, data, reports, invalid = sync_refusing_with(InvalidBlock("state root mismatch"))
    assert sync._import("peer", data) is False
    assert reports == [("peer", INVALID_BLOCK_PENALTY)] and invalid == [data.hash]
