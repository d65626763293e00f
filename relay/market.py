"""Market on the relay: the bridge's book, auction and settlement of every trading period.

Orders arrive as `Order` messages (`bridge.messages`) when the candidate that placed them is
included, and join their period's book in that (anchored) order. At the period's gate the pallet
runs `bridge.auction.run_auction` on the book — round 1 over the arrival order, round 2 and grid
absorption — and stores the trades: the relay block that records them is the commit point. Each
leg then goes down to its chain as a relay→para message, which the Router delivers exactly once
and in order; when a para's watermark passes a leg (`Router.delivered_listeners`) the leg is
recorded as applied on that chain.

Schedule, in relay blocks (genesis section "Market"; every value has a default):

    start(p)    = first_block + (p − first_period) · period_blocks
    gate(p)     = start(p) − gate_offset_blocks     orders arriving after it are refunded;
                                                    the auction runs at the first block ≥ gate
    deadline(p) = gate(p) + deadline_blocks         not committed by then: every order refunded

`first_period`/`first_block` anchor the parachains' period indices (market ms since the epoch
divided by the period length) to relay blocks. Without them in genesis the anchor is taken from
the relay's own Timestamp in its first block: the next period starts after the blocks left of
the current one (`period_ms`, `period_blocks`), so relay gates track the parachains' clocks.
Time compression (`compression`, as in `parachains.periods`): market time is the clock times the
factor, so a testnet runs an hour-long period in `period_blocks` blocks of a second; period
indices, energy and the TOU hour stay those of the market hour.

Value (the supply invariant `sovereign(p) == issuance(p) + fees burned on p` holds in every
relay block, as for XTransfers):
- same-chain trade: the buy leg pays the seller there (`payee`); no reserve moves.
- cross-chain trade: the buy leg burns on the buyer's chain; when it is processed,
  sovereign(buyer chain) → `MARKET_ACCOUNT`, and only then the sell leg (with `mint`) goes to
  the seller's chain; when that is processed, `MARKET_ACCOUNT` → sovereign(seller chain).
- grid supply (the grid sells): the buy leg burns; when processed, sovereign(buyer chain) →
  grid operator. Grid purchase (the grid buys): at commit, grid operator → `MARKET_ACCOUNT`;
  the sell leg mints; when processed, `MARKET_ACCOUNT` → sovereign(seller chain).

Decisions where market.md and the issue are open:
- The whole auction runs at the gate on the stored book, in arrival order. Round 1 is
  deterministic in arrival order, so this gives exactly the trades of running it as orders
  arrive, with no book kept between blocks but the orders themselves.
- Exclusion by credit is checked when an order arrives (relay credits, `Credit`); an order
  refused here (fields, credit, a period already closed, a duplicate) is refunded at once.
- The credit an owner trades with in a period is fixed when its first order of that period
  arrives (`PeriodCredits`): a credit update between arrival and the gate does not reorder a
  book its orders joined under the old value, and every order of one owner in one period has
  one credit, as the auction needs.
- A grid trade's record keeps the auction's price (λ_grid or λ_0, as market.md and the offline
  command have it), but its legs settle at that price clamped into the order's reserve (a buyer
  pays at most min(λ_grid, r), a seller gets at least max(λ_0, r)): market.md also makes the
  reserve "the most it will ever pay" / "the least it accepts", and the buyer's escrow only
  covers q · r. The record's `value` is what moved; the grid operator bears the difference.
- The operator may pause the market (`set_paused`, root): paused periods are not auctioned and
  at their deadline every order is refunded. A run that fails (e.g. the grid operator cannot
  pay for a grid purchase) is rolled back and retried each block until the deadline.
- The grid operator is paid for grid supply after the buyer's chain burned, so that payment must
  not fail: a custom operator must have an account at genesis, and it cannot be reaped
  (`Balances.keep_alive_checks`).
- Legs wait in the pallet's own outbox when a channel is full and go down as it drains, so a
  committed leg is never dropped (and committing never fails on channel capacity).

Credit (market.md "Credit"): deliveries come up from the parachains, the credit update runs once
a day of periods and the new credits go down through the same outbox — `relay.credit_book` has
the loop and its decisions; this module declares its storage and events ("credit" sections).
"""

from __future__ import annotations

from bridge.auction import GridTrade, Trade, run_auction
from bridge.credit import validate_credit
from bridge.errors import MarketError
from bridge.messages import MARKET, MalformedMarketMessage, decode_market_message, encode_market_message
from bridge.orders import DEFAULT_EXCLUSION_THRESHOLD, PPM, Order, Side, trade_value, validate_order_fields
from bridge.tariff import Tariff, TouSchedule, TouSlot, validate_schedule
from node.primitives.ss58 import parse_account
from node.primitives.scale_types import U8, U32, U64, AccountId, Balance, Bool, Bytes, Composite, Field, Option, Sequence_, Tuple
from node.runtime.errors import DispatchError
from node.runtime.pallet import Constant, Pallet, StorageMap, StorageValue, call, event, map_of
from relay.credit_book import CreditBook, credit_genesis
from relay.router import RELAY_CHAIN, Router
from relay.xtransfers import sovereign_account

MARKET_ACCOUNT = b"modlpw/mrkt".ljust(32, b"\0")  # value between chains during settlement; no key signs for it
GRID_ACCOUNT = b"modlpw/grid".ljust(32, b"\0")  # the default grid operator
PAUSE_WEIGHT = 10_000_000
HOUR_MS = 3_600_000
DEFAULTS = {
    "period_ms": HOUR_MS, "period_blocks": 3600, "gate_offset_blocks": 300, "deadline_blocks": 300,
    "grid_operator": GRID_ACCOUNT, "grid_endowment": 10**18, "exclusion_threshold": DEFAULT_EXCLUSION_THRESHOLD,
    "initial_credit": PPM, "compression": 1,
    # λ_grid 0.20 token/kWh, λ_0 0.05 token/kWh, all day
    "tariff": [(0, 0, 200_000_000_000, 50_000_000_000)],
}
ROUND_GRID = 0  # a trade's round: 1 continuous, 2 reserve, 0 the grid
GRID_CHAIN = RELAY_CHAIN  # the grid operator's side of a trade lives on the relay
OPEN, COMMITTED, REFUNDED = 0, 1, 2
PERIOD_STATUS = ("Open", "Committed", "Refunded")
PENDING, SENT, APPLIED = 0, 1, 2  # a leg: waiting (outbox or behind the buy leg), sent down, processed
LEG_STATUS = ("Pending", "Sent", "Applied")
BUY_LEG, SELL_LEG, REFUND = 0, 1, 2

MarketConfig = Composite("parawatt_market::Config", [
    Field("period_ms", U64), Field("period_blocks", U32), Field("gate_offset_blocks", U32), Field("deadline_blocks", U32),
    Field("grid_operator", AccountId), Field("exclusion_threshold", U32), Field("initial_credit", U32),
    Field("compression", U32),
])
TouEntry = Tuple(U32, U32, Balance, Balance)  # (start minute, end minute, λ_grid, λ_0)
BookEntry = Composite("parawatt_market::BookEntry", [
    Field("chain", U32), Field("order_id", U64), Field("owner", AccountId), Field("side", U8), Field("quantity", U64),
    Field("price", Balance), Field("reserve", Balance)])
PeriodInfo = Composite("parawatt_market::PeriodInfo", [
    Field("orders", U32), Field("status", U8), Field("first_trade", U64), Field("trades", U32)])
TradeRecord = Composite("parawatt_market::Trade", [
    Field("period", U64), Field("round", U8),
    Field("buyer", AccountId), Field("buyer_chain", U32), Field("buy_order", Option(U64)),
    Field("seller", AccountId), Field("seller_chain", U32), Field("sell_order", Option(U64)),
    Field("quantity", U64), Field("price", Balance), Field("value", Balance), Field("xi", U32),
    Field("buyer_status", U8), Field("seller_status", U8)])
_NEW_PERIOD = {"orders": 0, "status": OPEN, "first_trade": 0, "trades": 0}


class Market(Pallet):
    name = "Market"
    crate = "parawatt_relay::market"

    # -- storage ------------------------------------------------------------------------------
    Config = StorageValue(MarketConfig, docs="Period length and gates in relay blocks, the grid operator, credit rules.")
    Tariff = StorageValue(Sequence_(TouEntry), default=[], docs="The TOU tariff: (start, end minute of day, λ_grid, λ_0).")
    TieLines = StorageValue(Sequence_(Tuple(U32, U32, U64)), default=[],
                            docs="Optional caps on energy matched from a seller chain to a buyer chain per period.")
    Anchor = StorageValue(Tuple(U64, U32), docs="(first_period, first_block): period indices against relay blocks.")
    Paused = StorageValue(Bool, default=False, docs="The operator paused the market: no auction runs.")
    Credit = map_of(AccountId, U32, docs="Credit values in ppm; absent means the configured initial credit.")
    Periods = map_of(U64, PeriodInfo, hasher="Twox64Concat", docs="Per period: orders in the book, status, its trades.")
    OpenPeriods = StorageValue(Sequence_(U64), default=[], docs="Periods with orders, not yet committed or refunded.")
    Book = StorageMap([(U64, "Twox64Concat"), (U32, "Twox64Concat")], BookEntry, docs="Orders by (period, arrival index).")
    Received = StorageMap([(U32, "Twox64Concat"), (U64, "Twox64Concat")], U64, docs="Orders taken in, by (chain, order id): their period.")
    PeriodCredits = StorageMap([(U64, "Twox64Concat"), (AccountId, "Blake2_128Concat")], U32,
                               docs="Each owner's credit in a period's auction, fixed at its first order of the period.")
    NextTrade = StorageValue(U64, default=0, docs="The id of the next trade.")
    Trades = map_of(U64, TradeRecord, hasher="Twox64Concat", docs="Every committed trade with the status of its legs per chain.")
    Outbox = StorageMap([(U32, "Twox64Concat"), (U64, "Twox64Concat")], Tuple(Bytes, U8, U64),
                        docs="Legs waiting for room in a channel, by (dest, n): (message, kind, trade id or order chain/id).")
    OutboxDests = StorageValue(Sequence_(U32), default=[], docs="Every chain a leg was ever queued for.")
    OutboxRange = map_of(U32, Tuple(U64, U64), hasher="Twox64Concat", default=(0, 0), docs="Per dest: the outbox's (first, next).")
    InFlight = StorageMap([(U32, "Twox64Concat"), (U64, "Twox64Concat")], Tuple(U8, U64),
                          docs="Legs sent down, by (dest, message seq), until the para processes them: (kind, id).")

    # -- storage: credit (relay.credit_book) ----------------------------------------------------
    CreditConfig = StorageValue(Composite("parawatt_market::CreditConfig", [Field("update_periods", U32)]),
                                docs="The credit update runs at the start of every period whose index is a multiple of this.")
    Coefficient = map_of(AccountId, U32, docs="a_{t−1} in ppm: the day coefficient of an aggregator's last day with deliveries.")
    Contracts = StorageMap([(U32, "Twox64Concat"), (AccountId, "Blake2_128Concat"), (U64, "Twox64Concat")], Tuple(U64, U64),
                           docs="Committed energy (sold, bought) by (chain, aggregator, period), until its delivery is reported.")
    DayDeliveries = map_of(AccountId, Sequence_(Tuple(U64, U64)), default=[],
                           docs="Contracts scored since the last update: (contracted, metered) energy.")
    DayAggregators = StorageValue(Sequence_(AccountId), default=[], docs="Aggregators with deliveries since the last update.")
    NextCreditUpdate = StorageValue(U64, docs="The period at whose start the next credit update runs.")
    Homes = map_of(AccountId, Sequence_(U32), default=[], docs="Chains an aggregator's orders or deliveries came from.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "OrderReceived", "An order joined its period's book.", chain=U32, order_id=U64, period=U64, arrival=U32),
        event(1, "OrderRejected", "An order was refused by the bridge and is being refunded.", chain=U32, order_id=U64, reason=Bytes),
        event(2, "TradeCommitted", "A trade was committed; its legs are on their way.", trade_id=U64, period=U64, round=U8,
              buyer=AccountId, seller=AccountId, quantity=U64, price=Balance, value=Balance),
        event(3, "PeriodCommitted", "A period's auction ran and its trades were committed.", period=U64, trades=U32),
        event(4, "PeriodRefunded", "A period was not committed by its deadline; every order is refunded.", period=U64, orders=U32),
        event(5, "LegApplied", "A chain processed a leg of a trade.", trade_id=U64, chain=U32),
        event(6, "TradeSettled", "Every leg of a trade has been applied.", trade_id=U64),
        event(7, "AuctionDeferred", "A period's auction could not run in this block; it is retried until the deadline.",
              period=U64, error=Bytes),
        event(8, "SettlementStuck", "Moving a settled leg's value failed; it waits in the market account.", trade_id=U64),
        event(9, "PausedSet", "The operator paused or resumed the market.", paused=Bool),
        event(10, "CreditSet", "An aggregator's credit value was set by the operator.", who=AccountId, credit=U32),
        # -- events: credit (relay.credit_book) --
        event(11, "DeliveryReceived", "A chain reported a period's delivery of a committed contract (10 Wh units).",
              chain=U32, who=AccountId, period=U64, sold=U64, bought=U64, exported=U64, imported=U64),
        event(12, "CreditUpdated", "The credit update scored an aggregator's contracts (ppm).",
              who=AccountId, credit=U32, previous=U32, coefficient=U32, contracts=U32),
        event(13, "ExclusionChanged", "An aggregator's credit crossed the exclusion threshold.", who=AccountId, excluded=Bool),
        event(14, "CreditUpdateApplied", "The credit update ran at the start of `period`.", period=U64, aggregators=U32),
    )

    ERRORS = (
        ("UnknownTrade", "No trade has this id."),
        ("InvalidCredit", "A credit value outside [0, 10^6] ppm."),
    )

    def __init__(self, index: int, balances, timestamp, router: Router):
        super().__init__(index)
        self.balances, self.timestamp, self.router = balances, timestamp, router
        router.handlers.register(MARKET, self._on_upward)
        router.delivered_listeners.append(self._on_delivered)
        self.credit_book = CreditBook(self)
        # grid supply is paid to the operator after the buyer's chain burned: it must stay payable
        balances.keep_alive_checks.append(lambda state, who: who == (self.Config.get(state) or {}).get("grid_operator"))

    def constants(self):
        return [Constant("MarketAccount", AccountId, MARKET_ACCOUNT, "Holds value between chains during settlement.")]

    # -- calls --------------------------------------------------------------------------------
    @call(0, paused=Bool, weight=PAUSE_WEIGHT)
    def set_paused(self, ctx, origin, paused):
        """Pause or resume the auctions (root: the operator)."""
        ctx.ensure_root(origin)
        self.Paused.set(ctx.state, paused)
        self.deposit_event(ctx, "PausedSet", {"paused": paused})

    @call(1, who=AccountId, credit=U32, weight=PAUSE_WEIGHT)
    def set_credit(self, ctx, origin, who, credit):
        """Set an aggregator's credit value in ppm (root: the operator, e.g. to start an experiment
        from a case study's credits)."""
        ctx.ensure_root(origin)
        if not 0 <= credit <= PPM:
            raise self.error("InvalidCredit")
        self.Credit.set(ctx.state, who, credit)
        self.deposit_event(ctx, "CreditSet", {"who": who, "credit": credit})
        self.credit_book.send_credit(ctx, who, credit)

    # -- schedule -------------------------------------------------------------------------------
    def anchor(self, ctx) -> tuple[int, int]:
        anchor = self.Anchor.get(ctx.state)
        if anchor is None:  # from the relay clock: the next period starts after the rest of this one
            config = self.Config.get(ctx.state)
            now = self.timestamp.now(ctx.state) * config["compression"]  # market time
            left = config["period_ms"] - now % config["period_ms"]
            # divides: rounds the rest of the current period down to whole blocks
            anchor = (now // config["period_ms"] + 1, ctx.block_number + left * config["period_blocks"] // config["period_ms"])
            self.Anchor.set(ctx.state, anchor)
        return anchor

    def gate(self, ctx, period: int) -> int | None:
        """The relay block at which ``period``'s order window closes; None before the anchor."""
        first_period, first_block = self.anchor(ctx)
        if period < first_period:
            return None
        config = self.Config.get(ctx.state)
        return first_block + (period - first_period) * config["period_blocks"] - config["gate_offset_blocks"]

    def tariff(self, state, period: int) -> Tariff:
        config = self.Config.get(state)
        minute = period * config["period_ms"] // 60_000  # divides: the period's first minute
        return _schedule(self.Tariff.get(state)).tariff_at(minute)

    def credit(self, state, who: bytes) -> int:
        credit = self.Credit.get(state, who)
        return self.Config.get(state)["initial_credit"] if credit is None else credit

    # -- orders come up -------------------------------------------------------------------------
    def _on_upward(self, ctx, source: int, seq: int, body: bytes) -> None:
        kind, m = decode_market_message(body)
        if kind == "Delivery":
            return self.credit_book.apply_delivery(ctx, source, m)
        if kind != "Order":
            raise MalformedMarketMessage(f"the relay does not take {kind} messages")
        state = ctx.state
        if self.Received.contains(state, source, m["order_id"]):
            raise MalformedMarketMessage("order id used twice")  # its escrow is with the first one
        self.credit_book.learn_home(ctx, m["owner"], source)
        period = m["period"]
        self.Received.set(state, source, m["order_id"], period)
        order = Order(Side.BUY if m["side"] == "Buy" else Side.SELL, m["quantity"], m["price"], m["reserve"], period,
                      m["owner"], source)
        reason = None
        gate = self.gate(ctx, period)
        info = self.Periods.get(state, period) or dict(_NEW_PERIOD)
        try:
            validate_order_fields(order)
            validate_credit(self.credit(state, m["owner"]), self.Config.get(state)["exclusion_threshold"])
        except MarketError as e:
            reason = str(e)
        if reason is None and (gate is None or ctx.block_number > gate or info["status"] != OPEN):
            reason = f"the order window of period {period} has closed"
        if reason is not None:
            self.deposit_event(ctx, "OrderRejected", {"chain": source, "order_id": m["order_id"], "reason": reason.encode()[:200]})
            self._queue(ctx, source, encode_market_message("Refund", order_id=m["order_id"]), REFUND, m["order_id"])
            self._flush(ctx)
            return
        index = info["orders"]
        if not self.PeriodCredits.contains(state, period, m["owner"]):
            self.PeriodCredits.set(state, period, m["owner"], self.credit(state, m["owner"]))
        self.Book.set(state, period, index, {"chain": source, "order_id": m["order_id"], "owner": m["owner"],
                                             "side": 0 if order.side is Side.BUY else 1, "quantity": order.quantity,
                                             "price": order.price, "reserve": order.reserve})
        if index == 0:
            self.OpenPeriods.set(state, sorted(self.OpenPeriods.get(state) + [period]))
        self.Periods.set(state, period, {**info, "orders": index + 1})
        self.deposit_event(ctx, "OrderReceived", {"chain": source, "order_id": m["order_id"], "period": period, "arrival": index})

    # -- gates ----------------------------------------------------------------------------------
    def on_finalize(self, ctx):
        state = ctx.state
        if ctx.block_number == 1:
            self.anchor(ctx)  # fixed in the first block, so clients can read the schedule from then on
        open_periods = self.OpenPeriods.get(state)
        if open_periods:
            done = []
            deadline_blocks = self.Config.get(state)["deadline_blocks"]
            for period in open_periods:
                gate = self.gate(ctx, period)
                if ctx.block_number < gate:
                    break  # sorted: later periods gate later
                if not self.Paused.get(state):
                    try:
                        with state.transaction():
                            self.apply_auction(ctx, period)
                        done.append(period)
                        continue
                    except (DispatchError, MarketError) as e:
                        self.deposit_event(ctx, "AuctionDeferred", {"period": period, "error": str(e).encode()[:200]})
                if ctx.block_number >= gate + deadline_blocks:
                    self.apply_refunds(ctx, period)
                    done.append(period)
            if done:
                self.OpenPeriods.set(state, [p for p in open_periods if p not in done])
        self.credit_book.on_finalize(ctx)
        self._flush(ctx)

    def apply_auction(self, ctx, period: int) -> None:
        """Run ``period``'s auction on its book and commit the trades and their legs."""
        state = ctx.state
        info = self.Periods.get(state, period)
        entries = [self.Book.get(state, period, i) for i in range(info["orders"])]
        orders = [Order(Side.BUY if e["side"] == 0 else Side.SELL, e["quantity"], e["price"], e["reserve"], period, e["owner"],
                        e["chain"]) for e in entries]
        credits = {e["owner"]: self.PeriodCredits.get(state, period, e["owner"]) for e in entries}
        tie_lines = {(s, b): cap for s, b, cap in self.TieLines.get(state)}
        # exclusion was checked on arrival: resting orders are not withdrawn if credit changes
        result = run_auction(orders, period=period, tariff=self.tariff(state, period), credits=credits,
                             tie_lines=tie_lines, exclusion_threshold=0)
        first = self.NextTrade.get(state)
        grid_operator = self.Config.get(state)["grid_operator"]
        trade_id = first
        for trade in result.trades:
            self._commit_peer(ctx, trade_id, period, trade, entries)
            trade_id += 1
        for grid in result.grid:
            self._commit_grid(ctx, trade_id, period, grid, entries[grid.order], grid_operator)
            trade_id += 1
        self.NextTrade.set(state, trade_id)
        self.credit_book.record_contracts(ctx, period, first, trade_id)
        self.Periods.set(state, period, {**info, "status": COMMITTED, "first_trade": first, "trades": trade_id - first})
        for i in range(len(entries)):
            self.Book.remove(state, period, i)
        for owner in credits:  # one entry per owner, not per order
            self.PeriodCredits.remove(state, period, owner)
        self.deposit_event(ctx, "PeriodCommitted", {"period": period, "trades": trade_id - first})

    def apply_refunds(self, ctx, period: int) -> None:
        """``period`` was not committed by its deadline: refund every order of its book."""
        state = ctx.state
        info = self.Periods.get(state, period)
        for i in range(info["orders"]):
            entry = self.Book.get(state, period, i)
            self._queue(ctx, entry["chain"], encode_market_message("Refund", order_id=entry["order_id"]), REFUND, entry["order_id"])
            self.Book.remove(state, period, i)
            self.PeriodCredits.remove(state, period, entry["owner"])
        self.Periods.set(state, period, {**info, "status": REFUNDED})
        self.deposit_event(ctx, "PeriodRefunded", {"period": period, "orders": info["orders"]})

    def _commit_peer(self, ctx, trade_id: int, period: int, trade: Trade, entries: list) -> None:
        buy, sell = entries[trade.buy], entries[trade.sell]
        value = trade_value(trade.quantity, trade.price)
        record = {"period": period, "round": trade.round, "buyer": buy["owner"], "buyer_chain": buy["chain"],
                  "buy_order": buy["order_id"], "seller": sell["owner"], "seller_chain": sell["chain"],
                  "sell_order": sell["order_id"], "quantity": trade.quantity, "price": trade.price, "value": value,
                  "xi": trade.xi, "buyer_status": PENDING, "seller_status": PENDING}
        same_chain = buy["chain"] == sell["chain"]
        if self._queue(ctx, buy["chain"], _leg(trade_id, buy["order_id"], trade.quantity, trade.price,
                                               payee=sell["owner"] if same_chain else None), BUY_LEG, trade_id):
            record["buyer_status"] = SENT
        if same_chain and self._queue(ctx, sell["chain"], _leg(trade_id, sell["order_id"], trade.quantity, trade.price),
                                      SELL_LEG, trade_id):  # else the sell leg waits until the buyer's chain has burned the payment
            record["seller_status"] = SENT
        self.Trades.set(ctx.state, trade_id, record)
        self._trade_event(ctx, trade_id, record)

    def _commit_grid(self, ctx, trade_id: int, period: int, grid: GridTrade, entry: dict, grid_operator: bytes) -> None:
        state = ctx.state
        if grid.side is Side.BUY:  # the grid supplies: at most the buyer's reserve
            price = min(grid.price, entry["reserve"])
            value = trade_value(grid.quantity, price)
            sent = self._queue(ctx, entry["chain"], _leg(trade_id, entry["order_id"], grid.quantity, price), BUY_LEG, trade_id)
            record = {"buyer": entry["owner"], "buyer_chain": entry["chain"], "buy_order": entry["order_id"],
                      "seller": grid_operator, "seller_chain": GRID_CHAIN, "sell_order": None,
                      "buyer_status": SENT if sent else PENDING, "seller_status": APPLIED}
        else:  # the grid buys, paying at least the seller's reserve into the market account now
            price = max(grid.price, entry["reserve"])
            value = trade_value(grid.quantity, price)
            if value:
                self.balances.transfer(ctx, grid_operator, MARKET_ACCOUNT, value, keep_alive=True)
            sent = self._queue(ctx, entry["chain"], _leg(trade_id, entry["order_id"], grid.quantity, price, mint=value),
                               SELL_LEG, trade_id)
            record = {"buyer": grid_operator, "buyer_chain": GRID_CHAIN, "buy_order": None,
                      "seller": entry["owner"], "seller_chain": entry["chain"], "sell_order": entry["order_id"],
                      "buyer_status": APPLIED, "seller_status": SENT if sent else PENDING}
        record.update(period=period, round=ROUND_GRID, quantity=grid.quantity, price=grid.price, value=value, xi=0)
        self.Trades.set(state, trade_id, record)
        self._trade_event(ctx, trade_id, record)

    def _trade_event(self, ctx, trade_id: int, record: dict) -> None:
        self.deposit_event(ctx, "TradeCommitted", {"trade_id": trade_id, "period": record["period"], "round": record["round"],
                                                   "buyer": record["buyer"], "seller": record["seller"], "quantity": record["quantity"],
                                                   "price": record["price"], "value": record["value"]})

    # -- legs go down ---------------------------------------------------------------------------
    def _queue(self, ctx, dest: int, message: bytes, kind: int, ident: int) -> bool:
        """Send a leg down now when nothing waits before it for ``dest`` and the channel has
        room — True: the caller records it as Sent —, else append it to ``dest``'s outbox (a
        gate commits thousands of legs: going through the outbox cost each one three more
        writes and a rewrite of its trade record)."""
        first, nxt = self.OutboxRange.get(ctx.state, dest)
        if first == nxt and self._send(ctx, dest, message, kind, ident):
            return True
        dests = self.OutboxDests.get(ctx.state)
        if dest not in dests:
            self.OutboxDests.set(ctx.state, sorted(dests + [dest]))
        self.Outbox.set(ctx.state, dest, nxt, (message, kind, ident))
        self.OutboxRange.set(ctx.state, dest, (first, nxt + 1))
        return False

    def _send(self, ctx, dest: int, message: bytes, kind: int, ident: int) -> bool:
        """One leg into the channel to ``dest``, remembered until ``dest`` processes it; False
        (nothing written) when the channel is full."""
        try:
            with ctx.state.transaction():
                seq = self.router.send(ctx, dest, message)
        except DispatchError:
            return False
        self.InFlight.set(ctx.state, dest, seq, (kind, ident))
        return True

    def _flush(self, ctx) -> None:
        """Send queued legs down while their channels have room; the rest wait for a later block."""
        state = ctx.state
        for dest in self.OutboxDests.get(state):
            first, nxt = self.OutboxRange.get(state, dest)
            if first == nxt:
                continue
            while first < nxt:
                message, kind, ident = self.Outbox.get(state, dest, first)
                if not self._send(ctx, dest, message, kind, ident):
                    break  # full: it stays queued, in order
                if kind in _STATUS_FIELD:  # a leg (not a refund or a credit)
                    record = self.Trades.get(state, ident)
                    self.Trades.set(state, ident, {**record, _STATUS_FIELD[kind]: SENT})
                self.Outbox.remove(state, dest, first)
                first += 1
            self.OutboxRange.set(state, dest, (first, nxt))

    def _on_delivered(self, ctx, dest: int, first: int, last: int) -> None:
        """``dest`` processed relay messages first…last-1: record its legs as applied and move
        the value they carried (see the module doc)."""
        state = ctx.state
        for seq in range(first, last):
            entry = self.InFlight.get(state, dest, seq)
            if entry is None:
                continue  # not a market message
            self.InFlight.remove(state, dest, seq)
            kind, ident = entry
            if kind not in _STATUS_FIELD:
                continue  # a refund or a credit: nothing to settle
            record = self.Trades.get(state, ident)
            sell_leg_sent = False
            try:
                with state.transaction():
                    sell_leg_sent = self._settle_value(ctx, ident, record, kind)
            except DispatchError:  # never fail the inclusion inherent; the value waits in the market account
                self.deposit_event(ctx, "SettlementStuck", {"trade_id": ident})
            record = {**record, _STATUS_FIELD[kind]: APPLIED}
            if sell_leg_sent:
                record["seller_status"] = SENT
            self.Trades.set(state, ident, record)  # read once, written once per leg
            self.deposit_event(ctx, "LegApplied", {"trade_id": ident, "chain": dest})
            if record["buyer_status"] == APPLIED and record["seller_status"] == APPLIED:
                self.deposit_event(ctx, "TradeSettled", {"trade_id": ident})
        self._flush(ctx)

    def _settle_value(self, ctx, trade_id: int, record: dict, kind: int) -> bool:
        """Move the value a processed leg released; True when it sent the sell leg down (the
        caller records it; a sell leg left in the outbox is recorded by `_flush`)."""
        value, buyer_chain, seller_chain = record["value"], record["buyer_chain"], record["seller_chain"]
        if buyer_chain == seller_chain:
            return False  # paid on that chain by the buy leg
        if kind == BUY_LEG:  # the buyer's chain burned the payment: its reserve leaves it
            if seller_chain == GRID_CHAIN:
                if value:
                    self.balances.transfer(ctx, sovereign_account(buyer_chain), record["seller"], value, keep_alive=False)
                return False
            if value:
                self.balances.transfer(ctx, sovereign_account(buyer_chain), MARKET_ACCOUNT, value, keep_alive=False)
            return self._queue(ctx, seller_chain, _leg(trade_id, record["sell_order"], record["quantity"], record["price"], mint=value),
                               SELL_LEG, trade_id)
        if value:  # the seller's chain minted it
            self.balances.transfer(ctx, MARKET_ACCOUNT, sovereign_account(seller_chain), value, keep_alive=True)
        return False

    # -- what the RPC reads ---------------------------------------------------------------------
    def trade(self, state, trade_id: int) -> dict | None:
        return self.Trades.get(state, trade_id)

    def period(self, state, period: int) -> dict | None:
        return self.Periods.get(state, period)

    def schedule(self, state) -> dict:
        """The config, the TOU tariff and the anchor (None before the first block)."""
        return {**self.Config.get(state), "tariff": self.Tariff.get(state), "anchor": self.Anchor.get(state)}

    def period_trades(self, state, period: int) -> list[tuple[int, dict]]:
        info = self.Periods.get(state, period)
        if info is None:
            return []
        return [(i, self.Trades.get(state, i)) for i in range(info["first_trade"], info["first_trade"] + info["trades"])]

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, state, config):
        """``{"period_ms", "period_blocks", "gate_offset_blocks", "deadline_blocks", "compression", "grid_operator",
        "grid_endowment", "exclusion_threshold", "initial_credit", "tariff": [(start, end, λ_grid, λ_0)],
        "tie_lines": [(seller chain, buyer chain, cap)], "credits": [(account, ppm)], "first_period",
        "first_block", "credit_update_periods", "coefficients": [(account, a_{t−1} ppm)]}``, every key optional
        (`DEFAULTS`; `credit_update_periods` defaults to a day of periods, `relay.credit_book`)."""
        c = {**DEFAULTS, **config}
        c["grid_operator"] = parse_account(c["grid_operator"])  # chain specs write accounts as text
        if c["period_blocks"] <= c["gate_offset_blocks"] or c["period_ms"] <= 0:
            raise ValueError("a period must last longer than its gate offset")
        if c["period_ms"] % 60_000 or not 1 <= c["compression"] < 2**32:
            raise ValueError("a period lasts whole minutes and compression is at least 1")
        for name in ("exclusion_threshold", "initial_credit"):
            if not 0 <= c[name] <= PPM:
                raise ValueError(f"{name} must be in [0, {PPM}] ppm")
        tariff = [tuple(slot) for slot in c["tariff"]]
        validate_schedule(_schedule(tariff))
        credit_settings = credit_genesis(c)
        self.Config.set(state, {k: c[k] for k in ("period_ms", "period_blocks", "gate_offset_blocks", "deadline_blocks",
                                                  "grid_operator", "exclusion_threshold", "initial_credit", "compression")})
        self.Tariff.set(state, tariff)
        self.TieLines.set(state, [tuple(t) for t in c.get("tie_lines", [])])
        self.credit_book.build_genesis(state, credit_settings)
        for who, credit in c.get("credits", []):
            who = parse_account(who)
            if type(credit) is not int or not 0 <= credit <= PPM:
                raise ValueError(f"genesis credit {credit} is outside [0, {PPM}] ppm")
            self.Credit.set(state, who, credit)
        if "first_period" in c:
            self.Anchor.set(state, (c["first_period"], c.get("first_block", 0)))
        # the market account must exist to hold value below the existential deposit; the default
        # grid operator needs funds to buy what nobody else does
        self.balances.genesis_endow(state, MARKET_ACCOUNT, self.balances.existential_deposit)
        if c["grid_operator"] == GRID_ACCOUNT:
            self.balances.genesis_endow(state, GRID_ACCOUNT, c["grid_endowment"])
        elif self.balances.free_balance(state, c["grid_operator"]) < self.balances.existential_deposit:
            raise ValueError("a custom grid operator needs an account (Balances genesis) to be paid into")


_STATUS_FIELD = {BUY_LEG: "buyer_status", SELL_LEG: "seller_status"}


def _leg(trade_id: int, order_id: int, quantity: int, price: int, *, payee: bytes | None = None, mint: int = 0) -> bytes:
    return encode_market_message("Leg", trade_id=trade_id, order_id=order_id, quantity=quantity, price=price, payee=payee, mint=mint)


def _schedule(entries) -> TouSchedule:
    return TouSchedule(tuple(TouSlot(start, end, Tariff(sale, purchase)) for start, end, sale, purchase in entries))


__all__ = ["Market", "MARKET_ACCOUNT", "GRID_ACCOUNT", "PERIOD_STATUS", "LEG_STATUS", "ROUND_GRID"]
