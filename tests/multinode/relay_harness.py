"""A relay chain (4 validators) and a parachain (2 collators) in one process, on two in-memory
networks and trio's virtual clock; collators reach the relay through LocalRelayClient."""

from __future__ import annotations

import dataclasses

from node.consensus.authorities import AuthoritySet
from node.primitives.keys import Keypair
from node.runtime.executive import Executive
from parachains.collator import CollationService
from parachains.relay_client import LocalRelayClient
from relay.backing import BackingService
from relay.runtime import build_relay_runtime
from tests.multinode.harness import CHAIN_ID, Cluster

PARA_ID = 2000
RELAY_ID = b"parawatt-relay-test"


class RelayAndPara:
    def __init__(self, base, *, para_engine="aura", relay_engine="aura", collators=2, para_runtime=None, collator_overrides=None):
        self.para = Cluster(base / "para", para_engine, n=collators)
        self.para.names = [f"collator{i}" for i in range(collators)]
        self.relay = Cluster(base / "relay", relay_engine, n=4)
        self.relay.names = [f"validator{i}" for i in range(4)]
        self.relay.keys = [Keypair.from_uri(f"//Validator{i}", crypto="ed25519") for i in range(4)]
        self.relay.authorities = AuthoritySet("ed25519", tuple(k.public_key for k in self.relay.keys), 0, RELAY_ID)
        self.relay_nodes: list = []
        self.para_runtime = para_runtime
        self.collator_overrides = collator_overrides or {}
        para_config, relay_config = self.para.config, self.relay.config
        self._para_genesis = None

        def para_cfg(i):
            cfg = para_config(i)
            if self.para_runtime is not None:
                cfg = dataclasses.replace(cfg, runtime=self.para_runtime)
            client = LocalRelayClient(self.relay_nodes, self.relay.authorities)
            ext = lambda node, key=self.para.keys[i].public_key: CollationService(node, para_id=PARA_ID, relay=client, collator_key=key)  # noqa: E731
            cfg = dataclasses.replace(cfg, extensions=(ext,))
            return dataclasses.replace(cfg, **self.collator_overrides.get(i, {}))

        def relay_cfg(i):
            cfg = relay_config(i)
            genesis = dict(cfg.genesis)
            genesis["Offences"] = {"authorities": list(self.relay.authorities.keys), "crypto": "ed25519", "chain_id": RELAY_ID}
            genesis["Paras"] = {
                "paras": [{"id": PARA_ID, "name": "demand", "code": b"parawatt-demand-v1", "genesis_head": self._para_genesis.encode()}],
                "validators": list(self.relay.authorities.keys),
                "chain_id": RELAY_ID,
            }
            runtime = build_relay_runtime(block_time_ms=cfg.block_time_ms)
            para_runtime = self.para_runtime or para_config(0).runtime
            executive = Executive(para_runtime, self._para_genesis.hash)
            ext = lambda node, key=self.relay.keys[i]: BackingService(node, keypair=key, para_executives={PARA_ID: executive})  # noqa: E731
            return dataclasses.replace(cfg, runtime=runtime, genesis=genesis, extensions=(ext,))

        self.para.config, self.relay.config = para_cfg, relay_cfg

    async def start(self, nursery):
        first = await self.para.start(nursery, 0)
        self._para_genesis = first.chain.header(first.chain.genesis_hash)
        for i in range(1, len(self.para.names)):
            await self.para.start(nursery, i)
        for i in range(4):
            node = await self.relay.start(nursery, i)
            self.relay_nodes.append(node)

    def collator(self, i=0):
        node = self.para.nodes[self.para.names[i]]
        return node, next(e for e in node.extensions if isinstance(e, CollationService))

    def relay_head_number(self) -> int:
        backing = next(e for e in self.relay_nodes[0].extensions if isinstance(e, BackingService))
        from node.runtime.overlay import StateOverlay

        head = backing.paras.head_of(StateOverlay(self.relay_nodes[0].db.state), PARA_ID)
        return head.header.number
