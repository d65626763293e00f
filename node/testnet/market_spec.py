"""The market part of a testnet spec: the trading-period settings, `[market]` and `[[aggregators]]`.

    [settings]
    market_period_minutes = 60      # 60 or 15 (market.md "Time")
    market_period_blocks = 4        # time compression: a period lasts this many relay blocks
                                    # (omit for real time: minutes · 60 s of blocks)
    [market]
    gate_offset_blocks = 1          # orders for a period close this many blocks before it starts
    deadline_blocks = 4             # a period not committed this many blocks after its gate refunds
    grid_operator = "5F…"           # SS58 or 0x hex; default: the relay's grid account
    tou = [{from = "23:00", to = "07:00", grid_sale = 0.38, grid_purchase = 0.24}, …]

    [[aggregators]]                 # registered on its home chain in genesis and funded there
    name = "Agg1"                   # account: the key of the URI //Agg1 (sr25519), or `uri`
    chain = "dg"                    # a parachain of this spec
    kind = "pv"                     # load, ev (demand); pv, wind (dg); battery (storage)
    capacity_kw = 500               # pv, wind: peak power
    capacity_kwh = 10000            # battery: energy capacity …
    state_of_charge_kwh = 5000      # … and what it holds now
    balance = 1000000000000000000   # planck on its home chain
    credit = 0.846                  # its initial credit on the relay (default 1)

Compression is ``period length / (market_period_blocks · relay block time)`` and must be a whole
number: the parachains' clocks then count market time that fast, and the relay's gates in blocks
agree with them (`parachains.periods`, `relay.market`). Amounts are exact decimals (TOML is read
with ``parse_float=Decimal``); every problem is a `SpecError` naming the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from bridge.case import decode_credit, decode_energy, decode_tou_slots
from bridge.errors import CaseFileError
from bridge.tariff import Tariff, TouSchedule, TouSlot
from node.primitives.keys import InvalidKey, Keypair
from node.primitives.ss58 import InvalidAddress, parse_account
from node.testnet.spec_errors import SpecError, spec_int
from parachains.roles import ResourceKind, chain_rules

MINUTE_MS = 60_000
AGGREGATOR_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
# λ_grid 0.20, λ_0 0.05 all day: relay.market's own default when a spec names no TOU
DEFAULT_TOU = TouSchedule((TouSlot(0, 0, Tariff(200_000_000_000, 50_000_000_000)),))


@dataclass(frozen=True, slots=True)
class MarketPlan:
    period_minutes: int
    period_blocks: int
    compression: int  # market ms per ms of the chains' clocks
    gate_offset_blocks: int
    deadline_blocks: int
    grid_operator: bytes | None
    tou: TouSchedule

    def relay_genesis(self, aggregators: tuple["AggregatorPlan", ...]) -> dict:
        """The relay spec's `Market` section (JSON)."""
        section = {
            "period_ms": self.period_minutes * MINUTE_MS, "period_blocks": self.period_blocks,
            "gate_offset_blocks": self.gate_offset_blocks, "deadline_blocks": self.deadline_blocks,
            "compression": self.compression,
            "tariff": [[s.start, s.end, s.tariff.grid_sale, s.tariff.grid_purchase] for s in self.tou.slots],
            "credits": [["0x" + a.account.hex(), a.credit] for a in aggregators if a.credit is not None],
        }
        if self.grid_operator is not None:
            section["grid_operator"] = "0x" + self.grid_operator.hex()
        return section

    def para_genesis(self, relay_block_time_ms: int) -> dict:
        """A parachain spec's `Periods` section: the same periods, and an order window that
        closes when the relay's gate does."""
        return {"length_ms": self.period_minutes * MINUTE_MS, "compression": self.compression,
                "gate_closure_ms": self.gate_offset_blocks * relay_block_time_ms * self.compression}


@dataclass(frozen=True, slots=True)
class AggregatorPlan:
    name: str
    chain: str  # the parachain's name in the spec
    kind: ResourceKind
    uri: str
    account: bytes
    capacity: int  # W (pv, wind) or 10 Wh units (battery); 0 for loads
    state_of_charge: int  # 10 Wh units (battery)
    balance: int  # planck on the home chain
    credit: int | None  # ppm on the relay; None: the market's initial credit

    def registry_genesis(self) -> dict:
        return {"account": "0x" + self.account.hex(), "kind": self.kind.value, "capacity": self.capacity,
                "state_of_charge": self.state_of_charge}


def parse_market(settings: dict, market: dict, relay_block_time_ms: int) -> MarketPlan:
    """From ``[settings]``' market keys and the ``[market]`` table (both already checked for
    unknown keys by the caller's lists: `SETTINGS_KEYS`, `MARKET_KEYS`)."""
    minutes = settings.get("market_period_minutes", 60)
    if minutes not in (15, 60) or isinstance(minutes, bool):
        raise SpecError("settings.market_period_minutes", f"must be 60 or 15, not {minutes!r}")
    period_ms = minutes * MINUTE_MS
    if "market_period_blocks" in settings:
        blocks = spec_int(settings, "market_period_blocks", "settings", None, 2, 1_000_000)
        compression, rest = divmod(period_ms, blocks * relay_block_time_ms)
        if rest or compression < 1:
            raise SpecError("settings.market_period_blocks", f"a {minutes}-minute period in {blocks} blocks of "
                                  f"{relay_block_time_ms} ms is not a whole time-compression factor")
        gate, deadline = 1, blocks
    else:  # real time
        blocks, rest = divmod(period_ms, relay_block_time_ms)
        if rest:
            raise SpecError("relaychain.block_time_ms", f"must divide the {minutes}-minute period (or set "
                                  "settings.market_period_blocks)")
        compression, gate, deadline = 1, 600_000 // relay_block_time_ms, 300_000 // relay_block_time_ms
    gate = spec_int(market, "gate_offset_blocks", "market", gate, 0, blocks - 1)
    deadline = spec_int(market, "deadline_blocks", "market", deadline, 1, 1_000_000)
    operator = None
    if "grid_operator" in market:
        operator = _account(market["grid_operator"], "market.grid_operator")
    tou = DEFAULT_TOU
    if "tou" in market:
        try:
            tou = decode_tou_slots(market["tou"], "market.tou")
        except CaseFileError as e:
            raise SpecError(e.field, str(e).split(": ", 1)[-1]) from None
    return MarketPlan(minutes, blocks, compression, gate, deadline, operator, tou)


def parse_aggregators(value, para_runtimes: dict[str, str]) -> tuple[AggregatorPlan, ...]:
    """``[[aggregators]]``; ``para_runtimes`` maps the spec's parachain names to their runtimes."""
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise SpecError("aggregators", "must be a list of tables ([[aggregators]])")
    out: list[AggregatorPlan] = []
    for i, obj in enumerate(value):
        path = f"aggregators[{i}]"
        for key in obj:
            if key not in AGGREGATOR_KEYS:
                raise SpecError(f"{path}.{key}", f"unknown key (known: {', '.join(AGGREGATOR_KEYS)})")
        name = obj.get("name")
        if not isinstance(name, str) or not AGGREGATOR_NAME.match(name):
            raise SpecError(f"{path}.name", f"must be a name (letters, digits, _ or -), not {name!r}")
        if any(a.name == name for a in out):
            raise SpecError(f"{path}.name", f"{name!r} is listed twice")
        chain = obj.get("chain")
        if chain not in para_runtimes:
            raise SpecError(f"{path}.chain", f"must name a parachain of this spec ({', '.join(sorted(para_runtimes))}), not {chain!r}")
        rules = chain_rules(para_runtimes[chain])
        try:
            kind = ResourceKind(obj.get("kind"))
        except ValueError:
            kind = None
        if kind not in rules.resources:
            allowed = ", ".join(sorted(k.value for k in rules.resources))
            raise SpecError(f"{path}.kind", f"on the {rules.kind} chain must be one of {allowed}, not {obj.get('kind')!r}")
        capacity, soc = _capacity(obj, path, kind)
        uri = obj.get("uri", f"//{name}")
        try:
            account = Keypair.from_uri(uri).public_key if isinstance(uri, str) else None
        except InvalidKey as e:
            raise SpecError(f"{path}.uri", f"is not a secret URI: {e}") from None
        if account is None:
            raise SpecError(f"{path}.uri", "must be a secret URI such as //Agg1")
        if any(a.account == account for a in out):
            raise SpecError(f"{path}.uri", "gives the account of another aggregator")
        credit = None
        if "credit" in obj:
            credit = _decimal_field(decode_credit, obj["credit"], f"{path}.credit")
        out.append(AggregatorPlan(name, chain, kind, uri, account, capacity, soc,
                                  spec_int(obj, "balance", path, 10**18, 10**10, 10**30), credit))
    return tuple(out)


AGGREGATOR_KEYS = ("name", "chain", "kind", "uri", "capacity_kw", "capacity_kwh", "state_of_charge_kwh", "balance", "credit")
SETTINGS_KEYS = ("market_period_minutes", "market_period_blocks")
MARKET_KEYS = ("gate_offset_blocks", "deadline_blocks", "grid_operator", "tou")


def _capacity(obj: dict, path: str, kind: ResourceKind) -> tuple[int, int]:
    wanted = {True: ("capacity_kw",), False: ()}[kind.is_generator]
    if kind is ResourceKind.BATTERY:
        wanted = ("capacity_kwh", "state_of_charge_kwh")
    for key in ("capacity_kw", "capacity_kwh", "state_of_charge_kwh"):
        if key in obj and key not in wanted:
            raise SpecError(f"{path}.{key}", f"does not apply to a {kind.value} aggregator")
        if key not in obj and key in wanted:
            raise SpecError(f"{path}.{key}", "missing")
    if kind.is_generator:
        watts = _decimal_field(decode_energy, obj["capacity_kw"], f"{path}.capacity_kw") * 10  # kW with 2 decimals -> W
        if watts == 0:
            raise SpecError(f"{path}.capacity_kw", "must be positive")
        return watts, 0
    if kind is ResourceKind.BATTERY:
        capacity = _decimal_field(decode_energy, obj["capacity_kwh"], f"{path}.capacity_kwh")
        soc = _decimal_field(decode_energy, obj["state_of_charge_kwh"], f"{path}.state_of_charge_kwh")
        if capacity == 0 or soc > capacity:
            raise SpecError(f"{path}.state_of_charge_kwh", "must lie within a positive capacity_kwh")
        return capacity, soc
    return 0, 0


def _decimal_field(decode, value, key: str) -> int:
    if isinstance(value, float):  # never: TOML is read with parse_float=Decimal
        value = Decimal(str(value))
    try:
        return decode(value, key)
    except CaseFileError as e:
        raise SpecError(key, str(e).split(": ", 1)[-1]) from None


def _account(value, key: str) -> bytes:
    try:
        return parse_account(value) if isinstance(value, str) else parse_account(None)
    except InvalidAddress as e:
        raise SpecError(key, f"must be an SS58 address or 32 bytes of 0x hex: {e}") from None
