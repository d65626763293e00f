"""SCALE type descriptors: one declaration gives a fast codec and a metadata V14 type entry.

A pallet declares its storage values, call arguments and event fields with these descriptors; the
runtime encodes and decodes with them on the hot path, and the metadata builder walks them to emit
the portable type registry that clients use. Values are plain Python:

- integers for u8…u128 and compacts, ``bool``, ``str``, ``bytes`` for ``Vec<u8>`` and ``[u8; N]``;
- ``list`` for sequences, ``tuple`` for tuples and arrays, ``None``/value for ``Option``;
- composites: a ``dict`` by field name, or the bare value for a one-field tuple struct
  (``AccountId32`` is ``bytes``);
- variants: the variant name for a unit variant, else ``{name: fields}`` where ``fields`` follows
  the composite rule. This mirrors scalecodec's value shapes, which keeps the oracle tests direct.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from node.primitives.scale import (
    DecodeError,
    decode_bool,
    decode_bytes,
    decode_compact,
    decode_fixed,
    encode_bytes,
    encode_compact,
)


class ScaleType(ABC):
    """Base of every type descriptor."""

    path: tuple[str, ...] = ()
    docs: tuple[str, ...] = ()

    @abstractmethod
    def encode(self, value: Any) -> bytes:
        """The SCALE bytes of ``value``; ValueError if it is not a value of this type."""

    @abstractmethod
    def decode(self, data: bytes, offset: int) -> tuple[Any, int]:
        """(value, offset after it); DecodeError on malformed or truncated input."""

    def decode_all(self, data: bytes) -> Any:
        value, end = self.decode(data, 0)
        if end != len(data):
            raise DecodeError(f"{len(data) - end} trailing bytes after {self.name()}")
        return value

    def name(self) -> str:
        return "::".join(self.path) or type(self).__name__

    # Metadata: `registry.id_of(t)` for nested types; `type_params` for generic paths.
    @abstractmethod
    def type_def(self, registry: "TypeRegistry") -> dict:
        """This type's entry in the portable registry (scale-info's TypeDef)."""

    def type_params(self, registry: "TypeRegistry") -> list[dict]:
        return []

    def identity(self) -> tuple:
        """Structural identity, so equal anonymous types share one registry entry."""
        return (type(self).__name__, id(self))


class Primitive(ScaleType):
    def __init__(self, kind: str, size: int):
        self.kind, self.size = kind, size

    def encode(self, value: int) -> bytes:
        try:
            return value.to_bytes(self.size, "little")
        except (OverflowError, AttributeError):
            raise ValueError(f"{value!r} is not a valid {self.kind}") from None

    def decode(self, data: bytes, offset: int) -> tuple[int, int]:
        end = offset + self.size
        if end > len(data):
            raise DecodeError(f"unexpected end of input reading {self.kind}")
        return int.from_bytes(data[offset:end], "little"), end

    def type_def(self, registry):
        return {"primitive": self.kind}

    def identity(self):
        return ("primitive", self.kind)

    def name(self):
        return self.kind


class _Bool(ScaleType):
    def encode(self, value: bool) -> bytes:
        return b"\x01" if value else b"\x00"

    def decode(self, data, offset):
        return decode_bool(data, offset)

    def type_def(self, registry):
        return {"primitive": "bool"}

    def identity(self):
        return ("primitive", "bool")

    def name(self):
        return "bool"


class _Str(ScaleType):
    def encode(self, value: str) -> bytes:
        return encode_bytes(value.encode())

    def decode(self, data, offset):
        raw, end = decode_bytes(data, offset)
        try:
            return raw.decode(), end
        except UnicodeDecodeError:
            raise DecodeError("string is not valid UTF-8") from None

    def type_def(self, registry):
        return {"primitive": "str"}

    def identity(self):
        return ("primitive", "str")

    def name(self):
        return "str"


U8 = Primitive("u8", 1)
U16 = Primitive("u16", 2)
U32 = Primitive("u32", 4)
U64 = Primitive("u64", 8)
U128 = Primitive("u128", 16)
Bool = _Bool()
Str = _Str()


class Compact(ScaleType):
    def __init__(self, inner: ScaleType):
        self.inner = inner

    def encode(self, value: int) -> bytes:
        return encode_compact(value)

    def decode(self, data, offset):
        return decode_compact(data, offset)

    def type_def(self, registry):
        return {"compact": {"type": registry.id_of(self.inner)}}

    def identity(self):
        return ("compact", self.inner.identity())

    def name(self):
        return f"Compact<{self.inner.name()}>"


class Sequence_(ScaleType):
    """``Vec<T>``; ``Vec<u8>`` is :data:`Bytes`, which uses ``bytes`` values."""

    def __init__(self, inner: ScaleType):
        self.inner = inner

    def encode(self, value: Sequence) -> bytes:
        enc = self.inner.encode
        return encode_compact(len(value)) + b"".join(enc(v) for v in value)

    def decode(self, data, offset):
        count, offset = decode_compact(data, offset)
        if count > len(data) - offset:  # every element takes at least one byte
            raise DecodeError("sequence length exceeds the input")
        dec = self.inner.decode
        out = []
        for _ in range(count):
            v, offset = dec(data, offset)
            out.append(v)
        return out, offset

    def type_def(self, registry):
        return {"sequence": {"type": registry.id_of(self.inner)}}

    def identity(self):
        return ("sequence", self.inner.identity())

    def name(self):
        return f"Vec<{self.inner.name()}>"


def Vec(inner: ScaleType) -> ScaleType:
    return Bytes if inner is U8 else Sequence_(inner)


class _Bytes(Sequence_):
    def __init__(self):
        super().__init__(U8)

    def encode(self, value: bytes) -> bytes:
        return encode_bytes(bytes(value))

    def decode(self, data, offset):
        return decode_bytes(data, offset)


Bytes = _Bytes()


class Array(ScaleType):
    """``[T; N]``; ``[u8; N]`` values are ``bytes``."""

    def __init__(self, inner: ScaleType, length: int):
        self.inner, self.length = inner, length

    def encode(self, value) -> bytes:
        if len(value) != self.length:
            raise ValueError(f"expected {self.length} elements, got {len(value)}")
        if self.inner is U8:
            return value if type(value) is bytes else bytes(value)
        return b"".join(self.inner.encode(v) for v in value)

    def decode(self, data, offset):
        if self.inner is U8:
            return decode_fixed(data, offset, self.length)
        out = []
        for _ in range(self.length):
            v, offset = self.inner.decode(data, offset)
            out.append(v)
        return tuple(out), offset

    def type_def(self, registry):
        return {"array": {"len": self.length, "type": registry.id_of(self.inner)}}

    def identity(self):
        return ("array", self.length, self.inner.identity())

    def name(self):
        return f"[{self.inner.name()}; {self.length}]"


class Tuple(ScaleType):
    """``(A, B, …)``; the empty tuple ``()`` is Rust's unit type, whose value is ``None``."""

    def __init__(self, *items: ScaleType):
        self.items = items

    def encode(self, value) -> bytes:
        if not self.items:
            if value not in (None, ()):
                raise ValueError(f"the unit type () has no value {value!r}")
            return b""
        if len(self.items) == 1:
            return self.items[0].encode(value)
        if not self.items:  # the unit type `()`: no bytes, whatever stands for it
            return b""
        return b"".join(t.encode(v) for t, v in zip(self.items, value, strict=True))

    def decode(self, data, offset):
        if not self.items:
            return None, offset
        if len(self.items) == 1:
            return self.items[0].decode(data, offset)
        if not self.items:
            return None, offset
        out = []
        for t in self.items:
            v, offset = t.decode(data, offset)
            out.append(v)
        return tuple(out), offset

    def type_def(self, registry):
        return {"tuple": [registry.id_of(t) for t in self.items]}

    def identity(self):
        return ("tuple", tuple(t.identity() for t in self.items))

    def name(self):
        return "(" + ", ".join(t.name() for t in self.items) + ")"


Unit = Tuple()


@dataclass(frozen=True)
class Field:
    name: str | None
    type: ScaleType
    type_name: str | None = None
    docs: tuple[str, ...] = ()


def _fields_codec(fields: Sequence[Field]):
    """Encoder/decoder for a field list: dict by name, or the bare value for one unnamed field."""
    if not fields:
        return (lambda value: b""), (lambda data, offset: (None, offset))
    if len(fields) == 1 and fields[0].name is None:
        only = fields[0].type
        return only.encode, only.decode
    if fields[0].name is None:
        items = Tuple(*(f.type for f in fields))
        return items.encode, items.decode
    pairs = [(f.name, f.type.encode, f.type.decode) for f in fields]
    encoders = [(name, enc) for name, enc, _ in pairs]

    def encode(value: dict) -> bytes:
        try:
            return b"".join([enc(value[name]) for name, enc in encoders])
        except KeyError as missing:
            raise ValueError(f"missing field {missing}") from None

    def decode(data, offset):
        out = {}
        for name, _, dec in pairs:
            out[name], offset = dec(data, offset)
        return out, offset

    return encode, decode


def _fields_meta(fields: Sequence[Field], registry) -> list[dict]:
    return [
        {"name": f.name, "type": registry.id_of(f.type), "typeName": f.type_name, "docs": list(f.docs)}
        for f in fields
    ]


class Composite(ScaleType):
    def __init__(self, path: str, fields: Sequence[Field], docs: Sequence[str] = (), params=()):
        self.path = tuple(path.split("::")) if path else ()
        self.fields = tuple(fields)
        self.docs = tuple(docs)
        self.params = tuple(params)  # (name, ScaleType | None) pairs, for generic paths
        # The compiled codec replaces these methods per instance (no dispatch on the hot path).
        self.encode, self.decode = _fields_codec(self.fields)

    def encode(self, value) -> bytes:  # replaced in __init__
        return _fields_codec(self.fields)[0](value)

    def decode(self, data, offset):  # replaced in __init__
        return _fields_codec(self.fields)[1](data, offset)

    def type_def(self, registry):
        return {"composite": {"fields": _fields_meta(self.fields, registry)}}

    def type_params(self, registry):
        return [{"name": n, "type": None if t is None else registry.id_of(t)} for n, t in self.params]


@dataclass
class VariantSpec:
    index: int
    name: str
    fields: tuple[Field, ...] = ()
    docs: tuple[str, ...] = ()
    encode_fields: Callable = field(init=False, repr=False)
    decode_fields: Callable = field(init=False, repr=False)

    def __post_init__(self):
        self.fields = tuple(self.fields)
        self.encode_fields, self.decode_fields = _fields_codec(self.fields)


class Variant(ScaleType):
    def __init__(self, path: str, variants: Sequence[VariantSpec], docs: Sequence[str] = (), params=()):
        self.path = tuple(path.split("::")) if path else ()
        self.docs = tuple(docs)
        self.params = tuple(params)
        self.set_variants(variants)

    def set_variants(self, variants: Sequence[VariantSpec]) -> None:
        self.variants = tuple(variants)
        self.by_name = {v.name: v for v in self.variants}
        self.by_index = {v.index: v for v in self.variants}
        if len(self.by_name) != len(self.variants) or len(self.by_index) != len(self.variants):
            raise ValueError(f"duplicate variant name or index in {self.name()}")

    def encode(self, value) -> bytes:
        if isinstance(value, str):
            name, inner = value, None
        else:
            ((name, inner),) = value.items()
        try:
            spec = self.by_name[name]
        except KeyError:
            raise ValueError(f"{self.name()} has no variant {name!r}") from None
        return bytes((spec.index,)) + spec.encode_fields(inner)

    def decode(self, data, offset):
        try:
            spec = self.by_index[data[offset]]
        except IndexError:
            raise DecodeError(f"unexpected end of input reading {self.name()}") from None
        except KeyError:
            raise DecodeError(f"{self.name()} has no variant with index {data[offset]}") from None
        if not spec.fields:
            return spec.name, offset + 1
        inner, offset = spec.decode_fields(data, offset + 1)
        return {spec.name: inner}, offset

    def type_def(self, registry):
        return {
            "variant": {
                "variants": [
                    {"name": v.name, "fields": _fields_meta(v.fields, registry), "index": v.index, "docs": list(v.docs)}
                    for v in self.variants
                ]
            }
        }

    def type_params(self, registry):
        return [{"name": n, "type": None if t is None else registry.id_of(t)} for n, t in self.params]


class Option(ScaleType):
    def __init__(self, inner: ScaleType):
        self.inner = inner
        self.path = ("Option",)

    def encode(self, value) -> bytes:
        return b"\x00" if value is None else b"\x01" + self.inner.encode(value)

    def decode(self, data, offset):
        try:
            tag = data[offset]
        except IndexError:
            raise DecodeError("unexpected end of input reading Option") from None
        if tag == 0:
            return None, offset + 1
        if tag == 1:
            return self.inner.decode(data, offset + 1)
        raise DecodeError(f"invalid Option tag {tag}")

    def type_def(self, registry):
        return {
            "variant": {
                "variants": [
                    {"name": "None", "fields": [], "index": 0, "docs": []},
                    {"name": "Some", "fields": _fields_meta([Field(None, self.inner)], registry), "index": 1, "docs": []},
                ]
            }
        }

    def type_params(self, registry):
        return [{"name": "T", "type": registry.id_of(self.inner)}]

    def identity(self):
        return ("option", self.inner.identity())

    def name(self):
        return f"Option<{self.inner.name()}>"


class Result(Variant):
    """``Result<T, E>`` with values ``{"Ok": v}`` / ``{"Err": e}``."""

    def __init__(self, ok: ScaleType, err: ScaleType):
        super().__init__(
            "Result",
            [VariantSpec(0, "Ok", (Field(None, ok),)), VariantSpec(1, "Err", (Field(None, err),))],
            params=(("T", ok), ("E", err)),
        )
        self.ok, self.err = ok, err

    def identity(self):
        return ("result", self.ok.identity(), self.err.identity())


class TypeRegistry:
    """Assigns metadata type ids (the scale-info portable registry)."""

    def __init__(self):
        self._ids: dict[tuple, int] = {}
        self.types: list[dict] = []

    def id_of(self, t: ScaleType) -> int:
        key = t.identity()
        found = self._ids.get(key)
        if found is not None:
            return found
        type_id = len(self.types)
        self._ids[key] = type_id  # reserved before recursing, so recursive types terminate
        self.types.append({})
        entry = {"path": list(t.path), "params": t.type_params(self), "def": t.type_def(self), "docs": list(t.docs)}
        self.types[type_id] = {"id": type_id, "type": entry}
        return type_id


# Types the clients find by path (substrate-compat.md, section 3).
H256 = Composite("primitive_types::H256", [Field(None, Array(U8, 32), "[u8; 32]")])
AccountId = Composite("sp_core::crypto::AccountId32", [Field(None, Array(U8, 32), "[u8; 32]")])
Balance = U128
BlockNumber = U32
Nonce = U32
MultiAddress = Variant(
    "sp_runtime::multiaddress::MultiAddress",
    [
        VariantSpec(0, "Id", (Field(None, AccountId, "AccountId"),)),
        VariantSpec(1, "Index", (Field(None, Compact(Unit), "AccountIndex"),)),
        VariantSpec(2, "Raw", (Field(None, Bytes, "Vec<u8>"),)),
        VariantSpec(3, "Address32", (Field(None, Array(U8, 32), "[u8; 32]"),)),
        VariantSpec(4, "Address20", (Field(None, Array(U8, 20), "[u8; 20]"),)),
    ],
    params=(("AccountId", AccountId), ("AccountIndex", Unit)),
)
Weight = Composite(
    "sp_weights::weight_v2::Weight",
    [Field("ref_time", Compact(U64), "u64"), Field("proof_size", Compact(U64), "u64")],
)
