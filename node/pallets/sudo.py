"""pallet_sudo: one key that may dispatch calls as root (dev and test chains)."""

from __future__ import annotations

from node.primitives.scale_types import AccountId, MultiAddress, Option, Result, Unit, Weight
from node.runtime.errors import DispatchError as DispatchFailure
from node.runtime.pallet import RUNTIME_CALL, ROOT, Origin, Pallet, StorageValue, call, event
from node.runtime.types import DispatchError
from node.pallets.balances import lookup

SUDO_WEIGHT = 20_000_000


def _inner_weight(call, **_):
    return SUDO_WEIGHT  # the runtime adds the inner call's own weight when it computes fees


class Sudo(Pallet):
    name = "Sudo"
    crate = "pallet_sudo"

    # -- storage ------------------------------------------------------------------------------
    Key = StorageValue(AccountId, docs="The `AccountId` of the sudo key.")

    # -- events -------------------------------------------------------------------------------
    EVENTS = (
        event(0, "Sudid", "A sudo call just took place.", sudo_result=Result(Unit, DispatchError)),
        event(1, "KeyChanged", "The sudo key has been updated.", old=Option(AccountId), new=AccountId),
        event(2, "KeyRemoved", "The key was permanently removed."),
        event(3, "SudoAsDone", "A [sudo_as](Pallet::sudo_as) call just took place.", sudo_result=Result(Unit, DispatchError)),
    )

    # -- errors -------------------------------------------------------------------------------
    ERRORS = (("RequireSudo", "Sender must be the Sudo account."),)

    # -- calls --------------------------------------------------------------------------------
    @call(0, call=RUNTIME_CALL, weight=_inner_weight)
    def sudo(self, ctx, origin, call):
        """Authenticates the sudo key and dispatches a function call with `Root` origin."""
        self._ensure_sudo(ctx, origin)
        self.deposit_event(ctx, "Sudid", {"sudo_result": self._dispatch(ctx, ROOT, call)})

    @call(1, call=RUNTIME_CALL, weight_=Weight, weight=lambda call, weight: weight["ref_time"])
    def sudo_unchecked_weight(self, ctx, origin, call, weight):
        """As `sudo`, with a weight given by the caller."""
        self._ensure_sudo(ctx, origin)
        self.deposit_event(ctx, "Sudid", {"sudo_result": self._dispatch(ctx, ROOT, call)})

    @call(2, new=MultiAddress, weight=SUDO_WEIGHT)
    def set_key(self, ctx, origin, new):
        """Authenticates the current sudo key and sets the given account as the new sudo key."""
        old = self._ensure_sudo(ctx, origin)
        new = lookup(new)
        self.Key.set(ctx.state, new)
        self.deposit_event(ctx, "KeyChanged", {"old": old, "new": new})

    @call(3, who=MultiAddress, call=RUNTIME_CALL, weight=_inner_weight)
    def sudo_as(self, ctx, origin, who, call):
        """Dispatches a call with a `Signed` origin from the given account."""
        self._ensure_sudo(ctx, origin)
        result = self._dispatch(ctx, Origin.signed(lookup(who)), call)
        self.deposit_event(ctx, "SudoAsDone", {"sudo_result": result})

    # -- internals ----------------------------------------------------------------------------
    def _ensure_sudo(self, ctx, origin) -> bytes:
        who = ctx.ensure_signed(origin)
        if who != self.Key.get(ctx.state):
            raise self.error("RequireSudo")
        return who

    def _dispatch(self, ctx, origin, inner_call) -> dict:
        """Dispatch in its own storage transaction; its failure is reported, not propagated."""
        try:
            with ctx.state.transaction():
                ctx.runtime.dispatch(ctx, origin, inner_call)
        except DispatchFailure as failure:
            return {"Err": failure.value}
        return {"Ok": None}

    # -- genesis ------------------------------------------------------------------------------
    def build_genesis(self, state, config):
        if config.get("key") is not None:
            self.Key.set(state, config["key"])
