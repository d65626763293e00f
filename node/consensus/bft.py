"""bft: Tendermint with instant finality — each height decides the block at that number.

At height ``h`` (= last finalized number + 1) the round's proposer (round-robin by ``h + round``)
builds a block on the last finalized one (``AuthorBlock``) and proposes it; the others prevote it
once the node has imported it as a child of the last finalized block. A block with more than
2/3 precommits is final at once and the precommits are its justification, so every block in
the chain is final and there are no forks to choose between.

Node wiring: feed peer messages to ``apply_message``, timers to ``apply_timeout``, every
imported block to ``apply_block`` (or ``apply_invalid_block``), and answer ``AuthorBlock`` with
``apply_authored``. Carry out the returned effects.
"""

from __future__ import annotations

from node.consensus.effects import AuthorBlock, RequestValue
from node.consensus.engine import Engine
from node.consensus.errors import WrongTarget
from node.consensus.justification import Justification


class BftEngine(Engine):
    def apply_authored(self, height: int, round_: int, block_hash: bytes) -> list:
        """The block this node built for ``AuthorBlock(height, round_, parent)``: propose it."""
        if height != self.core.height:
            return []  # decided meanwhile: the block is stale
        effects = self.apply_block(block_hash, height, self.finalized_hash)
        return effects + self._drive(self.core.apply_value(round_, block_hash))

    # -- Engine hooks ----------------------------------------------------------------------
    def _verdict(self, value: bytes) -> bool | None:
        number = self.blocks.number_of(value)
        if number is None:
            return None
        return number == self.core.height and self.blocks.parent_of(value) == self.finalized_hash

    def _on_request_value(self, request: RequestValue) -> list:
        return [AuthorBlock(request.height, request.round, self.finalized_hash)]

    def _decided_number(self, value: bytes, height: int) -> int | None:
        return height  # the block decided at height h is block number h

    def _justified_number(self, justification: Justification) -> int | None:
        if justification.target_number != justification.height:
            raise WrongTarget("a bft justification's target is the block at its height")
        return justification.height

    def _is_descendant(self, ancestor: bytes, block_hash: bytes) -> bool:
        return False  # bft precommits name the decided block itself, never a descendant

    def _extends_finalized(self, block_hash: bytes, number: int) -> bool:
        # Heights are consecutive and every honest prevote checks the parent, so a decision
        # (or a justification, which is one) always extends the previous decision.
        return True
