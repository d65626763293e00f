"""The Market's credit book on the relay: deliveries in, the daily credit update, credit down
(market.md "Credit", arithmetic in `bridge.credit`). Part of the `Market` pallet, split out by
concept: it works on the storage, events and outbox the pallet declares in its "credit"
section, and the pallet calls it from four places (orders and deliveries arriving, a period's
commit, `set_credit`, `on_finalize`).

The loop:

1. At a period's commit every trade becomes a contract per (chain, aggregator, period):
   `Contracts` holds the energy sold and bought there (the grid's side is not metered).
2. A parachain reports a period's delivery (`Delivery` message, `parachains.market`): the
   obligations it released and what the meters measured. It must name a contract the relay
   committed for that chain, with the same sold and bought energy; the contract is then spent
   (a second report of it is refused) and the aggregator's day gains one scored contract per
   side: (sold, exported) and (bought, imported).
3. Every `update_periods` periods (genesis `credit_update_periods`; by default a day of periods,
   24 for 60-minute periods), at the relay block where a period with index divisible by it
   starts — counted in relay blocks from the Market's anchor, so it follows the gates and the
   time compression — every aggregator with deliveries gets `bridge.credit.apply_daily_credit`
   on its (credit, a_{t−1}); both are stored (`Credit`, `Coefficient`), and the new credit goes
   down to each of the aggregator's home chains as a `Credit` message (`Orders.set_credit`
   there), so placement on the chain excludes it as the relay does on arrival.

Decisions:
- A day is the deliveries that *arrived* since the last update: the last period of a day can
  only be read once it is over, so it is scored with the next day's. An aggregator without
  deliveries keeps its credit and a_{t−1} (as `bridge.credit` decides for an empty day).
- The relay scores against its own contracts, and a report must match them exactly: a chain
  cannot shrink a contract, score another chain's aggregator, invent a period, or report twice.
  Refusals are `DeliveryRefused` (a `MalformedMarketMessage`): Messaging's `MessageFailed` on
  the relay, nothing kept. A contract never reported is not scored (market.md scores delivered
  contracts); its record stays in `Contracts`.
- An aggregator's home chains are the chains the relay has taken its orders or deliveries from
  (`Homes`); an account may trade on several. Credit goes down to every one of them, after each
  update and after the operator's `set_credit`. If no home chain is known yet, the credit stays
  on the relay (which refuses the aggregator's orders on arrival anyway) and goes down when the
  relay first hears from a chain of that aggregator, before that order is judged.
- The update sends the credit down even when it did not change: one message per aggregator and
  home per day keeps the chain in step whatever it started from.

Integer arithmetic only: the credit step divides in `bridge.credit`; here it divides for whole
periods (since the anchor, the next multiple of `update_periods`, a day's periods in genesis),
each marked where it happens.

Known gaps: old unreported `Contracts` are never pruned; a home chain with no relay→para channel
holds up its credit messages in the outbox as it would its legs.
"""

from __future__ import annotations

from bridge.credit import GENESIS_COEFFICIENT, CreditState, Delivery, apply_daily_credit, is_excluded
from bridge.messages import MalformedMarketMessage, encode_market_message
from bridge.orders import PPM
from relay.router import RELAY_CHAIN

DAY_MS = 86_400_000
CREDIT = 3  # an outbox entry's kind (after relay.market's BUY_LEG, SELL_LEG, REFUND)
GRID_CHAIN = RELAY_CHAIN  # as relay.market: the grid operator's side of a trade
MAX_U32 = 2**32 - 1


class DeliveryRefused(MalformedMarketMessage):
    """A Delivery that names no contract the relay committed for that chain, or not the same one."""


class InvalidCreditConfig(ValueError):
    """A Market genesis credit setting the relay cannot run with."""


def credit_genesis(config: dict) -> dict:
    """Check the Market genesis' credit keys (``credit_update_periods``, ``coefficients``) before
    anything is written; the values to store."""
    period_ms = config["period_ms"]
    if "credit_update_periods" in config:
        periods = config["credit_update_periods"]
    elif period_ms > 0 and DAY_MS % period_ms == 0:
        periods = DAY_MS // period_ms  # divides: whole periods in a day (exact, checked just above)
    else:
        raise InvalidCreditConfig(f"a period of {period_ms} ms does not divide a day: give credit_update_periods")
    if type(periods) is not int or not 1 <= periods <= MAX_U32:
        raise InvalidCreditConfig(f"credit_update_periods must be an integer in [1, {MAX_U32}], got {periods!r}")
    coefficients = [tuple(entry) for entry in config.get("coefficients", [])]
    for who, a in coefficients:
        if type(a) is not int or not 0 <= a <= PPM or len(who) != 32:
            raise InvalidCreditConfig(f"genesis coefficient {a!r} must be in [0, {PPM}] ppm for a 32-byte account")
    return {"update_periods": periods, "coefficients": coefficients}


class CreditBook:
    def __init__(self, market):
        self.market = market

    # -- what the pallet's hooks call ---------------------------------------------------------
    def record_contracts(self, ctx, period: int, first_trade: int, end_trade: int) -> None:
        """The committed trades first_trade…end_trade−1 of ``period`` become contracts."""
        m, state = self.market, ctx.state
        totals: dict[tuple[int, bytes], list[int]] = {}
        for trade_id in range(first_trade, end_trade):
            t = m.Trades.get(state, trade_id)
            for who, chain, side in ((t["seller"], t["seller_chain"], 0), (t["buyer"], t["buyer_chain"], 1)):
                if chain == GRID_CHAIN:
                    continue  # the grid operator's side is not metered
                totals.setdefault((chain, who), [0, 0])[side] += t["quantity"]
        for (chain, who), (sold, bought) in totals.items():
            m.Contracts.set(state, chain, who, period, (sold, bought))

    def apply_delivery(self, ctx, source: int, d: dict) -> None:
        """A ``Delivery`` from ``source``: spend its contract and add it to the owner's day."""
        m, state = self.market, ctx.state
        owner, period = d["owner"], d["period"]
        contract = m.Contracts.get(state, source, owner, period)
        if contract is None:
            raise DeliveryRefused(f"no committed contract of this aggregator on chain {source} for period {period} "
                                  "(never traded there, or already delivered)")
        sold, bought = contract
        if (d["sold"], d["bought"]) != (sold, bought):
            raise DeliveryRefused(f"the delivery reports sold {d['sold']}, bought {d['bought']}; "
                                  f"the committed trades give sold {sold}, bought {bought}")
        m.Contracts.remove(state, source, owner, period)
        day = m.DayDeliveries.get(state, owner)
        if not day:
            m.DayAggregators.set(state, m.DayAggregators.get(state) + [owner])
        scored = ([(sold, d["exported"])] if sold else []) + ([(bought, d["imported"])] if bought else [])
        m.DayDeliveries.set(state, owner, day + scored)
        self.learn_home(ctx, owner, source)
        m.deposit_event(ctx, "DeliveryReceived", {"chain": source, "who": owner, "period": period, "sold": sold,
                                                  "bought": bought, "exported": d["exported"], "imported": d["imported"]})

    def learn_home(self, ctx, who: bytes, chain: int) -> None:
        """``who`` trades on ``chain``: from now on its credit goes there too, starting with the
        value the relay holds for it now, if any (see the module doc)."""
        m, state = self.market, ctx.state
        homes = m.Homes.get(state, who)
        if chain in homes:
            return
        m.Homes.set(state, who, sorted(homes + [chain]))
        credit = m.Credit.get(state, who)
        if credit is not None:
            self._send(ctx, who, chain, credit)

    def send_credit(self, ctx, who: bytes, credit: int) -> None:
        """Queue ``who``'s credit value down to each of its home chains."""
        for chain in self.market.Homes.get(ctx.state, who):
            self._send(ctx, who, chain, credit)

    def on_finalize(self, ctx) -> None:
        """Run the credit update when this block starts a period the update is due at."""
        m, state = self.market, ctx.state
        first_period, first_block = m.anchor(ctx)
        if ctx.block_number < first_block:
            return
        # divides: whole periods since the anchor, rounded down (the period started by now)
        current = first_period + (ctx.block_number - first_block) // m.Config.get(state)["period_blocks"]
        every = m.CreditConfig.get(state)["update_periods"]
        due = m.NextCreditUpdate.get(state)
        if due is not None and current >= due:
            self.apply_credit_update(ctx, current)
        if due is None or current >= due:
            m.NextCreditUpdate.set(state, (current // every + 1) * every)  # divides: the next multiple of `every`

    def apply_credit_update(self, ctx, period: int) -> None:
        """`bridge.credit.apply_daily_credit` for every aggregator with deliveries since the last
        update; the new credit goes down to its home chains."""
        m, state = self.market, ctx.state
        threshold = m.Config.get(state)["exclusion_threshold"]
        aggregators = m.DayAggregators.get(state)
        for who in aggregators:
            deliveries = [Delivery(contracted, actual) for contracted, actual in m.DayDeliveries.get(state, who)]
            coefficient = m.Coefficient.get(state, who)
            before = CreditState(m.credit(state, who), GENESIS_COEFFICIENT if coefficient is None else coefficient)
            after = apply_daily_credit(before, deliveries)
            m.Credit.set(state, who, after.credit)
            m.Coefficient.set(state, who, after.coefficient)
            m.DayDeliveries.remove(state, who)
            m.deposit_event(ctx, "CreditUpdated", {"who": who, "credit": after.credit, "previous": before.credit,
                                                   "coefficient": after.coefficient, "contracts": len(deliveries)})
            excluded = is_excluded(after.credit, threshold)
            if excluded != is_excluded(before.credit, threshold):
                m.deposit_event(ctx, "ExclusionChanged", {"who": who, "excluded": excluded})
            self.send_credit(ctx, who, after.credit)
        m.DayAggregators.set(state, [])
        m.deposit_event(ctx, "CreditUpdateApplied", {"period": period, "aggregators": len(aggregators)})

    def coefficient(self, state, who: bytes) -> int:
        """a_{t−1}: the day coefficient of ``who``'s last day with deliveries."""
        coefficient = self.market.Coefficient.get(state, who)
        return GENESIS_COEFFICIENT if coefficient is None else coefficient

    def build_genesis(self, state, checked: dict) -> None:
        m = self.market
        m.CreditConfig.set(state, {"update_periods": checked["update_periods"]})
        for who, a in checked["coefficients"]:
            m.Coefficient.set(state, who, a)

    # -- internals ----------------------------------------------------------------------------
    def _send(self, ctx, who: bytes, chain: int, credit: int) -> None:
        self.market._queue(ctx, chain, encode_market_message("Credit", who=who, credit=credit), CREDIT, 0)


__all__ = ["CreditBook", "DeliveryRefused", "InvalidCreditConfig", "credit_genesis", "CREDIT", "DAY_MS"]
