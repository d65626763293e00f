"""An in-memory parachain runtime (demand, DG or storage) with an operator CA in genesis."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from node.primitives.hashing import twox_128
from node.primitives.keys import DEV_ACCOUNTS, dev_keypair
from node.runtime.executive import Executive
from node.runtime.overlay import StateOverlay
from parachains.periods import PeriodConfig
from parachains.roles import Flow, ResourceKind
from parachains.runtimes import build_parachain_runtime
from tests.parachains.certs import NOW_MS, OperatorCa
from tests.runtime.harness import ENDOWMENT, GENESIS_HASH, Harness

HOUR = 3_600_000
MARKET_PALLETS = ("Registry", "Meters", "Orders")


class ParaHarness(Harness):
    """`tests.runtime.harness.Harness` over a parachain runtime. Alice is sudo, Ferdie the
    operator; block times start at 2025-01-01T00:00Z."""

    def __init__(self, kind: str, *, ca: OperatorCa | None = None, periods: PeriodConfig = PeriodConfig(), genesis: dict | None = None):
        self.kind = kind
        self.runtime = build_parachain_runtime(kind, periods=periods)
        self.ca = ca or OperatorCa()
        self.keys = {name: dev_keypair(name) for name in DEV_ACCOUNTS}
        self.alice, self.bob = self.keys["Alice"].public_key, self.keys["Bob"].public_key
        self.operator = self.keys["Ferdie"].public_key
        config = {
            "Balances": {"balances": [(k.public_key, ENDOWMENT) for k in self.keys.values()]},
            "Sudo": {"key": self.alice},
            "Registry": {"operator": self.operator, "operator_ca": self.ca.pem},
        }
        for pallet, section in (genesis or {}).items():
            config.setdefault(pallet, {}).update(section)
        self.state = self.runtime.build_genesis(config)
        self.executive = Executive(self.runtime, GENESIS_HASH)
        self.system = self.runtime.pallet("System")
        self.balances = self.runtime.pallet("Balances")
        self.registry = self.runtime.pallet("Registry")
        self.meters = self.runtime.pallet("Meters")
        self.orders = self.runtime.pallet("Orders")
        self.periods = periods
        self.number = 0
        self.hashes = {0: GENESIS_HASH}
        self.now = NOW_MS - 1000  # the first block is at NOW_MS

    def public(self, name: str) -> bytes:
        return self.keys[name].public_key

    # -- time ------------------------------------------------------------------------------
    def at(self, ms: int) -> None:
        """The next block's timestamp will be ``ms``."""
        self.now = ms - 1000

    def block_at(self, ms: int, *xts: bytes):
        self.at(ms)
        return self.block(*xts)

    @property
    def period(self) -> int:
        """The period the next block falls in."""
        return (self.now + 1000) // self.periods.length_ms

    # -- one extrinsic -----------------------------------------------------------------------
    def submit(self, signer: str, pallet: str, name: str, /, **args):
        """Sign and apply one call in a new block; returns (outcome, events)."""
        (outcome,), events = self.block(self.sign(signer, self.call(pallet, name, **args)))
        return outcome, events

    def market_state(self) -> dict[bytes, bytes]:
        """Every storage entry of the market pallets: a rejected call must leave it as it was."""
        prefixes = tuple(twox_128(p.encode()) for p in MARKET_PALLETS)
        return {k: v for k, v in self.state.items() if k.startswith(prefixes)}

    def in_block(self, fn):
        """Run ``fn(ctx)`` as the next block would (at the next time) and commit its writes;
        for the pallets' internal interface (settlement), which no extrinsic reaches."""
        overlay = StateOverlay(self.state.get)
        ctx = self.runtime.new_context(overlay, self.number + 1)
        result = fn(ctx)
        for k, v in overlay.changes.items():
            if v is None:
                self.state.pop(k, None)
            else:
                self.state[k] = v
        return result

    # -- registration shortcuts ----------------------------------------------------------------
    def register(self, who: str, kind: ResourceKind, *, capacity: int = 0, state_of_charge: int = 0):
        pem = self.ca.aggregator(self.public(who), kind, capacity=capacity, state_of_charge=state_of_charge)
        outcome, events = self.submit(who, "Registry", "register_aggregator", certificate=pem)
        if not outcome.success:
            raise AssertionError(f"registration failed: {outcome.error}")
        return events

    def add_meter(self, who: str, flow: Flow) -> Ed25519PrivateKey:
        key = Ed25519PrivateKey.generate()
        pem = self.ca.device(key, self.public(who), flow)
        outcome, _ = self.submit(who, "Registry", "register_device", aggregator=self.public(who), certificate=pem)
        if not outcome.success:
            raise AssertionError(f"device registration failed: {outcome.error}")
        return key


def module_error(outcome) -> tuple[str, str] | None:
    error = outcome.error
    return None if error is None else (getattr(error, "pallet", None), getattr(error, "error", str(error)))


__all__ = ["ParaHarness", "HOUR", "ENDOWMENT", "module_error", "NOW_MS"]
