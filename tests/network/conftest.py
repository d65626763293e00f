"""Fixtures: ``harness`` runs a test once over memory and once over gRPC; ``logs`` watches the
network's log lines."""

from __future__ import annotations

import logging

import pytest

from tests.network.helpers import GrpcHarness, Harness, LogWatcher, MemoryHarness


@pytest.fixture(params=["memory", "grpc"])
def harness(request, nursery) -> Harness:
    return {"memory": MemoryHarness, "grpc": GrpcHarness}[request.param](nursery)


@pytest.fixture
def logs():
    logger = logging.getLogger("parawatt.network")
    watcher = LogWatcher()
    logger.addHandler(watcher)
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    yield watcher
    logger.removeHandler(watcher)
    logger.setLevel(old_level)
