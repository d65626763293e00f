"""A BFT finality gadget over Aura blocks (the ``aura`` engine's finality).

Aura authors blocks on its own; the gadget runs Tendermint heights over them, each deciding a
block to finalize above the last finalized one. The round's proposer proposes its best block
(the highest it has on top of the last finalized one); others prevote it only if they have it
and it extends the last finalized block. The decision's precommits are its justification
(``node.consensus.justification``): more than 2/3 of the authorities signed the block or a
descendant, and every importer runs ``verify_justification`` on it. Blocks between the old and
the new finalized one are final with it.

The gadget waits to start a height until it has a block to propose or hears from a peer who
has, so an idle chain does not spin through rounds. Node wiring: as for ``bft``, without
``apply_authored``; Aura's fork choice uses ``best_block()``.
"""

from __future__ import annotations

from node.consensus.effects import RequestValue
from node.consensus.engine import Engine
from node.consensus.errors import WrongTarget
from node.consensus.justification import Justification, SignedPrecommit, verify_justification

__all__ = ["FinalityGadget", "Justification", "SignedPrecommit", "verify_justification"]


class FinalityGadget(Engine):
    _wanted: RequestValue | None = None

    def best_block(self) -> bytes:
        """The head Aura should build on: the best block on top of the last finalized one."""
        return self.blocks.best()

    # -- Engine hooks ----------------------------------------------------------------------
    def _ready(self) -> bool:
        return self.blocks.best() != self.finalized_hash

    def _verdict(self, value: bytes) -> bool | None:
        if value not in self.blocks:
            return None  # maybe later, once imported; never "invalid" just for being unknown
        return self.blocks.is_descendant(self.finalized_hash, value)

    def _on_request_value(self, request: RequestValue) -> list:
        best = self.blocks.best()
        if best == self.finalized_hash:
            self._wanted = request  # nothing to finalize yet: answer when a block arrives
            return []
        self._wanted = None
        return self.core.apply_value(request.round, best)

    def _on_new_block(self, block_hash: bytes) -> list:
        if self.started and not self.core.started and self._ready():
            return self._drive(self.core.start())
        wanted = self._wanted
        if wanted is not None and wanted.height == self.core.height and self._ready():
            return self._drive(self._on_request_value(wanted))
        return []

    def _decided_number(self, value: bytes, height: int) -> int | None:
        return self.blocks.number_of(value)

    def _justified_number(self, justification: Justification) -> int | None:
        number = self.blocks.number_of(justification.target_hash)
        if number is not None and number != justification.target_number:
            raise WrongTarget(f"the target is block {number}, not {justification.target_number}")
        return number
