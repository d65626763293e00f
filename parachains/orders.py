"""pallet Orders: the market side of a parachain — buy and sell orders with escrow, cancellation
with refunds, and the escrow moves settlement will make (market.md, "Orders" and "Settlement").

Escrow, kept exact at all times (the property tests hold it to this):

- funds: an open buy locks ``remaining · reserve // 100`` planck in the owner's Balances reserve
  (`bridge.orders.escrow_required`, so the chain and the auction engine agree to the planck);
  `Escrowed[owner]` is the sum over the owner's open buys.
- energy: `Committed[owner]` and `PeriodCommitted[owner, period]` count, per side, the energy of
  open orders plus settled-but-undelivered obligations. A seller's commitment must stay within
  its allowance — a generator's capacity times the period, a battery's state of charge — and a
  battery buyer's within its free capacity (`parachains.roles`). Loads and EV chargers buy
  without an energy limit.
- an owner with anything in `Committed` cannot be reaped (`Balances.keep_alive_checks`): a leg
  pays out of its reserve or mints into its account, and must not fail for want of the account.

Who may trade is the chain's rule (`ChainRules.sides`): demand buys, DG sells, storage both.
Every rejection in market.md's list has its own error, checked before anything is written.

The settlement-facing interface (internal methods, not calls), for the bridge's legs:

- `settle_leg(ctx, order_id, quantity, price, payee=None)`: fill ``quantity`` of an open order
  at ``price``. A buy pays ``quantity · price // 100`` out of its reserve — to ``payee`` on this
  chain, or, with no payee, out of this chain's issuance (the counterparty's chain mints it: a
  cross-chain leg keeps the total supply) — and releases the rest of that quantity's escrow. A
  sell's allowance becomes a delivery obligation; its payment arrives through the buy leg or a
  mint. Both sides record the obligation for the period.
- `refund(ctx, order_id)`: release everything an open order still holds (the period was not
  committed by its deadline).
- `release_obligations(ctx, who, period)`: the period's delivery was recorded; its obligations
  stop counting against the allowance.
- `set_credit(ctx, who, credit)`: the bridge's credit value for an aggregator.

Cancellation is allowed only while the period's order window is open on this chain's clock;
after gate closure the order may be in the relay's auction and its escrow must stay. On a chain
linked to the bridge (`parachains.market.MarketLink`), every order goes to the relay when it is
placed (`placed_listeners`) and cannot be cancelled here at all (`InBridgeAuction`).
"""

from __future__ import annotations

from bridge.credit import validate_credit
from bridge.errors import AmountOutOfRange, CreditBelowThreshold, ReserveOnWrongSide, ZeroPrice, ZeroQuantity
from bridge.orders import ENERGY_UNITS_PER_KWH, PPM, Order, Side, escrow_required, trade_value, validate_order_fields
from node.primitives.scale_types import U32, U64, AccountId, Balance, Composite, Compact, Field, Variant, VariantSpec
from node.runtime.errors import ArithmeticOverflow
from node.runtime.pallet import Constant, Pallet, StorageMap, StorageValue, call, event, map_of
from parachains.periods import Periods
from parachains.registry import Status
from parachains.roles import ChainRules, ResourceKind, energy_limits

MAX_U64 = 2**64 - 1
PLACE_WEIGHT = 300_000_000
CANCEL_WEIGHT = 200_000_000

_CRATE = "pallet_parawatt_orders"
SideType = Variant(f"{_CRATE}::types::Side", [VariantSpec(0, "Buy"), VariantSpec(1, "Sell")])
OrderStatus = Variant(f"{_CRATE}::types::OrderStatus", [VariantSpec(i, n) for i, n in enumerate(("Open", "Filled", "Cancelled", "Refunded"))])
OrderRecord = Composite(
    f"{_CRATE}::types::Order",
    [
        Field("owner", AccountId, "AccountId"),
        Field("side", SideType, "Side"),
        Field("quantity", U64, "u64"),  # 10 Wh units, as placed
        Field("price", Balance, "Balance"),  # offer λ, planck per kWh
        Field("reserve", Balance, "Balance"),  # reserve r, planck per kWh
        Field("period", U64, "u64"),
        Field("remaining", U64, "u64"),  # not yet settled
        Field("escrow", Balance, "Balance"),  # planck reserved now: remaining · reserve // 100 for an open buy
        Field("status", OrderStatus, "OrderStatus"),
    ],
)
EnergyCommitment = Composite(f"{_CRATE}::types::EnergyCommitment", [Field("sold", U64, "u64"), Field("bought", U64, "u64")])
_NONE = {"sold": 0, "bought": 0}
_SIDES = {"Buy": Side.BUY, "Sell": Side.SELL}
_SIDE_FIELD = {Side.BUY: "bought", Side.SELL: "sold"}
_BRIDGE_ERRORS = {ZeroQuantity: "ZeroQuantity", ZeroPrice: "ZeroPrice", ReserveOnWrongSide: "ReserveOnWrongSide", AmountOutOfRange: "AmountOutOfRange"}
_STATUS_ERRORS = {Status.UNKNOWN: "NotRegistered", Status.REVOKED: "Revoked", Status.EXPIRED: "CertificateExpired"}


class Orders(Pallet):
    name = "Orders"
    crate = _CRATE

    # -- storage ------------------------------------------------------------------------------
    NextOrderId = StorageValue(U64, default=0, docs="The id the next order gets; ids are sequential from 0.")
    Orders = map_of(U64, OrderRecord, hasher="Twox64Concat", docs="Every order by id, with its status.")
    Escrowed = map_of(AccountId, Balance, default=0, docs="Planck this pallet holds in the owner's reserve: the escrow of its open buys.")
    Committed = map_of(AccountId, EnergyCommitment, default=dict(_NONE), docs="Energy in open orders and undelivered obligations, all periods.")
    PeriodCommitted = StorageMap([(AccountId, "Blake2_128Concat"), (U64, "Twox64Concat")], EnergyCommitment, default=dict(_NONE),
                                 docs="Energy in open orders and undelivered obligations, per period.")
    Obligations = StorageMap([(AccountId, "Blake2_128Concat"), (U64, "Twox64Concat")], EnergyCommitment, default=dict(_NONE),
                             docs="Settled energy to deliver (sold) or take (bought) per period.")
    Credit = map_of(AccountId, U32, docs="Credit values in ppm, kept by the bridge; absent means InitialCredit.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "OrderPlaced", "An order was placed and its escrow locked.", order_id=U64, owner=AccountId, side=SideType,
              quantity=U64, price=Balance, reserve=Balance, period=U64),
        event(1, "OrderCancelled", "An order was cancelled by its owner and its escrow released.", order_id=U64, owner=AccountId,
              funds=Balance, energy=U64),
        event(2, "LegSettled", "Part of an order was settled.", order_id=U64, quantity=U64, price=Balance, value=Balance),
        event(3, "OrderRefunded", "An order's remaining escrow was refunded (its period was not committed).", order_id=U64,
              owner=AccountId, funds=Balance, energy=U64),
        event(4, "ObligationsReleased", "A period's delivery obligations were discharged.", who=AccountId, period=U64, sold=U64, bought=U64),
        event(5, "CreditSet", "An aggregator's credit value changed.", who=AccountId, credit=U32),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("ZeroQuantity", "The order's quantity is zero."),
        ("ZeroPrice", "The order's offer or reserve price is zero."),
        ("ReserveOnWrongSide", "A buy's reserve is below its offer, or a sell's reserve above its offer."),
        ("AmountOutOfRange", "An amount does not fit its on-chain width."),
        ("PeriodClosed", "The period's order window has closed on this chain's clock."),
        ("PeriodTooFarAhead", "The period is beyond the order horizon."),
        ("InsufficientFunds", "The buyer cannot lock quantity × reserve of free funds and keep the existential deposit."),
        ("InsufficientAllowance", "The energy would exceed the registered capacity or the state-of-charge limits."),
        ("CreditBelowThreshold", "The aggregator's credit is below the exclusion threshold."),
        ("NotRegistered", "The owner is not a registered aggregator on this chain."),
        ("Revoked", "The owner's registration has been revoked."),
        ("CertificateExpired", "The owner's certificate has expired."),
        ("SideNotAllowed", "Aggregators on this chain may not place orders of this side."),
        ("UnknownOrder", "No order has this id."),
        ("NotOrderOwner", "Only the order's owner may cancel it."),
        ("OrderNotOpen", "The order is already filled, cancelled or refunded."),
        ("BadLegQuantity", "A settlement leg's quantity is zero or exceeds the order's remaining quantity."),
        ("PriceBeyondReserve", "A settlement price is zero, above a buy's reserve or below a sell's reserve."),
        ("InvalidCredit", "A credit value outside [0, 10^6] ppm."),
        ("InBridgeAuction", "The order has gone to the bridge's auction on the relay; only the bridge can release it."),
    )

    def __init__(self, index: int, balances, registry, timestamp, rules: ChainRules, periods: Periods, *,
                 exclusion_threshold: int, initial_credit: int = PPM):
        super().__init__(index)
        if not 0 <= exclusion_threshold <= PPM or not 0 <= initial_credit <= PPM:
            raise ValueError("credit values are in [0, 10^6] ppm")
        self.balances, self.registry, self.timestamp = balances, registry, timestamp
        self.rules = rules
        self.periods = periods
        self.exclusion_threshold = exclusion_threshold
        self.initial_credit = initial_credit
        self._sides = frozenset(name for name, side in _SIDES.items() if side in rules.sides)
        # fn(ctx, order_id, record) after an order is placed, in the same transaction: the bridge
        # link sends it to the relay (a listener that raises fails the placement)
        self.placed_listeners: list = []
        self.market_link = None  # set by parachains.market.MarketLink: decides whether orders can be cancelled here
        # an owner with open orders or undelivered obligations must not be reaped: a leg pays out of
        # its reserve or mints into its account (a failed leg would break the trade's atomicity)
        balances.keep_alive_checks.append(lambda state, who: self.Committed.contains(state, who))

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [
            Constant("ExclusionThreshold", U32, self.exclusion_threshold, "Below this credit (ppm) an aggregator cannot place orders."),
            Constant("InitialCredit", U32, self.initial_credit, "The credit (ppm) of an aggregator the bridge has not rated."),
        ]

    # -- calls --------------------------------------------------------------------------------
    @call(0, side=SideType, quantity_10wh=Compact(U64), price=Compact(Balance), reserve=Compact(Balance), period=U64, weight=PLACE_WEIGHT)
    def place_order(self, ctx, origin, side, quantity_10wh, price, reserve, period):
        """Place a buy or sell order for ``period``; escrows q · r funds (buy) or q energy (sell)."""
        owner = ctx.ensure_signed(origin)
        state = ctx.state
        info = self.registry.aggregator(state, owner)  # read once: its status here, its limits in _commit
        status = self.registry.status_of(state, info)
        if status is not Status.ACTIVE:
            raise self.error(_STATUS_ERRORS[status])
        if side not in self._sides:
            raise self.error("SideNotAllowed")
        order = Order(_SIDES[side], quantity_10wh, price, reserve, period, owner, self.rules.para_id)
        try:
            validate_order_fields(order)  # the auction engine's own rules, so both sides agree
        except tuple(_BRIDGE_ERRORS) as e:
            raise self.error(_BRIDGE_ERRORS[type(e)]) from e
        now, periods = self.timestamp.now(state), self.periods.config(state)
        if not periods.is_window_open(now, period):
            raise self.error("PeriodClosed")
        if periods.is_beyond_horizon(now, period):
            raise self.error("PeriodTooFarAhead")
        try:
            validate_credit(self.credit(state, owner), self.exclusion_threshold)
        except CreditBelowThreshold as e:
            raise self.error("CreditBelowThreshold") from e
        committed, per_period = self._commit(state, owner, order, info, periods)
        funds = escrow_required(order) if order.side is Side.BUY else 0
        if funds and not self.balances.can_reserve(state, owner, funds):
            raise self.error("InsufficientFunds")
        # -- everything checked: write --
        order_id = self.NextOrderId.get(state)
        if funds:
            self.balances.reserve(ctx, owner, funds)
            self.Escrowed.set(state, owner, self.Escrowed.get(state, owner) + funds)
        self._store(state, self.Committed, owner, committed)
        self._store(state, self.PeriodCommitted, owner, period, per_period)
        record = {"owner": owner, "side": side, "quantity": quantity_10wh, "price": price, "reserve": reserve,
                  "period": period, "remaining": quantity_10wh, "escrow": funds, "status": "Open"}
        self.Orders.set(state, order_id, record)
        self.NextOrderId.set(state, order_id + 1)
        for listener in self.placed_listeners:
            listener(ctx, order_id, dict(record))  # what was stored, without reading it back
        self.deposit_event(ctx, "OrderPlaced", {"order_id": order_id, "owner": owner, "side": side, "quantity": quantity_10wh,
                                                "price": price, "reserve": reserve, "period": period})

    @call(1, order_id=U64, weight=CANCEL_WEIGHT)
    def cancel_order(self, ctx, origin, order_id):
        """Cancel an open order while its period's window is open; its escrow is released."""
        who = ctx.ensure_signed(origin)
        record = self._open_order(ctx.state, order_id, owner=who)
        if not self.periods.config(ctx.state).is_window_open(self.timestamp.now(ctx.state), record["period"]):
            raise self.error("PeriodClosed")
        if self.market_link is not None and self.market_link.is_linked(ctx.state):
            raise self.error("InBridgeAuction")
        funds, energy = self._release(ctx, order_id, record, "Cancelled")
        self.deposit_event(ctx, "OrderCancelled", {"order_id": order_id, "owner": who, "funds": funds, "energy": energy})

    # -- the interface other pallets use (settlement) -----------------------------------------
    def order(self, state, order_id: int) -> dict | None:
        return self.Orders.get(state, order_id)

    def credit(self, state, who: bytes) -> int:
        credit = self.Credit.get(state, who)
        return self.initial_credit if credit is None else credit

    def settle_leg(self, ctx, order_id: int, quantity: int, price: int, payee: bytes | None = None) -> int:
        """Settle ``quantity`` of an open order at ``price``; returns the leg's value in planck
        (``quantity · price // 100``). See the module doc for where the value goes."""
        state = ctx.state
        record = self._open_order(state, order_id)
        side = _SIDES[record["side"]]
        if not 0 < quantity <= record["remaining"]:
            raise self.error("BadLegQuantity")
        if price <= 0 or (price > record["reserve"] if side is Side.BUY else price < record["reserve"]):
            raise self.error("PriceBeyondReserve")
        if side is Side.SELL and payee is not None:
            raise ValueError("a sell leg moves no funds on the seller's chain; pay it through the buy leg or a mint")
        owner, value = record["owner"], trade_value(quantity, price)
        remaining = record["remaining"] - quantity
        if side is Side.BUY:
            escrow = remaining * record["reserve"] // ENERGY_UNITS_PER_KWH  # divides: rounds toward zero, as placement did
            # floor(a + b) ≥ floor(a) + floor(b), so the old escrow always covers value + new escrow
            release = record["escrow"] - escrow - value
            if value:
                if payee is None:
                    self.balances.slash_reserved(ctx, owner, value)
                else:
                    self.balances.repatriate_reserved(ctx, owner, payee, value)
            self.balances.unreserve(ctx, owner, release)
            self._store(state, self.Escrowed, owner, self.Escrowed.get(state, owner) - (record["escrow"] - escrow))
            record["escrow"] = escrow
        obligations = dict(self.Obligations.get(state, owner, record["period"]))
        obligations[_SIDE_FIELD[side]] += quantity  # still committed: now as an obligation
        self.Obligations.set(state, owner, record["period"], obligations)
        record["remaining"] = remaining
        record["status"] = "Open" if remaining else "Filled"
        self.Orders.set(state, order_id, record)
        self.deposit_event(ctx, "LegSettled", {"order_id": order_id, "quantity": quantity, "price": price, "value": value})
        return value

    def refund(self, ctx, order_id: int) -> tuple[int, int]:
        """Release all an open order still holds; returns (funds, energy) released."""
        record = self._open_order(ctx.state, order_id)
        funds, energy = self._release(ctx, order_id, record, "Refunded")
        self.deposit_event(ctx, "OrderRefunded", {"order_id": order_id, "owner": record["owner"], "funds": funds, "energy": energy})
        return funds, energy

    def release_obligations(self, ctx, who: bytes, period: int) -> dict:
        """Discharge ``who``'s settled obligations of ``period``; returns what was released."""
        state = ctx.state
        done = dict(self.Obligations.get(state, who, period))
        if done == _NONE:
            return done
        committed, per_period = dict(self.Committed.get(state, who)), dict(self.PeriodCommitted.get(state, who, period))
        for field in ("sold", "bought"):
            committed[field] -= done[field]
            per_period[field] -= done[field]
        self._store(state, self.Committed, who, committed)
        self._store(state, self.PeriodCommitted, who, period, per_period)
        self.Obligations.remove(state, who, period)
        self.deposit_event(ctx, "ObligationsReleased", {"who": who, "period": period, **done})
        return done

    def set_credit(self, ctx, who: bytes, credit: int) -> None:
        if not 0 <= credit <= PPM:
            raise self.error("InvalidCredit")
        self.Credit.set(ctx.state, who, credit)
        self.deposit_event(ctx, "CreditSet", {"who": who, "credit": credit})

    # -- internals ----------------------------------------------------------------------------
    def _commit(self, state, owner: bytes, order: Order, info: dict, periods) -> tuple[dict, dict]:
        """The owner's energy commitments with ``order`` added, if within its limits (``info``:
        its registry record; ``periods``: the chain's period config)."""
        limits = energy_limits(ResourceKind.from_variant(info["kind"]), info["capacity"], info["state_of_charge"], periods)
        field = _SIDE_FIELD[order.side]
        committed = dict(self.Committed.get(state, owner))
        per_period = dict(self.PeriodCommitted.get(state, owner, order.period))
        committed[field] += order.quantity
        per_period[field] += order.quantity
        if order.side is Side.SELL:
            caps = ((limits.sell_total, committed), (limits.sell_per_period, per_period))
        else:
            caps = ((limits.buy_total, committed),)
        for cap, counted in caps:
            if cap is not None and counted[field] > cap:
                raise self.error("InsufficientAllowance")
        if committed[field] > MAX_U64:
            raise ArithmeticOverflow()
        return committed, per_period

    def _open_order(self, state, order_id: int, owner: bytes | None = None) -> dict:
        record = self.Orders.get(state, order_id)
        if record is None:
            raise self.error("UnknownOrder")
        if owner is not None and record["owner"] != owner:
            raise self.error("NotOrderOwner")
        if record["status"] != "Open":
            raise self.error("OrderNotOpen")
        return record

    def _release(self, ctx, order_id: int, record: dict, status: str) -> tuple[int, int]:
        state, owner, period = ctx.state, record["owner"], record["period"]
        funds, energy = record["escrow"], record["remaining"]
        field = _SIDE_FIELD[_SIDES[record["side"]]]
        if funds:
            self.balances.unreserve(ctx, owner, funds)
            self._store(state, self.Escrowed, owner, self.Escrowed.get(state, owner) - funds)
        committed, per_period = dict(self.Committed.get(state, owner)), dict(self.PeriodCommitted.get(state, owner, period))
        committed[field] -= energy
        per_period[field] -= energy
        self._store(state, self.Committed, owner, committed)
        self._store(state, self.PeriodCommitted, owner, period, per_period)
        record.update(escrow=0, status=status)
        self.Orders.set(state, order_id, record)
        return funds, energy

    @staticmethod
    def _store(state, item, *keys_and_value) -> None:
        """Write a ValueQuery entry, or remove it when it is back at its default (no zero
        entries left behind for every account that ever traded)."""
        *keys, value = keys_and_value
        if value == item.default:
            item.remove(state, *keys)
        else:
            item.set(state, *keys, value)

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, state, config):
        for who, credit in config.get("credits", []):
            if not 0 <= credit <= PPM:
                raise ValueError(f"genesis credit {credit} is outside [0, {PPM}] ppm")
            self.Credit.set(state, who, credit)
