"""The testnet spec: a TOML file in the spirit of zombienet's network definitions.

    [relaychain]                      [[parachains]]
    validators = 4                    id = 2000
    consensus = "aura"                name = "demand"
    block_time_ms = 1000              runtime = "demand"
    backing_groups = 2  # optional    collators = 2
    [settings]                        consensus = "aura"
    ready_timeout_s = 60              block_time_ms = 1000

    [[channels]]                      [[accounts]]
    sender = "demand"                 address = "5Grw…"   # SS58 or 0x hex
    recipient = "dg"                  balance = 1000000000000000
    capacity = 8192                   # funded on every chain, besides the dev accounts
    max_message_size = 16384
    # no [[channels]]: every pair of parachains; the relay <-> parachain channels always exist

The market's keys (`[settings]` market_period_minutes/market_period_blocks, `[market]`,
`[[aggregators]]`) are described in `node.testnet.market_spec`.

Parsing is pure (text in, `TestnetSpec` out); every problem is a `SpecError` naming the key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from node.primitives.ss58 import InvalidAddress, ss58_decode
from node.testnet.spec_errors import SpecError, spec_int
from node.testnet.market_spec import MARKET_KEYS, SETTINGS_KEYS, AggregatorPlan, MarketPlan, parse_aggregators, parse_market
from node.testnet.local import CHANNEL_CAPACITY, CHANNEL_MAX_MESSAGE, PARA_IDS, AccountPlan, ChannelPlan, ParaPlan

ENGINES = ("aura", "bft")  # "dev" is the single-node chain, not a network's
NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")


@dataclass(frozen=True, slots=True)
class RelaySpec:
    validators: int
    consensus: str
    block_time_ms: int
    backing_groups: int | None = None  # None: the relay's default (validators // backing votes)


@dataclass(frozen=True, slots=True)
class ParachainSpec:
    id: int
    name: str
    runtime: str
    collators: int
    consensus: str
    block_time_ms: int

    def plan(self) -> ParaPlan:
        return ParaPlan(self.name, self.runtime, self.collators, self.consensus, self.block_time_ms)


@dataclass(frozen=True, slots=True)
class Settings:
    ready_timeout_s: int = 60


@dataclass(frozen=True, slots=True)
class TestnetSpec:
    relay: RelaySpec
    parachains: tuple[ParachainSpec, ...]
    settings: Settings
    channels: tuple[ChannelPlan, ...] | None = None  # None: every pair of parachains
    accounts: tuple[AccountPlan, ...] = ()
    market: MarketPlan | None = None  # None: the relay's market defaults, real time
    aggregators: tuple[AggregatorPlan, ...] = ()


def _table(obj: dict, key: str) -> dict:
    value = obj.get(key, {})
    if not isinstance(value, dict):
        raise SpecError(key, f"must be a table ([{key}])")
    return value


def _no_unknown(obj: dict, path: str, known: tuple[str, ...]) -> None:
    for key in obj:
        if key not in known:
            raise SpecError(f"{path}.{key}" if path else key, f"unknown key (known: {', '.join(known)})")


def _choice(obj: dict, key: str, path: str, default: str | None, choices: tuple[str, ...]) -> str:
    if key not in obj:
        if default is None:
            raise SpecError(f"{path}.{key}", "missing")
        return default
    value = obj[key]
    if value not in choices:
        raise SpecError(f"{path}.{key}", f"must be one of {', '.join(choices)}, not {value!r}")
    return value


def _relay(obj: dict) -> RelaySpec:
    _no_unknown(obj, "relaychain", ("validators", "consensus", "block_time_ms", "backing_groups"))
    validators = spec_int(obj, "validators", "relaychain", 4, 1, 64)
    groups = None
    if "backing_groups" in obj:  # groups of at least f + 1 validators (the backing threshold)
        groups = spec_int(obj, "backing_groups", "relaychain", None, 1, max(1, validators // ((validators - 1) // 3 + 1)))
    return RelaySpec(
        validators,
        _choice(obj, "consensus", "relaychain", "aura", ENGINES),
        spec_int(obj, "block_time_ms", "relaychain", 1000, 50, 600_000),
        groups,
    )


def _parachain(obj, path: str, relay: RelaySpec) -> ParachainSpec:
    if not isinstance(obj, dict):
        raise SpecError(path, "must be a table ([[parachains]])")
    _no_unknown(obj, path, ("id", "name", "runtime", "collators", "consensus", "block_time_ms"))
    runtime = _choice(obj, "runtime", path, None, tuple(PARA_IDS))
    para_id = spec_int(obj, "id", path, PARA_IDS[runtime], 0, 2**32 - 1)
    if para_id != PARA_IDS[runtime]:
        raise SpecError(f"{path}.id", f"the {runtime} runtime runs as para {PARA_IDS[runtime]}, not {para_id}")
    name = obj.get("name", runtime)
    if not isinstance(name, str) or not NAME.match(name) or name == "relay":
        raise SpecError(f"{path}.name", f"must be a lowercase name (a-z, 0-9, _; not 'relay'), not {name!r}")
    return ParachainSpec(
        para_id, name, runtime,
        spec_int(obj, "collators", path, 2, 1, 16),
        _choice(obj, "consensus", path, "aura", ENGINES),
        spec_int(obj, "block_time_ms", path, relay.block_time_ms, 50, 600_000),
    )


def parse_spec(text: str) -> TestnetSpec:
    try:
        obj = tomllib.loads(text, parse_float=Decimal)  # prices and energy stay exact decimals
    except tomllib.TOMLDecodeError as e:
        raise SpecError("(file)", f"not valid TOML: {e}") from None
    _no_unknown(obj, "", ("relaychain", "parachains", "settings", "channels", "accounts", "market", "aggregators"))
    relay = _relay(_table(obj, "relaychain"))
    entries = obj.get("parachains", [])
    if not isinstance(entries, list) or not entries:
        raise SpecError("parachains", "list at least one parachain ([[parachains]])")
    paras = tuple(_parachain(p, f"parachains[{i}]", relay) for i, p in enumerate(entries))
    for i, para in enumerate(paras):
        for earlier in paras[:i]:
            if para.name == earlier.name:
                raise SpecError(f"parachains[{i}].name", f"{para.name!r} is already the name of parachains[{paras.index(earlier)}]")
            if para.runtime == earlier.runtime:
                raise SpecError(f"parachains[{i}].runtime", f"para {para.id} ({para.runtime}) is already parachains[{paras.index(earlier)}]")
    settings = _table(obj, "settings")
    _no_unknown(settings, "settings", ("ready_timeout_s",) + SETTINGS_KEYS)
    channels = None if "channels" not in obj else _channels(obj["channels"], {p.name for p in paras})
    accounts = _accounts(obj.get("accounts", []))
    market_table = _table(obj, "market")
    _no_unknown(market_table, "market", MARKET_KEYS)
    market = None
    if market_table or any(k in settings for k in SETTINGS_KEYS):
        market = parse_market(settings, market_table, relay.block_time_ms)
    aggregators = parse_aggregators(obj.get("aggregators", []), {p.name: p.runtime for p in paras})
    return TestnetSpec(relay, paras, Settings(spec_int(settings, "ready_timeout_s", "settings", 60, 1, 3600)), channels, accounts,
                       market, aggregators)


def _list_of_tables(value, key: str) -> list[dict]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SpecError(key, f"must be a list of tables ([[{key}]])")
    return value


def _channels(value, names: set[str]) -> tuple[ChannelPlan, ...]:
    out = []
    for i, obj in enumerate(_list_of_tables(value, "channels")):
        path = f"channels[{i}]"
        _no_unknown(obj, path, ("sender", "recipient", "capacity", "max_message_size"))
        ends = []
        for key in ("sender", "recipient"):
            if key not in obj:
                raise SpecError(f"{path}.{key}", "missing")
            if obj[key] not in names:
                raise SpecError(f"{path}.{key}", f"must name a parachain of this spec ({', '.join(sorted(names))}), not {obj[key]!r}")
            ends.append(obj[key])
        if ends[0] == ends[1]:
            raise SpecError(f"{path}.recipient", "a channel joins two different parachains")
        if any((c.sender, c.recipient) == tuple(ends) for c in out):
            raise SpecError(path, f"the channel {ends[0]} -> {ends[1]} is listed twice")
        out.append(ChannelPlan(ends[0], ends[1], spec_int(obj, "capacity", path, CHANNEL_CAPACITY, 1, 1_000_000),
                               spec_int(obj, "max_message_size", path, CHANNEL_MAX_MESSAGE, 1, 1 << 20)))
    return tuple(out)


def _accounts(value) -> tuple[AccountPlan, ...]:
    out = []
    for i, obj in enumerate(_list_of_tables(value, "accounts")):
        path = f"accounts[{i}]"
        _no_unknown(obj, path, ("address", "balance"))
        address = obj.get("address")
        try:
            if not isinstance(address, str):
                raise InvalidAddress("missing")
            if address.startswith("0x"):
                if len(bytes.fromhex(address[2:])) != 32:
                    raise InvalidAddress("0x hex must be 32 bytes")
            else:
                ss58_decode(address)
        except (InvalidAddress, ValueError) as e:
            raise SpecError(f"{path}.address", f"must be an SS58 address or 32 bytes of 0x hex: {e}") from None
        out.append(AccountPlan(address, spec_int(obj, "balance", path, None, 10**10, 10**30)))
    return tuple(out)


def load_spec(path: Path) -> TestnetSpec:
    try:
        text = Path(path).read_text()
    except OSError as e:
        raise SpecError("(file)", f"cannot read {path}: {e.strerror}") from None
    return parse_spec(text)
