"""MarketLink on a parachain: this chain's end of the cross-chain energy market.

Orders and deliveries go up; legs, refunds and credit values come down (`bridge.messages`,
protocol byte 2):

- Every order placed with `Orders.place_order` is sent to the relay as an `Order` message in the
  same call, so a full channel fails the placement with `Messaging.ChannelFull` and nothing is
  escrowed. Sent at placement rather than at gate closure: the relay then sees orders of all
  chains interleaved in the order their blocks were anchored, which is the arrival order the
  continuous round needs.
- A `Leg` settles part of an order (`Orders.settle_leg`: a buy pays its payee here or, with no
  payee, burns — the relay moved the reserve to the counterparty's chain) and mints `mint` to a
  seller paid from another chain or by the grid. A `Refund` releases an order's escrow.
- A period's delivery (market.md "Credit"): when `Meters` accepts a reading for an aggregator
  and period that has settled obligations (`Orders.Obligations`), the obligations are released
  (`Orders.release_obligations`: they stop counting against the allowance) and a `Delivery`
  goes up in the same call with the contracted energy (sold, bought) and what the meters
  measured so far (`Meters.Delivered`: exported, imported). The relay scores sold against
  exported and bought against imported in its daily credit update.
- A `Credit` from the relay sets the aggregator's credit here (`Orders.set_credit`), so
  placement refuses an excluded aggregator (`Orders.CreditBelowThreshold`) as the relay does.

Decisions:
- A delivery is complete at the first accepted reading of the period for that aggregator that
  finds settled obligations — deterministic and one message per (aggregator, period). Readings
  that come later for the same period are still recorded in `Meters.Delivered` but report
  nothing (no obligations are left). This fits one meter per aggregator and flow (the case
  study); an aggregator with several meters is scored on the first one read — counting its
  devices per flow in the Registry would let the delivery wait for all of them.
- A reading with no settled obligations (nothing traded, or already reported) reports nothing.
- With the channel to the relay full, the reading is refused whole (`Messaging.ChannelFull`)
  like a placement: nothing is recorded and the reading can be submitted again.
- Legs go down at the gate, a whole period before any reading of that period can exist
  (`Meters.PeriodInFuture`), so the obligations are complete when the delivery is reported;
  a leg held back by a stalled channel past the period's end would be missing from it (the
  relay then refuses the Delivery as not matching its trades — see `relay.credit_book`).
- A chain with no channel to the relay is not linked: its orders stay local and can be
  cancelled as before (chains and tests that run without the bridge); a reading still releases
  the period's obligations, and nothing goes up.
- On a linked chain an order cannot be cancelled here once placed (`Orders.InBridgeAuction`):
  only the relay knows whether it has been matched, and a local release racing a leg would
  break atomicity. Its escrow comes back through a leg or a `Refund`.
- The relay is trusted to send well-formed legs for orders it received (it re-executes this
  chain's blocks to include them); a leg that still fails is reported as `MessageFailed` by
  Messaging and the relay records the leg as processed — a known gap, an `Applied` ack would
  close it.
"""

from __future__ import annotations

from bridge.messages import MARKET, MalformedMarketMessage, decode_market_message, encode_market_message
from node.pallets.messaging import RELAY_CHAIN, Messaging
from node.primitives.scale_types import U32, U64, AccountId, Balance
from node.runtime.pallet import Pallet, event


class MarketLink(Pallet):
    name = "MarketLink"
    crate = "parawatt_market_link"

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "OrderSent", "An order went up to the bridge as message `seq` of the channel to the relay.", order_id=U64, seq=U64),
        event(1, "LegApplied", "A leg of a committed trade was applied to an order.", trade_id=U64, order_id=U64,
              quantity=U64, price=Balance, value=Balance, minted=Balance),
        event(2, "OrderReleased", "The bridge refunded an order.", order_id=U64, owner=AccountId, funds=Balance, energy=U64),
        event(3, "DeliveryReported", "A period's delivery went up to the bridge as message `seq` (energy in 10 Wh units).",
              owner=AccountId, period=U64, sold=U64, bought=U64, exported=U64, imported=U64, seq=U64),
        event(4, "CreditReceived", "The bridge sent an aggregator's credit value (ppm).", who=AccountId, credit=U32),
    )

    def __init__(self, index: int, para_id: int, balances, messaging: Messaging, orders, meters=None):
        super().__init__(index)
        self.para_id = para_id
        self.balances, self.messaging, self.orders, self.meters = balances, messaging, orders, meters
        orders.placed_listeners.append(self._on_placed)
        if meters is not None:
            meters.reading_listeners.append(self._on_reading)
        orders.market_link = self
        messaging.handlers.register(MARKET, self._on_message)

    def is_linked(self, state) -> bool:
        return self.messaging.has_channel(state, self.para_id, RELAY_CHAIN)

    # -- orders go up ---------------------------------------------------------------------------
    def _on_placed(self, ctx, order_id: int, record: dict) -> None:
        if not self.is_linked(ctx.state):
            return
        seq = self.messaging.send(ctx, RELAY_CHAIN, encode_market_message(
            "Order", order_id=order_id, owner=record["owner"], side=record["side"], quantity=record["quantity"],
            price=record["price"], reserve=record["reserve"], period=record["period"]))
        self.deposit_event(ctx, "OrderSent", {"order_id": order_id, "seq": seq})

    # -- deliveries go up -----------------------------------------------------------------------
    def _on_reading(self, ctx, aggregator: bytes, period: int) -> None:
        released = self.orders.release_obligations(ctx, aggregator, period)
        if not (released["sold"] or released["bought"]) or not self.is_linked(ctx.state):
            return
        delivered = self.meters.delivered(ctx.state, aggregator, period)
        report = {"owner": aggregator, "period": period, "sold": released["sold"], "bought": released["bought"],
                  "exported": delivered["exported"], "imported": delivered["imported"]}
        seq = self.messaging.send(ctx, RELAY_CHAIN, encode_market_message("Delivery", **report))
        self.deposit_event(ctx, "DeliveryReported", {**report, "seq": seq})

    # -- legs come down -------------------------------------------------------------------------
    def _on_message(self, ctx, source: int, seq: int, body: bytes) -> None:
        if source != RELAY_CHAIN:
            raise MalformedMarketMessage("market legs come from the relay")
        kind, m = decode_market_message(body)
        if kind == "Leg":
            record = self.orders.order(ctx.state, m["order_id"])
            value = self.orders.settle_leg(ctx, m["order_id"], m["quantity"], m["price"], m["payee"])
            if m["mint"]:
                self.balances.mint(ctx, record["owner"], m["mint"])
            self.deposit_event(ctx, "LegApplied", {"trade_id": m["trade_id"], "order_id": m["order_id"], "quantity": m["quantity"],
                                                   "price": m["price"], "value": value, "minted": m["mint"]})
        elif kind == "Refund":
            record = self.orders.order(ctx.state, m["order_id"])
            funds, energy = self.orders.refund(ctx, m["order_id"])
            self.deposit_event(ctx, "OrderReleased", {"order_id": m["order_id"], "owner": record["owner"], "funds": funds, "energy": energy})
        elif kind == "Credit":
            self.orders.set_credit(ctx, m["who"], m["credit"])
            self.deposit_event(ctx, "CreditReceived", {"who": m["who"], "credit": m["credit"]})
        else:
            raise MalformedMarketMessage(f"a parachain does not take {kind} messages")


__all__ = ["MarketLink"]
