"""The runtime of dev and standalone chains: the shared FRAME-style pallets, and Offences for
the equivocations consensus detects."""

from __future__ import annotations

from node.pallets.balances import Balances
from node.pallets.offences import Offences
from node.pallets.sudo import Sudo
from node.pallets.system import System
from node.pallets.timestamp import Timestamp
from node.pallets.transaction_payment import TransactionPayment
from node.runtime.runtime import Runtime, RuntimeVersion

UNIT = 10**12  # planck per token (12 decimals)
EXISTENTIAL_DEPOSIT = UNIT // 1000

# Runtime APIs this node answers through `state_call`, with the versions clients check.
RUNTIME_APIS = (
    ("Core", 4),
    ("Metadata", 2),
    ("BlockBuilder", 6),
    ("TaggedTransactionQueue", 3),
    ("AccountNonceApi", 1),
    ("TransactionPaymentApi", 4),
)


def build_runtime(*, spec_name: str = "parawatt-dev", block_time_ms: int = 1000) -> Runtime:
    system = System(0)
    timestamp = Timestamp(1, minimum_period_ms=block_time_ms // 2)
    balances = Balances(2, system, existential_deposit=EXISTENTIAL_DEPOSIT)
    payment = TransactionPayment(3, balances)
    sudo = Sudo(4)
    offences = Offences(5)
    version = RuntimeVersion(
        spec_name=spec_name, impl_name="parawatt-node", spec_version=100, transaction_version=1, apis=RUNTIME_APIS
    )
    return Runtime(
        crate="parawatt_dev_runtime",
        version=version,
        pallets=[system, timestamp, balances, payment, sudo, offences],
        # Equivocation evidence goes on chain as an inherent of the next block (see Offences).
        inherents=[("Timestamp", "set"), ("Offences", "report_equivocation")],
    )
