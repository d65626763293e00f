"""A runtime composed from pallets (FRAME's construct_runtime!): its call and event enums, call
dispatch, genesis, and the context pallets execute in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from node.primitives.scale_types import (
    AccountId,
    Composite,
    Field,
    H256,
    Sequence_,
    Variant,
    VariantSpec,
)
from node.runtime.errors import BadOrigin, DispatchError
from node.runtime.overlay import StateOverlay
from node.runtime.pallet import EVENT_RECORDS, RUNTIME_CALL, Origin, Pallet
from node.runtime.types import Phase


@dataclass(frozen=True)
class RuntimeVersion:
    spec_name: str
    impl_name: str
    spec_version: int
    impl_version: int = 1
    authoring_version: int = 1
    transaction_version: int = 1
    state_version: int = 1
    # (api name, version): the runtime APIs `state_call` answers.
    apis: tuple[tuple[str, int], ...] = ()


class InherentFailed(Exception):
    """A mandatory call (an inherent or a hook) failed: the whole block is invalid."""


PHASE_INITIALIZATION = b"\x02"
PHASE_FINALIZATION = b"\x01"


def phase_apply_extrinsic(index: int) -> bytes:
    return b"\x00" + index.to_bytes(4, "little")


class ExecutionContext:
    """What a pallet sees while a block executes: the state overlay, the block number, the
    current phase (for event records) and the runtime it belongs to."""

    __slots__ = ("runtime", "state", "block_number", "phase")

    def __init__(self, runtime: "Runtime", state: StateOverlay, block_number: int):
        self.runtime = runtime
        self.state = state
        self.block_number = block_number
        self.phase = PHASE_INITIALIZATION

    def deposit_event(self, runtime_event: bytes) -> None:
        """Record an encoded RuntimeEvent (pallet index ++ event) in the current phase."""
        # EventRecord = phase ++ RuntimeEvent ++ topics (none)
        self.state.deposit_event(self.phase + runtime_event + b"\x00")

    @staticmethod
    def ensure_signed(origin: Origin) -> bytes:
        if origin.kind != "signed":
            raise BadOrigin()
        return origin.account

    @staticmethod
    def ensure_root(origin: Origin) -> None:
        if origin.kind != "root":
            raise BadOrigin()

    @staticmethod
    def ensure_none(origin: Origin) -> None:
        if origin.kind != "none":
            raise BadOrigin()

    @staticmethod
    def mandatory_failure(message: str) -> InherentFailed:
        return InherentFailed(message)


@dataclass
class CallInfo:
    weight: int  # ref_time of the call itself, without the extrinsic base weight
    dispatch_class: str  # "Normal" | "Operational" | "Mandatory"
    pays_fee: bool


class Runtime:
    """Pallets composed into a runtime, with the enums and types generated from them."""

    def __init__(self, *, crate: str, version: RuntimeVersion, pallets: Sequence[Pallet], inherents: Sequence[tuple[str, str]] = ()):
        self.crate = crate
        self.version = version
        self.pallets = list(pallets)
        self.by_name = {p.name: p for p in self.pallets}
        self.by_index = {p.index: p for p in self.pallets}
        if len(self.by_name) != len(self.pallets) or len(self.by_index) != len(self.pallets):
            raise ValueError("pallet names and indices must be unique")
        self.inherents = frozenset(inherents)  # (pallet, call) pairs the author adds unsigned

        self.call_type = Variant(f"{crate}::RuntimeCall", [])
        call_variants = []
        for p in self.pallets:
            pallet_call = p.build_call_type(self.call_type)
            if pallet_call is not None:
                call_variants.append(VariantSpec(p.index, p.name, (Field(None, pallet_call, f"self::sp_api_hidden_includes_construct_runtime::hidden_include::dispatch::CallableCallFor<{p.name}, Runtime>"),)))
        self.call_type.set_variants(call_variants)

        self.event_type = Variant(
            f"{crate}::RuntimeEvent",
            [VariantSpec(p.index, p.name, (Field(None, p.event_type, f"{p.crate}::Event<Runtime>"),)) for p in self.pallets if p.event_type],
        )
        self.event_record_type = Composite(
            "frame_system::EventRecord",
            [Field("phase", Phase, "Phase"), Field("event", self.event_type, "E"), Field("topics", Sequence_(H256), "Vec<T>")],
            params=(("E", self.event_type), ("T", H256)),
        )
        self.placeholders = {RUNTIME_CALL: self.call_type, EVENT_RECORDS: Sequence_(self.event_record_type)}

    def pallet(self, name: str) -> Any:
        return self.by_name[name]

    # -- calls --------------------------------------------------------------------------------
    def decode_call(self, data: bytes):
        return self.call_type.decode_all(data)

    def _split(self, call) -> tuple[Pallet, str, dict]:
        ((pallet_name, inner),) = call.items()
        if isinstance(inner, str):
            return self.by_name[pallet_name], inner, {}
        ((name, args),) = inner.items()
        return self.by_name[pallet_name], name, args

    def call_info(self, call) -> CallInfo:
        pallet, name, args = self._split(call)
        spec = pallet.call_specs[name]
        weight = spec.weight_of(args)
        for f in spec.args:  # a call that wraps a call (sudo) also weighs what it wraps
            if f.type is RUNTIME_CALL:
                weight += self.call_info(args[f.name]).weight
        mandatory = (pallet.name, name) in self.inherents
        return CallInfo(weight, "Mandatory" if mandatory else "Normal", spec.pays_fee)

    def is_inherent(self, call) -> bool:
        pallet, name, _ = self._split(call)
        return (pallet.name, name) in self.inherents

    def dispatch(self, ctx: ExecutionContext, origin: Origin, call) -> None:
        """Run a decoded call. Raises DispatchError on failure; the caller owns the transaction."""
        pallet, name, args = self._split(call)
        getattr(pallet, pallet.call_specs[name].handler_name)(ctx, origin, **args)

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, config: dict) -> dict[bytes, bytes]:
        """The genesis state as key/value pairs, from a chain spec's per-pallet sections."""
        state = StateOverlay(lambda key: None)
        for p in self.pallets:
            p.build_genesis(state, config.get(p.name, {}))
        return {k: v for k, v in state.changes.items() if v is not None}

    def new_context(self, state: StateOverlay, block_number: int) -> ExecutionContext:
        return ExecutionContext(self, state, block_number)


__all__ = ["Runtime", "RuntimeVersion", "ExecutionContext", "CallInfo", "InherentFailed", "DispatchError", "AccountId"]
