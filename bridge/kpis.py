"""KPIs of a market scenario, as a JSON document and CSV tables.

Definitions (energy in kWh, money in tokens, prices in tokens per kWh):

- ``p2p_kwh``: energy traded peer to peer (both rounds).
- ``grid_import_kwh`` / ``grid_export_kwh``: the physical flow each aggregator exchanged with the
  grid in each period (its actual net position less its peer trades), summed over aggregators and
  periods; it includes the imbalance of forecast errors, not just the auction's grid fills.
- ``self_sufficiency``: ``1 − grid import / total actual load`` (load includes battery charging).
- ``avg_p2p_price``: quantity-weighted mean peer price; ``avg_grid_sale_price`` and
  ``avg_grid_purchase_price`` weight the TOU tariff of each period by the same peer energy, so the
  three compare directly (a fair P2P price lies between them).
- ``savings``: per aggregator, what trading only with the grid would have cost (its actual
  position at the TOU tariff) less what it paid in the market (peer trades, grid fills, imbalance).
- ``credit``: credit per aggregator at the start of each day and after the last one.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from bridge.orders import ENERGY_UNITS_PER_KWH, PLANCK_PER_TOKEN, PPM
from bridge.scenario import ScenarioResult

_KWH = ENERGY_UNITS_PER_KWH
_TOKEN = PLANCK_PER_TOKEN


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _r(x: float, digits: int = 6) -> float:
    return round(x, digits)


def _price(weighted: int, energy: int) -> float | None:
    return _r(weighted / energy / _TOKEN) if energy else None


def compute_kpis(result: ScenarioResult) -> dict[str, Any]:
    p2p = p2p_value = sale_w = purchase_w = imp = exp = load = gen = 0
    per = {p.name: dict(bought=0, sold=0, imp=0, exp=0, cost=0, base=0) for p in result.profiles}
    for period in result.periods:
        if period.auction is not None:
            for t in period.auction.trades:
                p2p += t.quantity
                p2p_value += t.quantity * t.price
                sale_w += t.quantity * period.tariff.grid_sale
                purchase_w += t.quantity * period.tariff.grid_purchase
        for pos in period.positions:
            a = per[pos.name]
            a["bought"] += pos.peer_bought
            a["sold"] += pos.peer_sold
            flow = pos.grid_flow
            a["imp" if flow < 0 else "exp"] += abs(flow)
            a["cost"] += pos.cost
            a["base"] += pos.baseline_cost
            load += pos.actual_load
            gen += pos.actual_net + pos.actual_load
    for a in per.values():
        imp += a["imp"]
        exp += a["exp"]
    aggregators = []
    for k, p in enumerate(result.profiles):
        a = per[p.name]
        saving = a["base"] - a["cost"]
        aggregators.append({
            "name": p.name, "kind": p.kind, "chain": p.chain,
            "p2p_bought_kwh": a["bought"] / _KWH, "p2p_sold_kwh": a["sold"] / _KWH,
            "grid_import_kwh": a["imp"] / _KWH, "grid_export_kwh": a["exp"] / _KWH,
            "market_cost": _r(a["cost"] / _TOKEN), "grid_only_cost": _r(a["base"] / _TOKEN),
            "savings": _r(saving / _TOKEN),
            "savings_pct": _r(100 * saving / abs(a["base"]), 3) if a["base"] else None,
            "credit": [day[k] / PPM for day in result.credit],
        })  # fmt: skip
    return {
        "scenario": {"days": result.days, "period_minutes": result.period_minutes,
                     "periods": len(result.periods)},
        "totals": {
            "p2p_kwh": p2p / _KWH, "grid_import_kwh": imp / _KWH, "grid_export_kwh": exp / _KWH,
            "load_kwh": load / _KWH, "generation_kwh": gen / _KWH,
            "self_sufficiency": _r(1 - imp / load) if load else None,
            "avg_p2p_price": _price(p2p_value, p2p),
            "avg_grid_sale_price": _price(sale_w, p2p),
            "avg_grid_purchase_price": _price(purchase_w, p2p),
            "total_savings": _r(sum(a["base"] - a["cost"] for a in per.values()) / _TOKEN),
        },
        "aggregators": aggregators,
    }  # fmt: skip


def encode_kpis_json(kpis: dict[str, Any]) -> bytes:
    return (json.dumps(kpis, indent=2, sort_keys=False) + "\n").encode()


def _csv(header: list[str], rows: list[list[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def encode_periods_csv(result: ScenarioResult) -> bytes:
    rows = []
    for p in result.periods:
        a = p.auction
        trades = a.trades if a else ()
        grid = a.grid if a else ()
        peer = sum(t.quantity for t in trades)
        value = sum(t.quantity * t.price for t in trades)
        imp = sum(-x.grid_flow for x in p.positions if x.grid_flow < 0)
        exp = sum(x.grid_flow for x in p.positions if x.grid_flow > 0)
        rows.append([
            p.day, p.index, _clock(p.start_minute),
            p.tariff.grid_sale / _TOKEN, p.tariff.grid_purchase / _TOKEN,
            len(a.orders) if a else 0,
            sum(x.ordered for x in p.positions if x.side and x.side.value == "buy") / _KWH,
            sum(x.ordered for x in p.positions if x.side and x.side.value == "sell") / _KWH,
            peer / _KWH, sum(t.quantity for t in trades if t.round == 2) / _KWH,
            sum(g.quantity for g in grid if g.side.value == "buy") / _KWH,
            sum(g.quantity for g in grid if g.side.value == "sell") / _KWH,
            imp / _KWH, exp / _KWH, _price(value, peer) if peer else "",
        ])  # fmt: skip
    header = ["day", "period", "start", "grid_sale", "grid_purchase", "orders", "buy_kwh",
              "sell_kwh", "p2p_kwh", "round2_kwh", "grid_supplied_kwh", "grid_absorbed_kwh",
              "grid_import_kwh", "grid_export_kwh", "avg_p2p_price"]  # fmt: skip
    return _csv(header, rows)


def encode_trades_csv(result: ScenarioResult) -> bytes:
    rows = []
    for p in result.periods:
        for t in p.auction.trades if p.auction else ():
            rows.append([p.day, p.index, _clock(p.start_minute), t.round, t.seller, t.buyer,
                         t.quantity / _KWH, t.xi / PPM, t.price / _TOKEN])  # fmt: skip
    header = ["day", "period", "start", "round", "seller", "buyer", "quantity_kwh", "xi", "price"]
    return _csv(header, rows)


def format_kpi_table(kpis: dict[str, Any]) -> str:
    t = kpis["totals"]
    lines = [
        f"P2P traded      {t['p2p_kwh']:>12.2f} kWh",
        f"grid import     {t['grid_import_kwh']:>12.2f} kWh",
        f"grid export     {t['grid_export_kwh']:>12.2f} kWh",
        f"self-sufficiency{(t['self_sufficiency'] or 0) * 100:>12.1f} %",
        f"avg P2P price   {t['avg_p2p_price'] or 0:>12.4f} /kWh  (TOU sale "
        f"{t['avg_grid_sale_price'] or 0:.4f}, purchase {t['avg_grid_purchase_price'] or 0:.4f})",
        "",
        f"{'aggregator':<12} {'bought':>9} {'sold':>9} {'import':>9} {'export':>9} "
        f"{'savings':>10} {'%':>7} {'credit':>15}",
    ]
    for a in kpis["aggregators"]:
        pct = "" if a["savings_pct"] is None else f"{a['savings_pct']:.1f}"
        credit = f"{a['credit'][0]:.3f}→{a['credit'][-1]:.3f}"
        lines.append(
            f"{a['name']:<12} {a['p2p_bought_kwh']:>9.2f} {a['p2p_sold_kwh']:>9.2f} "
            f"{a['grid_import_kwh']:>9.2f} {a['grid_export_kwh']:>9.2f} "
            f"{a['savings']:>10.2f} {pct:>7} {credit:>15}"
        )
    return "\n".join(lines)
