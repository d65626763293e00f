"""Case files (the case-study JSON format) decoded into engine inputs. Edge code: decimals in,
integers out; it parses text and never touches the file system.

A case file::

    {"period": {"index": 2, "from": "01:00", "to": "02:00"},
     "tariff": {"grid_sale": 0.38, "grid_purchase": 0.24},          # optional if a TOU is given
     "orders": [{"aggregator": "Agg3", "chain": "demand", "side": "buy", "offer": 0.318,
                 "reserve": 0.340, "quantity_kwh": 234.22, "credit": 0.965}, ...],
     "tie_lines": [{"from": "dg", "to": "demand", "limit_kwh": 100}],  # optional
     "exclusion_threshold": 0.3}                                     # optional, default 0.3

Orders are listed in arrival order. Prices are currency per kWh (at most 12 decimals: planck),
quantities kWh (at most 2 decimals: 10 Wh), credit in [0, 1] (at most 6 decimals: ppm). Numbers
are read as exact decimals, never as floats. Other top-level keys (``description``) are metadata
and ignored; an unknown key inside an order, a tariff or a tie-line is an error, because a typo
there would silently change the market. An aggregator appearing twice must keep the same credit
and home chain. Market rules (zero quantity, reserve side, exclusion) are the engine's to enforce.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bridge.errors import CaseFileError
from bridge.orders import (
    DEFAULT_EXCLUSION_THRESHOLD,
    ENERGY_DECIMALS,
    MAX_ENERGY,
    MAX_PRICE,
    PPM,
    PPM_DECIMALS,
    PRICE_DECIMALS,
    AccountId,
    ChainId,
    Energy,
    Order,
    Ppm,
    Side,
)
from bridge.tariff import MINUTES_PER_DAY, Tariff, TouSchedule, TouSlot, validate_schedule

_ORDER_KEYS = {"aggregator", "chain", "side", "offer", "reserve", "quantity_kwh", "credit"}
_TARIFF_KEYS = {"grid_sale", "grid_purchase"}
_TIE_KEYS = {"from", "to", "limit_kwh"}
_MAX_EXPONENT = 60  # decimal exponents beyond this cannot be a sane amount; refuse before scaling


@dataclass(frozen=True, slots=True)
class Case:
    period: int
    start_minute: int  # minute of day the period starts
    minutes: int  # period length
    tariff: Tariff | None  # None: take it from a TOU schedule
    orders: tuple[Order, ...]  # arrival order
    credits: Mapping[AccountId, Ppm]
    tie_lines: Mapping[tuple[ChainId, ChainId], Energy]
    exclusion_threshold: Ppm


def decode_case(text: str | bytes) -> Case:
    doc = _parse(text)
    if not isinstance(doc, dict):
        raise CaseFileError("", "a case file is a JSON object")
    period, start, minutes = _period(_get(doc, "period", ""))
    tariff = _tariff(doc["tariff"], "tariff") if "tariff" in doc else None
    orders, credits = _orders(_get(doc, "orders", ""), period)
    tie_lines = _tie_lines(doc.get("tie_lines", []))
    threshold = DEFAULT_EXCLUSION_THRESHOLD
    if "exclusion_threshold" in doc:
        threshold = _credit(doc["exclusion_threshold"], "exclusion_threshold")
    return Case(period, start, minutes, tariff, orders, credits, tie_lines, threshold)


def decode_tou(text: str | bytes) -> TouSchedule:
    """A TOU file: ``{"periods": [{"from", "to", "grid_sale", "grid_purchase"}, ...]}``."""
    doc = _parse(text)
    if not isinstance(doc, dict):
        raise CaseFileError("", "a TOU file is a JSON object")
    return decode_tou_slots(_get(doc, "periods", ""), "periods")


def decode_tou_slots(items: Any, field: str) -> TouSchedule:
    """TOU slots already parsed (JSON, or TOML read with ``parse_float=Decimal``):
    ``[{"from": "HH:MM", "to", "grid_sale", "grid_purchase"}, ...]``; errors name ``field``."""
    slots = []
    for i, item in enumerate(_list(items, field)):
        where = f"{field}[{i}]"
        _keys(item, {"from", "to"} | _TARIFF_KEYS, where)
        start = _clock(_get(item, "from", where), f"{where}.from")
        end = _clock(_get(item, "to", where), f"{where}.to") % MINUTES_PER_DAY
        tariff = _tariff({k: item[k] for k in _TARIFF_KEYS if k in item}, where)
        slots.append(TouSlot(start, end, tariff))
    schedule = TouSchedule(tuple(slots))
    try:
        validate_schedule(schedule)
    except ValueError as e:
        raise CaseFileError(field, str(e)) from e
    return schedule


def decode_credit(value: Any, field: str) -> Ppm:
    """A credit in [0, 1] (at most 6 decimals) as ppm."""
    return _credit(value, field)


def decode_energy(value: Any, field: str) -> Energy:
    """kWh (at most 2 decimals) as 10 Wh units."""
    return _energy(value, field)


# --- fields ------------------------------------------------------------------------------------


def _parse(text: str | bytes) -> Any:
    def no_constants(name: str) -> Any:
        raise CaseFileError("", f"{name} is not a number a market can use")

    try:
        return json.loads(
            text, parse_float=Decimal, parse_int=_integer, parse_constant=no_constants
        )
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise CaseFileError("", f"not valid JSON: {e}") from None


def _integer(digits: str) -> int | Decimal:
    # int() refuses very long digit strings with a bare ValueError; a Decimal carries them to the
    # field check, which then names the field.
    return int(digits) if len(digits) <= _MAX_EXPONENT else Decimal(digits)


def _get(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise CaseFileError(f"{where}.{key}" if where else key, "missing")
    return obj[key]


def _keys(obj: Any, allowed: set[str], field: str) -> None:
    if not isinstance(obj, dict):
        raise CaseFileError(field, "must be an object")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise CaseFileError(f"{field}.{unknown[0]}", "unknown field")
    missing = sorted(allowed - set(obj))
    if missing:
        raise CaseFileError(f"{field}.{missing[0]}", "missing")


def _list(value: Any, field: str) -> list[Any]:
    if not isinstance(value, list):
        raise CaseFileError(field, "must be a list")
    return value


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise CaseFileError(field, "must be a non-empty string")
    return value


def _scaled(value: Any, scale_digits: int, field: str, unit: str) -> int:
    """``value · 10^scale_digits`` as an exact int; refuses anything that would need rounding."""
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise CaseFileError(field, f"must be a number, got {value!r}")
    sign, digits, exponent = Decimal(value).as_tuple()
    # Bound the work before any power of ten: a hostile exponent or digit string is refused here.
    if not isinstance(exponent, int) or exponent > _MAX_EXPONENT or len(digits) > _MAX_EXPONENT:
        raise CaseFileError(field, "is out of range")
    if sign and any(digits):
        raise CaseFileError(field, "must not be negative")
    n = int("".join(map(str, digits)))
    exponent += scale_digits
    if exponent >= 0:
        return n * 10**exponent
    if n == 0:
        return 0
    if -exponent > len(digits):  # n < 10^len(digits) ≤ 10^-exponent: a non-zero fraction
        raise CaseFileError(field, f"must be a whole number of {unit}")
    n, rest = divmod(n, 10**-exponent)
    if rest:
        raise CaseFileError(field, f"must be a whole number of {unit}")
    return n


def _price(value: Any, field: str) -> int:
    n = _scaled(value, PRICE_DECIMALS, field, "planck (at most 12 decimals)")
    if n > MAX_PRICE:
        raise CaseFileError(field, "does not fit in u128 planck")
    return n


def _energy(value: Any, field: str) -> int:
    n = _scaled(value, ENERGY_DECIMALS, field, "10 Wh (at most 2 decimals of kWh)")
    if n > MAX_ENERGY:
        raise CaseFileError(field, "does not fit in u64")
    return n


def _credit(value: Any, field: str) -> int:
    n = _scaled(value, PPM_DECIMALS, field, "ppm (at most 6 decimals)")
    if n > PPM:
        raise CaseFileError(field, "must lie in [0, 1]")
    return n


def _clock(value: Any, field: str) -> int:
    text = _text(value, field)
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise CaseFileError(field, f"must be HH:MM, got {text!r}")
    h, m = int(hours), int(minutes)
    if h > 24 or m > 59 or (h == 24 and m):
        raise CaseFileError(field, f"is not a time of day: {text!r}")
    return h * 60 + m


def _period(value: Any) -> tuple[int, int, int]:
    _keys(value, {"index", "from", "to"}, "period")
    index = value["index"]
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise CaseFileError("period.index", "must be a non-negative integer")
    start = _clock(value["from"], "period.from") % MINUTES_PER_DAY
    end = _clock(value["to"], "period.to")
    minutes = (end - start) % MINUTES_PER_DAY
    if minutes == 0:
        raise CaseFileError("period.to", "a period must last at least one minute")
    return index, start, minutes


def _tariff(value: Any, field: str) -> Tariff:
    _keys(value, _TARIFF_KEYS, field)
    sale = _price(value["grid_sale"], f"{field}.grid_sale")
    purchase = _price(value["grid_purchase"], f"{field}.grid_purchase")
    if purchase == 0:
        raise CaseFileError(f"{field}.grid_purchase", "must be positive")
    if purchase > sale:
        raise CaseFileError(f"{field}.grid_purchase", "must not exceed grid_sale")
    return Tariff(sale, purchase)


def _orders(value: Any, period: int) -> tuple[tuple[Order, ...], dict[AccountId, Ppm]]:
    orders = []
    credits: dict[AccountId, Ppm] = {}
    homes: dict[AccountId, ChainId] = {}
    for i, item in enumerate(_list(value, "orders")):
        field = f"orders[{i}]"
        _keys(item, _ORDER_KEYS, field)
        owner = _text(item["aggregator"], f"{field}.aggregator")
        chain = _text(item["chain"], f"{field}.chain")
        side = item["side"]
        if side not in ("buy", "sell"):
            raise CaseFileError(f"{field}.side", f"must be 'buy' or 'sell', got {side!r}")
        credit = _credit(item["credit"], f"{field}.credit")
        if credits.setdefault(owner, credit) != credit:
            raise CaseFileError(
                f"{field}.credit", f"{owner} already has credit {credits[owner]} ppm"
            )
        if homes.setdefault(owner, chain) != chain:
            raise CaseFileError(f"{field}.chain", f"{owner}'s home chain is {homes[owner]}")
        orders.append(
            Order(
                side=Side(side),
                quantity=_energy(item["quantity_kwh"], f"{field}.quantity_kwh"),
                price=_price(item["offer"], f"{field}.offer"),
                reserve=_price(item["reserve"], f"{field}.reserve"),
                period=period,
                owner=owner,
                chain=chain,
            )
        )
    return tuple(orders), credits


def _tie_lines(value: Any) -> dict[tuple[ChainId, ChainId], Energy]:
    lines: dict[tuple[ChainId, ChainId], Energy] = {}
    for i, item in enumerate(_list(value, "tie_lines")):
        field = f"tie_lines[{i}]"
        _keys(item, _TIE_KEYS, field)
        pair = (_text(item["from"], f"{field}.from"), _text(item["to"], f"{field}.to"))
        if pair[0] == pair[1]:
            raise CaseFileError(f"{field}.to", "a tie-line joins two different chains")
        if pair in lines:
            raise CaseFileError(field, f"a second limit for {pair[0]} → {pair[1]}")
        lines[pair] = _energy(item["limit_kwh"], f"{field}.limit_kwh")
    return lines
