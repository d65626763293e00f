"""`market_settlement(tradeId)`, `market_trades(period)`, `market_summary()` and
`market_schedule()`: the bridge's settlements and calendar over RPC (relay only), read from the
finalized relay state.

A settlement is the trade (period, round — 0 for the grid —, buyer and seller with their home
chains and orders, quantity in 10 Wh, price in planck per kWh, value in planck) and the status of
its leg on each chain: Pending (committed, not yet sent), Sent, Applied (the chain's watermark
passed it). `market_trades` adds the period's status (Open, Committed, Refunded).

`market_summary` counts every trade ever committed and those settled (every leg applied).
`market_schedule` is what a client needs to place orders for a period the relay will auction:
period length (market ms), its length in relay blocks, gate offset and deadline (blocks), time
compression, the TOU tariff `[start minute, end minute, λ_grid, λ_0]` (planck per kWh), the anchor
`{period, block}` (period `p` starts at relay block `block + (p − period) · periodBlocks`; its
gate is `gateOffsetBlocks` earlier), and the finalized block's number.
"""

from __future__ import annotations

from node.rpc.errors import RpcError
from node.rpc.params import check_param_count, decode_number_param, get_param
from node.runtime.overlay import StateOverlay
from node.service.node import NodeExtension

UNKNOWN_TRADE = 4006
NOT_RELAY = 4007


def settlement_json(trade_id: int, record: dict) -> dict:
    from relay.market import LEG_STATUS

    return {
        "tradeId": trade_id, "period": record["period"], "round": record["round"],
        "buyer": "0x" + record["buyer"].hex(), "seller": "0x" + record["seller"].hex(),
        "buyOrder": record["buy_order"], "sellOrder": record["sell_order"],
        "quantity": record["quantity"], "price": str(record["price"]), "value": str(record["value"]), "xi": record["xi"],
        "legs": {str(record["buyer_chain"]): {"side": "buy", "status": LEG_STATUS[record["buyer_status"]]},
                 str(record["seller_chain"]): {"side": "sell", "status": LEG_STATUS[record["seller_status"]]}}
        if record["buyer_chain"] != record["seller_chain"] else
        {str(record["buyer_chain"]): {"side": "both", "status": LEG_STATUS[min(record["buyer_status"], record["seller_status"])]}},
    }


class MarketRpc(NodeExtension):
    def __init__(self, node):
        self.node = node
        self.runtime = node.config.runtime

    def _market(self):
        if "Market" not in self.runtime.by_name:
            raise RpcError(NOT_RELAY, "the market settles on the relay")
        return self.runtime.pallet("Market")

    def _state(self) -> StateOverlay:
        chain = self.node.chain
        return StateOverlay(chain.state_at(chain.finalized.hash).get)

    def settlement(self, trade_id: int) -> dict:
        record = self._market().trade(self._state(), trade_id)
        if record is None:
            raise RpcError(UNKNOWN_TRADE, f"no trade {trade_id} in the finalized relay state")
        return settlement_json(trade_id, record)

    def trades(self, period: int) -> dict:
        from relay.market import PERIOD_STATUS

        market, state = self._market(), self._state()
        info = market.period(state, period)
        return {"period": period, "status": None if info is None else PERIOD_STATUS[info["status"]],
                "orders": 0 if info is None else info["orders"],
                "trades": [settlement_json(i, t) for i, t in market.period_trades(state, period)]}

    def summary(self) -> dict:
        """Counts over every trade ever committed: how many are settled (every leg applied), and
        legs by status. Walks every trade: a testnet's and an experiment's tool."""
        from relay.market import APPLIED, LEG_STATUS

        market, state = self._market(), self._state()
        legs = dict.fromkeys(LEG_STATUS, 0)
        trades = settled = 0
        for trade_id in range(market.NextTrade.get(state)):
            record = market.trade(state, trade_id)
            trades += 1
            settled += record["buyer_status"] == APPLIED and record["seller_status"] == APPLIED
            for side in ("buyer_status", "seller_status"):
                legs[LEG_STATUS[record[side]]] += 1
        return {"trades": trades, "settled": settled, "legs": legs}

    def schedule(self) -> dict:
        market, state = self._market(), self._state()
        s = market.schedule(state)
        return {
            "periodMs": s["period_ms"], "periodBlocks": s["period_blocks"], "gateOffsetBlocks": s["gate_offset_blocks"],
            "deadlineBlocks": s["deadline_blocks"], "compression": s["compression"],
            "tariff": [[start, end, str(sale), str(purchase)] for start, end, sale, purchase in s["tariff"]],
            "anchor": None if s["anchor"] is None else {"period": s["anchor"][0], "block": s["anchor"][1]},
            "finalized": self.node.chain.finalized.number,
        }

    def register_rpc(self, module) -> None:
        async def settlement(params, conn):
            check_param_count(params, 1)
            return self.settlement(decode_number_param(get_param(params, 0, "tradeId", required=True), "tradeId"))

        async def trades(params, conn):
            check_param_count(params, 1)
            return self.trades(decode_number_param(get_param(params, 0, "period", required=True), "period"))

        async def schedule(params, conn):
            check_param_count(params, 0)
            return self.schedule()

        async def summary(params, conn):
            check_param_count(params, 0)
            return self.summary()

        module.register_method("market_schedule", schedule)
        module.register_method("market_summary", summary)
        module.register_method("market_settlement", settlement)
        module.register_method("market_trades", trades)


__all__ = ["MarketRpc", "settlement_json"]
