"""Chain specs: which chain a node runs — its name, runtime, consensus engine and authorities,
block time and genesis. JSON, in the spirit of Substrate's chain spec files.

    {
      "name": "Parawatt Local", "id": "parawatt_local", "chainType": "Local",
      "runtime": "dev",
      "consensus": {"engine": "aura", "blockTimeMs": 1000,
                    "authorities": ["0x<ed25519 public key>", …]},
      "properties": {"ss58Format": 42, "tokenDecimals": 12, "tokenSymbol": "UNIT"},
      "genesis": {"balances": [["<SS58 or 0x account>", 1000000000000000]], "sudo": "<account>"},
      "bootNodes": ["127.0.0.1:30333"]
    }

Authorities are identified by their nodes' ed25519 identity keys (the ones `parawatt ca issue`
binds into node certificates), so one key per node both joins the network and signs consensus.
Every problem is reported with the path of the offending key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from node.primitives.ss58 import InvalidAddress, parse_account

ENGINES = ("aura", "bft", "dev")
RUNTIMES = ("dev", "relay", "demand", "dg", "storage")
PARACHAIN_RUNTIMES = ("demand", "dg", "storage")
CHAIN_TYPES = ("Development", "Local", "Live")
MAX_BALANCE = (1 << 128) - 1


class ChainSpecError(ValueError):
    def __init__(self, path: str, problem: str):
        self.path, self.problem = path, problem
        super().__init__(f"chain spec: {path}: {problem}")


@dataclass(frozen=True)
class ConsensusSpec:
    engine: str  # "aura" (slots + BFT finality gadget), "bft" (instant finality) or "dev"
    block_time_ms: int
    authorities: tuple[bytes, ...]  # ed25519 public keys, in rotation order


@dataclass(frozen=True)
class ParaEntry:
    """A relay spec's parachain: the relay validates its blocks with the named runtime."""

    id: int
    name: str
    runtime: str
    genesis_head: bytes  # the para's SCALE genesis header


@dataclass(frozen=True)
class RelayLink:
    """A parachain spec's relay: where to reach it and whose signatures finalize it."""

    para_id: int
    rpc: tuple[str, ...]  # relay nodes' RPC URLs, tried in turn
    authorities: tuple[bytes, ...]  # the relay's ed25519 authorities
    chain_id: str  # the relay spec's id: what its votes and statements sign


@dataclass(frozen=True)
class ChainSpec:
    name: str
    id: str
    chain_type: str
    runtime: str
    consensus: ConsensusSpec
    properties: dict
    balances: tuple[tuple[bytes, int], ...]
    sudo: bytes | None
    boot_nodes: tuple[str, ...] = field(default=())
    paras: tuple[ParaEntry, ...] = ()  # relay specs
    backing_votes: int | None = None  # relay specs: Valid statements a candidate needs (default f + 1)
    relay: RelayLink | None = None  # parachain specs
    extra_genesis: dict = field(default_factory=dict)  # runtime-specific pallet sections, as given
    backing_groups: int | None = None  # relay specs: validator groups backing paras in turn (default n // votes)

    def genesis_config(self) -> dict:
        """The per-pallet genesis sections the runtime builds state from."""
        config = {"Balances": {"balances": list(self.balances)}, "Sudo": {"key": self.sudo}}
        config.update(self.extra_genesis)
        return config

    def to_json(self) -> dict:
        return {
            "name": self.name,
            "id": self.id,
            "chainType": self.chain_type,
            "runtime": self.runtime,
            "consensus": {
                "engine": self.consensus.engine,
                "blockTimeMs": self.consensus.block_time_ms,
                "authorities": ["0x" + a.hex() for a in self.consensus.authorities],
            },
            "properties": self.properties,
            "genesis": {
                "balances": [["0x" + who.hex(), amount] for who, amount in self.balances],
                "sudo": None if self.sudo is None else "0x" + self.sudo.hex(),
            },
            "bootNodes": list(self.boot_nodes),
            **({"paras": [{"id": p.id, "name": p.name, "runtime": p.runtime, "genesisHead": "0x" + p.genesis_head.hex()} for p in self.paras]} if self.paras else {}),
            **({"relay": {"paraId": self.relay.para_id, "rpc": list(self.relay.rpc),
                          "authorities": ["0x" + a.hex() for a in self.relay.authorities], "chainId": self.relay.chain_id}} if self.relay else {}),
            **({"backingVotes": self.backing_votes} if self.backing_votes is not None else {}),
            **({"backingGroups": self.backing_groups} if self.backing_groups is not None else {}),
        }


def _require(obj: dict, key: str, path: str, kind: type | tuple):
    if not isinstance(obj, dict):
        raise ChainSpecError(path or "(top level)", "must be an object")
    if key not in obj:
        raise ChainSpecError(f"{path}.{key}".lstrip("."), "is missing")
    value = obj[key]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        name = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise ChainSpecError(f"{path}.{key}".lstrip("."), f"must be {name}, not {type(value).__name__}")
    return value


def _account(value, path: str) -> bytes:
    if isinstance(value, bytes):
        raise ChainSpecError(path, "must be an SS58 address or 0x-prefixed 32-byte hex")
    try:
        return parse_account(value)
    except InvalidAddress as e:
        raise ChainSpecError(path, str(e)) from None


def parse_chain_spec(obj) -> ChainSpec:
    if not isinstance(obj, dict):
        raise ChainSpecError("(top level)", "must be a JSON object")
    known = {"name", "id", "chainType", "runtime", "consensus", "properties", "genesis", "bootNodes", "paras", "relay", "backingVotes", "backingGroups"}
    for key in obj:
        if key not in known:
            raise ChainSpecError(key, f"is not a chain spec key (expected one of {', '.join(sorted(known))})")
    name = _require(obj, "name", "", str)
    chain_id = _require(obj, "id", "", str)
    if not chain_id or not chain_id.replace("_", "").replace("-", "").isalnum():
        raise ChainSpecError("id", "must be letters, digits, '_' or '-'")
    chain_type = obj.get("chainType", "Local")
    if chain_type not in CHAIN_TYPES:
        raise ChainSpecError("chainType", f"must be one of {', '.join(CHAIN_TYPES)}")
    runtime = obj.get("runtime", "dev")
    if runtime not in RUNTIMES:
        raise ChainSpecError("runtime", f"must be one of {', '.join(RUNTIMES)}")

    c = _require(obj, "consensus", "", dict)
    engine = _require(c, "engine", "consensus", str)
    if engine not in ENGINES:
        raise ChainSpecError("consensus.engine", f"must be one of {', '.join(ENGINES)}, not {engine!r}")
    block_time = _require(c, "blockTimeMs", "consensus", int)
    if not 50 <= block_time <= 600_000:
        raise ChainSpecError("consensus.blockTimeMs", "must be between 50 and 600000")
    raw_authorities = _require(c, "authorities", "consensus", list)
    if not raw_authorities:
        raise ChainSpecError("consensus.authorities", "needs at least one authority")
    authorities = tuple(_account(a, f"consensus.authorities[{i}]") for i, a in enumerate(raw_authorities))
    if len(set(authorities)) != len(authorities):
        raise ChainSpecError("consensus.authorities", "lists an authority twice")

    properties = obj.get("properties", {"ss58Format": 42, "tokenDecimals": 12, "tokenSymbol": "UNIT"})
    if not isinstance(properties, dict):
        raise ChainSpecError("properties", "must be an object")

    g = _require(obj, "genesis", "", dict)
    balances = []
    for i, entry in enumerate(g.get("balances", [])):
        path = f"genesis.balances[{i}]"
        if not isinstance(entry, list) or len(entry) != 2:
            raise ChainSpecError(path, "must be [account, amount]")
        amount = entry[1]
        if not isinstance(amount, int) or isinstance(amount, bool) or not 0 < amount <= MAX_BALANCE:
            raise ChainSpecError(f"{path}[1]", "must be a positive integer amount in planck that fits in u128")
        balances.append((_account(entry[0], f"{path}[0]"), amount))
    sudo = g.get("sudo")
    extra = {k: v for k, v in g.items() if k not in ("balances", "sudo")}
    paras = tuple(_para_entry(p, f"paras[{i}]") for i, p in enumerate(obj.get("paras", [])))
    if runtime == "relay" and not paras:
        raise ChainSpecError("paras", "a relay spec lists its parachains")
    relay = _relay_link(obj["relay"]) if "relay" in obj else None
    backing_votes = obj.get("backingVotes")
    if backing_votes is not None and (not isinstance(backing_votes, int) or isinstance(backing_votes, bool)
                                      or not 1 <= backing_votes <= len(authorities)):
        raise ChainSpecError("backingVotes", f"must be between 1 and the {len(authorities)} authorities")
    backing_groups = obj.get("backingGroups")
    votes = backing_votes if backing_votes is not None else (len(authorities) - 1) // 3 + 1
    if backing_groups is not None and (not isinstance(backing_groups, int) or isinstance(backing_groups, bool)
                                       or not 1 <= backing_groups <= len(authorities) // votes):
        raise ChainSpecError("backingGroups", f"must be between 1 and {len(authorities) // votes} (groups of at least {votes} validators)")
    if runtime in PARACHAIN_RUNTIMES and relay is None:
        raise ChainSpecError("relay", f"a {runtime} parachain spec names its relay")
    boot = obj.get("bootNodes", [])
    if not isinstance(boot, list) or not all(isinstance(b, str) and ":" in b for b in boot):
        raise ChainSpecError("bootNodes", "must be a list of host:port strings")
    return ChainSpec(
        name, chain_id, chain_type, runtime, ConsensusSpec(engine, block_time, authorities), properties,
        tuple(balances), None if sudo is None else _account(sudo, "genesis.sudo"), tuple(boot),
        paras, backing_votes, relay, extra, backing_groups,
    )


def _hex(value, path: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ChainSpecError(path, "must be 0x-prefixed hex")
    try:
        return bytes.fromhex(value[2:])
    except ValueError:
        raise ChainSpecError(path, "is not valid hex") from None


def _para_id(value, path: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**32:
        raise ChainSpecError(path, "must be a u32 para id")
    return value


def _para_entry(obj, path: str) -> ParaEntry:
    para_id = _para_id(_require(obj, "id", path, int), f"{path}.id")
    runtime = _require(obj, "runtime", path, str)
    if runtime not in PARACHAIN_RUNTIMES:
        raise ChainSpecError(f"{path}.runtime", f"must be one of {', '.join(PARACHAIN_RUNTIMES)}")
    return ParaEntry(para_id, _require(obj, "name", path, str), runtime, _hex(_require(obj, "genesisHead", path, str), f"{path}.genesisHead"))


def _relay_link(obj) -> RelayLink:
    para_id = _para_id(_require(obj, "paraId", "relay", int), "relay.paraId")
    rpc = _require(obj, "rpc", "relay", list)
    if not rpc or not all(isinstance(u, str) and u.startswith(("http://", "https://", "ws://")) for u in rpc):
        raise ChainSpecError("relay.rpc", "must list relay RPC URLs (http://host:port)")
    authorities = tuple(_account(a, f"relay.authorities[{i}]") for i, a in enumerate(_require(obj, "authorities", "relay", list)))
    if not authorities:
        raise ChainSpecError("relay.authorities", "needs the relay's authorities")
    return RelayLink(para_id, tuple(rpc), authorities, _require(obj, "chainId", "relay", str))


def load_chain_spec(path: str | Path) -> ChainSpec:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise ChainSpecError(str(path), f"cannot be read ({e.strerror})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        raise ChainSpecError(str(path), f"is not JSON (line {e.lineno}: {e.msg})") from None
    return parse_chain_spec(obj)
