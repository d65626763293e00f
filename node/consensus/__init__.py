"""Consensus as pure, deterministic state machines.

Nothing here does I/O, reads a clock or imports trio/grpc: time arrives as inputs (slots,
``TimeoutFired``), and every state machine answers an input with a list of effects for the node
to carry out (``node.consensus.effects``). Modules:

- ``authorities``: the ordered authority set, its quorum threshold and signing context;
- ``aura``: round-robin slot authorship, pre-digests and seals (Substrate's Aura layout);
- ``messages`` / ``justification``: signed wire objects and the proof of finality importers check;
- ``tendermint``: agreement on one value at one height (propose, prevote, precommit);
- ``engine``: a sequence of heights on top of ``tendermint``, shared by the two engines:
  ``bft`` (instant finality) and ``finality`` (a finality gadget over Aura blocks);
- ``equivocation``: evidence that an authority signed two conflicting things.
"""
