"""Everything the market refuses, as typed errors.

Every rejection named in ``market.md`` has its own class so the RPC layer (and a pallet's error
enum) can map it to a clear message. A rejected call changes nothing: the engine checks first and
writes last.
"""

from __future__ import annotations


class MarketError(ValueError):
    """Base of every error the market engine raises on bad input."""


# --- orders (market.md, "Orders": rejected with a clear error and no state change) -------------


class OrderRejected(MarketError):
    """An order the market will not accept; the book is unchanged."""


class ZeroQuantity(OrderRejected):
    """The order's quantity is zero."""


class ZeroPrice(OrderRejected):
    """The order's offer or reserve price is zero."""


class ReserveOnWrongSide(OrderRejected):
    """A buy's reserve is below its offer, or a sell's reserve is above its offer."""


class AmountOutOfRange(OrderRejected):
    """An amount is not an integer, is negative, or does not fit its on-chain width."""


class PeriodClosed(OrderRejected):
    """The order is for a period whose order window has closed."""


class PeriodNotOpen(OrderRejected):
    """The order is for a later period than the one being auctioned."""


class InsufficientEscrow(OrderRejected):
    """The owner cannot lock ``q · r`` tokens (buy) or ``q`` of energy allowance (sell)."""


class CreditBelowThreshold(OrderRejected):
    """The owner's credit is below the exclusion threshold."""


class UnknownOwner(OrderRejected):
    """The owner is not a registered aggregator (or has been revoked): the bridge has no credit."""


# --- market configuration ----------------------------------------------------------------------


class InvalidTariff(MarketError):
    """A TOU tariff that cannot price grid trades (zero or negative, sale below purchase)."""


class InvalidTieLine(MarketError):
    """A tie-line limit that is not a non-negative integer energy amount."""


class InvalidCredit(MarketError):
    """A credit value or coefficient outside [0, 10^6] ppm, or an unusable meter reading."""


class InvalidStrategyInput(MarketError):
    """Predictions or costs the first-offer strategy cannot price (negative, μ out of range)."""


# --- case files (edge) -------------------------------------------------------------------------


class CaseFileError(MarketError):
    """A case file that does not describe a market; ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
