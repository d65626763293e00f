"""The whole system in one process: a relay (4 validators) and the demand, DG and storage
parachains (2 collators each), every chain on its own in-memory network, on trio's virtual
clock. Channels between every pair of chains, sovereign accounts funded with each parachain's
issuance — the same genesis `parawatt testnet` writes. Extra genesis sections (the market's
aggregators on each para, a Market schedule on the relay) come in as ``para_genesis`` (per kind)
and ``relay_genesis``."""

from __future__ import annotations

import dataclasses

from node.consensus.authorities import AuthoritySet
from node.primitives.keys import Keypair
from node.runtime.executive import Executive
from node.runtime.overlay import StateOverlay
from node.service.chain import genesis_header
from parachains.collator import CollationService
from parachains.relay_client import LocalRelayClient
from parachains.runtimes import build_parachain_runtime
from relay.backing import BackingService
from relay.runtime import build_relay_runtime
from relay.xtransfers import TRANSIT_ACCOUNT, sovereign_account
from tests.multinode.harness import Cluster

RELAY_ID = b"parawatt-relay-test"
PARA_IDS = {"demand": 2000, "dg": 2001, "storage": 2002}
CAPACITY, MAX_MESSAGE = 1024, 4096


class MultiChain:
    def __init__(self, base, *, kinds=("demand", "dg", "storage"), collators=2, block_time_ms=1000, capacity=CAPACITY,
                 para_genesis: dict[str, dict] | None = None, relay_genesis: dict | None = None):
        self.kinds = list(kinds)
        self.para_genesis = para_genesis or {}
        self.relay_genesis = relay_genesis or {}
        chain_ids = [0] + [PARA_IDS[k] for k in self.kinds]
        self.channels = [(a, b, capacity, MAX_MESSAGE) for a in chain_ids for b in chain_ids if a != b]
        self.relay = Cluster(base / "relay", "aura", n=4, block_time_ms=block_time_ms)
        self.relay.names = [f"validator{i}" for i in range(4)]
        self.relay.keys = [Keypair.from_uri(f"//Validator{i}", crypto="ed25519") for i in range(4)]
        self.relay.authorities = AuthoritySet("ed25519", tuple(k.public_key for k in self.relay.keys), 0, RELAY_ID)
        self.relay_nodes: list = [None] * 4
        self.paras: dict[str, Cluster] = {}
        self.genesis_heads: dict[str, object] = {}
        self.issuance: dict[str, int] = {}
        for kind in self.kinds:
            cluster = Cluster(base / kind, "aura", n=collators, block_time_ms=block_time_ms)
            cluster.names = [f"{kind}-collator{i}" for i in range(collators)]
            cluster.config = self._para_config(kind, cluster, cluster.config)
            self.paras[kind] = cluster
        self.relay.config = self._relay_config(self.relay.config)

    # -- configs ------------------------------------------------------------------------------
    def _para_config(self, kind, cluster, base_config):
        para_id = PARA_IDS[kind]

        def config(i):
            cfg = base_config(i)
            genesis = {**cfg.genesis, **self.para_genesis.get(kind, {})}
            genesis["Messaging"] = {"channels": self.channels}
            genesis["ParachainSystem"] = {"relay_authorities": list(self.relay.authorities.keys), "relay_chain_id": RELAY_ID}
            client = LocalRelayClient(self.relay_nodes, self.relay.authorities)
            ext = lambda node, key=cluster.keys[i].public_key: CollationService(node, para_id=para_id, relay=client, collator_key=key)  # noqa: E731
            runtime = build_parachain_runtime(kind, block_time_ms=cfg.block_time_ms)
            return dataclasses.replace(cfg, runtime=runtime, genesis=genesis, extensions=(ext,))

        return config

    def _relay_config(self, base_config):
        def config(i):
            cfg = base_config(i)
            genesis = {**cfg.genesis, **self.relay_genesis}
            genesis["Offences"] = {"authorities": list(self.relay.authorities.keys), "crypto": "ed25519", "chain_id": RELAY_ID}
            genesis["Paras"] = {
                "paras": [{"id": PARA_IDS[k], "name": k, "code": f"parawatt-{k}-v1".encode(),
                           "genesis_head": self.genesis_heads[k].encode()} for k in self.kinds],
                "validators": list(self.relay.authorities.keys),
                "chain_id": RELAY_ID,
            }
            genesis["Router"] = {"channels": self.channels}
            genesis["Balances"] = {"balances": list(genesis["Balances"]["balances"])
                                   + [(sovereign_account(PARA_IDS[k]), self.issuance[k]) for k in self.kinds]}
            executives = {PARA_IDS[k]: Executive(build_parachain_runtime(k, block_time_ms=cfg.block_time_ms),
                                                 self.genesis_heads[k].hash) for k in self.kinds}
            ext = lambda node, key=self.relay.keys[i]: BackingService(node, keypair=key, para_executives=executives)  # noqa: E731
            return dataclasses.replace(cfg, runtime=build_relay_runtime(block_time_ms=cfg.block_time_ms), genesis=genesis,
                                       extensions=(ext,))

        return config

    # -- running ------------------------------------------------------------------------------
    async def start(self, nursery):
        for kind, cluster in self.paras.items():
            cfg = cluster.config(0)
            self.genesis_heads[kind] = genesis_header(cfg.runtime, cfg.genesis)
            self.issuance[kind] = sum(amount for _, amount in cfg.genesis["Balances"]["balances"])
        for i in range(4):
            self.relay_nodes[i] = await self.relay.start(nursery, i)
        for cluster in self.paras.values():
            for i in range(len(cluster.names)):
                await cluster.start(nursery, i)

    def stop_relay(self, i: int) -> None:
        self.relay.stop(i)
        self.relay_nodes[i] = None

    async def restart_relay(self, nursery, i: int) -> None:
        self.relay_nodes[i] = await self.relay.start(nursery, i)

    def stop_collator(self, kind: str, i: int) -> None:
        self.paras[kind].stop(i)

    async def restart_collator(self, nursery, kind: str, i: int):
        """Start collator ``i`` of ``kind`` again on its base path: its database persists."""
        return await self.paras[kind].start(nursery, i)

    def cluster(self, chain: str):
        return self.relay if chain == "relay" else self.paras[chain]

    def live_nodes(self, chain: str) -> list:
        """The running nodes of ``chain`` ("relay" or a para kind); empty while all are down."""
        return list(self.cluster(chain).nodes.values())

    # -- looking at it ------------------------------------------------------------------------
    def node(self, chain: str):
        """A running node of ``chain`` ("relay" or a para kind)."""
        return next(iter(self.cluster(chain).nodes.values()))

    def finalized_state(self, chain: str) -> StateOverlay:
        node = self.node(chain)
        view = node.chain.state_at(node.chain.finalized.hash)
        return StateOverlay(view.get)

    def anchored_state(self, chain: str, relay_state: StateOverlay) -> StateOverlay:
        """A parachain's state as the relay has anchored it in ``relay_state``."""
        paras = self.node("relay").config.runtime.pallet("Paras")
        head = paras.head_of(relay_state, PARA_IDS[chain])
        state = self.para_state(chain, head.head_hash)
        if state is None:
            raise LookupError(f"no running {chain} node has block 0x{head.head_hash.hex()}")
        return state

    def para_state(self, chain: str, block_hash: bytes) -> StateOverlay | None:
        """``chain``'s state at ``block_hash`` from any running node that has the block (a
        restarted collator may still be syncing); None if none has. Read it before the next
        await: a view of the best block reads the live flat state."""
        for node in self.live_nodes(chain):
            view = node.chain.state_at(block_hash)
            if view is not None:
                return StateOverlay(view.get)
        return None

    def supply(self, relay_state: StateOverlay) -> dict:
        """The supply check at one relay state, with every parachain as anchored there:
        sovereign == issuance + fees burned per para, and transit == the Transit entries."""
        relay_runtime = self.node("relay").config.runtime
        balances = relay_runtime.pallet("Balances")
        report = {"relay": balances.TotalIssuance.get(relay_state)
                  + relay_runtime.pallet("TransactionPayment").FeesBurned.get(relay_state)}
        for kind in self.kinds:
            state = self.anchored_state(kind, relay_state)
            runtime = self.node(kind).config.runtime
            backed = runtime.pallet("Balances").TotalIssuance.get(state) + runtime.pallet("TransactionPayment").FeesBurned.get(state)
            report[kind] = (balances.free_balance(relay_state, sovereign_account(PARA_IDS[kind])), backed)
        report["transit"] = balances.free_balance(relay_state, TRANSIT_ACCOUNT)
        return report


def submit_everywhere(nodes, data: bytes) -> None:
    """Hand a signed extrinsic to every live node of its chain; a node that knows it already, or
    cannot take it on its best block yet, is skipped (the caller resubmits until it is final)."""
    from node.primitives.scale import DecodeError
    from node.runtime.errors import TransactionValidityError
    from node.service.txpool import PoolError

    for node in nodes:
        try:
            node.submit(data)
        except (PoolError, TransactionValidityError, DecodeError):
            pass
