"""``python -m bridge.bench``: orders matched per second by the auction engine.

For each book size N (default 10^4, 10^5, 10^6) it generates N orders from a seeded PRNG — the
two sides interleaved at random, offers drawn around the case study's night prices so that about
half the orders cross on arrival and the rest build a deep book, credits from a pool of aggregators
on three chains — and times :func:`bridge.auction.run_auction` over them: admission checks,
round 1, round 2 and grid absorption. Order generation is not timed. ``--tie-lines`` adds a
binding limit on every chain pair, the slow path of the matcher.

The figure is N divided by the engine's wall time, best of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import gc
import random
import sys
import time
from collections.abc import Sequence

from bridge.auction import run_auction
from bridge.orders import PLANCK_PER_TOKEN, AccountId, ChainId, Energy, Order, Ppm, Side
from bridge.tariff import Tariff

CHAINS = ("demand", "dg", "storage")
TARIFF = Tariff(grid_sale=38 * PLANCK_PER_TOKEN // 100, grid_purchase=24 * PLANCK_PER_TOKEN // 100)
MILLI = PLANCK_PER_TOKEN // 1000  # prices move in steps of 0.001 token/kWh, as in the case study


def make_book(
    n: int, seed: int = 1, aggregators: int = 1000
) -> tuple[list[Order], dict[AccountId, Ppm]]:
    rng = random.Random(seed)
    credits: dict[AccountId, Ppm] = {
        f"agg{i}": rng.randrange(300_000, 1_000_001, 1000) for i in range(aggregators)
    }
    homes = {name: CHAINS[i % 3] for i, name in enumerate(credits)}
    names = list(credits)
    orders = []
    for _ in range(n):
        owner = rng.choice(names)
        quantity = rng.randrange(1, 50_000)  # up to 500 kWh
        if rng.random() < 0.5:
            price = rng.randrange(300, 341) * MILLI
            reserve = price + rng.randrange(0, 31) * MILLI
            side = Side.BUY
        else:
            price = rng.randrange(310, 351) * MILLI
            reserve = price - rng.randrange(0, 31) * MILLI
            side = Side.SELL
        orders.append(Order(side, quantity, price, reserve, 1, owner, homes[owner]))
    return orders, credits


def tie_lines_for(n: int) -> dict[tuple[ChainId, ChainId], Energy]:
    """A limit on every cross-chain pair that binds at this book size (5 kWh per order)."""
    return {(a, b): n * 500 for a in CHAINS for b in CHAINS if a != b}


def measure(n: int, *, repeat: int, tie_lines: bool, seed: int) -> tuple[float, int]:
    orders, credits = make_book(n, seed)
    lines = tie_lines_for(n) if tie_lines else None
    best = float("inf")
    trades = 0
    for _ in range(repeat):
        gc.collect()
        gc.disable()  # the engine allocates many small objects; time it, not the cycle collector
        try:
            start = time.perf_counter()
            result = run_auction(orders, period=1, tariff=TARIFF, credits=credits, tie_lines=lines)
            elapsed = time.perf_counter() - start
        finally:
            gc.enable()
        best = min(best, elapsed)
        trades = len(result.trades)
        del result
    return best, trades


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bridge.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[10**4, 10**5, 10**6])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--tie-lines", action="store_true", help="bind every cross-chain pair")
    args = parser.parse_args(argv)
    print(f"{'orders':>9}  {'trades':>9}  {'seconds':>8}  {'orders/s':>10}")
    for n in args.sizes:
        repeat = args.repeat if n < 10**6 else 1
        seconds, trades = measure(n, repeat=repeat, tie_lines=args.tie_lines, seed=args.seed)
        print(f"{n:>9}  {trades:>9}  {seconds:>8.3f}  {n / seconds:>10,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
