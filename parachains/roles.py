"""Which resources live on which parachain, what they may trade, and how much energy they may
commit (market.md "Orders"; issue 4, item 5).

- demand (para 2000): load and EV aggregators; they buy. Import meters.
- DG (para 2001): PV and wind aggregators with a registered capacity (watts); they sell, at most
  the energy their capacity yields in a period. Export meters.
- storage (para 2002): batteries with a capacity and a state of charge (energy); they buy at most
  the room left (capacity − state of charge) and sell at most the state of charge. Import and
  export meters.

A battery's limits are over all its open orders and unsettled obligations together, not per
period: its state of charge changes only when deliveries are recorded, so netting a later
period's buy against an earlier sell would promise energy the battery may not have.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from bridge.orders import CHAIN_SIDES, Side
from relay.primitives import DEFAULT_PARA_IDS

from parachains.periods import PeriodConfig

MS_PER_HOUR = 3_600_000
WH_PER_UNIT = 10  # energy is counted in units of 10 Wh


class ResourceKind(Enum):
    LOAD = "load"
    EV = "ev"
    PV = "pv"
    WIND = "wind"
    BATTERY = "battery"

    @property
    def variant(self) -> str:
        """The SCALE variant name (`ResourceKind::Pv`)."""
        return _VARIANTS[self]

    @staticmethod
    def from_variant(name: str) -> "ResourceKind":
        return _BY_VARIANT[name]

    @property
    def is_generator(self) -> bool:
        return self in (ResourceKind.PV, ResourceKind.WIND)


_VARIANTS = {ResourceKind.LOAD: "Load", ResourceKind.EV: "Ev", ResourceKind.PV: "Pv", ResourceKind.WIND: "Wind", ResourceKind.BATTERY: "Battery"}
_BY_VARIANT = {v: k for k, v in _VARIANTS.items()}


class Flow(Enum):
    """The direction a meter measures: import is taken from the grid, export is fed into it."""

    IMPORT = "import"
    EXPORT = "export"

    @property
    def variant(self) -> str:
        return self.value.capitalize()

    @staticmethod
    def from_variant(name: str) -> "Flow":
        return Flow(name.lower())


@dataclass(frozen=True, slots=True)
class ChainRules:
    kind: str  # "demand" | "dg" | "storage"
    para_id: int
    resources: frozenset[ResourceKind]
    sides: frozenset[Side]
    flows: frozenset[Flow]

    @property
    def spec_name(self) -> str:
        return f"parawatt-{self.kind}"

    @property
    def crate(self) -> str:
        return f"parawatt_{self.kind}_runtime"


def chain_rules(kind: str, para_id: int | None = None) -> ChainRules:
    try:
        resources, sides, flows = _RULES[kind]
    except KeyError:
        raise ValueError(f"unknown parachain kind {kind!r}; one of {', '.join(_RULES)}") from None
    return ChainRules(kind, DEFAULT_PARA_IDS[kind] if para_id is None else para_id, resources, sides, flows)


_RULES = {
    "demand": (frozenset({ResourceKind.LOAD, ResourceKind.EV}), CHAIN_SIDES["demand"], frozenset({Flow.IMPORT})),
    "dg": (frozenset({ResourceKind.PV, ResourceKind.WIND}), CHAIN_SIDES["dg"], frozenset({Flow.EXPORT})),
    "storage": (frozenset({ResourceKind.BATTERY}), CHAIN_SIDES["storage"], frozenset({Flow.IMPORT, Flow.EXPORT})),
}
PARACHAIN_KINDS = tuple(_RULES)


def energy_per_period(capacity_w: int, periods: PeriodConfig) -> int:
    """Energy (10 Wh units) a generator of ``capacity_w`` yields at full output for a period.
    Divides once, rounding toward zero: W · ms / (3.6·10^6 ms/h · 10 Wh/unit)."""
    return capacity_w * periods.length_ms // (MS_PER_HOUR * WH_PER_UNIT)


@dataclass(frozen=True, slots=True)
class EnergyLimits:
    """How much energy an aggregator may commit; None means no energy limit on that side."""

    sell_per_period: int | None  # generators: per trading period
    sell_total: int | None  # batteries: over all periods (the state of charge)
    buy_total: int | None  # batteries: the room left (capacity − state of charge)


def energy_limits(kind: ResourceKind, capacity: int, state_of_charge: int, periods: PeriodConfig) -> EnergyLimits:
    if kind.is_generator:
        return EnergyLimits(energy_per_period(capacity, periods), None, None)
    if kind is ResourceKind.BATTERY:
        return EnergyLimits(None, state_of_charge, capacity - state_of_charge)
    return EnergyLimits(None, 0, None)  # loads and EV chargers buy, limited by funds; they have nothing to sell
