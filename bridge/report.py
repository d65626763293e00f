"""Rendering an auction result for people and machines. Edge code: the only place integers become
decimals (exact text, never floats).

JSON shape (key order fixed, bytes deterministic)::

    {"trades": [{"round", "seller", "buyer", "quantity_kwh", "xi", "price"}, ...],   # order made
     "grid": [{"aggregator", "side", "quantity_kwh", "price"}, ...],                # arrival order
     "summary": {...}}                                                              # summary_fields

Prices are currency per kWh, quantities kWh, ξ in [0, 1], all written as exact JSON numbers with
trailing zeros dropped. A grid row's ``side`` is the aggregator's: ``buy`` means the grid supplied
it at λ_grid, ``sell`` that the grid absorbed its energy at λ_0. Summary values (see
:func:`summarize`) sum per-trade values in planck, each rounded toward zero as settlement pays it.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from bridge.auction import ROUND_CONTINUOUS, ROUND_RESERVE, AuctionResult
from bridge.orders import (
    ENERGY_DECIMALS,
    PPM_DECIMALS,
    PRICE_DECIMALS,
    AccountId,
    Side,
    trade_value,
)


@dataclass(frozen=True, slots=True)
class Summary:
    """Totals of one period, in engine units (energy units, planck, planck per kWh)."""

    period: int
    orders: int
    buy_energy: int
    sell_energy: int
    trades: int
    round1_energy: int
    round2_energy: int
    peer_energy: int
    peer_value: int  # Σ q·price // 100 per trade
    mean_price: int  # Σ q·price // Σ q (toward zero); 0 when nothing traded
    grid_supplied_energy: int  # to buyers at λ_grid
    grid_supplied_value: int
    grid_absorbed_energy: int  # from sellers at λ_0
    grid_absorbed_value: int
    grid_sale_price: int
    grid_purchase_price: int


def summarize(result: AuctionResult) -> Summary:
    rounds = {ROUND_CONTINUOUS: 0, ROUND_RESERVE: 0}
    weighted = 0
    peer_value = 0
    for t in result.trades:
        rounds[t.round] += t.quantity
        weighted += t.quantity * t.price
        peer_value += trade_value(t.quantity, t.price)
    peer = rounds[ROUND_CONTINUOUS] + rounds[ROUND_RESERVE]
    supplied = [g for g in result.grid if g.side is Side.BUY]
    absorbed = [g for g in result.grid if g.side is Side.SELL]
    return Summary(
        period=result.period,
        orders=len(result.orders),
        buy_energy=sum(o.quantity for o in result.orders if o.side is Side.BUY),
        sell_energy=sum(o.quantity for o in result.orders if o.side is Side.SELL),
        trades=len(result.trades),
        round1_energy=rounds[ROUND_CONTINUOUS],
        round2_energy=rounds[ROUND_RESERVE],
        peer_energy=peer,
        peer_value=peer_value,
        mean_price=weighted // peer if peer else 0,  # non-negative: rounds toward zero
        grid_supplied_energy=sum(g.quantity for g in supplied),
        grid_supplied_value=sum(trade_value(g.quantity, g.price) for g in supplied),
        grid_absorbed_energy=sum(g.quantity for g in absorbed),
        grid_absorbed_value=sum(trade_value(g.quantity, g.price) for g in absorbed),
        grid_sale_price=result.tariff.grid_sale,
        grid_purchase_price=result.tariff.grid_purchase,
    )


def decimal_text(n: int, decimals: int) -> str:
    """``n / 10^decimals`` as exact decimal text, trailing zeros dropped: (23422, 2) → "234.22"."""
    sign = "-" if n < 0 else ""
    whole, frac = divmod(abs(n), 10**decimals)
    digits = str(frac).rjust(decimals, "0").rstrip("0")
    return f"{sign}{whole}.{digits}" if digits else f"{sign}{whole}"


def _kwh(n: int) -> str:
    return decimal_text(n, ENERGY_DECIMALS)


def _money(n: int) -> str:
    return decimal_text(n, PRICE_DECIMALS)


def _xi(n: int) -> str:
    return decimal_text(n, PPM_DECIMALS)


def _name(account: AccountId) -> str:
    return "0x" + account.hex() if isinstance(account, bytes) else str(account)


class _Number(str):
    """Decimal text written into JSON as a bare number."""


def _rows(result: AuctionResult) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    trades: list[dict[str, object]] = [
        {
            "round": t.round,
            "seller": _name(t.seller),
            "buyer": _name(t.buyer),
            "quantity_kwh": _Number(_kwh(t.quantity)),
            "xi": _Number(_xi(t.xi)),
            "price": _Number(_money(t.price)),
        }
        for t in result.trades
    ]
    grid: list[dict[str, object]] = [
        {
            "aggregator": _name(g.owner),
            "side": g.side.value,
            "quantity_kwh": _Number(_kwh(g.quantity)),
            "price": _Number(_money(g.price)),
        }
        for g in result.grid
    ]
    return trades, grid


def summary_fields(s: Summary) -> dict[str, object]:
    return {
        "period": s.period,
        "orders": s.orders,
        "buy_kwh": _Number(_kwh(s.buy_energy)),
        "sell_kwh": _Number(_kwh(s.sell_energy)),
        "trades": s.trades,
        "round1_kwh": _Number(_kwh(s.round1_energy)),
        "round2_kwh": _Number(_kwh(s.round2_energy)),
        "peer_kwh": _Number(_kwh(s.peer_energy)),
        "peer_value": _Number(_money(s.peer_value)),
        "mean_price": _Number(_money(s.mean_price)),
        "grid_supplied_kwh": _Number(_kwh(s.grid_supplied_energy)),
        "grid_supplied_value": _Number(_money(s.grid_supplied_value)),
        "grid_absorbed_kwh": _Number(_kwh(s.grid_absorbed_energy)),
        "grid_absorbed_value": _Number(_money(s.grid_absorbed_value)),
        "grid_sale_price": _Number(_money(s.grid_sale_price)),
        "grid_purchase_price": _Number(_money(s.grid_purchase_price)),
    }


def _scalar(value: object) -> str:
    if isinstance(value, _Number):
        return str.__str__(value)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise TypeError(f"cannot render {value!r}")  # a bug in this module, not bad input
    return json.dumps(value, ensure_ascii=False)


def _inline(obj: dict[str, object]) -> str:
    return "{" + ", ".join(f"{json.dumps(k)}: {_scalar(v)}" for k, v in obj.items()) + "}"


def encode_json(result: AuctionResult) -> bytes:
    """The report as UTF-8 JSON: one trade per line, same result → same bytes."""
    trades, grid = _rows(result)

    def block(rows: list[dict[str, object]]) -> str:
        if not rows:
            return "[]"
        return "[\n" + ",\n".join("    " + _inline(r) for r in rows) + "\n  ]"

    fields = summary_fields(summarize(result))
    summary = "{\n" + ",\n".join(f"    {json.dumps(k)}: {_scalar(v)}" for k, v in fields.items())
    text = (
        "{\n"
        f'  "trades": {block(trades)},\n'
        f'  "grid": {block(grid)},\n'
        f'  "summary": {summary}\n  }}\n'
        "}\n"
    )
    return text.encode()


CSV_HEADER = ("round", "seller", "buyer", "quantity_kwh", "xi", "price")


def encode_csv(result: AuctionResult) -> str:
    """Peer trades, then grid rows (round ``grid``, counterparty ``grid``, no ξ)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    trades, grid = _rows(result)
    for t in trades:
        writer.writerow([t[k] for k in CSV_HEADER])
    for g in grid:
        seller, buyer = (
            ("grid", g["aggregator"]) if g["side"] == "buy" else (g["aggregator"], "grid")
        )
        writer.writerow(["grid", seller, buyer, g["quantity_kwh"], "", g["price"]])
    return out.getvalue()


def _table(headers: tuple[str, ...], rows: list[list[str]], right: set[int]) -> list[str]:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]

    def line(cells: list[str] | tuple[str, ...]) -> str:
        return "  ".join(
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    return [line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows]


def format_table(result: AuctionResult) -> str:
    """Plain aligned text for a terminal: trades, grid rows, totals."""
    trades, grid = _rows(result)
    s = summarize(result)
    out = [f"Period {s.period}: {s.orders} orders, {s.trades} peer trades", ""]
    out += _table(
        ("#", "round", "seller", "buyer", "kWh", "xi", "price/kWh"),
        [
            [str(i), str(t["round"]), str(t["seller"]), str(t["buyer"]), str(t["quantity_kwh"]),
             str(t["xi"]), str(t["price"])]
            for i, t in enumerate(trades, 1)
        ],
        right={0, 1, 4, 5, 6},
    )  # fmt: skip
    out += ["", "Grid"]
    out += _table(
        ("aggregator", "side", "kWh", "price/kWh"),
        [
            [str(g["aggregator"]), str(g["side"]), str(g["quantity_kwh"]), str(g["price"])]
            for g in grid
        ],
        right={2, 3},
    )
    out += [
        "",
        f"peer {_kwh(s.peer_energy)} kWh (round 1 {_kwh(s.round1_energy)}, round 2 "
        f"{_kwh(s.round2_energy)}), value {_money(s.peer_value)}, "
        f"mean price {_money(s.mean_price)}/kWh",
        f"grid supplied {_kwh(s.grid_supplied_energy)} kWh at {_money(s.grid_sale_price)}, "
        f"absorbed {_kwh(s.grid_absorbed_energy)} kWh at {_money(s.grid_purchase_price)}",
    ]
    return "\n".join(out) + "\n"
