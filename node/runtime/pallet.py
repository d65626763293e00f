"""How a pallet is declared.

Every pallet module has the same anatomy, in this order: storage items, events, errors,
constants, calls, hooks, genesis. The runtime reads these declarations to dispatch calls and to
generate metadata; other pallets reach a pallet through its methods, never its raw storage keys.

    class Balances(Pallet):
        name = "Balances"
        crate = "pallet_balances"

        TotalIssuance = StorageValue(Balance, default=0, docs="The total units issued.")
        EVENTS = (event(2, "Transfer", from_=AccountId, to=AccountId, amount=Balance),)
        ERRORS = (("InsufficientBalance", "Balance too low to send value."),)

        @call(3, dest=MultiAddress, value=Compact(Balance), weight=...)
        def transfer_keep_alive(self, ctx, origin, dest, value): ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from node.primitives.hashing import HASHERS, storage_prefix
from node.primitives.scale_types import Field, ScaleType, Variant, VariantSpec
from node.runtime.errors import ModuleError
from node.runtime.overlay import StateOverlay


# ---------------------------------------------------------------------------------------------
# Storage


class StorageItem:
    """Base for declared storage: binds to its pallet's prefix when the pallet class is made."""

    pallet: str
    item: str
    prefix: bytes

    def __init__(self, value: ScaleType, *, default: Any = None, docs: str = ""):
        self.value = value
        self.default = default  # None with no default: an OptionQuery (absent reads as None)
        self.docs = docs

    def __set_name__(self, owner, name: str) -> None:
        self.item = name

    def bind(self, pallet_name: str) -> None:
        self.pallet = pallet_name
        self.prefix = storage_prefix(pallet_name, self.item)

    @property
    def optional(self) -> bool:
        return self.default is None

    def default_bytes(self) -> bytes:
        return b"\x00" if self.optional else self.value.encode(self.default)

    def _read(self, state: StateOverlay, key: bytes):
        raw = state.get(key)
        if raw is None:
            return self.default
        return self.value.decode_all(raw)

    def _write(self, state: StateOverlay, key: bytes, value) -> None:
        state.set(key, self.value.encode(value))


class StorageValue(StorageItem):
    def key(self) -> bytes:
        return self.prefix

    def get(self, state: StateOverlay):
        return self._read(state, self.prefix)

    def set(self, state: StateOverlay, value) -> None:
        self._write(state, self.prefix, value)

    def kill(self, state: StateOverlay) -> None:
        state.delete(self.prefix)


class StorageMap(StorageItem):
    """A map with one or more keys (a Substrate StorageMap or StorageNMap)."""

    def __init__(self, keys: list[tuple[ScaleType, str]], value: ScaleType, **kw):
        super().__init__(value, **kw)
        for _, hasher in keys:
            if hasher not in HASHERS:
                raise ValueError(f"unknown hasher {hasher}")
        self.keys = keys
        self._key_parts = [(t.encode, HASHERS[h]) for t, h in keys]

    def key(self, *parts) -> bytes:
        if len(parts) != len(self._key_parts):
            raise TypeError(f"{self.pallet}.{self.item} takes {len(self._key_parts)} key(s)")
        return self.prefix + b"".join(h(enc(p)) for (enc, h), p in zip(self._key_parts, parts))

    def get(self, state: StateOverlay, *parts):
        return self._read(state, self.key(*parts))

    def set(self, state: StateOverlay, *parts_and_value) -> None:
        *parts, value = parts_and_value
        self._write(state, self.key(*parts), value)

    def remove(self, state: StateOverlay, *parts) -> None:
        state.delete(self.key(*parts))

    def contains(self, state: StateOverlay, *parts) -> bool:
        return state.get(self.key(*parts)) is not None


def map_of(key: ScaleType, value: ScaleType, hasher: str = "Blake2_128Concat", **kw) -> StorageMap:
    return StorageMap([(key, hasher)], value, **kw)


# ---------------------------------------------------------------------------------------------
# Events, errors, constants


def _fields(kwargs: dict[str, ScaleType]) -> tuple[Field, ...]:
    # A trailing underscore lets a field be named after a Python keyword (`from_` -> `from`).
    return tuple(Field(name.rstrip("_"), t, t.name()) for name, t in kwargs.items())


def event(index: int, name: str, docs: str = "", **fields: ScaleType) -> VariantSpec:
    return VariantSpec(index, name, _fields(fields), (docs,) if docs else ())


@dataclass(frozen=True)
class Constant:
    name: str
    type: ScaleType
    value: Any
    docs: str = ""


# ---------------------------------------------------------------------------------------------
# Calls


class RuntimePlaceholder(ScaleType):
    """Stands for a type only the composed runtime knows: its call enum (Sudo's
    ``Box<RuntimeCall>``) or its event records (``System.Events``).

    Pallets are declared before any runtime exists; each runtime substitutes its own type when it
    builds call types and metadata, so two runtimes in one process never share a binding."""

    def __init__(self, label: str):
        self.label = label

    def name(self):
        return self.label

    # The runtime substitutes its own type before anything is encoded or registered.
    def encode(self, value) -> bytes:
        raise TypeError(f"{self.label} is a placeholder; encode with the runtime's type")

    def decode(self, data, offset):
        raise TypeError(f"{self.label} is a placeholder; decode with the runtime's type")

    def type_def(self, registry) -> dict:
        raise TypeError(f"{self.label} is a placeholder; the metadata registry substitutes it")


RUNTIME_CALL = RuntimePlaceholder("Box<<T as Config>::RuntimeCall>")
EVENT_RECORDS = RuntimePlaceholder("Vec<EventRecord<RuntimeEvent, Hash>>")


@dataclass(frozen=True)
class CallSpec:
    index: int
    name: str
    args: tuple[Field, ...]
    weight: Callable[..., int] | int  # ref_time, or a function of the call's arguments
    docs: str
    handler_name: str
    pays_fee: bool = True

    def weight_of(self, args: dict) -> int:
        return self.weight(**args) if callable(self.weight) else self.weight


def call(index: int, *, weight: Callable[..., int] | int, pays_fee: bool = True, **args: ScaleType):
    """Declare a dispatchable call with a stable index and typed arguments."""

    def mark(fn):
        doc = (fn.__doc__ or "").strip()
        fn.__call_spec__ = CallSpec(index, fn.__name__, _fields(args), weight, doc, fn.__name__, pays_fee)
        return fn

    return mark


# ---------------------------------------------------------------------------------------------
# Origins


@dataclass(frozen=True, slots=True)
class Origin:
    """Who dispatches a call: a signed account, root (via Sudo), or none (inherents)."""

    kind: str  # "signed" | "root" | "none"
    account: bytes | None = None

    @staticmethod
    def signed(account: bytes) -> "Origin":
        return Origin("signed", account)


ROOT = Origin("root")
NONE = Origin("none")


# ---------------------------------------------------------------------------------------------
# The pallet base


class Pallet:
    name: ClassVar[str]
    crate: ClassVar[str]  # the FRAME-style crate name used in type paths
    docs: ClassVar[str] = ""
    EVENTS: ClassVar[tuple[VariantSpec, ...]] = ()
    ERRORS: ClassVar[tuple[tuple[str, str], ...]] = ()

    storage_items: ClassVar[list[StorageItem]]
    call_specs: ClassVar[dict[str, CallSpec]]

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "name" not in cls.__dict__:
            return
        cls.storage_items = [v for v in cls.__dict__.values() if isinstance(v, StorageItem)]
        for item in cls.storage_items:
            item.bind(cls.name)
        specs = [fn.__call_spec__ for fn in cls.__dict__.values() if hasattr(fn, "__call_spec__")]
        cls.call_specs = {s.name: s for s in specs}
        cls.event_type = Variant(f"{cls.crate}::pallet::Event", cls.EVENTS) if cls.EVENTS else None
        cls.error_type = (
            Variant(f"{cls.crate}::pallet::Error", [VariantSpec(i, n, (), (d,)) for i, (n, d) in enumerate(cls.ERRORS)])
            if cls.ERRORS
            else None
        )
        cls._error_index = {n: (i, d) for i, (n, d) in enumerate(cls.ERRORS)}
        # Events are encoded when deposited (the hot path): variant byte ++ fields.
        cls._event_codecs = {v.name: (bytes((v.index,)), v.encode_fields) for v in cls.EVENTS}

    def __init__(self, index: int):
        self.index = index  # the pallet's position in the runtime, as in construct_runtime!
        self._index_byte = bytes((index,))
        self.call_type: Variant | None = None

    def build_call_type(self, runtime_call: ScaleType) -> Variant | None:
        """The pallet's Call enum, with RUNTIME_CALL arguments bound to this runtime's call type."""
        if not self.call_specs:
            return None
        variants = []
        for s in sorted(self.call_specs.values(), key=lambda s: s.index):
            args = tuple(Field(f.name, runtime_call if f.type is RUNTIME_CALL else f.type, f.type_name) for f in s.args)
            variants.append(VariantSpec(s.index, s.name, args, (s.docs,) if s.docs else ()))
        self.call_type = Variant(f"{self.crate}::pallet::Call", variants)
        return self.call_type

    # -- errors and events ------------------------------------------------------------------

    def error(self, name: str) -> ModuleError:
        idx, doc = self._error_index[name]
        return ModuleError(self.index, idx, self.name, name, doc)

    def deposit_event(self, ctx, name: str, fields: dict | None = None) -> None:
        """Record event ``name`` with its fields (by name) in System.Events, in the current phase."""
        variant, encode_fields = self._event_codecs[name]
        ctx.deposit_event(self._index_byte + variant + encode_fields(fields))

    def encode_event(self, name: str, fields: dict | None = None) -> bytes:
        """Event ``name`` as `deposit_event` records it (a RuntimeEvent), for callers that
        deposit the same event many times (`ExecutionContext.deposit_event`)."""
        variant, encode_fields = self._event_codecs[name]
        return self._index_byte + variant + encode_fields(fields)

    # -- declarations the runtime reads -------------------------------------------------------

    def constants(self) -> list[Constant]:
        return []

    def build_genesis(self, state: StateOverlay, config: dict) -> None:
        """Write this pallet's genesis state from its section of the chain spec."""

    def on_initialize(self, ctx) -> None:
        """Runs before the block's extrinsics."""

    def on_finalize(self, ctx) -> None:
        """Runs after the block's extrinsics."""
