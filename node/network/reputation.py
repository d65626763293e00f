"""Peer scores and bans, by peer name.

A score starts at 0 and only goes down (``report``); at or below the ban threshold the peer is
banned for ``ban_seconds`` of trio time, and when the ban expires it starts again from 0. Scores
outlive connections, so a misbehaving peer cannot reset its score by reconnecting.
"""

from __future__ import annotations


class Penalty:
    """What the network itself charges; the chain and consensus layers pick their own amounts."""

    UNDECODABLE = 20  # not an Envelope, or a field breaks a rule
    OVERSIZED = 50  # over the message size limit
    PROTOCOL_VIOLATION = 20  # a second handshake, a response larger than the request
    HANDSHAKE_MISMATCH = 0  # other genesis or version: refused, not punished (maybe misconfigured)


class Reputation:
    def __init__(self, ban_threshold: int, ban_seconds: float):
        self.ban_threshold = ban_threshold
        self.ban_seconds = ban_seconds
        self._scores: dict[str, int] = {}
        self._banned_until: dict[str, float] = {}

    def score(self, name: str) -> int:
        return self._scores.get(name, 0)

    def penalize(self, name: str, penalty: int, now: float) -> bool:
        """Lower the score; True if this crossed the threshold and banned the peer."""
        score = self._scores.get(name, 0) - penalty
        self._scores[name] = score
        if score <= self.ban_threshold and name not in self._banned_until:
            self._banned_until[name] = now + self.ban_seconds
            return True
        return False

    def banned_until(self, name: str, now: float) -> float | None:
        """When the peer's ban ends, or None if it is not banned (an expired ban is lifted here)."""
        until = self._banned_until.get(name)
        if until is not None and now >= until:
            del self._banned_until[name]
            self._scores[name] = 0
            return None
        return until
