"""The offline market scenario: profiles → orders → auction per period → delivery → credit.

For every trading period each aggregator with a predicted surplus sells it and each with a
predicted shortfall buys it, priced by the built-in first-offer strategy with the strategy
module's reserves; orders arrive in a seeded random order. The engine runs both rounds and grid
absorption. Delivery then reads the *actual* profiles; once a day the credit update of market.md
runs, and the new credit values price the next day's trades.

Decisions where market.md and the issue are open:

- One order per aggregator and period, for its predicted net position; none when it is zero,
  or when its chain does not trade that side (a PV plant's night-time load: the DG chain only
  sells) — that position settles with the grid as an imbalance, as on chain.
- The contract scored for credit is the whole order (peer plus grid fills): contracted = the
  order's quantity, delivered = the aggregator's actual net in the order's direction (a reversed
  position delivers a negative amount, so its coefficient is 0).
- A deviation from the contracted position settles with the grid at the period's TOU tariff:
  a shortfall is bought at ``λ_grid``, an excess sold at ``λ_0`` (an imbalance, paid per period).
- An aggregator below the exclusion threshold places no orders; its actual position goes to the
  grid at TOU prices and, with no contracts, its credit stays where it is.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bridge.auction import AuctionResult, run_auction
from bridge.credit import CreditState, Delivery, apply_daily_credit, is_excluded
from bridge.orders import CHAIN_SIDES, DEFAULT_EXCLUSION_THRESHOLD, Order, Ppm, Side, trade_value
from bridge.profiles import Profile, ScenarioError
from bridge.strategy import buyer_first_offer, buyer_reserve, seller_first_offer, seller_reserve
from bridge.tariff import Tariff, TouSchedule

DEFAULT_CREDIT: Ppm = 800_000


@dataclass(frozen=True, slots=True)
class Position:
    """One aggregator in one period: what it ordered, traded, delivered and paid (planck)."""

    name: str
    side: Side | None  # None: no order (zero position or excluded)
    ordered: int  # energy units
    peer_bought: int
    peer_sold: int
    grid_bought: int  # grid fills of its order, at λ_grid
    grid_sold: int  # at λ_0
    actual_net: int  # actual generation − actual load (+: surplus)
    actual_load: int
    cost: int  # planck paid (negative: earned): peer + grid fills + imbalance
    baseline_cost: int  # the same actual position traded only with the grid

    @property
    def grid_flow(self) -> int:
        """Physical net flow to the grid: + export, − import (what peers did not take)."""
        return self.actual_net - (self.peer_sold - self.peer_bought)


@dataclass(frozen=True, slots=True)
class PeriodOutcome:
    day: int
    index: int  # period of the day
    start_minute: int
    tariff: Tariff
    auction: AuctionResult | None  # None when nobody placed an order
    positions: tuple[Position, ...]  # in profile order


@dataclass(frozen=True, slots=True)
class ScenarioResult:
    period_minutes: int
    days: int
    profiles: tuple[Profile, ...]
    periods: tuple[PeriodOutcome, ...]
    credit: tuple[tuple[Ppm, ...], ...]  # credit[d][k]: aggregator k before day d; len = days + 1


def tariffs_for(schedule: TouSchedule, *, days: int, period_minutes: int) -> tuple[Tariff, ...]:
    if period_minutes not in (15, 60):
        raise ScenarioError(f"period length must be 60 or 15 minutes, got {period_minutes}")
    if not 1 <= days <= 366:
        raise ScenarioError(f"days must be in 1..366, got {days}")
    per_day = 24 * 60 // period_minutes
    return tuple(schedule.tariff_at(p * period_minutes) for _ in range(days) for p in range(per_day))


def _order(p: Profile, t: int, tariff: Tariff, period: int) -> Order | None:
    gen, load = p.predicted_generation[t], p.predicted_load[t]
    sides = CHAIN_SIDES[p.chain]
    if (gen > load and Side.SELL not in sides) or (load > gen and Side.BUY not in sides):
        return None  # its chain does not trade that side: the position settles with the grid
    if gen > load:
        price = seller_first_offer(gen, load, tariff, p.cost)
        reserve = seller_reserve(tariff, p.cost, price)
        return Order(Side.SELL, gen - load, price, reserve, period, p.name, p.chain)
    if load > gen:
        price = buyer_first_offer(gen, load, tariff)
        return Order(Side.BUY, load - gen, price, buyer_reserve(tariff), period, p.name, p.chain)
    return None


def _position(p: Profile, t: int, order: Order | None, result: AuctionResult | None,
              tariff: Tariff) -> tuple[Position, Delivery | None]:  # fmt: skip
    net = p.actual_generation[t] - p.actual_load[t]
    sale, purchase = tariff.grid_sale, tariff.grid_purchase
    baseline = trade_value(-net, sale) if net < 0 else -trade_value(net, purchase)
    bought = sold = g_bought = g_sold = cost = 0
    if result is not None and order is not None:
        for tr in result.trades:
            if tr.buyer == p.name:
                bought += tr.quantity
                cost += trade_value(tr.quantity, tr.price)
            if tr.seller == p.name:
                sold += tr.quantity
                cost -= trade_value(tr.quantity, tr.price)
        for g in result.grid:
            if g.owner == p.name:
                if g.side is Side.BUY:
                    g_bought += g.quantity
                    cost += trade_value(g.quantity, g.price)
                else:
                    g_sold += g.quantity
                    cost -= trade_value(g.quantity, g.price)
    # Imbalance: the actual position against the contracted one, at the TOU tariff.
    deviation = net - (sold + g_sold - bought - g_bought)
    cost += -trade_value(deviation, purchase) if deviation > 0 else trade_value(-deviation, sale)
    delivery = None
    if order is not None:
        delivered = net if order.side is Side.SELL else -net
        delivery = Delivery(order.quantity, delivered)
    side = order.side if order is not None else None
    ordered = order.quantity if order is not None else 0
    pos = Position(p.name, side, ordered, bought, sold, g_bought, g_sold, net, p.actual_load[t],
                   cost, baseline)  # fmt: skip
    return pos, delivery


DayAuctions = Callable[[dict[int, list[Order]], Mapping[str, Ppm], Mapping[int, Tariff]], dict[int, AuctionResult]]


def offline_auctions(exclusion_threshold: Ppm = DEFAULT_EXCLUSION_THRESHOLD) -> DayAuctions:
    """The auction engine run on each period's book (the default of `run_scenario`)."""
    def run(books, credits, tariffs):
        return {t: run_auction(placed, period=t, tariff=tariffs[t], credits=credits, exclusion_threshold=exclusion_threshold)
                for t, placed in books.items()}
    return run


def run_scenario(
    profiles: Sequence[Profile],
    tariffs: Sequence[Tariff],
    *,
    period_minutes: int,
    seed: int,
    initial_credit: Mapping[str, Ppm] | None = None,
    exclusion_threshold: Ppm = DEFAULT_EXCLUSION_THRESHOLD,
    auctions: DayAuctions | None = None,
) -> ScenarioResult:
    """``auctions`` runs a day's books (period → orders in arrival order) at the day's credits;
    the default is the engine itself, `node.testnet.market_day` runs them on a testnet."""
    auctions = auctions or offline_auctions(exclusion_threshold)
    per_day = 24 * 60 // period_minutes
    n = len(tariffs)
    if period_minutes not in (15, 60) or n == 0 or n % per_day:
        raise ScenarioError(f"{n} periods of {period_minutes} minutes are not whole days")
    names = [p.name for p in profiles]
    if len(set(names)) != len(names):
        raise ScenarioError("aggregator names must be unique")
    for p in profiles:
        for series in (p.predicted_generation, p.predicted_load, p.actual_generation, p.actual_load):
            if len(series) != n:
                raise ScenarioError(f"profile {p.name!r} does not cover {n} periods")
    states = {
        p.name: CreditState((initial_credit or {}).get(p.name, DEFAULT_CREDIT)) for p in profiles
    }
    history = [tuple(states[x].credit for x in names)]
    periods: list[PeriodOutcome] = []
    for day in range(n // per_day):
        deliveries: dict[str, list[Delivery]] = {x: [] for x in names}
        credits = {x: states[x].credit for x in names}
        day_orders, books = {}, {}
        for k in range(per_day):
            t = day * per_day + k
            orders = {}
            for p in profiles:
                if not is_excluded(credits[p.name], exclusion_threshold):
                    orders[p.name] = _order(p, t, tariffs[t], t)
            placed = [o for o in orders.values() if o is not None]
            random.Random(f"{seed}:arrival:{t}").shuffle(placed)
            day_orders[t] = orders
            if placed:
                books[t] = placed
        results = auctions(books, credits, {t: tariffs[t] for t in books})
        for k in range(per_day):
            t = day * per_day + k
            result = results.get(t)
            positions = []
            for p in profiles:
                pos, delivery = _position(p, t, day_orders[t].get(p.name), result, tariffs[t])
                positions.append(pos)
                if delivery is not None:
                    deliveries[p.name].append(delivery)
            periods.append(PeriodOutcome(day, k, k * period_minutes, tariffs[t], result,
                                         tuple(positions)))  # fmt: skip
        for x in names:
            states[x] = apply_daily_credit(states[x], deliveries[x])
        history.append(tuple(states[x].credit for x in names))
    return ScenarioResult(period_minutes, n // per_day, tuple(profiles), tuple(periods),
                          tuple(history))  # fmt: skip
