"""PNG plots of a market scenario (matplotlib, Agg backend: no display needed).

Written with fixed metadata so the same scenario gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bridge.orders import ENERGY_UNITS_PER_KWH, PLANCK_PER_TOKEN  # noqa: E402
from bridge.scenario import ScenarioResult  # noqa: E402

_META = {"Software": None}


def _save(fig: Any, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100, metadata=_META)
    plt.close(fig)


def write_plots(result: ScenarioResult, kpis: dict[str, Any], out: Path) -> list[Path]:
    hours = [(p.day * 24 * 60 + p.start_minute) / 60 for p in result.periods]
    width = result.period_minutes / 60
    peer, imp, exp, p2p_price, sale, purchase = [], [], [], [], [], []
    for p in result.periods:
        trades = p.auction.trades if p.auction else ()
        q = sum(t.quantity for t in trades)
        peer.append(q / ENERGY_UNITS_PER_KWH)
        imp.append(sum(-x.grid_flow for x in p.positions if x.grid_flow < 0) / ENERGY_UNITS_PER_KWH)
        exp.append(sum(x.grid_flow for x in p.positions if x.grid_flow > 0) / ENERGY_UNITS_PER_KWH)
        v = sum(t.quantity * t.price for t in trades)
        p2p_price.append(v / q / PLANCK_PER_TOKEN if q else float("nan"))
        sale.append(p.tariff.grid_sale / PLANCK_PER_TOKEN)
        purchase.append(p.tariff.grid_purchase / PLANCK_PER_TOKEN)
    paths = []

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(hours, peer, width=width, align="edge", label="peer to peer")
    ax.bar(hours, imp, width=width, align="edge", bottom=peer, label="grid import")
    ax.bar(hours, [-e for e in exp], width=width, align="edge", label="grid export")
    ax.set_xlabel("hour")
    ax.set_ylabel("kWh per period")
    ax.set_title("Energy per trading period")
    ax.legend()
    paths.append(out / "energy.png")
    _save(fig, paths[-1])

    fig, ax = plt.subplots(figsize=(9, 4))
    ax.step(hours, sale, where="post", label="grid sale λ_grid")
    ax.step(hours, purchase, where="post", label="grid purchase λ_0")
    ax.plot([h + width / 2 for h in hours], p2p_price, "o", label="mean P2P price")
    ax.set_xlabel("hour")
    ax.set_ylabel("token / kWh")
    ax.set_title("P2P price against the TOU tariff")
    ax.legend()
    paths.append(out / "prices.png")
    _save(fig, paths[-1])

    fig, ax = plt.subplots(figsize=(9, 4))
    names = [a["name"] for a in kpis["aggregators"]]
    ax.bar(names, [a["savings"] for a in kpis["aggregators"]])
    ax.set_ylabel("token")
    ax.set_title("Savings against trading only with the grid")
    ax.tick_params(axis="x", rotation=30)
    paths.append(out / "savings.png")
    _save(fig, paths[-1])

    fig, ax = plt.subplots(figsize=(9, 4))
    days = list(range(result.days + 1))
    for a in kpis["aggregators"]:
        ax.plot(days, a["credit"], marker="o", label=a["name"])
    ax.set_xlabel("day (credit at its start)")
    ax.set_ylabel("credit R")
    ax.set_title("Credit over time")
    ax.legend(fontsize="small")
    paths.append(out / "credit.png")
    _save(fig, paths[-1])
    return paths
