"""Transaction mortality (``sp_runtime::generic::Era``).

A mortal era is a window of ``period`` blocks (a power of two in [4, 65536]) that opens at the
latest block whose number is ``phase`` modulo ``period``. It is two bytes on the wire: the low four
bits hold ``log2(period) - 1`` and the high twelve bits ``phase / quantize_factor``, where
``quantize_factor = max(period >> 12, 1)`` (so long periods lose low phase bits). Immortal is 0x00.
"""

from __future__ import annotations

from dataclasses import dataclass

from node.primitives.scale import DecodeError, decode_all

MIN_PERIOD = 4
MAX_PERIOD = 1 << 16
U64_MAX = (1 << 64) - 1


class InvalidEra(DecodeError):
    """An era whose period or phase Substrate would not accept."""


def _quantize_factor(period: int) -> int:
    return max(period >> 12, 1)


@dataclass(frozen=True, slots=True)
class Era:
    period: int = 0  # 0 = immortal
    phase: int = 0

    def __post_init__(self) -> None:
        if self.period == 0:
            if self.phase != 0:
                raise InvalidEra("an immortal era has no phase")
            return
        period, phase = self.period, self.phase
        if not MIN_PERIOD <= period <= MAX_PERIOD or period & (period - 1):
            raise InvalidEra(f"era period {period} is not a power of two in [4, 65536]")
        if not 0 <= phase < period or phase % _quantize_factor(period):
            raise InvalidEra(f"era phase {phase} is not a quantized phase of period {period}")

    @classmethod
    def mortal(cls, period: int, current_block: int) -> Era:
        """``Era::mortal``: round ``period`` up to a power of two in range, phase from the block."""
        if period < 0 or current_block < 0:
            raise ValueError("period and block number are unsigned")
        period = min(max(1 << max(period - 1, 0).bit_length(), MIN_PERIOD), MAX_PERIOD)
        quantize = _quantize_factor(period)
        return cls(period, current_block % period // quantize * quantize)

    @classmethod
    def decode(cls, data: bytes) -> Era:
        return decode_all(decode_era, data)

    @property
    def is_immortal(self) -> bool:
        return self.period == 0

    def encode(self) -> bytes:
        if self.period == 0:
            return b"\x00"
        low = min(max((self.period & -self.period).bit_length() - 2, 1), 15)
        return (low | (self.phase // _quantize_factor(self.period)) << 4).to_bytes(2, "little")

    def birth(self, current: int) -> int:
        """The block whose hash the signature commits to, for a transaction seen at ``current``."""
        if self.period == 0:
            return 0
        return (max(current, self.phase) - self.phase) // self.period * self.period + self.phase

    def death(self, current: int) -> int:
        """The first block at which the transaction is no longer valid."""
        if self.period == 0:
            return U64_MAX
        return self.birth(current) + self.period

    def is_valid_at(self, block_number: int) -> bool:
        """Whether block ``block_number`` can include a transaction with this era.

        FRAME's CheckMortality signs over the hash of ``birth(block_number)``, which must be an
        existing block, i.e. strictly before the block being built. Whether that hash is the one
        the transaction signed (and is not older than BlockHashCount) is for the caller to check.
        """
        return self.period == 0 or self.birth(block_number) < block_number


IMMORTAL = Era()
_ERA_CACHE: dict[int, Era] = {}


def decode_era(data: bytes, offset: int) -> tuple[Era, int]:
    try:
        first = data[offset]
    except IndexError:
        raise DecodeError("unexpected end of input reading an era") from None
    if first == 0:
        return IMMORTAL, offset + 1
    if offset + 2 > len(data):
        raise DecodeError("unexpected end of input reading an era")
    encoded = first | data[offset + 1] << 8
    era = _ERA_CACHE.get(encoded)
    if era is None:
        period = 2 << (encoded & 0xF)
        phase = (encoded >> 4) * _quantize_factor(period)
        if period < MIN_PERIOD or phase >= period:
            raise InvalidEra("invalid era period and phase")
        # At most 65,535 distinct encodings, so the cache is bounded; eras are immutable.
        era = _ERA_CACHE[encoded] = Era(period, phase)
    return era, offset + 2
