"""What an authority must remember across a restart to stay safe: its lock and its last round.

Tendermint's safety needs a node to keep its lock and never sign two different things in one
round. A node that crashed and came back with an empty memory could do both. So the core hands
out this small record (``PersistVoterState``) before every signature leaves the node; on
restart the node passes the last one back, and the core resumes locked as before, in the round
*after* the last one it signed in.

Liveness needs one more thing: the polka behind the valid value (the prevotes that made it).
A locked node prevotes nothing else, and its peers accept its re-proposal only on seeing that
polka; if they never saw it (they crashed, or their links dropped it) and the locked node
forgot it in a restart, the height could never decide. The record keeps those prevotes.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.consensus.messages import Vote, decode_option_hash, decode_vote, encode_option_hash
from node.primitives.scale import decode_all, decode_compact, decode_uint, encode_compact

HASH_LEN = 32


@dataclass(frozen=True, slots=True)
class VoterState:
    height: int  # u64
    round: int  # u32: the last round this node signed something in
    locked_value: bytes | None
    locked_round: int  # -1: not locked
    valid_value: bytes | None
    valid_round: int  # -1: none
    polka: tuple[Vote, ...] = ()  # the prevotes for valid_value in valid_round

    def encode(self) -> bytes:
        return b"".join(
            (
                self.height.to_bytes(8, "little"),
                self.round.to_bytes(4, "little"),
                encode_option_hash(self.locked_value),
                (self.locked_round + 1).to_bytes(4, "little"),
                encode_option_hash(self.valid_value),
                (self.valid_round + 1).to_bytes(4, "little"),
                encode_compact(len(self.polka)),
                *(vote.encode() for vote in self.polka),
            )
        )

    @classmethod
    def decode(cls, data: bytes) -> VoterState:
        return decode_all(_decode, data)


def _decode(data: bytes, offset: int) -> tuple[VoterState, int]:
    height, offset = decode_uint(data, offset, 8)
    round_, offset = decode_uint(data, offset, 4)
    locked_value, offset = decode_option_hash(data, offset)
    locked_round, offset = decode_uint(data, offset, 4)
    valid_value, offset = decode_option_hash(data, offset)
    valid_round, offset = decode_uint(data, offset, 4)
    polka = []
    if offset < len(data):  # a record written before the polka was kept has none
        count, offset = decode_compact(data, offset)
        for _ in range(count):
            vote, offset = decode_vote(data, offset)
            polka.append(vote)
    return VoterState(height, round_, locked_value, locked_round - 1, valid_value, valid_round - 1, tuple(polka)), offset
