"""What every part of a testnet spec's parsing shares: the error naming the key, and integers."""

from __future__ import annotations


class SpecError(ValueError):
    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")
        self.key, self.problem = key, problem


def spec_int(obj: dict, key: str, path: str, default: int | None, low: int, high: int) -> int:
    """``obj[key]`` as an integer in [low, high]; ``default`` when absent (None: required)."""
    if key not in obj:
        if default is None:
            raise SpecError(f"{path}.{key}", "missing")
        return default
    value = obj[key]
    if not isinstance(value, int) or isinstance(value, bool):
        raise SpecError(f"{path}.{key}", f"must be an integer, not {value!r}")
    if not low <= value <= high:
        raise SpecError(f"{path}.{key}", f"must be between {low} and {high}, not {value}")
    return value
