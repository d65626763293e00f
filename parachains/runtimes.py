"""The demand, DG and storage parachain runtimes (issue 4, item 5).

Each is the shared FRAME-style base (System, Timestamp, Balances, TransactionPayment, Sudo) plus
cross-chain messaging (Messaging 5, ParachainSystem 6, XTransfers 7, MarketLink 8) and the
market pallets (Periods 9, the trading-period schedule), with the kind's rules (`parachains.roles`).

| kind    | para id | spec name         | crate                     | trades       |
|---------|---------|-------------------|---------------------------|--------------|
| demand  | 2000    | parawatt-demand   | parawatt_demand_runtime   | buy          |
| dg      | 2001    | parawatt-dg       | parawatt_dg_runtime       | sell         |
| storage | 2002    | parawatt-storage  | parawatt_storage_runtime  | buy and sell |
"""

from __future__ import annotations

from bridge.orders import DEFAULT_EXCLUSION_THRESHOLD, PPM
from node.dev_runtime import EXISTENTIAL_DEPOSIT, RUNTIME_APIS
from node.pallets.balances import Balances
from node.pallets.sudo import Sudo
from node.pallets.system import SS58_PREFIX, System
from node.pallets.timestamp import Timestamp
from node.pallets.transaction_payment import TransactionPayment
from node.pallets.messaging import Messaging
from node.runtime.runtime import Runtime, RuntimeVersion
from parachains.market import MarketLink
from parachains.meters import Meters
from parachains.orders import Orders
from parachains.parachain_system import ParachainSystem
from parachains.xtransfers import XTransfers
from parachains.periods import PeriodConfig, Periods
from parachains.registry import Registry
from parachains.roles import PARACHAIN_KINDS, chain_rules

SPEC_VERSION = 100
MESSAGING_INDEX, PARACHAIN_SYSTEM_INDEX, XTRANSFERS_INDEX, MARKET_LINK_INDEX, PERIODS_INDEX = 5, 6, 7, 8, 9
REGISTRY_INDEX, METERS_INDEX, ORDERS_INDEX = 10, 11, 12


def build_parachain_runtime(
    kind: str,
    *,
    para_id: int | None = None,
    block_time_ms: int = 1000,
    periods: PeriodConfig = PeriodConfig(),
    exclusion_threshold: int = DEFAULT_EXCLUSION_THRESHOLD,
    initial_credit: int = PPM,
) -> Runtime:
    """The runtime of a ``kind`` parachain ("demand", "dg" or "storage"); ``para_id`` defaults
    to the kind's (2000, 2001, 2002)."""
    rules = chain_rules(kind, para_id)
    system = System(0)
    timestamp = Timestamp(1, minimum_period_ms=block_time_ms // 2)
    balances = Balances(2, system, existential_deposit=EXISTENTIAL_DEPOSIT)
    payment = TransactionPayment(3, balances)
    sudo = Sudo(4)
    messaging = Messaging(MESSAGING_INDEX, rules.para_id)
    parachain_system = ParachainSystem(PARACHAIN_SYSTEM_INDEX, rules.para_id, messaging)
    xtransfers = XTransfers(XTRANSFERS_INDEX, rules.para_id, balances, messaging, parachain_system)
    periods = Periods(PERIODS_INDEX, periods)
    registry = Registry(REGISTRY_INDEX, timestamp, rules, ss58_prefix=SS58_PREFIX)
    meters = Meters(METERS_INDEX, registry, timestamp, rules.para_id, periods)
    orders = Orders(ORDERS_INDEX, balances, registry, timestamp, rules, periods,
                    exclusion_threshold=exclusion_threshold, initial_credit=initial_credit)
    market_link = MarketLink(MARKET_LINK_INDEX, rules.para_id, balances, messaging, orders, meters)
    version = RuntimeVersion(spec_name=rules.spec_name, impl_name="parawatt-node", spec_version=SPEC_VERSION,
                             transaction_version=1, apis=RUNTIME_APIS)
    return Runtime(crate=rules.crate, version=version,
                   pallets=[system, timestamp, balances, payment, sudo, messaging, parachain_system, xtransfers,
                            market_link, periods, registry, meters, orders],
                   inherents=[("Timestamp", "set"), ("ParachainSystem", "set_relay_data")])


__all__ = ["build_parachain_runtime", "PARACHAIN_KINDS"]
