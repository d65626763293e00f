"""The relay chain's runtime: the shared FRAME-style pallets, Offences, and the parachain pallets
(Paras, ParaInclusion), the Router of cross-chain messages, XTransfers and the Market (the bridge).

Genesis config, one section per pallet (`Runtime.build_genesis`):

    {
      "Balances": {"balances": [(account, amount), …]},
      "Sudo": {"key": account},                              # the operator
      "Offences": {"authorities": [keys], "crypto": "ed25519", "set_id": 0, "chain_id": b"…"},
      "Paras": {
        "paras": [{"id": 2000, "name": "demand", "code": b"parawatt-demand-v1",  # or "code_hash"
                   "genesis_head": <the para's SCALE genesis header>}, …],
        "validators": [ed25519 keys],                       # statements name them by index
        "backing_votes": 2,                                 # default f + 1 (2 of 4)
        "chain_id": b"…",                                   # the relay chain id statements sign
      },
      "Router": {"channels": [(sender, receiver, capacity, max_message_size), …]},  # 0 is the relay
      "Market": {"period_blocks": 3600, "gate_offset_blocks": 300, "tariff": [(0, 0, λ_grid, λ_0)], …},
                                                            # optional: `relay.market.DEFAULTS`
    }

Byte values may also be 0x-hex strings in the Paras section. Default para ids: 2000 demand,
2001 DG, 2002 storage (`relay.primitives.DEFAULT_PARA_IDS`).
"""

from __future__ import annotations

from node.dev_runtime import EXISTENTIAL_DEPOSIT, RUNTIME_APIS
from node.pallets.balances import Balances
from node.pallets.offences import Offences
from node.pallets.sudo import Sudo
from node.pallets.system import System
from node.pallets.timestamp import Timestamp
from node.pallets.transaction_payment import TransactionPayment
from node.runtime.runtime import Runtime, RuntimeVersion
from relay.inclusion import ParaInclusion
from relay.market import Market
from relay.paras import Paras
from relay.router import Router
from relay.xtransfers import RelayXTransfers

CRATE = "parawatt_relay_runtime"
SPEC_NAME = "parawatt-relay"

# The unsigned calls a relay block author adds, in this order, before any signed extrinsic.
INHERENTS = (("Timestamp", "set"), ("Offences", "report_equivocation"), ("ParaInclusion", "enter"))


def build_relay_runtime(*, spec_name: str = SPEC_NAME, block_time_ms: int = 1000) -> Runtime:
    system = System(0)
    timestamp = Timestamp(1, minimum_period_ms=block_time_ms // 2)
    balances = Balances(2, system, existential_deposit=EXISTENTIAL_DEPOSIT)
    payment = TransactionPayment(3, balances)
    sudo = Sudo(4)
    offences = Offences(5)
    paras = Paras(6)
    router = Router(8)
    inclusion = ParaInclusion(7, system, paras, router)
    xtransfers = RelayXTransfers(9, balances, paras, router)
    market = Market(10, balances, timestamp, router)
    version = RuntimeVersion(
        spec_name=spec_name, impl_name="parawatt-node", spec_version=100, transaction_version=1, apis=RUNTIME_APIS
    )
    return Runtime(
        crate=CRATE,
        version=version,
        pallets=[system, timestamp, balances, payment, sudo, offences, paras, inclusion, router, xtransfers, market],
        inherents=INHERENTS,
    )
