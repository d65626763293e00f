"""Consensus as pure, deterministic state machines.

Nothing here does I/O, reads a clock or imports trio/grpc: time arrives as inputs (slots,
``TimeoutFired``), and every state machine answers an input with a list of effects for the node
to carry out, in order (``effects``). Modules:

- ``authorities``: the ordered authority set, its quorum threshold and signing context;
- ``aura``: round-robin slot authorship, pre-digests and seals (Substrate's Aura layout);
- ``messages``, ``justification``, ``wire``: signed proposals and votes, the proof of finality
  every importer checks, and the envelope they travel in;
- ``tendermint``: agreement on one value at one height (propose, prevote, precommit), with
  ``voter_state`` as what an authority persists to stay safe across restarts;
- ``engine``: a chain of heights on top of ``tendermint``, shared by the two engines a chain
  spec can pick: ``bft`` (instant finality) and ``finality`` (a gadget over ``aura`` blocks);
- ``equivocation``: evidence that an authority signed two conflicting things.
"""
