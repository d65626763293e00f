"""pallet_timestamp: the block author's wall-clock time, set once per block by an inherent.

The node reads the clock; the runtime only checks the value it is given (monotonic, at least
`MinimumPeriod` after the previous block), so runtime code stays free of clocks.
"""

from __future__ import annotations

from node.primitives.scale_types import U64, Bool, Compact
from node.runtime.pallet import Constant, Pallet, StorageValue, call

SET_WEIGHT = 10_000_000


class Timestamp(Pallet):
    name = "Timestamp"
    crate = "pallet_timestamp"

    # -- storage ------------------------------------------------------------------------------
    Now = StorageValue(U64, default=0, docs="The current time for the current block.")
    DidUpdate = StorageValue(Bool, default=False, docs="Whether the timestamp has been updated in this block.")

    def __init__(self, index: int, minimum_period_ms: int):
        super().__init__(index)
        self.minimum_period_ms = minimum_period_ms

    # -- constants ----------------------------------------------------------------------------
    def constants(self):
        return [Constant("MinimumPeriod", U64, self.minimum_period_ms, "The minimum period between blocks.")]

    # -- calls --------------------------------------------------------------------------------
    @call(0, now=Compact(U64), weight=SET_WEIGHT, pays_fee=False)
    def set(self, ctx, origin, now):
        """Set the current time. An inherent: the block author includes it, unsigned, once per block."""
        ctx.ensure_none(origin)
        if self.DidUpdate.get(ctx.state):
            raise ctx.mandatory_failure("Timestamp must be updated only once in the block")
        previous = self.Now.get(ctx.state)
        if previous and now < previous + self.minimum_period_ms:
            raise ctx.mandatory_failure("Timestamp must increment by at least MinimumPeriod between sequential blocks")
        self.Now.set(ctx.state, now)
        self.DidUpdate.set(ctx.state, True)

    # -- the interface other pallets use ------------------------------------------------------
    def now(self, state) -> int:
        """This block's time in ms since the Unix epoch (0 before the first block)."""
        return self.Now.get(state)

    # -- hooks --------------------------------------------------------------------------------
    def on_finalize(self, ctx):
        if not self.DidUpdate.get(ctx.state):
            raise ctx.mandatory_failure("Timestamp must be updated once in the block")
        self.DidUpdate.kill(ctx.state)
