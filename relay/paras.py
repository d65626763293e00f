"""Paras: the relay's registry of parachains, their anchored heads, and the validator set that
backs their candidates.

Each registered para has a name, the hash of its runtime code (blake2_256 of an identifier such as
b"parawatt-demand-v1": validators re-execute a candidate with the runtime that hash names), and its
current head: the SCALE header of its latest included block, that header's hash, and the number
of the relay block that included it (0 for the genesis head).

The validator set is the relay's ed25519 validator keys; statements name a validator by its index
here. `backing_votes` VALID statements back a candidate. Default: ``f + 1`` where
``f = floor((n - 1) / 3)`` is the most faulty validators the set tolerates (2 of 4): the fewest
votes that always include an honest validator's, so faulty validators alone never back an invalid
candidate. Statements sign the relay chain id from genesis, so they count on no other chain.

Backing groups (Polkadot's validator groups): the validators are split into `backing_groups`
contiguous groups by index (sizes differ by at most one), and a candidate may only be backed by
the group assigned to its para at its relay parent: group ``(para_id + relay parent number) mod
groups``, so the assignment rotates every relay block and no group keeps a para. Only that group
re-executes the candidate; every other validator imports relay blocks without touching PoVs,
which is what lets the relay's validation work grow with the number of groups, not of paras.
Every group holds at least `backing_votes` validators, so the threshold — and with it the
guarantee that an honest validator vouched for the candidate — is unchanged. Default:
``n // backing_votes`` groups (2 of 2 validators each for 4 validators); 1 group is the whole set.
A group with a validator down cannot back; its paras wait for the next relay parent that assigns
them another group (collators resend with their newest relay parent).

Registering and deregistering a para are root calls (the operator, through Sudo). Other pallets
use the narrow interface below (`head_of`, `set_head`, `validators`, `threshold`), never the
storage items.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.consensus.authorities import AuthoritySet, InvalidAuthoritySet
from node.primitives.hashing import blake2_256
from node.primitives.header import Header
from node.primitives.keys import ED25519
from node.primitives.scale import DecodeError
from node.primitives.scale_types import U8, U32, Array, Bytes, Composite, Field, H256, Sequence_
from node.runtime.pallet import Constant, Pallet, StorageValue, call, event, map_of
from relay.primitives import MAX_HEAD_DATA, ParaId

REGISTER_WEIGHT = 50_000_000
DEREGISTER_WEIGHT = 30_000_000
MAX_NAME_LEN = 32
MAX_PARAS = 256


class InvalidParasGenesis(ValueError):
    """A Paras genesis section that cannot describe a working relay."""


def code_hash_of(identifier: bytes) -> bytes:
    """The code hash genesis and `register` record for a parachain runtime identifier."""
    return blake2_256(identifier)


def default_backing_votes(validators: int) -> int:
    """f + 1: the smallest number of votes that always includes an honest validator's."""
    return (validators - 1) // 3 + 1


def default_backing_groups(validators: int, votes: int) -> int:
    """As many groups as the set holds groups of ``votes`` validators (at least one)."""
    return max(1, validators // votes)


def group_members(validators: int, groups: int, group: int) -> range:
    """Validator indices of ``group``: contiguous, sizes differing by at most one."""
    return range(group * validators // groups, (group + 1) * validators // groups)


def assigned_group(para_id: int, relay_parent_number: int, groups: int) -> int:
    """The group that backs ``para_id``'s candidates built on relay block ``relay_parent_number``."""
    return (para_id + relay_parent_number) % groups


@dataclass(frozen=True, slots=True)
class ParaHead:
    head_hash: bytes  # blake2_256(head_data): the para block hash the relay anchors
    head_data: bytes  # the para block's SCALE header
    included_at: int  # the relay block that included it (0: the genesis head)

    @property
    def header(self) -> Header:
        return Header.decode(self.head_data)


@dataclass(frozen=True, slots=True)
class ParaInfo:
    name: bytes
    code_hash: bytes


ValidatorId = Composite("parawatt_relay::paras::ValidatorId", [Field(None, Array(U8, 32), "[u8; 32]")])
ParaInfoType = Composite(
    "parawatt_relay::paras::ParaInfo", [Field("name", Bytes, "Vec<u8>"), Field("code_hash", H256, "Hash")]
)
ParaHeadType = Composite(
    "parawatt_relay::paras::ParaHead",
    [Field("head_hash", H256, "Hash"), Field("head_data", Bytes, "HeadData"), Field("included_at", U32, "BlockNumber")],
)


class Paras(Pallet):
    name = "Paras"
    crate = "parawatt_relay::paras"

    # -- storage ------------------------------------------------------------------------------
    Parachains = StorageValue(Sequence_(U32), default=[], docs="The registered para ids, ascending.")
    Info = map_of(U32, ParaInfoType, hasher="Twox64Concat", docs="Each para's name and runtime code hash.")
    Heads = map_of(U32, ParaHeadType, hasher="Twox64Concat", docs="Each para's anchored head and the relay block that included it.")
    Validators = StorageValue(Sequence_(ValidatorId), default=[], docs="The validators' ed25519 keys; statements name them by index.")
    BackingThreshold = StorageValue(U32, default=0, docs="VALID statements needed to back a candidate.")
    ChainId = StorageValue(Bytes, default=b"", docs="The relay chain id that statements sign.")
    BackingGroups = StorageValue(U32, default=1, docs="How many backing groups the validators form (1: all of them back every para).")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "Registered", "A para was registered with its runtime code hash and genesis head.",
              para_id=U32, code_hash=H256, head_hash=H256),
        event(1, "Deregistered", "A para was removed; its candidates are no longer included.", para_id=U32),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (
        ("AlreadyRegistered", "A para with this id is already registered."),
        ("NotRegistered", "No para with this id is registered."),
        ("InvalidGenesisHead", "The genesis head does not decode as a header, or is too large."),
        ("NameTooLong", "The para name is longer than MaxNameLength bytes."),
        ("TooManyParas", "MaxParas paras are registered already."),
    )

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [
            Constant("MaxNameLength", U32, MAX_NAME_LEN, "The longest para name, in bytes."),
            Constant("MaxParas", U32, MAX_PARAS, "The most paras registered at once."),
        ]

    # -- calls --------------------------------------------------------------------------------
    @call(0, para_id=U32, name=Bytes, code_hash=H256, genesis_head=Bytes, weight=REGISTER_WEIGHT)
    def register(self, ctx, origin, para_id, name, code_hash, genesis_head):
        """Register a para with its runtime code hash and genesis head (root only)."""
        ctx.ensure_root(origin)
        ids = self.Parachains.get(ctx.state)
        if para_id in ids:
            raise self.error("AlreadyRegistered")
        if len(ids) >= MAX_PARAS:
            raise self.error("TooManyParas")
        if len(name) > MAX_NAME_LEN:
            raise self.error("NameTooLong")
        if not _is_header(genesis_head):
            raise self.error("InvalidGenesisHead")
        head = self._add(ctx.state, ids, para_id, ParaInfo(name, code_hash), genesis_head)
        self.deposit_event(ctx, "Registered", {"para_id": para_id, "code_hash": code_hash, "head_hash": head.head_hash})

    @call(1, para_id=U32, weight=DEREGISTER_WEIGHT)
    def deregister(self, ctx, origin, para_id):
        """Remove a para, its info and its head (root only)."""
        ctx.ensure_root(origin)
        ids = self.Parachains.get(ctx.state)
        if para_id not in ids:
            raise self.error("NotRegistered")
        ids.remove(para_id)
        self.Parachains.set(ctx.state, ids)
        self.Info.remove(ctx.state, para_id)
        self.Heads.remove(ctx.state, para_id)
        self.deposit_event(ctx, "Deregistered", {"para_id": para_id})

    # -- the interface other pallets use ------------------------------------------------------
    def is_registered(self, state, para_id: ParaId) -> bool:
        return self.Info.contains(state, para_id)

    def para_ids(self, state) -> list[ParaId]:
        return self.Parachains.get(state)

    def info_of(self, state, para_id: ParaId) -> ParaInfo | None:
        raw = self.Info.get(state, para_id)
        return None if raw is None else ParaInfo(raw["name"], raw["code_hash"])

    def head_of(self, state, para_id: ParaId) -> ParaHead | None:
        raw = self.Heads.get(state, para_id)
        return None if raw is None else ParaHead(raw["head_hash"], raw["head_data"], raw["included_at"])

    def set_head(self, state, para_id: ParaId, head_data: bytes, included_at: int) -> ParaHead:
        head = ParaHead(blake2_256(head_data), head_data, included_at)
        self.Heads.set(state, para_id, {"head_hash": head.head_hash, "head_data": head_data, "included_at": included_at})
        return head

    def validators(self, state) -> AuthoritySet | None:
        """The validator set (ed25519, chain id = the relay's), or None if none is configured."""
        keys = self.Validators.get(state)
        if not keys:
            return None
        return AuthoritySet(ED25519, tuple(keys), 0, self.ChainId.get(state))

    def threshold(self, state) -> int:
        return self.BackingThreshold.get(state)

    def groups(self, state) -> int:
        return self.BackingGroups.get(state)

    def backing_group(self, state, para_id: ParaId, relay_parent_number: int) -> range | None:
        """Indices of the validators that may back ``para_id``'s candidates built on relay block
        ``relay_parent_number`` (None without a validator set)."""
        keys = self.Validators.get(state)
        if not keys:
            return None
        groups = self.BackingGroups.get(state)
        return group_members(len(keys), groups, assigned_group(para_id, relay_parent_number, groups))

    # -- internals ----------------------------------------------------------------------------
    def _add(self, state, ids: list[int], para_id: int, info: ParaInfo, genesis_head: bytes) -> ParaHead:
        ids.append(para_id)
        ids.sort()
        self.Parachains.set(state, ids)
        self.Info.set(state, para_id, {"name": info.name, "code_hash": info.code_hash})
        return self.set_head(state, para_id, genesis_head, 0)

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, state, config):
        """``{"paras": [{"id": 2000, "name": "demand", "code": b"parawatt-demand-v1" (or
        "code_hash": 32 bytes), "genesis_head": SCALE header bytes}, …],
        "validators": [32-byte ed25519 keys], "backing_votes": f + 1 if absent,
        "backing_groups": n // backing_votes if absent, "chain_id": the relay chain id statements
        sign}``. Bytes may also be 0x-hex strings."""
        validators = [_bytes(k, "validator key") for k in config.get("validators", ())]
        chain_id = _bytes(config.get("chain_id", b""), "chain_id")
        if validators:
            try:
                AuthoritySet(ED25519, tuple(validators), 0, chain_id)
            except InvalidAuthoritySet as e:
                raise InvalidParasGenesis(f"validators: {e}") from None
            votes = config.get("backing_votes", default_backing_votes(len(validators)))
            if not isinstance(votes, int) or isinstance(votes, bool) or not 1 <= votes <= len(validators):
                raise InvalidParasGenesis(f"backing_votes must be 1..{len(validators)}, not {votes!r}")
            groups = config.get("backing_groups", default_backing_groups(len(validators), votes))
            most = len(validators) // votes  # every group must hold `votes` validators
            if not isinstance(groups, int) or isinstance(groups, bool) or not 1 <= groups <= most:
                raise InvalidParasGenesis(f"backing_groups must be 1..{most} (groups of at least {votes} validators), not {groups!r}")
            self.Validators.set(state, validators)
            self.BackingThreshold.set(state, votes)
            self.BackingGroups.set(state, groups)
        else:
            for key in ("backing_votes", "backing_groups"):
                if key in config:
                    raise InvalidParasGenesis(f"{key} needs validators")
        self.ChainId.set(state, chain_id)
        ids: list[int] = []
        for entry in config.get("paras", ()):
            para_id, info, head = _genesis_para(entry)
            if para_id in ids:
                raise InvalidParasGenesis(f"para {para_id} appears twice")
            self._add(state, ids, para_id, info, head)
        if len(ids) > MAX_PARAS:
            raise InvalidParasGenesis(f"at most {MAX_PARAS} paras")


def _is_header(data: bytes) -> bool:
    if len(data) > MAX_HEAD_DATA:
        return False
    try:
        Header.decode(data)
    except DecodeError:
        return False
    return True


def _bytes(value, what: str) -> bytes:
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            raise InvalidParasGenesis(f"{what}: bad hex") from None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    raise InvalidParasGenesis(f"{what}: expected bytes or 0x-hex, got {value!r}")


def _genesis_para(entry: dict) -> tuple[int, ParaInfo, bytes]:
    para_id = entry.get("id")
    if not isinstance(para_id, int) or not 0 <= para_id < 1 << 32:
        raise InvalidParasGenesis(f"para id must be a u32, not {para_id!r}")
    name = entry.get("name", "")
    name = name.encode() if isinstance(name, str) else _bytes(name, f"para {para_id} name")
    if len(name) > MAX_NAME_LEN:
        raise InvalidParasGenesis(f"para {para_id}: name longer than {MAX_NAME_LEN} bytes")
    if "code_hash" in entry:
        code_hash = _bytes(entry["code_hash"], f"para {para_id} code_hash")
        if len(code_hash) != 32:
            raise InvalidParasGenesis(f"para {para_id}: code_hash is 32 bytes")
    elif "code" in entry:
        code = entry["code"]
        code_hash = code_hash_of(code.encode() if isinstance(code, str) and not code.startswith("0x") else _bytes(code, "code"))
    else:
        raise InvalidParasGenesis(f"para {para_id}: needs code or code_hash")
    head = _bytes(entry.get("genesis_head"), f"para {para_id} genesis_head")
    if not _is_header(head):
        raise InvalidParasGenesis(f"para {para_id}: genesis_head is not a SCALE header")
    return para_id, ParaInfo(name, code_hash), head
