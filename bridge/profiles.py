"""Seeded 24-hour profiles of simulated aggregators: the input of the market scenario.

A simulation input, not consensus code: shapes and noise are floats, and every value is rounded
to integer energy units (10 Wh) here, at the boundary, so the market only sees integers.

Each aggregator gets, per trading period, a *predicted* generation and load (what it bids on) and
an *actual* generation and load (what its meters later read: predicted plus noise), so deliveries
deviate from contracts and credit moves. Kinds:

- ``household``: a neighbourhood, load with a morning and a larger evening peak, some rooftop PV;
- ``ev``: an EV charging fleet, evening and night charging with a small morning top-up;
- ``pv``: a solar park, a daylight bell times an autocorrelated cloud factor, small auxiliary load;
- ``wind``: a wind farm, autocorrelated wind speed through a turbine power curve;
- ``battery``: storage with a capacity and state of charge; it charges while the grid's sale price
  is at the day's minimum and discharges while the grid's purchase price is at the day's maximum,
  within power, capacity and state of charge (carried across days).

Noise is drawn from ``random.Random(f"{seed}:{name}")``: the same seed gives the same profiles on
every platform, and adding an aggregator does not change the others' profiles.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

from bridge.errors import MarketError
from bridge.orders import ENERGY_UNITS_PER_KWH, PLANCK_PER_TOKEN, Energy, Price
from bridge.tariff import Tariff

KINDS = ("household", "ev", "pv", "wind", "battery")
CHAIN_OF = {"household": "demand", "ev": "demand", "pv": "dg", "wind": "dg", "battery": "storage"}
# Generation cost c_j in token/kWh (the battery's covers the night energy it stored).
COST_OF = {"household": 0.0, "ev": 0.0, "pv": 0.04, "wind": 0.06, "battery": 0.40}
DEFAULT_MIX = (("household", 2), ("ev", 1), ("pv", 1), ("wind", 1), ("battery", 1))


class ScenarioError(MarketError):
    """A scenario parameter that cannot be simulated (bad mix, period length, day count)."""


@dataclass(frozen=True, slots=True)
class Profile:
    """One aggregator's energy per period (energy units), over every period of every day."""

    name: str
    kind: str
    chain: str
    cost: Price  # c_j, planck per kWh
    predicted_generation: tuple[Energy, ...]
    predicted_load: tuple[Energy, ...]
    actual_generation: tuple[Energy, ...]
    actual_load: tuple[Energy, ...]


def parse_mix(spec: str) -> tuple[tuple[str, int], ...]:
    """``"household=2,pv=1,..."`` → ((kind, count), ...); counts 1..50, known kinds only."""
    mix: dict[str, int] = {}
    for part in spec.split(","):
        kind, sep, count = part.strip().partition("=")
        if kind not in KINDS:
            raise ScenarioError(f"unknown aggregator kind {kind!r} (known: {', '.join(KINDS)})")
        if kind in mix:
            raise ScenarioError(f"aggregator kind {kind!r} given twice")
        if not sep or not count.isdigit() or not 1 <= int(count) <= 50:
            raise ScenarioError(f"{part.strip()!r}: write KIND=COUNT with COUNT in 1..50")
        mix[kind] = int(count)
    return tuple(mix.items())


def _units(kwh: float) -> Energy:
    return max(0, round(kwh * ENERGY_UNITS_PER_KWH))


def _bump(hour: float, centre: float, width: float) -> float:
    d = (hour - centre + 12) % 24 - 12  # wraps midnight
    return math.exp(-0.5 * (d / width) ** 2)


def _ar1(rng: random.Random, n: int, phi: float, sigma: float) -> list[float]:
    """Zero-mean AR(1) noise with stationary standard deviation ``sigma``."""
    x = rng.gauss(0, sigma)
    out = []
    for _ in range(n):
        out.append(x)
        x = phi * x + rng.gauss(0, sigma * math.sqrt(1 - phi * phi))
    return out


def _solar(hour: float) -> float:
    return max(0.0, math.sin(math.pi * (hour - 6) / 14)) ** 1.3  # 06:00–20:00, noon-ish peak


def _household(hours, rng, step, per_day):
    scale = rng.uniform(120, 180)  # kW evening peak
    pv_peak = rng.uniform(30, 60)
    shape = [0.3 + 0.45 * _bump(h, 7.5, 1.2) + 0.7 * _bump(h, 19.5, 2.0) for h in hours]
    load = [scale * s * step for s in shape]
    clear = [0.6 + 0.4 * rng.random() for _ in range(len(hours) // per_day + 1)]
    pv = [pv_peak * _solar(h) * clear[i // per_day] * step for i, h in enumerate(hours)]
    return pv, load, 0.03, 0.10  # load σ, generation σ


def _ev(hours, rng, step):
    scale = rng.uniform(60, 100)
    load = [scale * (0.05 + _bump(h, 21.5, 1.8) + 0.3 * _bump(h, 7.0, 0.8)) * step for h in hours]
    return [0.0] * len(hours), load, 0.12, 0.0


def _pv(hours, rng, step, per_day):
    peak = rng.uniform(250, 400)
    clear = [0.55 + 0.45 * rng.random() for _ in range(len(hours) // per_day + 1)]
    phi = 0.85 ** step  # the cloud factor decorrelates over a few hours
    cloud = _ar1(rng, len(hours), phi, 0.12)
    gen = [peak * _solar(h) * max(0.0, min(1.0, clear[i // per_day] + cloud[i])) * step
           for i, h in enumerate(hours)]
    return gen, [4.0 * step] * len(hours), 0.02, 0.15


def _wind(hours, rng, step):
    rated = rng.uniform(150, 250)
    speed = [max(0.0, 8.0 + v) for v in _ar1(rng, len(hours), 0.9 ** step, 3.0)]

    def power(v):  # cut-in 3 m/s, rated 12 m/s, cut-out 25 m/s
        if v < 3 or v >= 25:
            return 0.0
        return rated * min(1.0, ((v - 3) / 9) ** 3)

    gen = [power(v) * step for v in speed]
    return gen, [2.0 * step] * len(hours), 0.02, 0.20


def _battery(tariffs: Sequence[Tariff], rng, step, per_day):
    """Charge at the day's cheapest sale price, discharge at its best purchase price."""
    capacity = rng.uniform(300, 500)  # kWh
    power = capacity / 4  # kW
    soc = 0.5 * capacity
    cheapest = min(t.grid_sale for t in tariffs[:per_day])
    richest = max(t.grid_purchase for t in tariffs[:per_day])
    charge_hours = sum(1 for t in tariffs[:per_day] if t.grid_sale == cheapest) * step
    spend_hours = sum(1 for t in tariffs[:per_day] if t.grid_purchase == richest) * step
    gen, load = [], []
    for t in tariffs:
        if t.grid_sale == cheapest:  # spread the charge over the cheap hours
            e = min(power * step, 0.9 * capacity * step / charge_hours, capacity - soc)
            soc += e * 0.95
            gen.append(0.0)
            load.append(e)
        elif t.grid_purchase == richest:
            e = min(power * step, 0.9 * capacity * step / spend_hours, soc - 0.1 * capacity)
            e = max(0.0, e)
            soc -= e
            gen.append(e)
            load.append(0.0)
        else:
            gen.append(0.0)
            load.append(0.0)
    return gen, load, 0.01, 0.01


def generate_profiles(
    mix: Sequence[tuple[str, int]],
    tariffs: Sequence[Tariff],
    *,
    period_minutes: int,
    seed: int,
) -> tuple[Profile, ...]:
    """Profiles for ``len(tariffs)`` consecutive periods (whole days) starting at midnight."""
    if period_minutes not in (15, 60):
        raise ScenarioError(f"period length must be 60 or 15 minutes, got {period_minutes}")
    per_day = 24 * 60 // period_minutes
    n = len(tariffs)
    if n == 0 or n % per_day:
        raise ScenarioError(f"{n} tariffs do not make whole days of {per_day} periods")
    step = period_minutes / 60  # hours per period: kW × step = kWh
    hours = [(i % per_day) * step + step / 2 for i in range(n)]  # period mid-points
    profiles = []
    for kind, count in mix:
        for k in range(1, count + 1):
            name = f"{kind}-{k}"
            rng = random.Random(f"{seed}:{name}")
            if kind == "household":
                gen, load, s_load, s_gen = _household(hours, rng, step, per_day)
            elif kind == "ev":
                gen, load, s_load, s_gen = _ev(hours, rng, step)
            elif kind == "pv":
                gen, load, s_load, s_gen = _pv(hours, rng, step, per_day)
            elif kind == "wind":
                gen, load, s_load, s_gen = _wind(hours, rng, step)
            else:
                gen, load, s_load, s_gen = _battery(tariffs, rng, step, per_day)
            # Forecast errors: autocorrelated relative noise, actual = predicted · (1 + ε).
            e_load = _ar1(rng, n, 0.7 ** step, s_load)
            e_gen = _ar1(rng, n, 0.7 ** step, s_gen)
            profiles.append(Profile(
                name, kind, CHAIN_OF[kind], round(COST_OF[kind] * PLANCK_PER_TOKEN),
                tuple(_units(g) for g in gen),
                tuple(_units(x) for x in load),
                tuple(_units(g * (1 + e)) for g, e in zip(gen, e_gen)),
                tuple(_units(x * (1 + e)) for x, e in zip(load, e_load)),
            ))  # fmt: skip
    return tuple(profiles)
