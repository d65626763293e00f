"""Why consensus input is refused. Every rejection is one of these; none changes any state."""

from __future__ import annotations

from node.primitives.scale import DecodeError


class ConsensusError(Exception):
    """Base of every consensus rejection."""


class MalformedMessage(ConsensusError, DecodeError):
    """Bytes that do not decode to a consensus message (or are too large to try)."""


class InvalidMessage(ConsensusError):
    """A message that decodes but must not be counted."""


class BadSignature(InvalidMessage):
    """The signature does not verify under the claimed signer's key."""


class NotAnAuthority(InvalidMessage):
    """The signer is not in the authority set."""


class NotTheProposer(InvalidMessage):
    """A proposal signed by an authority that does not propose in that round."""


class WrongHeight(InvalidMessage):
    """A message for another height than the one the state machine is deciding."""


# -- Aura ---------------------------------------------------------------------------------------


class AuraError(ConsensusError):
    """A header that Aura's rules refuse."""


class InvalidPreDigest(AuraError):
    """No Aura pre-runtime digest with a u64 slot, or more than one."""


class InvalidSeal(AuraError):
    """No Aura seal as the last digest item, or a signature no authority made."""


class WrongAuthor(AuraError):
    """Sealed by an authority, but not by the one that owns the slot."""


class SlotInFuture(AuraError):
    """The slot is later than the local slot plus the allowed drift."""


class SlotNotIncreasing(AuraError):
    """The slot is not after the parent's slot."""


class WrongParent(AuraError):
    """The header is not a child of the parent it was checked against."""


# -- Justifications -----------------------------------------------------------------------------


class InvalidJustification(ConsensusError):
    """A justification that does not prove finality of its target."""


class UnknownSigner(InvalidJustification):
    """A signature by a key outside the authority set."""


class DuplicateSigner(InvalidJustification):
    """Two signatures by one authority (each authority counts once)."""


class TooFewSignatures(InvalidJustification):
    """Not more than 2/3 of the authorities signed."""


class WrongTarget(InvalidJustification):
    """A signature for a block that is neither the target nor its descendant, or a target that
    is not the block the justification was offered for."""


class BadJustificationSignature(InvalidJustification):
    """A precommit signature that does not verify."""


# -- Evidence -----------------------------------------------------------------------------------


class InvalidEvidence(ConsensusError):
    """Evidence that does not prove an equivocation."""
