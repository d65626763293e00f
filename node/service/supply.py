"""`xtransfers_supply` and `xtransfers_status`: the cross-chain supply, per chain, over RPC.

On any chain, `xtransfers_supply([blockHash])` reports at a block (default: the finalized one)
its total issuance and the fees it ever burned. On the relay it adds each parachain's
sovereign balance, the value in transit, and the parachain heads anchored in that block — so a
client (`parawatt supply`) can ask each parachain for its figures at exactly the anchored
block and check `sovereign == issuance + fees burned` on a consistent cut of all chains.

`xtransfers_status(originChain, nonce)` (relay) reports a transfer's record, and
`xtransfers_counts()` how many transfers the relay's best state holds in each status.
"""

from __future__ import annotations

from node.primitives.header import Header
from node.rpc.errors import RpcError
from node.rpc.params import U32_MAX, check_param_count, decode_hex_param, decode_number_param, get_param
from node.runtime.overlay import StateOverlay
from node.service.node import NodeExtension

UNKNOWN_BLOCK = 4004
UNKNOWN_TRANSFER = 4005


class SupplyRpc(NodeExtension):
    def __init__(self, node):
        self.node = node
        self.runtime = node.config.runtime

    def _state_at(self, params) -> tuple[StateOverlay, Header]:
        chain = self.node.chain
        raw = get_param(params, 0, "blockHash")
        header = chain.finalized if raw is None else chain.header(decode_hex_param(raw, "blockHash", length=32))
        if header is None:
            raise RpcError(UNKNOWN_BLOCK, "unknown block")
        return StateOverlay(chain.state_at(header.hash).get), header

    def supply(self, state: StateOverlay, header: Header) -> dict:
        balances = self.runtime.pallet("Balances")
        report = {
            "block": "0x" + header.hash.hex(), "number": header.number,
            "issuance": str(balances.TotalIssuance.get(state)),
            "feesBurned": str(self.runtime.pallet("TransactionPayment").FeesBurned.get(state)),
        }
        if "Paras" in self.runtime.by_name:
            from relay.xtransfers import TRANSIT_ACCOUNT, sovereign_account

            paras = self.runtime.pallet("Paras")
            report["transit"] = str(balances.free_balance(state, TRANSIT_ACCOUNT))
            report["paras"] = {
                str(p): {"sovereign": str(balances.free_balance(state, sovereign_account(p))),
                         "anchoredHead": "0x" + paras.head_of(state, p).head_hash.hex()}
                for p in paras.para_ids(state)
            }
        if "ParachainSystem" in self.runtime.by_name:
            report["relayNumber"] = self.runtime.pallet("ParachainSystem").relay_number(state)
        return report

    def register_rpc(self, module) -> None:
        async def supply(params, conn):
            check_param_count(params, 1)
            return self.supply(*self._state_at(params))

        async def status(params, conn):
            check_param_count(params, 2)
            if "Paras" not in self.runtime.by_name:
                raise RpcError(UNKNOWN_TRANSFER, "transfers are recorded on the relay")
            origin = decode_number_param(get_param(params, 0, "originChain", required=True), "originChain", max_value=U32_MAX)
            nonce = decode_number_param(get_param(params, 1, "nonce", required=True), "nonce")
            from relay.xtransfers import STATUS_NAMES

            state = StateOverlay(self.node.chain.state_at(self.node.chain.finalized.hash).get)
            record = self.runtime.pallet("XTransfers").Transfers.get(state, origin, nonce)
            if record is None:
                raise RpcError(UNKNOWN_TRANSFER, f"no transfer ({origin}, {nonce}) in the finalized relay state")
            return {"dest": record["dest"], "amount": str(record["amount"]), "timeout": record["timeout"],
                    "status": STATUS_NAMES[record["status"]], "acknowledged": record["acknowledged"],
                    "beneficiary": "0x" + record["beneficiary"].hex(), "originAccount": "0x" + record["origin_account"].hex()}

        async def counts(params, conn):
            check_param_count(params, 0)
            if "Paras" not in self.runtime.by_name:
                raise RpcError(UNKNOWN_TRANSFER, "transfers are recorded on the relay")
            from relay.xtransfers import STATUS_NAMES

            records = self.runtime.pallet("XTransfers").Transfers
            tally = dict.fromkeys(STATUS_NAMES, 0)
            for key in self.node.db.iter_state(records.prefix):  # the best block's state
                tally[STATUS_NAMES[records.value.decode_all(self.node.db.state(key))["status"]]] += 1
            return tally

        module.register_method("xtransfers_supply", supply)
        module.register_method("xtransfers_counts", counts)
        module.register_method("xtransfers_status", status)


__all__ = ["SupplyRpc"]
